#!/usr/bin/env python3
"""A real SMTP server that keeps what it receives, for tests and the demo (aiosmtpd from PyPI).

usage: smtp-sink.py PORT OUT_DIR [--starttls CERT KEY | --smtps CERT KEY] [--auth USER:PASSWORD]
Listens on 127.0.0.1:PORT and writes each message to OUT_DIR/NNNN.eml exactly as received, with the
envelope in OUT_DIR/NNNN.json. --starttls offers (and requires) STARTTLS, --smtps speaks TLS from the
first byte, --auth requires that login. Prints "ready" once listening. Stops on SIGTERM or SIGINT.
"""
import json
import os
import signal
import ssl
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Keep:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            name = os.path.join(self.directory, f"{self.count:04d}")
        with open(name + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(name + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos}, f)
        os.rename(name + ".eml.tmp", name + ".eml")
        return "250 Message accepted"


def main():
    port, directory, options = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    os.makedirs(directory, exist_ok=True)
    kwargs = {}
    if "--starttls" in options or "--smtps" in options:
        flag = "--starttls" if "--starttls" in options else "--smtps"
        i = options.index(flag)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options[i + 1], options[i + 2])
        if flag == "--starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if "--auth" in options:
        user, password = options[options.index("--auth") + 1].split(":", 1)

        def authenticate(server, session, envelope, mechanism, data):
            ok = data.login.decode() == user and data.password.decode() == password
            return AuthResult(success=ok)

        # With --smtps the whole connection is TLS; aiosmtpd only counts STARTTLS for auth_require_tls,
        # and would warn of a password sent in the clear when none is.
        if "--smtps" in options:
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)
        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls="--smtps" not in options)
    controller = Controller(Keep(directory), hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Wake up regularly: a signal handler runs only between Python instructions.
    while not stop.wait(0.2):
        pass
    controller.stop()


main()
