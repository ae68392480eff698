#!/usr/bin/env python3
"""lifecycle.py -- stopping, restarting and supervising berth's worker
pool behind real nginx, and the worker-side drain behind Apache (issue
11, items 4 and 5).

Behind nginx (nginx/serve.sh start, two workers from a configuration
file, a free port, a fresh data directory), where nginx receives an
upload body whole before it contacts a worker (the hand-over):
  - restart under a steady pull load: manifest GETs from four threads
    while `serve.sh restart` runs twice; every GET answers 200 with the
    manifest's bytes, the pid stays, the old workers drain, a changed
    `workers` is taken up, and a configuration `berth -t` refuses leaves
    the old workers serving;
  - a worker that crashes (kill -SEGV, again as soon as it is replaced)
    is logged with its signal and restarted after a doubling back-off;
  - SIGTERM to the pool 0.7 s into a ~3 s chunked PATCH (no Expect, sent
    by curl at a limited rate): the pool stops at once, the body still
    arriving (no worker waits on it); a request meanwhile gets nginx's
    503 UNAVAILABLE; the PATCH ends 202 or 503 with an OCI body, never a
    4xx; nginx leaves no body file; resuming the session on a new pool
    (GET Location for Range, PATCH the rest, PUT ?digest=) ends with the
    right digest;
  - `serve.sh restart` (SIGHUP) while a PATCH body is arriving: the pool
    restarts and the old workers leave before the body is complete, the
    new workers take the hand-over, the PATCH answers 202 with everything stored, and the
    blob closes with its digest;
  - `serve.sh stop` (make stop) during a PATCH: nginx stops gracefully
    before berth, and the PATCH is answered 202.
Behind Apache (SERVER=apache: mod_proxy_fcgi streams the body to the
worker, so a slow PATCH is truly in a worker):
  - SIGTERM 1 s into a 30 MB chunked PATCH: a request meanwhile gets
    Apache's 503 with the OCI body (its ErrorDocument); the pool waits
    for the PATCH, which completes (202) or sees 503, never a 4xx; the
    session resumes to the right digest;
  - a drain deadline (BERTH_DRAIN_SECONDS=1) that a slow PATCH cannot
    meet: the worker is killed and logged, its client gets 503 with the
    OCI body, and the session resumes.
Then, behind nginx again: a pool parent killed with SIGKILL under
`serve.sh run` ends the run with status 1 and a message naming the
signal, and leaves no process; Ctrl-C ends a run with status 0.
Prints one line per check and, last, "N passed, N failed"; exits non-zero
on any failure.  Environment: BERTH (the binary), SANITIZER_LOG_CHECK=1
to fail on sanitizer reports; SERVERS (as tests/run.sh exports it): the
Apache part runs when it names apache, or when SERVERS is unset.
python3's standard library and curl; nginx, and Apache with
mod_xsendfile.
"""

import grp
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import berthtest  # noqa: E402
from berthtest import check, children, free_port, request, sha256, wait_for  # noqa: E402
BERTH = os.path.abspath(os.environ.get("BERTH", os.path.join(TOP, "build", "berth")))
SERVE = os.path.join(TOP, "nginx", "serve.sh")
REPO = "life/cycle"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def answers(port):
    """GET /v2/ answers 200 (no connection yet is no)."""
    try:
        return request(port, "GET", "/v2/", timeout=5)[0] == 200
    except OSError:
        return False


def alive(pid):
    """A live process, not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def is_unavailable(st, body):
    """A 503 with an OCI UNAVAILABLE error body: nginx's
    (berth-locations.conf.in) or Apache's (berth-fastcgi.conf.in)."""
    try:
        code = json.loads(body)["errors"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return False
    return st == 503 and code == "UNAVAILABLE"


class Registry:
    """A registry on a free port and a fresh data directory, brought up by
    nginx/serve.sh behind server (nginx, or apache: hosting/serve.sh)."""

    def __init__(self, workers=2, server="nginx"):
        self.server = server
        self.data = tempfile.mkdtemp(prefix="berth-lifecycle.")
        os.chmod(self.data, 0o755)     # Apache's www-data traverses it
        self.run = os.path.join(self.data, "run")
        self.log = os.path.join(self.run, "berth.log")
        self.port = free_port()
        self.conf = os.path.join(self.data, "berth.ini")
        self.write_conf(workers)
        self.env = dict(os.environ, PORT=str(self.port), DATA_DIR=self.data,
                        BERTH=BERTH, BERTH_CONFIG=self.conf, SERVER=server)
        self.env.pop("WORKERS", None)
        self.env.pop("BERTH_DRAIN_SECONDS", None)
        # hosting/serve.sh runs the pool on a berth.ini of its own (the
        # given one plus the offload its server needs).
        self.pool_conf = self.conf if server == "nginx" else os.path.join(self.run, "berth.ini")
        out = subprocess.run([BERTH, "-t", "-d", self.data, "-c", self.conf],
                             capture_output=True, text=True).stdout
        self.body_dir = ([l[9:] for l in out.splitlines() if l.startswith("body_dir=")]
                         or [os.path.join(self.data, "uploads", "body")])[0]

    def write_conf(self, workers, extra=""):
        with open(self.conf, "w") as f:
            f.write("[server]\nworkers = %s\n%s" % (workers, extra))

    def serve(self, cmd, timeout=60, **env):
        """nginx/serve.sh cmd, env added to the registry's; (status, its
        output).  Output to a file: the daemons it leaves running would
        keep a pipe open."""
        with tempfile.TemporaryFile(mode="w+") as out:
            rc = subprocess.call([SERVE, cmd], env=dict(self.env, **env), cwd=TOP,
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=out, timeout=timeout)
            out.seek(0)
            return rc, out.read().strip()

    def pool_pid(self):
        with open(os.path.join(self.run, "berth.pid")) as f:
            return int(f.read().strip())

    def workers(self):
        return children(self.pool_pid())

    def start_pool(self, **env):
        """A pool by hand, as serve-lib.sh's start_pool does it (the
        web server stays up)."""
        e = dict(self.env, **env)
        with open(self.log, "a") as log:
            p = subprocess.Popen([BERTH, "-d", self.data, "-c", self.pool_conf], env=e,
                                 cwd=TOP, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=log)
        with open(os.path.join(self.run, "berth.pid"), "w") as f:
            f.write("%d\n" % p.pid)
        sock = os.path.join(self.run, "berth.sock")
        ok = wait_for(lambda: os.path.exists(sock) and len(children(p.pid)) >= 1, 10)
        ok = ok and wait_for(lambda: answers(self.port), 10)
        return p if ok else None

    def log_text(self, since=0):
        with open(self.log, errors="replace") as f:
            return f.read()[since:]

    def log_size(self):
        return len(self.log_text())

    def push_blob(self, data):
        d = sha256(data)
        st, _, _ = request(self.port, "POST", "/v2/%s/blobs/uploads/?digest=%s" % (REPO, d),
                           data, {"Content-Type": "application/octet-stream"})
        return st, d

    def start_upload(self):
        st, h, _ = request(self.port, "POST", "/v2/%s/blobs/uploads/" % REPO)
        return st, h.get("location", "")

    def url(self, loc):
        return loc if loc.startswith("http") else "http://127.0.0.1:%d%s" % (self.port, loc)

    def path(self, loc):
        return loc.split("://", 1)[1].split("/", 1)[1] if "://" in loc else loc


def curl_patch(reg, loc, path, rate, offset=None, size=None, out="/dev/null"):
    """curl sending file path as a chunked PATCH body without Expect, as
    docker and containerd do, at rate bytes/s, the response body to file
    out; the running Popen, whose stdout is "<status> <location>"."""
    cmd = ["curl", "-sS", "-X", "PATCH", "-T", path, "--limit-rate", str(rate),
           "-H", "Expect:", "-H", "Transfer-Encoding: chunked",
           "-H", "Content-Type: application/octet-stream",
           "-o", out, "-w", "%{http_code} %header{location}", reg.url(loc)]
    if offset is not None:
        cmd[5:5] = ["-H", "Content-Range: %d-%d" % (offset, offset + size - 1)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def upload_offset(reg, loc):
    """The session's stored length from GET Location (Range: 0-N), or None."""
    st, h, _ = request(reg.port, "GET", reg.path(loc))
    if st != 204:
        return None, st
    # "0-0" before the first byte (the Distribution convention); these
    # tests never store exactly one.
    last = int(h.get("range", "0-0").split("-")[1])
    return (last + 1 if last > 0 else 0), st


def resume(reg, name, loc, blob, stored):
    """Send blob[stored:] as one PATCH and close with PUT ?digest=; the
    final blob must read back with blob's digest."""
    if stored < len(blob):
        rest = blob[stored:]
        st, h, body = request(reg.port, "PATCH", reg.path(loc), rest, {
            "Content-Type": "application/octet-stream",
            "Content-Range": "%d-%d" % (stored, len(blob) - 1)})
        check(name + ": PATCH of the rest answers 202", st == 202, (st, body[:300]))
        loc = h.get("location", loc)
    d = sha256(blob)
    p = reg.path(loc)
    st, _, body = request(reg.port, "PUT", p + ("&" if "?" in p else "?") + "digest=" + d)
    check(name + ": PUT ?digest= answers 201", st == 201, (st, body[:300]))
    st, h, data = request(reg.port, "GET", "/v2/%s/blobs/%s" % (REPO, d))
    check(name + ": the blob reads back with its digest",
          st == 200 and sha256(data) == d and h.get("docker-content-digest") == d,
          (st, len(data), h.get("docker-content-digest")))


# --- restart under load --------------------------------------------------


def push_image(reg):
    config = b'{"architecture":"amd64","os":"linux","lifecycle":1}'
    layer = os.urandom(4096)
    for b in (config, layer):
        st, _ = reg.push_blob(b)
        if st != 201:
            return None
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": sha256(config), "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": sha256(layer), "size": len(layer)}]},
                   sort_keys=True).encode()
    st, _, _ = request(reg.port, "PUT", "/v2/%s/manifests/v1" % REPO, m,
                       {"Content-Type": OCI_MANIFEST})
    return m if st == 201 else None


def test_restart(reg):
    manifest = push_image(reg)
    if not check("restart: an image to pull is pushed", manifest is not None):
        return
    pid = reg.pool_pid()
    before = reg.workers()
    results = []
    stop = threading.Event()

    def puller():
        while not stop.is_set():
            try:
                st, h, body = request(reg.port, "GET", "/v2/%s/manifests/v1" % REPO,
                                      headers={"Accept": OCI_MANIFEST}, timeout=10)
                results.append((st, body == manifest))
            except OSError as e:
                results.append((str(e), False))

    threads = [threading.Thread(target=puller) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.7)
    rc1, out1 = reg.serve("restart")
    time.sleep(0.7)
    mid = reg.workers()
    # The second restart changes the configuration: three workers.
    reg.write_conf(3)
    rc2, out2 = reg.serve("restart")
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    bad = [r for r in results if r != (200, True)]
    check("restart: serve.sh restart succeeds and says so, twice",
          rc1 == 0 and rc2 == 0 and "restarted" in out1 and "restarted" in out2,
          (rc1, out1, rc2, out2))
    check("restart: every manifest GET under load answers 200 with the manifest",
          len(results) >= 40 and not bad,
          "%d requests, %d bad: %s" % (len(results), len(bad), bad[:5]))
    check("restart: the pool keeps its pid (the pid file stays right)",
          reg.pool_pid() == pid and alive(pid))
    after = wait_for(lambda: (lambda w: w if len(w) == 3 else None)(reg.workers()), 5) or reg.workers()
    check("restart: the old workers drained and the new pool runs the new "
          "configuration's 3 workers",
          len(after) == 3 and not (after & before) and not (after & mid)
          and not any(alive(w) for w in before | mid),
          (before, mid, after))

    # A configuration the new image refuses: the running pool goes on.
    reg.write_conf(0)
    since = reg.log_size()
    os.kill(pid, signal.SIGHUP)
    refused = wait_for(lambda: "restart refused" in reg.log_text(since), 10)
    time.sleep(0.3)
    st, _, _ = request(reg.port, "GET", "/v2/%s/manifests/v1" % REPO,
                       headers={"Accept": OCI_MANIFEST})
    check("restart: a configuration berth -t refuses is refused; the same "
          "workers serve on",
          refused and st == 200 and reg.workers() == after and alive(pid),
          (refused, st, reg.log_text(since)[-500:]))
    rc, out = reg.serve("restart")
    check("restart: serve.sh restart refuses a bad configuration with a message",
          rc != 0 and "configuration" in out, (rc, out))
    # One that reads but cannot start: access control on, nobody to sign
    # in as (berth -t says so too, so the restart is refused in time).
    reg.write_conf(2, "[auth]\nenabled = true\n")
    workers = reg.workers()
    since = reg.log_size()
    rc, out = reg.serve("restart")
    st, _, _ = request(reg.port, "GET", "/v2/%s/manifests/v1" % REPO,
                       headers={"Accept": OCI_MANIFEST})
    check("restart: access control with no user is refused; the pool serves on",
          rc != 0 and "restart refused" in out and "berth user add" in reg.log_text(since)
          and st == 200 and alive(pid) and reg.workers() == workers,
          (rc, out, st, reg.log_text(since)[-400:]))
    reg.write_conf(2)
    check("restart: no note when the configuration is the one it runs with",
          "note" not in out1 + out2, (out1, out2))
    other = os.path.join(reg.data, "other.ini")
    shutil.copy(reg.conf, other)
    rc, out = reg.serve("restart", BERTH_CONFIG=other)
    check("restart: with another BERTH_CONFIG, a note says the restart keeps "
          "the one the pool started with",
          rc == 0 and "a restart keeps the configuration the pool started with (%s)"
          % os.path.realpath(reg.conf) in out and other in out, (rc, out))


# --- supervision -----------------------------------------------------------


def test_crash_backoff(reg):
    time.sleep(1.0)     # the first victim has lived over a second
    pid = reg.pool_pid()
    since = reg.log_size()
    victims = sorted(reg.workers())
    if not check("crash: the pool has workers", len(victims) >= 1):
        return
    other = set(victims[1:])
    victim = victims[0]
    gaps = []
    for _ in range(5):
        os.kill(victim, signal.SIGSEGV)
        t0 = time.time()
        new = wait_for(lambda: (reg.workers() - other - {victim}) or None, 5, 0.005)
        if not new:
            break
        gaps.append(time.time() - t0)
        victim = new.pop()
    log = reg.log_text(since)
    delays = [float(x.split(" s\n")[0]) for x in log.split("starting another in ")[1:]]
    check("crash: each death is logged with its signal",
          log.count("was killed by signal 11 (SIGSEGV)") == 5, log[-800:])
    check("crash: the back-off doubles from 0.1 s while workers die young",
          delays == [0.1, 0.2, 0.4, 0.8], (delays, log[-800:]))
    check("crash: the workers are restarted no sooner than the back-off",
          len(gaps) == 5 and all(g >= d - 0.02 for g, d in zip(gaps[1:], delays)),
          (gaps, delays))
    st, _, _ = request(reg.port, "GET", "/v2/")
    check("crash: the pool serves after the crashes", st == 200 and alive(pid), st)


# --- stop and restart mid-body behind nginx ----------------------------------
#
# nginx receives an upload body whole before it contacts a worker (the
# hand-over, berth-locations.conf.in): a PATCH whose body is still
# arriving holds no worker, so a stop does not wait for it and a restart
# must not lose it.


def body_files(reg):
    """The files nginx has in the body directory ([storage] body_dir)."""
    out = []
    for root, _, files in os.walk(reg.body_dir):
        out += [os.path.join(root, f) for f in files]
    return out


def test_stop_mid_body(reg, big):
    """SIGTERM to the pool 0.7 s into a ~3 s chunked PATCH: the pool
    stops at once (no worker waits on the body), the PATCH ends 202 or
    503 with an OCI body, never a 4xx, and the session resumes to the
    exact digest on a new pool."""
    st, loc = reg.start_upload()
    if not check("stop: an upload session opens", st == 202 and loc, st):
        return
    pid = reg.pool_pid()
    since = reg.log_size()
    blob = big[:12 << 20]
    path = os.path.join(reg.data, "body.bin")
    with open(path, "wb") as f:
        f.write(blob)
    out = os.path.join(reg.data, "patch.out")
    curl = curl_patch(reg, loc, path, 4 << 20, out=out)     # ~3 s
    time.sleep(0.7)
    os.kill(pid, signal.SIGTERM)
    gone = wait_for(lambda: not alive(pid), 1.5)
    arriving = curl.poll() is None
    check("stop: the pool stops at once while the body is still arriving "
          "(nginx holds it; no worker waits)", gone and arriving, (gone, arriving))
    st, _, body = request(reg.port, "GET", "/v2/")
    check("stop: a request while the pool is down gets 503 UNAVAILABLE (OCI body)",
          is_unavailable(st, body), (st, body[:300]))
    cout, err = curl.communicate(timeout=60)
    status = cout.split(" ")[0]
    with open(out, "rb") as f:
        answer = f.read()
    check("stop: the PATCH ends 202, or 503 with an OCI body; never a 4xx",
          status == "202" or (status == "503" and is_unavailable(503, answer)),
          (cout, err, answer[:300]))
    log = reg.log_text(since)
    check("stop: the log says the pool stopped, killing nothing",
          "berth: stopped" in log and "killing" not in log, log[-500:])
    check("stop: nginx left no body file behind",
          wait_for(lambda: not body_files(reg), 5), body_files(reg))
    if not check("stop: a new pool starts on the same socket", reg.start_pool()):
        return
    stored, gst = upload_offset(reg, loc)
    want = len(blob) if status == "202" else 0
    check("stop: GET Location gives the stored length",
          gst == 204 and stored == want, (gst, stored, want))
    if stored is not None:
        resume(reg, "stop", loc, blob, stored)


def test_restart_mid_body(reg, big):
    """serve.sh restart (SIGHUP) 0.7 s into a ~3 s chunked PATCH: the
    socket stays, the old workers leave before the body is complete (no
    worker holds it), the new pool takes the hand-over once nginx has the
    body, the PATCH answers 202 and the blob closes with its digest."""
    st, loc = reg.start_upload()
    if not check("restart mid-body: an upload session opens", st == 202 and loc, st):
        return
    pid = reg.pool_pid()
    before = reg.workers()
    blob = big[1 << 20:13 << 20]
    path = os.path.join(reg.data, "body.bin")
    with open(path, "wb") as f:
        f.write(blob)
    curl = curl_patch(reg, loc, path, 4 << 20)     # ~3 s
    time.sleep(0.7)
    rc, out = reg.serve("restart")
    arriving = curl.poll() is None
    check("restart mid-body: the pool restarts while the body is still arriving",
          rc == 0 and "restarted" in out and arriving, (rc, out, arriving))
    drained = wait_for(lambda: not any(alive(w) for w in before), 1.5)
    arriving = curl.poll() is None
    check("restart mid-body: the old workers are gone before the body is "
          "complete (none holds it)", drained and arriving, (drained, arriving))
    cout, err = curl.communicate(timeout=60)
    check("restart mid-body: the PATCH answers 202", cout.split(" ")[0] == "202",
          (cout, err))
    after = reg.workers()
    check("restart mid-body: same pool pid, new workers",
          reg.pool_pid() == pid and alive(pid) and after and not (after & before),
          (before, after))
    stored, gst = upload_offset(reg, loc)
    check("restart mid-body: GET Location gives the whole body as stored",
          gst == 204 and stored == len(blob), (gst, stored))
    resume(reg, "restart mid-body", cout.split(" ", 1)[1] or loc, blob, len(blob))


# --- the worker-side drain behind Apache -------------------------------------
#
# mod_proxy_fcgi streams a request body to the worker as it arrives, so
# behind Apache a slow PATCH is truly in a worker when SIGTERM comes: the
# worker finishes it, or is killed after BERTH_DRAIN_SECONDS and Apache
# answers 503 (with the OCI body of berth-fastcgi.conf.in's ErrorDocument).


def test_stop_mid_patch(reg, big):
    """SIGTERM to the pool 1 s into a 30 MB chunked PATCH streamed to a
    worker: the pool waits for it; it completes (202) or sees 503, never
    a 4xx; the session resumes to the exact digest."""
    st, loc = reg.start_upload()
    if not check("apache stop: an upload session opens", st == 202 and loc, st):
        return
    pid = reg.pool_pid()
    since = reg.log_size()
    blob = big[:30 << 20]
    path = os.path.join(reg.data, "body.bin")
    with open(path, "wb") as f:
        f.write(blob)
    curl = curl_patch(reg, loc, path, 12 << 20)     # ~2.5 s
    time.sleep(1.0)
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.2)
    st, _, body = request(reg.port, "GET", "/v2/")
    during = curl.poll() is None
    check("apache stop: a request during the drain gets 503 UNAVAILABLE (OCI body)",
          is_unavailable(st, body), (st, body[:300]))
    check("apache stop: the pool waits for the PATCH in its worker",
          during and alive(pid), (during, alive(pid)))
    out, err = curl.communicate(timeout=60)
    status = out.split(" ")[0]
    check("apache stop: the PATCH in flight completes (202) or sees 503, never a 4xx",
          status in ("202", "503"), (out, err))
    check("apache stop: the pool exits once the PATCH is answered",
          wait_for(lambda: not alive(pid), 10), reg.log_text(since)[-500:])
    log = reg.log_text(since)
    check("apache stop: the log says the pool drained and stopped",
          "stopping on SIGTERM" in log and "berth: stopped" in log
          and "killing" not in log, log[-500:])
    if not check("apache stop: a new pool starts on the same socket", reg.start_pool()):
        return
    stored, gst = upload_offset(reg, loc)
    want = len(blob) if status == "202" else None
    check("apache stop: GET Location gives the stored length",
          gst == 204 and (want is None or stored == want), (gst, stored))
    if stored is not None:
        resume(reg, "apache stop", loc, blob, stored)


def test_drain_deadline(reg, big):
    """BERTH_DRAIN_SECONDS=1 and a PATCH streamed to a worker that needs
    ~10 s more: the worker is killed, its client gets Apache's 503 with
    an OCI body; the session resumes."""
    os.kill(reg.pool_pid(), signal.SIGTERM)
    if not wait_for(lambda: not alive(reg.pool_pid()), 10):
        check("apache deadline: the previous pool stops", False)
        return
    pool = reg.start_pool(BERTH_DRAIN_SECONDS="1")
    if not check("apache deadline: a pool with BERTH_DRAIN_SECONDS=1 starts", pool):
        return
    st, loc = reg.start_upload()
    blob = big[:3 << 20]
    path = os.path.join(reg.data, "slow.bin")
    with open(path, "wb") as f:
        f.write(blob)
    since = reg.log_size()
    out = os.path.join(reg.data, "patch.out")
    curl = curl_patch(reg, loc, path, 256 << 10, out=out)   # ~12 s
    time.sleep(1.0)
    t0 = time.time()
    os.kill(pool.pid, signal.SIGTERM)
    cout, err = curl.communicate(timeout=60)
    took = time.time() - t0
    with open(out, "rb") as f:
        answer = f.read()
    check("apache deadline: the PATCH that cannot finish gets 503 with an OCI "
          "body, after the deadline",
          cout.split(" ")[0] == "503" and is_unavailable(503, answer)
          and 0.9 <= took < 5, (cout, err, answer[:300], took))
    check("apache deadline: the pool exits and logs the kill",
          wait_for(lambda: pool.poll() is not None, 10)
          and "still busy after the deadline" in reg.log_text(since),
          reg.log_text(since)[-500:])
    if not check("apache deadline: a new pool starts", reg.start_pool()):
        return
    stored, gst = upload_offset(reg, loc)
    check("apache deadline: GET Location answers 204 with a Range",
          gst == 204 and stored is not None, (gst, stored))
    if stored is not None:
        resume(reg, "apache deadline", loc, blob, stored)


def test_serve_stop_mid_patch(reg, big):
    """serve.sh stop (make stop) during a PATCH: nginx stops gracefully
    and berth after it, so the PATCH is answered 202."""
    st, loc = reg.start_upload()
    if not check("make stop: an upload session opens", st == 202 and loc, st):
        return
    blob = big[:30 << 20]
    path = os.path.join(reg.data, "body.bin")
    with open(path, "wb") as f:
        f.write(blob)
    curl = curl_patch(reg, loc, path, 12 << 20)     # ~2.5 s
    time.sleep(1.0)
    rc, out = reg.serve("stop")
    cout, err = curl.communicate(timeout=60)
    check("make stop: the PATCH in flight is answered 202",
          rc == 0 and cout.split(" ")[0] == "202", (rc, out, cout, err))
    rc, out = reg.serve("start")
    if check("make stop: the registry starts again", rc == 0, out):
        resume(reg, "make stop", cout.split(" ", 1)[1] or loc, blob, len(blob))


# --- a killed pool under `run` ----------------------------------------------


def serve_run(reg, out):
    """serve.sh run in a session of its own, with Ctrl-C's SIGINT
    deliverable (as from a terminal), its output to out."""
    return subprocess.Popen([SERVE, "run"], env=reg.env, cwd=TOP, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=out, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_run_ctrl_c():
    """Ctrl-C (SIGINT to the whole process group) ends a run cleanly."""
    reg = Registry(workers=2)
    os.makedirs(reg.run, exist_ok=True)
    with tempfile.TemporaryFile(mode="w+") as out:
        run = serve_run(reg, out)
        up = wait_for(lambda: os.path.exists(os.path.join(reg.run, "nginx.pid"))
                      and answers(reg.port), 30, 0.1)
        pid = reg.pool_pid() if up else 0
        os.killpg(run.pid, signal.SIGINT)
        try:
            rc = run.wait(timeout=15)
        except subprocess.TimeoutExpired:
            run.kill()
            rc = None
        out.seek(0)
        text = out.read()
    check("run: Ctrl-C ends the run with status 0, the pool stopped",
          up and rc == 0 and wait_for(lambda: not alive(pid), 5)
          and "berth: stopped" in reg.log_text(), (up, rc, text[-500:]))
    reg.serve("stop")
    if berthtest.failed == 0:
        shutil.rmtree(reg.data, ignore_errors=True)


def test_run_killed():
    reg = Registry(workers=2)
    os.makedirs(reg.run, exist_ok=True)
    out = tempfile.TemporaryFile(mode="w+")
    run = serve_run(reg, out)

    def said(s):
        out.seek(0)
        return s in out.read()

    try:
        up = wait_for(lambda: said("Ctrl-C stops"), 30, 0.1)
        if not check("run: serve.sh run comes up", up):
            return
        pid = reg.pool_pid()
        workers = children(pid)
        with open(os.path.join(reg.run, "nginx.pid")) as f:
            web = int(f.read().strip())
        os.kill(pid, signal.SIGKILL)
        try:
            rc = run.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = None
        out.seek(0)
        text = out.read()
        check("run: a pool killed with SIGKILL ends the run with status 1",
              rc == 1, (rc, text[-500:]))
        check("run: the run says the pool was killed by SIGKILL",
              "worker pool (pid %d) was killed by signal KILL" % pid in text, text[-500:])
        check("run: nginx and the workers are gone, and the pid files",
              wait_for(lambda: not alive(web) and not any(alive(w) for w in workers), 10)
              and not os.path.exists(os.path.join(reg.run, "berth.pid"))
              and not os.path.exists(os.path.join(reg.run, "nginx.pid")),
              (alive(web), [w for w in workers if alive(w)]))
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            try:
                run.wait(timeout=15)
            except subprocess.TimeoutExpired:
                run.kill()
        reg.serve("stop")
        out.close()
        sanitizer_check("run", reg)
        if berthtest.failed == 0:
            shutil.rmtree(reg.data, ignore_errors=True)


def sanitizer_check(name, reg):
    if os.environ.get("SANITIZER_LOG_CHECK") != "1" or not os.path.exists(reg.log):
        return
    bad = [l.strip() for l in reg.log_text().splitlines()
           if "runtime error" in l or "AddressSanitizer" in l or "LeakSanitizer" in l]
    check(name + ": no sanitizer reports in the log", not bad, "; ".join(bad[:3]))


def guarded(test, reg, big):
    """Run one test; an exception (a pool gone, a refused connection) is a
    failure of that test, and the pool is brought back for the next."""
    try:
        if test in (test_stop_mid_body, test_restart_mid_body, test_stop_mid_patch,
                    test_drain_deadline, test_serve_stop_mid_patch):
            test(reg, big)
        else:
            test(reg)
    except Exception as e:  # noqa: BLE001 -- reported as a failure
        check(test.__name__ + " ran to its end", False, repr(e))
        try:
            if not alive(reg.pool_pid()):
                reg.start_pool()
        except (OSError, ValueError):
            pass


def test_socket_access():
    """[server] socket_mode and socket_group: the socket berth makes has
    them (default 0666), a restart (SIGHUP) applies new ones to the socket
    it keeps, and a mode berth -t refuses starts nothing."""
    data = tempfile.mkdtemp(prefix="berth-socket.")
    group = grp.getgrnam("daemon")
    conf = os.path.join(data, "berth.ini")
    sock = os.path.join(data, "run", "berth.sock")
    log_path = os.path.join(data, "pool.log")
    try:
        with open(conf, "w") as f:
            f.write("[server]\nworkers = 1\n")
        with open(log_path, "a") as log:
            p = subprocess.Popen([BERTH, "-d", data, "-c", conf], stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=log)
        ok = wait_for(lambda: os.path.exists(sock) and len(children(p.pid)) >= 1, 10)
        st = os.stat(sock) if ok else None
        check("socket: by default mode 0666, berth's group",
              ok and stat.S_IMODE(st.st_mode) == 0o666 and st.st_gid == os.getegid(), (ok, st))
        with open(conf, "w") as f:
            f.write("[server]\nworkers = 1\nsocket_mode = 0660\nsocket_group = daemon\n")
        p.send_signal(signal.SIGHUP)
        restarted = wait_for(lambda: "berth: restarted" in open(log_path).read(), 20)
        st = os.stat(sock)
        check("socket: a restart gives the kept socket the new socket_mode 0660 and "
              "socket_group daemon",
              restarted and stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == group.gr_gid,
              (restarted, st, open(log_path).read()[-400:]))
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=40)
        check("socket: the pool stops cleanly", rc == 0, rc)
        with open(conf, "w") as f:
            f.write("[server]\nsocket_mode = 0500\n")
        r = subprocess.run([BERTH, "-t", "-d", data, "-c", conf], capture_output=True, text=True)
        check("socket: berth -t refuses socket_mode 0500 with the key's message",
              r.returncode != 0 and "[server] socket_mode: bad value \"0500\"" in r.stderr,
              (r.returncode, r.stderr))
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    if not os.access(BERTH, os.X_OK):
        print("lifecycle: %s is not built" % BERTH)
        print("0 passed, 1 failed")
        return 1
    # A worker killed with SIGSEGV must die of it, not be caught by ASan
    # (which would exit 1 and report): the test sends the signal itself.
    asan = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "handle_segv=0"
    big = os.urandom(31 << 20)
    # Behind nginx (bodies handed over whole), then behind Apache
    # (bodies streamed to the worker: the worker-side drain).
    shapes = [("nginx", (test_restart, test_crash_backoff, test_stop_mid_body,
                         test_restart_mid_body, test_serve_stop_mid_patch))]
    if "apache" in os.environ.get("SERVERS", "apache").split():
        shapes.append(("apache", (test_stop_mid_patch, test_drain_deadline)))
    else:
        print("# SERVERS has no apache: the worker-side drain behind Apache is not run")
    for server, tests in shapes:
        before = berthtest.failed
        reg = Registry(workers=2, server=server)
        rc, out = reg.serve("start")
        if check("the registry starts behind " + server, rc == 0, out):
            try:
                for test in tests:
                    guarded(test, reg, big)
            finally:
                reg.serve("stop")
            sanitizer_check(server + " registry", reg)
        if berthtest.failed == before:
            shutil.rmtree(reg.data, ignore_errors=True)
        else:
            print("# data and logs kept in " + reg.data)
    test_socket_access()
    test_run_ctrl_c()
    test_run_killed()
    return berthtest.summary()


if __name__ == "__main__":
    sys.exit(main())
