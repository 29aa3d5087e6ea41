#!/usr/bin/env python3
"""Checks a Tally batch independently of Tally's code (docs/batch-format.md).

usage: verify-batch.py BATCH_FILE PUBLIC_KEY_BASE64
BATCH_FILE holds the raw batch bytes, or their hex on one line. Prints the header and the hits as
JSON; exits 1 with a reason when the batch is malformed or its signature does not verify.
Needs the `cryptography` package (pip install cryptography).
"""
import base64
import json
import struct
import sys
import zlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(reason):
    print(f"invalid batch: {reason}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        fail("usage: verify-batch.py BATCH_FILE PUBLIC_KEY_BASE64")
    raw = open(sys.argv[1], "rb").read()
    try:
        data = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        data = raw
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(sys.argv[2]))

    if data[:4] != b"TLYB":
        fail("bad magic")
    if data[4] != 1:
        fail(f"unknown version {data[4]}")
    (header_length,) = struct.unpack(">H", data[5:7])
    header = json.loads(data[7:7 + header_length])
    offset = 7 + header_length
    (body_length,) = struct.unpack(">I", data[offset:offset + 4])
    body_start = offset + 4
    body_end = body_start + body_length
    signed, signature = data[:body_end], data[body_end:]
    if len(signature) != 64:
        fail(f"signature is {len(signature)} bytes, not 64")
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        fail("signature does not verify")
    body = zlib.decompress(data[body_start:body_end])
    if len(body) != header["body_bytes"]:
        fail("body length differs from body_bytes")
    hits = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    if len(hits) != header["hit_count"]:
        fail("hit count differs from hit_count")
    print(json.dumps({"header": header, "hits": hits}, sort_keys=True))


main()
