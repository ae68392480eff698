#!/usr/bin/python3
"""client.py -- the registry client of the benchmark (Python stdlib only).

Speaks just enough of the OCI distribution API to seed a registry, fill it
with tags and repositories, time pushes and time whole listings.  Each
subcommand prints one JSON object on stdout; bench/run.sh collects them.

  client.py push  HOST:PORT REPO FILE [--chunk BYTES] [--runs N]
  client.py sink  HOST:PORT PATH FILE [--runs N] [--fsync-dir DIR [--hash]]
  client.py seed  HOST:PORT REPO TAG FILE...      (blobs + one manifest)
  client.py tags  HOST:PORT REPO MANIFEST_JSON COUNT [--threads T]
  client.py repos HOST:PORT FROM_REPO PREFIX COUNT [--threads T]
  client.py list  HOST:PORT PATH [--runs N]        (follows Link to the end)
  client.py slow  HOST:PORT REPO [--count N] [--rate B/S] [--seconds S]
                  (N chunked PATCHes trickling at B/S each for S seconds)
"""
import argparse
import hashlib
import http.client
import json
import os
import socket
import statistics
import sys
import threading
import time
import urllib.parse

ACCEPT = ("application/vnd.oci.image.manifest.v1+json, "
          "application/vnd.oci.image.index.v1+json, "
          "application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


class Reg:
    """One kept-alive HTTP/1.1 connection to a registry."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.conn = None

    def req(self, method, path, body=None, headers=None, ok=(200,)):
        headers = dict(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=600)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt or (body is not None and len(body) > 1 << 20):
                    raise
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        if r.status not in ok:
            raise SystemExit("%s %s: %d %s" % (method, path, r.status,
                                                data[:300]))
        return r, data


def location(r, base):
    loc = r.getheader("Location")
    if loc is None:
        raise SystemExit("no Location")
    u = urllib.parse.urlsplit(urllib.parse.urljoin(base, loc))
    return u.path + ("?" + u.query if u.query else "")


def with_query(path, **kv):
    return path + ("&" if "?" in path else "?") + urllib.parse.urlencode(kv)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return "sha256:" + h.hexdigest()


def push_blob(reg, repo, data, digest, chunk=0):
    """POST a session, then either PUT the whole body (monolithic) or
    PATCH chunks with Content-Range and PUT ?digest= empty."""
    base = "http://%s:%d" % (reg.host, reg.port)
    r, _ = reg.req("POST", "/v2/%s/blobs/uploads/" % repo,
                   headers={"Content-Length": "0"}, ok=(202,))
    loc = location(r, base)
    mv = memoryview(data)
    if chunk <= 0:
        r, _ = reg.req("PUT", with_query(loc, digest=digest), body=mv,
                       headers={"Content-Type": "application/octet-stream",
                                "Content-Length": str(len(data))}, ok=(201,))
        return
    off = 0
    while off < len(data):
        part = mv[off:off + chunk]
        r, _ = reg.req("PATCH", loc, body=part, headers={
            "Content-Type": "application/octet-stream",
            "Content-Length": str(len(part)),
            "Content-Range": "%d-%d" % (off, off + len(part) - 1)},
            ok=(202,))
        loc = location(r, base)
        off += len(part)
    reg.req("PUT", with_query(loc, digest=digest),
            headers={"Content-Length": "0"}, ok=(201,))


def cmd_push(a):
    reg = Reg(a.addr)
    with open(a.file, "rb") as f:
        data = bytearray(f.read())
    times = []
    for i in range(a.runs):
        # New bytes (so a new digest) and a new repository each run: both
        # registries must store the whole blob every time.
        data[:16] = os.urandom(16)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        repo = "%s%d" % (a.repo, i)
        t0 = time.perf_counter()
        push_blob(reg, repo, data, digest, a.chunk)
        times.append(time.perf_counter() - t0)
    out(len(data), times)


def cmd_sink(a):
    """PUT the file to nginx's /sink; with --fsync-dir, also fsync the file
    nginx wrote (the new one in that directory) before the clock stops."""
    reg = Reg(a.addr)
    with open(a.file, "rb") as f:
        data = f.read()
    times = []
    for _ in range(a.runs):
        before = set(os.listdir(a.fsync_dir)) if a.fsync_dir else set()
        t0 = time.perf_counter()
        reg.req("PUT", a.path, body=memoryview(data), headers={
            "Content-Length": str(len(data))}, ok=(201, 200, 204))
        if a.fsync_dir:
            for name in set(os.listdir(a.fsync_dir)) - before:
                fd = os.open(os.path.join(a.fsync_dir, name), os.O_RDONLY)
                if a.hash:      # what berth would do with nginx's file
                    h = hashlib.sha256()
                    while True:
                        b = os.read(fd, 1 << 20)
                        if not b:
                            break
                        h.update(b)
                os.fsync(fd)
                os.close(fd)
        times.append(time.perf_counter() - t0)
    out(len(data), times)


def out(size, times):
    best = min(times)
    med = statistics.median(times)
    print(json.dumps({"bytes": size, "runs": len(times),
                      "seconds_median": med, "seconds_best": best,
                      "bytes_per_s": size / med}))


def cmd_seed(a):
    reg = Reg(a.addr)
    layers = []
    for path in a.files:
        digest = sha256_file(path)
        size = os.path.getsize(path)
        # Big files go up with curl-like streaming: read in full here is
        # fine for the sizes the bench uses (<= 1 GiB, once).
        with open(path, "rb") as f:
            push_blob(reg, a.repo, f.read(), digest, 0)
        layers.append({"mediaType": OCI_LAYER, "digest": digest,
                       "size": size})
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers",
                                 "diff_ids": [l["digest"] for l in layers]},
                      "config": {}}).encode()
    cfg_digest = "sha256:" + hashlib.sha256(cfg).hexdigest()
    push_blob(reg, a.repo, cfg, cfg_digest, 0)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cfg_digest,
                   "size": len(cfg)},
        "layers": layers}, separators=(",", ":")).encode()
    mdigest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    reg.req("PUT", "/v2/%s/manifests/%s" % (a.repo, a.tag), body=manifest,
            headers={"Content-Type": OCI_MANIFEST}, ok=(201,))
    print(json.dumps({"manifest_digest": mdigest, "config_digest": cfg_digest,
                      "manifest_size": len(manifest),
                      "manifest": manifest.decode(),
                      "layers": layers}))


def parallel(count, threads, fn):
    """fn(reg, i) for i in range(count), over `threads` connections."""
    nxt = [0]
    lock = threading.Lock()
    errors = []

    def work():
        reg = Reg(ADDR)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= count or errors:
                return
            try:
                fn(reg, i)
            except BaseException as e:   # SystemExit from req() included
                errors.append(e)
                return

    t0 = time.perf_counter()
    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit("fill: %s" % errors[0])
    return time.perf_counter() - t0


def cmd_tags(a):
    global ADDR
    ADDR = a.addr
    with open(a.manifest, "rb") as f:
        manifest = f.read()

    def put(reg, i):
        reg.req("PUT", "/v2/%s/manifests/t%05d" % (a.repo, i), body=manifest,
                headers={"Content-Type": OCI_MANIFEST}, ok=(201,))

    secs = parallel(a.count, a.threads, put)
    print(json.dumps({"count": a.count, "seconds": secs}))


def cmd_repos(a):
    """COUNT repositories PREFIX00000..., each with the manifest of
    FROM_REPO:latest, its blobs mounted from FROM_REPO."""
    global ADDR
    ADDR = a.addr
    reg = Reg(a.addr)
    _, manifest = reg.req("GET", "/v2/%s/manifests/latest" % a.from_repo,
                          headers={"Accept": ACCEPT})
    doc = json.loads(manifest)
    digests = [doc["config"]["digest"]] + [l["digest"] for l in doc["layers"]]

    def put(reg, i):
        repo = "%s%05d" % (a.prefix, i)
        for d in digests:
            reg.req("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (
                repo, d, a.from_repo), headers={"Content-Length": "0"},
                ok=(201,))
        reg.req("PUT", "/v2/%s/manifests/latest" % repo, body=manifest,
                headers={"Content-Type": OCI_MANIFEST}, ok=(201,))

    secs = parallel(a.count, a.threads, put)
    print(json.dumps({"count": a.count, "seconds": secs}))


def cmd_list(a):
    """Fetch a whole list, following Link, `runs` times; one connection."""
    reg = Reg(a.addr)
    key = "repositories" if "_catalog" in a.path else "tags"
    times, pages, entries = [], 0, 0
    for _ in range(a.runs):
        path, pages, entries = a.path, 0, 0
        t0 = time.perf_counter()
        while path:
            r, body = reg.req("GET", path)
            pages += 1
            entries += len(json.loads(body).get(key) or [])
            link = r.getheader("Link")
            path = None
            if link:
                target = link.split(";")[0].strip().strip("<>")
                u = urllib.parse.urlsplit(target)
                path = u.path + ("?" + u.query if u.query else "")
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({"runs": a.runs, "pages": pages, "entries": entries,
                      "seconds_median": med, "lists_per_s": 1 / med}))


def cmd_slow(a):
    """The slow load: `count` upload sessions, each sent a chunked PATCH
    (no Expect, as docker and containerd send them) at `rate` bytes/s
    for `seconds`, then ended; prints how many got their 202."""
    base = "http://" + a.addr
    locs = []
    reg = Reg(a.addr)
    for _ in range(a.count):
        r, _ = reg.req("POST", "/v2/%s/blobs/uploads/" % a.repo,
                       headers={"Content-Length": "0"}, ok=(202,))
        locs.append(location(r, base))
    host, port = a.addr.rsplit(":", 1)
    piece = 1000
    statuses = [None] * a.count

    def one(i):
        try:
            s = socket.create_connection((host, int(port)), timeout=600)
            s.sendall(("PATCH %s HTTP/1.1\r\nHost: %s\r\n"
                       "Content-Type: application/octet-stream\r\n"
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       % (locs[i], a.addr)).encode())
            end = time.monotonic() + a.seconds
            data = os.urandom(piece)
            while time.monotonic() < end:
                s.sendall(b"%x\r\n" % piece + data + b"\r\n")
                time.sleep(piece / a.rate)
            s.sendall(b"0\r\n\r\n")
            r = http.client.HTTPResponse(s)
            r.begin()
            statuses[i] = r.status
            s.close()
        except OSError as e:
            statuses[i] = repr(e)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(a.count)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps({"count": a.count, "rate": a.rate, "seconds": a.seconds,
                      "accepted": sum(1 for x in statuses if x == 202),
                      "statuses": sorted(set(map(str, statuses)))}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("push")
    s.add_argument("addr"); s.add_argument("repo"); s.add_argument("file")
    s.add_argument("--chunk", type=int, default=0)
    s.add_argument("--runs", type=int, default=3)
    s = sub.add_parser("sink")
    s.add_argument("addr"); s.add_argument("path"); s.add_argument("file")
    s.add_argument("--runs", type=int, default=3)
    s.add_argument("--fsync-dir", help="fsync the new file nginx wrote here")
    s.add_argument("--hash", action="store_true",
                   help="and sha256 it first (with --fsync-dir)")
    s = sub.add_parser("seed")
    s.add_argument("addr"); s.add_argument("repo"); s.add_argument("tag")
    s.add_argument("files", nargs="+")
    s = sub.add_parser("tags")
    s.add_argument("addr"); s.add_argument("repo"); s.add_argument("manifest")
    s.add_argument("count", type=int)
    s.add_argument("--threads", type=int, default=8)
    s = sub.add_parser("repos")
    s.add_argument("addr"); s.add_argument("from_repo")
    s.add_argument("prefix"); s.add_argument("count", type=int)
    s.add_argument("--threads", type=int, default=8)
    s = sub.add_parser("list")
    s.add_argument("addr"); s.add_argument("path")
    s.add_argument("--runs", type=int, default=5)
    s = sub.add_parser("slow")
    s.add_argument("addr"); s.add_argument("repo")
    s.add_argument("--count", type=int, default=64)
    s.add_argument("--rate", type=int, default=20000)
    s.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    {"push": cmd_push, "sink": cmd_sink, "seed": cmd_seed, "tags": cmd_tags,
     "repos": cmd_repos, "list": cmd_list, "slow": cmd_slow}[a.cmd](a)


if __name__ == "__main__":
    main()
