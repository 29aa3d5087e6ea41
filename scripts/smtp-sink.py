#!/usr/bin/env python3
"""A real SMTP server that keeps what it receives, for tests and the demo (aiosmtpd from PyPI).

usage: smtp-sink.py PORT OUT_DIR
Listens on 127.0.0.1:PORT and writes each message to OUT_DIR/NNNN.eml exactly as received, with the
envelope in OUT_DIR/NNNN.json. Prints "ready" once listening. Stops on SIGTERM or SIGINT.
"""
import json
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


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
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Keep(directory), hostname="127.0.0.1", port=port)
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
