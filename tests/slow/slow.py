#!/usr/bin/env python3
"""slow.py -- no worker waits on a client (issue 11), end to end.

For each shape in SERVERS (default: nginx lighttpd apache apache-cgi)
this brings berth up with nginx/serve.sh (SERVER=<shape>, WORKERS=2) on a
free loopback port and a fresh data directory, starts 4 x workers = 8
uploads that send a 160 KB chunked PATCH body at 20 KB/s, 8 s each (no
Expect, as
docker and containerd send them), and while they are in flight has
another client do a manifest GET, a tags list, a blob HEAD and a small
complete push, each within 5 s.  That is a liveness check, not a speed
assertion: a worker held by a slow body never answers in time.  Then the
slow uploads must complete with their exact digests.

(The bodies must take longer than the deadline: a worker that accepts
an upload late finds its body already in the socket's buffer.)  Where
the shape cannot hold it (Apache with mod_proxy_fcgi streams bodies to
the worker), the probes are timed and reported ("# ..."), not asserted;
the uploads must still complete.  For the CGI shape, the berth processes
alive while the slow uploads are in flight are counted and reported.

Behind nginx, which hands upload bodies over as files
(BERTH_BODY_FILE), the body directory must be empty after a success, a
digest mismatch, a refused chunk (416) and a client that disconnects
mid-body; and berth leaves no extra name for a body file in uploads/.
lighttpd's buffered bodies (server.upload-dirs) likewise.  Also behind
nginx: with more kept-alive connections idle than the pool has workers,
requests on fresh connections, concurrent ones and an upload start are
each answered within the deadline (no kept connection pins a worker).

Last, berth as a plain CGI program with hostile BERTH_BODY_FILE values
(outside the body directory, "..", symbolic links, a FIFO, a hard link,
a directory, a wrong length): each refused with 500 and nothing taken;
a good one is linked (first chunk) or appended (later chunk); the
upload sweep removes stale body files a crash left.

Prints one line per check and "N passed, N failed"; exits non-zero on
any failure.  Environment: BERTH, SERVERS, SANITIZER_LOG_CHECK=1.
"""

import functools
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import berthtest  # noqa: E402
from berthtest import check_shape as check, free_port, sha256  # noqa: E402
BERTH = os.environ.get("BERTH", os.path.join(TOP, "build", "berth"))
SERVERS = os.environ.get("SERVERS", "nginx lighttpd apache apache-cgi").split()
WORKERS = 2
SLOW = 4 * WORKERS          # uploads in flight
SLOW_BYTES = 160 * 1000     # each: 8 s at 20 KB/s
RATE = 20 * 1000            # bytes per second
DEADLINE = 5.0              # seconds for each probe
HOLDS = {"nginx", "lighttpd", "apache-cgi"}   # shapes where liveness holds
REPO = "slow/app"
# One request on a fresh connection, 30 s unless told.
request = functools.partial(berthtest.request, timeout=30)


def push_blob(port, data, repo=REPO, timeout=30):
    """POST a session, PUT ?digest= with the body; the PUT's status."""
    st, h, _ = request(port, "POST", f"/v2/{repo}/blobs/uploads/", timeout=timeout)
    if st != 202:
        return st
    st, _, _ = request(port, "PUT", f"{h['location']}?digest={sha256(data)}", data,
                       {"Content-Type": "application/octet-stream"}, timeout=timeout)
    return st


def manifest_for(cfg, layer):
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256(layer), "size": len(layer)}],
    }).encode()


OCI = "application/vnd.oci.image.manifest.v1+json"


def raw_request(port, head, body_parts, delay, timeout=60):
    """Send head, then each of body_parts with delay seconds between them,
    on one socket; the response as (status, headers dict)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head)
        for part in body_parts:
            s.sendall(part)
            if delay:
                time.sleep(delay)
        r = http.client.HTTPResponse(s)
        r.begin()
        r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}
    finally:
        s.close()


def slow_patch(port, loc, data, out, i):
    """A chunked PATCH of data at RATE bytes/s, no Expect; out[i] is
    (status, headers) or the exception."""
    piece = 2000
    parts = [b"%x\r\n" % len(data[o:o + piece]) + data[o:o + piece] + b"\r\n"
             for o in range(0, len(data), piece)] + [b"0\r\n\r\n"]
    head = (f"PATCH {loc} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    try:
        out[i] = raw_request(port, head, parts, piece / RATE)
    except Exception as e:  # noqa: BLE001 -- reported as a failed check
        out[i] = e


def timed(fn):
    t0 = time.monotonic()
    try:
        ok = fn()
    except Exception as e:  # noqa: BLE001
        ok = repr(e)
    return ok, time.monotonic() - t0


def liveness(shape, port):
    cfg = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer = os.urandom(5000)
    for b in (cfg, layer):
        push_blob(port, b)
    man = manifest_for(cfg, layer)
    st, _, _ = request(port, "PUT", f"/v2/{REPO}/manifests/v1", man, {"Content-Type": OCI})
    if not check(shape, "seed: manifest PUT 201", st == 201, f"{st}"):
        return

    # The slow uploads, each in a session of its own.
    locs = []
    for _ in range(SLOW):
        st, h, _ = request(port, "POST", f"/v2/{REPO}/blobs/uploads/")
        locs.append(h.get("location", ""))
    bodies = [os.urandom(SLOW_BYTES) for _ in range(SLOW)]
    out = [None] * SLOW
    threads = [threading.Thread(target=slow_patch, args=(port, locs[i], bodies[i], out, i))
               for i in range(SLOW)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(0.3)     # every slow body is on its way

    limit = DEADLINE if shape in HOLDS else 60.0    # measured, there
    if shape == "apache-cgi":
        procs = 0
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    procs += b"berth.cgi" in f.read()
            except OSError:
                pass
        print(f"# {shape}: {procs} CGI processes alive with {SLOW} slow uploads in flight")
    small = os.urandom(3000)
    cfg2 = json.dumps({"architecture": "arm64", "os": "linux"}).encode()
    probes = [
        ("manifest GET", lambda: request(port, "GET", f"/v2/{REPO}/manifests/v1",
                                         headers={"Accept": OCI}, timeout=limit)[2] == man),
        ("tags list", lambda: json.loads(request(port, "GET", f"/v2/{REPO}/tags/list",
                                                 timeout=limit)[2]).get("tags") == ["v1"]),
        ("blob HEAD", lambda: request(port, "HEAD", f"/v2/{REPO}/blobs/{sha256(layer)}",
                                      timeout=limit)[1].get("docker-content-digest")
         == sha256(layer)),
        ("small complete push (2 blobs, manifest)", lambda: (
            push_blob(port, small, "slow/other", limit) == 201
            and push_blob(port, cfg2, "slow/other", limit) == 201
            and request(port, "PUT", "/v2/slow/other/manifests/v1", manifest_for(cfg2, small),
                        {"Content-Type": OCI}, timeout=limit)[0] == 201)),
    ]
    for name, fn in probes:
        ok, secs = timed(fn)
        still = sum(t.is_alive() for t in threads)
        label = f"{name} within {DEADLINE:.0f} s, {still} slow uploads in flight"
        if shape in HOLDS:
            check(shape, label, ok is True and secs < DEADLINE, f"{ok} after {secs:.2f} s")
        else:
            print(f"# {shape}: {name}: {ok} after {secs:.2f} s with {still} slow "
                  f"uploads in flight (not asserted: this shape streams bodies)")
    for t in threads:
        t.join(60)
    took = time.monotonic() - t0
    print(f"# {shape}: {SLOW} slow uploads of {SLOW_BYTES} bytes at {RATE} B/s "
          f"took {took:.2f} s with {WORKERS} workers")
    good = all(isinstance(o, tuple) and o[0] == 202
               and o[1].get("range") == f"0-{SLOW_BYTES - 1}" for o in out)
    check(shape, f"the {SLOW} slow PATCHes: 202, Range 0-{SLOW_BYTES - 1}", good,
          f"{[o if not isinstance(o, tuple) else o[0] for o in out]}")
    digests = []
    for i in range(SLOW):
        d = sha256(bodies[i])
        st, _, _ = request(port, "PUT", f"{locs[i]}?digest={d}")
        got = request(port, "GET", f"/v2/{REPO}/blobs/{d}")
        digests.append(st == 201 and got[0] == 200 and sha256(got[2]) == d)
    check(shape, "the slow uploads close with their exact digests", all(digests), f"{digests}")


def kept_connections(shape, port, data_dir):
    """Behind nginx, connections to the workers stay open between requests
    (fastcgi_keep_conn, an upstream keepalive of 4 per worker per nginx
    process): after a burst of concurrent GETs nginx keeps more idle
    connections than the pool has workers.  None of them may pin a worker
    (DESIGN.md, pitfalls): requests on fresh connections, a burst of
    concurrent ones and an upload start (a location without kept
    connections: always a new one) are each answered within DEADLINE."""
    sock = os.path.join(data_dir, "run", "berth.sock")

    def get():
        return request(port, "GET", f"/v2/{REPO}/tags/list", timeout=30)[0] == 200

    def burst(n):
        res = [None] * n

        def one(i):
            res[i] = get()
        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        return all(r is True for r in res)

    check(shape, "a burst of 24 concurrent GETs: all 200", burst(24))
    time.sleep(0.3)     # the responses are out; nginx's connections idle
    with open("/proc/net/unix") as f:
        # Connected sockets bound to the path: the workers' accepted ends.
        kept = sum(1 for ln in f if ln.split()[-1] == sock and ln.split()[5] == "03")
    check(shape, f"nginx keeps more idle connections than the {WORKERS} workers",
          kept > WORKERS, f"{kept} connected")
    started = []

    def upload_start():
        st, h, _ = request(port, "POST", f"/v2/{REPO}/blobs/uploads/", timeout=30)
        started.append(h.get("location"))
        return st == 202

    for name, fn in (("20 GETs one after another", lambda: all(get() for _ in range(20))),
                     ("8 concurrent GETs", lambda: burst(8)),
                     ("an upload start (a new connection)", upload_start)):
        ok, secs = timed(fn)
        check(shape, f"with idle kept connections, {name} within {DEADLINE:.0f} s",
              ok is True and secs < DEADLINE, f"{ok} after {secs:.2f} s")
    for loc in started:     # the checks that follow count uploads/
        if loc:
            request(port, "DELETE", loc)


def listing(path):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def spool_cleanup(shape, port, data_dir):
    """Spooled bodies are gone after each way a request can end."""
    if shape == "nginx":
        spool = os.path.join(data_dir, "uploads", "body")
        left = lambda: listing(spool)  # noqa: E731
    elif shape == "lighttpd":
        run = os.path.join(data_dir, "run")
        left = lambda: [f for f in listing(run) if f.startswith("lighttpd-upload-")]  # noqa: E731
    else:
        return
    uploads = os.path.join(data_dir, "uploads")

    def settled():
        for _ in range(50):     # the web server cleans up as the request ends
            if not left():
                return []
            time.sleep(0.1)
        return left()

    def extra_names():
        """Files in uploads/ that are no session's and not the body dir."""
        return [f for f in listing(uploads) if f not in ("body", ".swept")
                and not os.path.isdir(os.path.join(uploads, f))
                and f not in sessions]

    sessions = set()
    data = os.urandom(300000)
    # Success: a monolithic PUT, and a chunked upload (link, then append).
    st = push_blob(port, data)
    check(shape, "spooled body gone after a successful PUT", st == 201 and settled() == [],
          f"{st} {left()}")
    st, h, _ = request(port, "POST", f"/v2/{REPO}/blobs/uploads/")
    loc = h["location"]
    sessions.add(loc.rsplit("/", 1)[1])
    st1, h, _ = request(port, "PATCH", loc, data[:100000],
                        {"Content-Type": "application/octet-stream",
                         "Content-Range": "0-99999"})
    staging = os.path.join(uploads, loc.rsplit("/", 1)[1])
    nlink = None
    for _ in range(50):     # nginx removes its name as the request ends
        nlink = os.stat(staging).st_nlink if os.path.exists(staging) else None
        if nlink == 1:
            break
        time.sleep(0.1)
    st2, h, _ = request(port, "PATCH", loc, data[100000:],
                        {"Content-Type": "application/octet-stream",
                         "Content-Range": f"100000-{len(data) - 1}"})
    check(shape, "two PATCHes 202; the staging file has one name between them",
          st1 == 202 and st2 == 202 and h.get("range") == f"0-{len(data) - 1}"
          and nlink == 1, f"{st1} {st2} {h.get('range')} nlink={nlink}")
    # A refused chunk: 416, not at the session's end.
    st, h, _ = request(port, "PATCH", loc, b"x" * 5000,
                       {"Content-Type": "application/octet-stream", "Content-Range": "7-5006"})
    check(shape, "spooled body gone after a refused chunk (416)",
          st == 416 and settled() == [], f"{st} {left()}")
    st, _, _ = request(port, "PUT", f"{loc}?digest={sha256(data)}")
    got = request(port, "GET", f"/v2/{REPO}/blobs/{sha256(data)}")
    check(shape, "chunked upload closes: 201, the exact bytes",
          st == 201 and got[2] == data, f"{st} {got[0]}")
    sessions.discard(loc.rsplit("/", 1)[1])
    # A digest mismatch: the session ends, nothing stays.
    st, h, _ = request(port, "POST", f"/v2/{REPO}/blobs/uploads/")
    st, _, _ = request(port, "PUT", f"{h['location']}?digest={sha256(b'other')}", data,
                       {"Content-Type": "application/octet-stream"})
    check(shape, "spooled body gone after a digest mismatch (400)",
          st == 400 and settled() == [], f"{st} {left()}")
    # A client that goes away mid-body.
    st, h, _ = request(port, "POST", f"/v2/{REPO}/blobs/uploads/")
    loc = h["location"]
    sessions.add(loc.rsplit("/", 1)[1])
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall((f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n"
               "Content-Type: application/octet-stream\r\n\r\n").encode() + b"y" * 50000)
    time.sleep(0.5)
    s.close()
    time.sleep(0.3)
    st, h, _ = request(port, "GET", loc)
    check(shape, "spooled body gone after the client left mid-body; session unchanged",
          settled() == [] and st == 204 and h.get("range") == "0-0", f"{left()} {st} {h}")
    check(shape, "no extra names for body files in uploads/", extra_names() == [],
          f"{extra_names()}")


def run_shape(shape):
    data_dir = tempfile.mkdtemp(prefix=f"berth-slow-{shape}.")
    os.chmod(data_dir, 0o755)  # Apache's children run as www-data
    port = free_port()
    env = dict(os.environ, SERVER=shape, PORT=str(port), DATA_DIR=data_dir, BERTH=BERTH,
               WORKERS=str(WORKERS))
    env.pop("BERTH_CONFIG", None)
    serve = os.path.join(TOP, "nginx", "serve.sh")
    with tempfile.TemporaryFile(mode="w+") as err:
        rc = subprocess.call([serve, "start"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        msg = err.read().strip()
    if not check(shape, "server starts", rc == 0, msg):
        subprocess.call([serve, "stop"], env=env, stdout=subprocess.DEVNULL)
        return
    before = berthtest.failed
    try:
        liveness(shape, port)
        if shape == "nginx":
            kept_connections(shape, port, data_dir)
        spool_cleanup(shape, port, data_dir)
    finally:
        subprocess.call([serve, "stop"], env=env, stdout=subprocess.DEVNULL)
    bad = []
    for f in ("berth.log", "apache-error.log"):
        p = os.path.join(data_dir, "run", f)
        if os.path.exists(p):
            with open(p, errors="replace") as fh:
                bad += [ln.strip() for ln in fh if "runtime error" in ln
                        or "AddressSanitizer" in ln]
    if os.environ.get("SANITIZER_LOG_CHECK") == "1":
        check(shape, "no sanitizer reports in the logs", not bad, "; ".join(bad[:3]))
    if berthtest.failed == before:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"# {shape}: data and logs kept in {data_dir}")


# --- Hostile BERTH_BODY_FILE values, through the CGI path -----------------

def cgi(data_dir, method, uri, query="", env_extra=None, stdin=b"", timeout=20):
    """Run berth as a CGI program; (status, headers dict, body)."""
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
           "REQUEST_METHOD": method, "REQUEST_URI": uri + ("?" + query if query else ""),
           "QUERY_STRING": query, "BERTH_CONFIG": os.path.join(data_dir, "berth.ini"),
           "CONTENT_LENGTH": str(len(stdin)) if stdin else ""}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(env_extra or {})
    p = subprocess.run([BERTH], input=stdin, env=env, capture_output=True, timeout=timeout)
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode(errors="replace").split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status = int(hdrs.get("status", "200").split()[0])
    return status, hdrs, body, p.stderr.decode(errors="replace")


def hostile():
    shape = "cgi"
    work = tempfile.mkdtemp(prefix="berth-slow-cgi.")
    data_dir = os.path.join(work, "data")
    body_dir = os.path.join(data_dir, "uploads", "body")
    os.makedirs(body_dir)
    with open(os.path.join(data_dir, "berth.ini"), "w") as f:
        f.write(f"[storage]\ndata_dir = {data_dir}\noffload = stream\n")
    st, h, _, err = cgi(data_dir, "POST", f"/v2/{REPO}/blobs/uploads/")
    if not check(shape, "POST starts a session", st == 202, f"{st} {err}"):
        return
    loc = h["location"]
    uuid = loc.rsplit("/", 1)[1]
    staging = os.path.join(data_dir, "uploads", uuid)
    outside = os.path.join(work, "secret")
    with open(outside, "wb") as f:
        f.write(b"not for the registry\n")
    passwd_links = os.stat("/etc/passwd").st_nlink

    # Hostile names, each refused with 500 and the session untouched.
    os.symlink("/etc/passwd", os.path.join(body_dir, "link"))
    os.symlink("/etc", os.path.join(body_dir, "dirlink"))
    os.mkfifo(os.path.join(body_dir, "fifo"))
    os.mkdir(os.path.join(body_dir, "sub"))
    os.link(outside, os.path.join(body_dir, "hard"))
    with open(os.path.join(body_dir, ".hidden"), "wb") as f:
        f.write(b"x")
    cases = [
        ("/etc/passwd", "outside the body directory"),
        (outside, "a file beside the data directory"),
        (f"{body_dir}/../../berth.ini", "'..' out of the body directory"),
        (f"{body_dir}/sub/../../../berth.ini", "'..' after a subdirectory"),
        (f"{body_dir}/link", "a symbolic link to /etc/passwd"),
        (f"{body_dir}/dirlink/passwd", "through a symbolic link to /etc"),
        (f"{body_dir}/fifo", "a FIFO (must not hang)"),
        (f"{body_dir}/sub", "a directory"),
        (f"{body_dir}/hard", "a hard link to a file outside"),
        (f"{body_dir}/.hidden", "a hidden name"),
        (f"{body_dir}x/evil", "a sibling directory sharing the prefix"),
        (f"relative/{body_dir}", "a relative path"),
    ]
    for value, what in cases:
        try:
            st, h, body, err = cgi(data_dir, "PATCH", loc, env_extra={"BERTH_BODY_FILE": value})
        except subprocess.TimeoutExpired:
            st, body, err = "timeout", b"", ""
        _, h2, _, _ = cgi(data_dir, "GET", loc)
        check(shape, f"BERTH_BODY_FILE {what}: 500, session still empty",
              st == 500 and b"UNKNOWN" in body and h2.get("range") == "0-0"
              and os.path.getsize(staging) == 0 and "refused" in err,
              f"{st} {body[:120]!r} range={h2.get('range')} {err.strip()[:200]}")
    # A plain name whose file is gone: nginx removed it, its client
    # having closed the connection (499) before a worker took the
    # request.  The client's doing: 400, not a server error.
    st, h, body, err = cgi(data_dir, "PATCH", loc,
                           env_extra={"BERTH_BODY_FILE": f"{body_dir}/nothere"})
    _, h2, _, _ = cgi(data_dir, "GET", loc)
    check(shape, "BERTH_BODY_FILE naming a file already removed: 400, session still empty",
          st == 400 and b"the client closed the connection" in body and
          h2.get("range") == "0-0" and os.path.getsize(staging) == 0 and "is gone" in err,
          f"{st} {body[:160]!r} range={h2.get('range')} {err.strip()[:200]}")
    check(shape, "no hostile file got a second name",
          os.stat("/etc/passwd").st_nlink == passwd_links
          and os.stat(outside).st_nlink == 2, "")

    # A good body file: the first chunk becomes the staging file (linked),
    # the web server's name stays (it removes it itself).
    part1, part2 = os.urandom(70000), os.urandom(30000)
    good = os.path.join(body_dir, "0000000001")
    with open(good, "wb") as f:
        f.write(part1)
    st, h, _, err = cgi(data_dir, "PATCH", loc,
                        env_extra={"BERTH_BODY_FILE": good, "CONTENT_LENGTH": str(len(part1))})
    st_good, st_staging = os.stat(good), os.stat(staging)
    check(shape, "a good body file: 202, linked as the staging file (no copy)",
          st == 202 and h.get("range") == f"0-{len(part1) - 1}"
          and st_good.st_ino == st_staging.st_ino and st_good.st_nlink == 2,
          f"{st} {h.get('range')} {err.strip()[:200]}")
    os.unlink(good)     # what nginx's "clean" does
    # A length that disagrees with CONTENT_LENGTH is refused.
    second = os.path.join(body_dir, "0000000002")
    with open(second, "wb") as f:
        f.write(part2)
    st, _, _, err = cgi(data_dir, "PATCH", loc,
                        env_extra={"BERTH_BODY_FILE": second, "CONTENT_LENGTH": "5"})
    check(shape, "a body file of another length than CONTENT_LENGTH: 500", st == 500,
          f"{st} {err.strip()[:200]}")
    # Under a nginx level directory, the later chunk is appended (copied).
    os.mkdir(os.path.join(body_dir, "7"))
    third = os.path.join(body_dir, "7", "0000000003")
    os.rename(second, third)
    st, h, _, err = cgi(data_dir, "PATCH", loc,
                        env_extra={"BERTH_BODY_FILE": third,
                                   "HTTP_CONTENT_RANGE": f"{len(part1)}-{len(part1) + len(part2) - 1}"})
    check(shape, "a later chunk from a body file (in a level directory): 202, appended",
          st == 202 and h.get("range") == f"0-{len(part1) + len(part2) - 1}"
          and os.stat(third).st_nlink == 1, f"{st} {h.get('range')} {err.strip()[:200]}")
    os.unlink(third)
    # An empty body file (nginx makes one for Content-Length: 0).
    empty = os.path.join(body_dir, "0000000004")
    open(empty, "wb").close()
    d = sha256(part1 + part2)
    st, h, _, err = cgi(data_dir, "PUT", loc, query=f"digest={d}",
                        env_extra={"BERTH_BODY_FILE": empty, "CONTENT_LENGTH": "0"})
    got = cgi(data_dir, "GET", f"/v2/{REPO}/blobs/{d}")
    check(shape, "closing PUT with an empty body file: 201, the exact bytes",
          st == 201 and got[0] == 200 and got[2] == part1 + part2,
          f"{st} {got[0]} {err.strip()[:200]}")
    # An empty BERTH_BODY_FILE (a request without a body) reads the stream.
    tiny = b"tiny blob"
    st, _, _, err = cgi(data_dir, "POST", f"/v2/{REPO}/blobs/uploads/",
                        query=f"digest={sha256(tiny)}", stdin=tiny,
                        env_extra={"BERTH_BODY_FILE": ""})
    check(shape, "an empty BERTH_BODY_FILE: the body is read from the stream", st == 201,
          f"{st} {err.strip()[:200]}")
    # Body files a crashed web server left: the upload sweep removes the
    # stale ones (berth uploads --expire runs what the workers run).
    stale, fresh = os.path.join(body_dir, "0000000098"), os.path.join(body_dir, "0000000099")
    for f in (stale, fresh):
        with open(f, "wb") as fh:
            fh.write(b"left by a crash")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    p = subprocess.run([BERTH, "-c", os.path.join(data_dir, "berth.ini"), "uploads",
                        "--expire", "1h"], capture_output=True, text=True)
    check(shape, "the upload sweep removes a stale body file, keeps a fresh one",
          p.returncode == 0 and not os.path.exists(stale) and os.path.exists(fresh),
          f"{p.returncode} {p.stderr.strip()[:200]} {listing(body_dir)}")
    leftovers = [f for f in os.listdir(os.path.join(data_dir, "uploads"))
                 if f.endswith(".body")]
    check(shape, "no temporary link names left in uploads/", leftovers == [], f"{leftovers}")
    if berthtest.failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"# cgi: kept {work}")


def main():
    hostile()
    for shape in SERVERS:
        print(f"# {shape}")
        run_shape(shape)
    return berthtest.summary()


if __name__ == "__main__":
    sys.exit(main())
