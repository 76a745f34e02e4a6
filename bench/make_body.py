#!/usr/bin/env python3
"""Builds the ingest benchmark's request body and its GitHub signature.

Writes bench/pr-24k.json: fixtures/github/examples/pull_request/opened.json compacted with
json.dumps(separators=(',', ':')). If that is shorter than --target bytes, pull_request.body is
lengthened (Markdown-ish text) until the file is --target bytes; a longer fixture is kept as is
(never trimmed: the benchmark then sends a heavier body than the target, not a fake one).

Prints three lines: the path, its size in bytes, and `sha256=<hex>` (X-Hub-Signature-256).
"""
import argparse
import hashlib
import hmac
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent

p = argparse.ArgumentParser()
p.add_argument("--fixture", default=str(ROOT / "fixtures/github/examples/pull_request/opened.json"))
p.add_argument("--out", default=str(ROOT / "bench/pr-24k.json"))
p.add_argument("--target", type=int, default=24_000)
p.add_argument("--secret", default="bench-secret")
a = p.parse_args()

payload = json.loads(pathlib.Path(a.fixture).read_text(encoding="utf-8"))


def encode(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


body = encode(payload)
if len(body) < a.target:
    filler = (
        "This change reworks the delivery pipeline so that retries back off exponentially "
        "and dead letters keep their body for replay.\n- [x] tests\n- [ ] docs\n"
    )
    text = payload["pull_request"].get("body") or ""
    while len(encode(payload)) < a.target:
        text += filler
        payload["pull_request"]["body"] = text
    # Trim the filler to land on the target exactly (ASCII text: one byte per char, no escapes
    # other than \n which is two bytes, so trim char by char).
    while len(encode(payload)) > a.target:
        text = text[:-1]
        payload["pull_request"]["body"] = text
    body = encode(payload)

out = pathlib.Path(a.out)
out.write_bytes(body)
sig = "sha256=" + hmac.new(a.secret.encode(), body, hashlib.sha256).hexdigest()
print(out)
print(len(body))
print(sig)
