#!/usr/bin/python3
"""abjson.py AB_OUTPUT AB_CSV -- ab's result as the JSON line wrk.lua prints."""
import json
import re
import sys

t = open(sys.argv[1]).read()


def g(key):
    m = re.search(key + r":\s+([0-9.]+)", t)
    return float(m.group(1)) if m else 0.0


pct = dict(l.split(",") for l in open(sys.argv[2]).read().splitlines()[1:])
print(json.dumps({
    "requests": int(g("Complete requests")),
    "duration_us": g("Time taken for tests") * 1e6, "bytes": 0,
    "p50_us": float(pct["50"]) * 1000, "p99_us": float(pct["99"]) * 1000,
    "err_connect": 0, "err_read": 0, "err_write": 0, "err_timeout": 0,
    "err_status": int(g("Failed requests") + g("Non-2xx responses"))}))
