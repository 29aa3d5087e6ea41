# Drives flask-matomo2 and asgi-matomo (PyPI) as a site would: one request each through the app.
import asyncio, sys
from flask import Flask
from flask_matomo2 import Matomo
import httpx
url = sys.argv[1]
chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

app = Flask(__name__)
Matomo(app, matomo_url=url, id_site=1, token_auth="pyc-token", base_url="https://example.com")
@app.route("/pricing")
def pricing(): return "pricing"
client = app.test_client()
r = client.get("/pricing?plan=pro", headers={"User-Agent": chrome, "Referer": "https://duckduckgo.com/", "X-Forwarded-For": "192.0.2.70", "Accept-Language": "de-DE"}, environ_base={"REMOTE_ADDR": "192.0.2.70"})
print("flask", r.status_code)

from asgi_matomo import MatomoMiddleware
async def asgi_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"docs"})
wrapped = MatomoMiddleware(asgi_app, matomo_url=url, idsite=1, access_token="pyc-token")
async def main():
    transport = httpx.ASGITransport(app=wrapped, client=("192.0.2.71", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
        r = await c.get("/docs?page=2", headers={"User-Agent": chrome, "Referer": "https://www.google.com/"})
        print("asgi", r.status_code)
    # asgi-matomo tracks after the response, in tasks of its own: wait for them to finish.
    await asyncio.gather(*(task for task in asyncio.all_tasks() if task is not asyncio.current_task()))
asyncio.run(main())
