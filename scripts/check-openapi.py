#!/usr/bin/env python3
"""Checks docs/openapi.yaml against a running central API: the document must be valid OpenAPI 3.1, and
real requests and their answers must validate against it (openapi-core). Every Matomo method the
document lists must be answered (not "does not exist"), and every report method central lists in
API.getReportMetadata must be in the document.

    scripts/check-openapi.py SPEC BASE_URL TOKEN SITE PERIOD DATE

Prints one line per checked call; exits 1 with the reason on the first mismatch."""
import sys

import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

spec_path, base, token, site, period, date = sys.argv[1:7]
api = OpenAPI.from_file_path(spec_path)  # refuses a document that is not valid OpenAPI
with open(spec_path, encoding="utf-8") as f:
    document = yaml.safe_load(f)
listed = document["components"]["parameters"]["method"]["schema"]["enum"]


def check(method, path, conforming=True, **kwargs):
    response = requests.request(method, base + path, **kwargs)
    request = RequestsOpenAPIRequest(response.request)
    if conforming:  # requests that break the document's rules on purpose still get a described answer
        api.validate_request(request)
    api.validate_response(request, RequestsOpenAPIResponse(response))
    print(f"valid: {method} {response.request.path_url[:100]} -> {response.status_code} {response.headers.get('Content-Type')}")
    return response


bearer = {"Authorization": f"Bearer {token}"}
check("GET", "/api/v1/sites", headers=bearer)
for fmt in ["json", "csv", "text"]:
    check("GET", f"/api/v1/reports/countries", headers=bearer, params={"site": site, "period": period, "date": date, "format": fmt})
check("GET", "/api/v1/reports/nope", headers=bearer, params={"site": site})
check("GET", "/api/v1/sites", conforming=False)

matomo = {"module": "API", "token_auth": token, "idSite": site, "period": period, "date": date}
for method in listed:
    params = dict(matomo, method=method, format="json")
    if method == "API.getBulkRequest":
        params["urls[0]"] = "method=API.getMatomoVersion"
    answer = check("GET", "/index.php", params=params).json()
    if isinstance(answer, dict) and answer.get("result") == "error":
        sys.exit(f"{method} is in the document but central answers: {answer['message']}")
for goal in ["ecommerceOrder", "ecommerceAbandonedCart", "1"]:
    check("GET", "/index.php", params=dict(matomo, method="Goals.get", format="json", idGoal=goal))
posted = check("POST", "/index.php", data=dict(matomo, method="Referrers.getWebsites", format="json")).json()
assert isinstance(posted, list), posted
for fmt in ["xml", "csv", "tsv"]:
    check("GET", "/index.php", params=dict(matomo, method="UserCountry.getCountry", format=fmt))
check("GET", "/index.php", params=dict(matomo, method="VisitsSummary.get", format="json", date="last3", period="day"))
error = check("GET", "/index.php", conforming=False, params=dict(matomo, method="Live.getLastVisitsDetails", format="json")).json()
assert error["result"] == "error", error

reported = check("GET", "/index.php", params=dict(matomo, method="API.getReportMetadata", format="json")).json()
missing = sorted({f"{r['module']}.{r['action']}" for r in reported} - set(listed))
if missing:
    sys.exit(f"central answers methods the document does not list: {', '.join(missing)}")
print(f"ok: {len(listed)} Matomo methods listed and answered")
