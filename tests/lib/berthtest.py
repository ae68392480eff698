"""berthtest.py -- what the python test layers share: the pass/fail count
and its summary line, a free loopback port, a digest, one HTTP request on
a fresh connection, a process's live children, polling for a condition.

A layer puts tests/lib on sys.path and imports this module; every check
it makes, through check() or check_shape(), counts in the same two
numbers, and summary() prints them as the last line ("N passed, N
failed") that tests/run.sh adds up.
"""

import hashlib
import http.client
import os
import socket
import sys
import time

passed = 0
failed = 0


def _count(ok):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1


def check(name, ok, detail=""):
    """"ok   NAME" or "FAIL NAME: DETAIL" (DETAIL cut at 2000 characters)."""
    _count(ok)
    if ok:
        print("ok   " + name)
    else:
        print("FAIL " + name + ("" if not detail else ": " + str(detail)[:2000]))
    sys.stdout.flush()
    return ok


def check_shape(shape, name, ok, detail=""):
    """TAP-like, for the layers that run once per web server shape:
    "ok - SHAPE: NAME" or "not ok - SHAPE: NAME (DETAIL)"."""
    _count(ok)
    if ok:
        print(f"ok - {shape}: {name}")
    else:
        print(f"not ok - {shape}: {name}" + (f" ({detail})" if detail else ""))
    sys.stdout.flush()
    return ok


def summary():
    """Prints the last line; returns the exit status (1 on any failure)."""
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def request(port, method, path, body=None, headers=None, timeout=60, source=None,
            chunked=False):
    """One request to 127.0.0.1:PORT on a fresh connection; (status,
    headers with lower-case names, body).  source: the local address to
    connect from; chunked: send BODY (an iterable) chunked."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        h = dict(headers or {})
        if chunked:
            h["Transfer-Encoding"] = "chunked"
            c.request(method, path, body=body, headers=h, encode_chunked=True)
        else:
            c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()



def children(pid):
    """The live (not zombie) child processes of pid, from /proc."""
    kids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.add(int(d))
    return kids


def wait_for(cond, seconds, step=0.02):
    """cond()'s first true value within SECONDS, else its last value."""
    end = time.time() + seconds
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()
