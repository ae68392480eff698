#!/usr/bin/env python3
"""metrics.py -- metrics, health, the access log and service-manager
readiness (issue 16, items 1 and 2).

Behind nginx (nginx/serve.sh start, three workers, a fresh data
directory, a free port):
  - a scrape of /_berth/metrics whose counters rise by exactly the
    requests made between two scrapes, from four client threads served by
    several workers (each worker's written bytes in /proc/PID/io grow):
    berth_http_requests_total per route, method and status class, the
    duration histogram's count per route, the response body bytes berth
    wrote (the sum of the bodies the client received) and the body bytes
    it received (a blob handed over by nginx as a file, a manifest);
  - upload sessions in flight and the database size from the store at
    scrape time, workers busy (the scrape itself), no storage errors;
  - berth gc and berth fsck record their last run in the same file;
  - the access log: one line per request with method, path, status,
    bytes, duration and user "-", each checked against what the client
    got; after a restart with [server] access_log = false no line is
    written while the counters still rise;
  - /_berth/health: 200, then 503 UNAVAILABLE (OCI error body) while
    berth.db is a directory (the file the workers opened was moved away:
    root ignores chmod 000) and while blobs/ is a file, 200 again after;
  - metrics and health refused from a non-loopback-127.0.0.1 source
    (a client bound to 127.0.0.2 gets nginx's 403), and every shipped web
    server configuration limits both paths to loopback;
  - the notify socket protocol: a pool started with NOTIFY_SOCKET (a
    python unix datagram listener) sends READY=1 with MAINPID, RELOADING=1
    then READY=1 around a SIGHUP restart (and around a refused one), and
    STOPPING=1 on SIGTERM; also with an abstract socket name;
  - socket activation (systemd-socket-activate standing in for
    berth.socket): the pool serves on the passed socket (LISTEN_FDS),
    makes none of its own, keeps it across a restart and leaves it in
    place when it stops.
Behind lighttpd, Apache (FastCGI) and Apache with the shared-host
.htaccess (those SERVERS names): health from 127.0.0.1, both endpoints
refused to 127.0.0.2 (403; the .htaccess: the host's 404), counters that
rise by the requests made.
As plain CGI (no web server: build/berth run once per request with the
CGI variables, as under Apache): counters rise by exactly the requests
made by separate processes, the access log goes to each process's
stderr, health answers; with the fault-injecting blob handler (FAULT=1
builds) a failed write and a full disk count as blob store errors.
Prints one line per check and, last, "N passed, N failed"; exits non-zero
on any failure.  Environment: BERTH (the binary), SANITIZER_LOG_CHECK=1
to fail on sanitizer reports in the pool's log.  python3's standard
library; nginx.
"""

import concurrent.futures
import functools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import berthtest  # noqa: E402
from berthtest import check, children, free_port, sha256, wait_for  # noqa: E402
BERTH = os.path.abspath(os.environ.get("BERTH", os.path.join(TOP, "build", "berth")))
SERVE = os.path.join(TOP, "nginx", "serve.sh")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCESS = re.compile(r"^berth: access (\S+) (\S+) (\d{3}) (\d+) (\d+)\.(\d\d)ms "
                    r"route=(\S+) user=(\S+)$")
# One request on a fresh connection, 30 s at most; source: the local
# address to connect from.
request = functools.partial(berthtest.request, timeout=30)


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition,
    and the set of names declared by # TYPE."""
    series, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$', line)
        if m is None:
            raise ValueError("bad exposition line: %r" % line)
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        series[(m.group(1), labels)] = float(m.group(4))
    return series, types


def get(series, name, **labels):
    return series.get((name, frozenset(labels.items())), 0.0)


def diff(a, b, name):
    """b - a for every series of family name (labels -> delta), nonzero only."""
    out = {}
    for (n, labels), v in b.items():
        if n == name:
            d = v - a.get((n, labels), 0.0)
            if d:
                out[labels] = d
    return out


class Registry:
    """berth behind nginx via nginx/serve.sh, in a fresh data directory."""

    def __init__(self, workers=3, server="nginx"):
        self.tmp = tempfile.mkdtemp(prefix="berth-metrics-")
        os.chmod(self.tmp, 0o755)   # Apache's www-data traverses it
        self.data = os.path.join(self.tmp, "data")
        self.run = os.path.join(self.data, "run")
        self.conf = os.path.join(self.tmp, "berth.ini")
        self.port = free_port()
        self.write_conf(workers)
        self.env = dict(os.environ, PORT=str(self.port), DATA_DIR=self.data,
                        BERTH=BERTH, BERTH_CONFIG=self.conf, SERVER=server)

    def write_conf(self, workers, extra=""):
        with open(self.conf, "w") as f:
            f.write("[storage]\ndata_dir = %s\n[server]\nworkers = %d\n%s"
                    % (self.data, workers, extra))

    def serve(self, cmd):
        out = os.path.join(self.tmp, "serve.out")
        with open(out, "w") as f:
            rc = subprocess.call([SERVE, cmd], env=self.env, cwd=TOP, stdout=f,
                                 stderr=subprocess.STDOUT, timeout=120)
        with open(out) as f:
            return rc, f.read()

    def pool_pid(self):
        with open(os.path.join(self.run, "berth.pid")) as f:
            return int(f.read().strip())

    def log(self):
        with open(os.path.join(self.run, "berth.log"), errors="replace") as f:
            return f.read()

    def scrape(self):
        st, h, body = request(self.port, "GET", "/_berth/metrics")
        if st != 200:
            raise RuntimeError("scrape: %d %r" % (st, body[:300]))
        return parse_metrics(body.decode()), len(body), h

    def berth(self, *args):
        return subprocess.run([BERTH, "-c", self.conf] + list(args),
                              capture_output=True, text=True, timeout=120)


def wchar(pid):
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def push_blob(port, repo, data):
    """A monolithic POST ?digest= (nginx hands the body over as a file)."""
    st, h, body = request(port, "POST", "/v2/%s/blobs/uploads/?digest=%s"
                          % (repo, sha256(data)), body=data,
                          headers={"Content-Type": "application/octet-stream"})
    return st, len(body)


def manifest_for(config, layer):
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256(layer), "size": len(layer)}],
    }, separators=(",", ":")).encode()


def access_lines(text):
    return [m for m in (ACCESS.match(l) for l in text.splitlines()) if m]


# --- behind nginx ------------------------------------------------------------

def test_counters(reg):
    repo = "metrics/app"
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(70000)
    man = manifest_for(config, layer)
    pool = reg.pool_pid()
    workers = children(pool)
    check("the pool runs three workers", len(workers) == 3, workers)
    before_io = {w: wchar(w) for w in workers}
    log_start = len(reg.log())

    s0, s0_len, h = reg.scrape()
    check("metrics: Content-Type is the text exposition format",
          h.get("content-type") == "text/plain; version=0.0.4; charset=utf-8",
          h.get("content-type"))
    # What the client makes; each entry (route, method, class) -> count,
    # and the body bytes berth sends for it.
    want = {}
    sent = [s0_len]   # the first scrape's body is counted after it went out

    def count(route, method, status, nbytes):
        key = (route, method, "%dxx" % (status // 100))
        want[key] = want.get(key, 0) + 1
        sent.append(nbytes)

    count("metrics", "GET", 200, 0)
    sent.pop()   # (its bytes are s0_len, already there)

    st, n = push_blob(reg.port, repo, config)
    check("push the config blob: 201", st == 201, st)
    count("upload-start", "POST", st, n)
    st, n = push_blob(reg.port, repo, layer)
    check("push the layer blob: 201", st == 201, st)
    count("upload-start", "POST", st, n)
    st, _, body = request(reg.port, "PUT", "/v2/%s/manifests/v1" % repo, body=man,
                          headers={"Content-Type": OCI_MANIFEST})
    check("push the manifest: 201", st == 201, (st, body[:200]))
    count("manifest-put", "PUT", st, len(body))

    def one(i):
        kind = i % 5
        if kind == 0:
            st, _, body = request(reg.port, "GET", "/v2/")
            return ("base", "GET", st, len(body))
        if kind == 1:
            st, _, body = request(reg.port, "GET", "/v2/%s/manifests/v1" % repo,
                                  headers={"Accept": OCI_MANIFEST})
            return ("manifest-get", "GET", st, len(body))
        if kind == 2:
            st, _, body = request(reg.port, "HEAD", "/v2/%s/manifests/v1" % repo)
            return ("manifest-get", "HEAD", st, 0)
        if kind == 3:
            st, _, body = request(reg.port, "GET", "/v2/%s/manifests/nope%d" % (repo, i))
            return ("manifest-get", "GET", st, len(body))
        st, _, body = request(reg.port, "DELETE", "/v2/")
        return ("none", "DELETE", st, len(body))

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(one, range(200)))
    statuses = {}
    for route, method, st, n in results:
        count(route, method, st, n)
        statuses[(route, method, st)] = statuses.get((route, method, st), 0) + 1
    check("the 200 requests got the statuses they should",
          statuses == {("base", "GET", 200): 40, ("manifest-get", "GET", 200): 40,
                       ("manifest-get", "HEAD", 200): 40,
                       ("manifest-get", "GET", 404): 40, ("none", "DELETE", 405): 40},
          statuses)

    s1, s1_len, _ = reg.scrape()
    got = {(dict(k)["route"], dict(k)["method"], dict(k)["code"]): v
           for k, v in diff(s0[0], s1[0], "berth_http_requests_total").items()}
    check("berth_http_requests_total rose by exactly the requests made",
          got == want, {"got": got, "want": want})
    per_route = {}
    for (route, _, _), n in want.items():
        per_route[route] = per_route.get(route, 0) + n
    hist = {dict(k)["route"]: v for k, v in
            diff(s0[0], s1[0], "berth_http_request_duration_seconds_count").items()}
    check("the duration histogram's count per route rose by the same",
          hist == per_route, {"got": hist, "want": per_route})
    inf = {dict(k)["route"]: v for k, v in
           diff(s0[0], s1[0], "berth_http_request_duration_seconds_bucket").items()
           if dict(k)["le"] == "+Inf"}
    check("the +Inf bucket equals the count", inf == per_route, inf)
    check("the histogram is declared a histogram",
          s1[1].get("berth_http_request_duration_seconds") == "histogram")
    d_sent = get(s1[0], "berth_http_sent_bytes_total") - get(s0[0], "berth_http_sent_bytes_total")
    check("berth_http_sent_bytes_total rose by the body bytes the client got",
          d_sent == sum(sent), (d_sent, sum(sent)))
    d_recv = (get(s1[0], "berth_http_received_bytes_total")
              - get(s0[0], "berth_http_received_bytes_total"))
    check("berth_http_received_bytes_total rose by the bodies sent "
          "(blobs handed over as files, the manifest)",
          d_recv == len(config) + len(layer) + len(man),
          (d_recv, len(config) + len(layer) + len(man)))
    grew = [w for w in workers if wchar(w) > before_io[w]]
    check("several workers served them (their written bytes grew)", len(grew) >= 2,
          {w: (before_io[w], wchar(w)) for w in workers})
    check("workers busy: the scrape itself", get(s1[0], "berth_workers_busy") == 1,
          get(s1[0], "berth_workers_busy"))
    errs = sum(v for (n, _), v in s1[0].items() if n == "berth_storage_errors_total")
    check("no storage errors counted", errs == 0, errs)
    check("berth_metadata_up is 1", get(s1[0], "berth_metadata_up") == 1)
    check("no upload session in flight", get(s1[0], "berth_upload_sessions") == 0,
          get(s1[0], "berth_upload_sessions"))
    db = sqlite3.connect("file:%s/berth.db?mode=ro" % reg.data, uri=True)
    size = db.execute("PRAGMA page_count").fetchone()[0] * \
        db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    check("berth_database_bytes is the database's pages",
          get(s1[0], "berth_database_bytes") == size,
          (get(s1[0], "berth_database_bytes"), size))

    # The access log: one line per request, with what the client got.
    lines = access_lines(reg.log()[log_start:])
    check("one access log line per request (and the two scrapes)",
          len(lines) == sum(want.values()) + 1, (len(lines), sum(want.values()) + 1))
    by = {}
    for m in lines:
        key = (m.group(1), m.group(2).split("/nope")[0], m.group(3), m.group(7))
        by[key] = by.get(key, 0) + 1
    check("access log: 40 GET /v2/ 200 route=base",
          by.get(("GET", "/v2/", "200", "base")) == 40, by)
    check("access log: 40 GET manifest 404",
          by.get(("GET", "/v2/%s/manifests" % repo, "404", "manifest-get")) == 40, by)
    check("access log: 40 DELETE /v2/ 405 route=none",
          by.get(("DELETE", "/v2/", "405", "none")) == 40, by)
    check("access log: user is - on every line", all(m.group(8) == "-" for m in lines))
    put = [m for m in lines if m.group(1) == "PUT"]
    check("access log: the manifest PUT with its path and status",
          len(put) == 1 and put[0].group(2) == "/v2/%s/manifests/v1" % repo
          and put[0].group(3) == "201", [m.group(0) for m in put])
    gets = [m for m in lines if m.group(1) == "GET" and m.group(3) == "200"
            and m.group(7) == "manifest-get"]
    check("access log: a manifest GET's bytes are the manifest's",
          len(gets) == 40 and all(int(m.group(4)) == len(man) for m in gets),
          [m.group(0) for m in gets[:2]])
    heads = [m for m in lines if m.group(1) == "HEAD"]
    check("access log: a HEAD sent 0 body bytes",
          len(heads) == 40 and all(m.group(4) == "0" for m in heads))
    check("access log: durations are plausible (under 10 s)",
          all(int(m.group(5)) < 10000 for m in lines))

    # An upload session in flight, from the store at scrape time.
    st, h, _ = request(reg.port, "POST", "/v2/%s/blobs/uploads/" % repo)
    s2, _, _ = reg.scrape()
    check("an upload session in flight is counted",
          st == 202 and get(s2[0], "berth_upload_sessions") == 1,
          (st, get(s2[0], "berth_upload_sessions")))
    request(reg.port, "DELETE", h.get("location", "/"))
    return repo


def test_jobs(reg):
    s0, _, _ = reg.scrape()
    check("no gc run recorded yet", get(s0[0], "berth_gc_runs_total") == 0
          and ("berth_gc_last_success", frozenset()) not in s0[0])
    t0 = time.time()
    r = reg.berth("gc", "--grace", "0s", "--untagged")
    check("berth gc ran", r.returncode == 0, r.stderr)
    r = reg.berth("fsck")
    check("berth fsck ran", r.returncode == 0, r.stderr)
    s1, _, _ = reg.scrape()
    check("gc: one run, a success, just now",
          get(s1[0], "berth_gc_runs_total") == 1
          and get(s1[0], "berth_gc_failures_total") == 0
          and get(s1[0], "berth_gc_last_success") == 1
          and t0 - 1 <= get(s1[0], "berth_gc_last_run_timestamp_seconds") <= time.time() + 1,
          {k[0]: v for k, v in s1[0].items() if k[0].startswith("berth_gc")})
    check("gc: its duration and what it removed (nothing: all referenced)",
          0 <= get(s1[0], "berth_gc_last_duration_seconds") < 60
          and get(s1[0], "berth_gc_last_removed_blobs") == 0
          and get(s1[0], "berth_gc_last_reclaimed_bytes") == 0)
    check("fsck: one run, no problems, both blobs checked",
          get(s1[0], "berth_fsck_runs_total") == 1
          and get(s1[0], "berth_fsck_last_success") == 1
          and get(s1[0], "berth_fsck_last_problems") == 0
          and get(s1[0], "berth_fsck_last_checked_blobs") == 2,
          {k[0]: v for k, v in s1[0].items() if k[0].startswith("berth_fsck")})
    check("gc --dry-run records nothing",
          reg.berth("gc", "--dry-run").returncode == 0
          and get(reg.scrape()[0][0], "berth_gc_runs_total") == 1)
    # fsck that finds a problem: a blob file gone.
    blobs = []
    for root, _, files in os.walk(os.path.join(reg.data, "blobs")):
        blobs += [os.path.join(root, f) for f in files]
    victim = sorted(blobs)[0]
    keep = open(victim, "rb").read()
    os.unlink(victim)
    r = reg.berth("fsck")
    s2, _, _ = reg.scrape()
    check("fsck that finds a missing blob: recorded as failed with 1 problem",
          r.returncode == 1 and get(s2[0], "berth_fsck_runs_total") == 2
          and get(s2[0], "berth_fsck_failures_total") == 1
          and get(s2[0], "berth_fsck_last_success") == 0
          and get(s2[0], "berth_fsck_last_problems") == 1,
          (r.returncode, {k[0]: v for k, v in s2[0].items() if k[0].startswith("berth_fsck")}))
    with open(victim, "wb") as f:
        f.write(keep)


def test_health(reg):
    st, h, body = request(reg.port, "GET", "/_berth/health")
    check("health: 200 with a JSON body",
          st == 200 and json.loads(body) == {"status": "ok", "metadata": "ok", "blobs": "ok"},
          (st, body))
    db = os.path.join(reg.data, "berth.db")
    os.rename(db, db + ".moved")
    os.mkdir(db)
    try:
        st, h, body = request(reg.port, "GET", "/_berth/health")
        err = json.loads(body) if st == 503 else {}
        check("health: 503 UNAVAILABLE while berth.db is a directory",
              st == 503 and err["errors"][0]["code"] == "UNAVAILABLE"
              and "metadata" in err["errors"][0]["detail"], (st, body))
        s, _, _ = reg.scrape()
        check("metrics: berth_metadata_up 0 meanwhile, the scrape still answers",
              get(s[0], "berth_metadata_up") == 0)
    finally:
        os.rmdir(db)
        os.rename(db + ".moved", db)
    st, _, body = request(reg.port, "GET", "/_berth/health")
    check("health: 200 again once berth.db is back", st == 200, (st, body))
    blobs = os.path.join(reg.data, "blobs")
    os.rename(blobs, blobs + ".moved")
    open(blobs, "w").close()
    try:
        st, _, body = request(reg.port, "GET", "/_berth/health")
        check("health: 503 while the blob directory is a file",
              st == 503 and b"blob handler" in body, (st, body))
    finally:
        os.unlink(blobs)
        os.rename(blobs + ".moved", blobs)
    st, _, _ = request(reg.port, "HEAD", "/_berth/health")
    check("health: HEAD 200", st == 200, st)
    st, h, _ = request(reg.port, "POST", "/_berth/health")
    check("health: POST 405 with Allow", st == 405 and h.get("allow") == "GET, HEAD",
          (st, h.get("allow")))


def test_loopback_only(reg):
    for path in ("/_berth/metrics", "/_berth/health"):
        try:
            st, _, body = request(reg.port, "GET", path, source="127.0.0.2")
        except OSError as e:
            st, body = None, str(e)
        check("%s from 127.0.0.2: nginx's 403, not berth" % path, st == 403, (st, body[:100]))
    gen = open(os.path.join(reg.run, "berth-locations.conf")).read()
    prod = open(os.path.join(TOP, "nginx", "berth.conf")).read()
    for name, text in (("the generated nginx locations", gen), ("nginx/berth.conf", prod)):
        for path in ("/_berth/metrics", "/_berth/health"):
            m = re.search(r"location = %s \{(.*?)\n\s*\}" % re.escape(path), text, re.S)
            check("%s: %s allows 127.0.0.1 and ::1 only" % (name, path),
                  m is not None and re.search(
                      r"allow 127\.0\.0\.1;\s*allow ::1;\s*deny all;", m.group(1)) is not None
                  and "fastcgi_pass" in m.group(1))
    light = open(os.path.join(TOP, "lighttpd", "berth.conf")).read()
    light_t = open(os.path.join(TOP, "lighttpd", "berth-fastcgi.conf.in")).read()
    for name, text in (("lighttpd/berth.conf", light), ("lighttpd template", light_t)):
        check("%s: the two paths denied unless from 127.0.0.1 or ::1" % name,
              re.search(r'\$HTTP\["url"\] =~ "\^/_berth/\(metrics\|health\)\$" \{.*?'
                        r'\$HTTP\["remote-ip"\] != "127\.0\.0\.1" \{\s*'
                        r'\$HTTP\["remote-ip"\] != "::1" \{\s*url\.access-deny = \( "" \)',
                        text, re.S) is not None)
    for f in ("apache/berth.conf", "apache/berth-fastcgi.conf.in"):
        text = open(os.path.join(TOP, f)).read()
        check("%s: the two paths Require ip 127.0.0.1 ::1" % f,
              re.search(r'<LocationMatch "\^/_berth/\(metrics\|health\)\$">\s*'
                        r'Require ip 127\.0\.0\.1 ::1\s*</LocationMatch>', text) is not None)
    ht = open(os.path.join(TOP, "apache", "htaccess")).read()
    check("apache/htaccess: the two paths rewritten to berth.cgi only from loopback",
          re.search(r"RewriteCond %\{REMOTE_ADDR\} \^\(127\\\.0\\\.0\\\.1\|::1\)\$\s*\n"
                    r"RewriteRule \^_berth/\(metrics\|health\)\$ berth\.cgi \[L\]", ht)
          is not None)


def test_access_log_off(reg):
    s0, _, _ = reg.scrape()
    reg.write_conf(3, "access_log = false\n")
    rc, out = reg.serve("restart")
    check("restart with access_log = false", rc == 0, out)
    start = len(reg.log())
    for _ in range(10):
        request(reg.port, "GET", "/v2/")
    s1, _, _ = reg.scrape()
    lines = access_lines(reg.log()[start:])
    check("access_log = false: no access line", lines == [], [m.group(0) for m in lines[:3]])
    check("access_log = false: the counters still rise, and go on across the restart",
          get(s1[0], "berth_http_requests_total", route="base", method="GET", code="2xx")
          - get(s0[0], "berth_http_requests_total", route="base", method="GET", code="2xx")
          == 10)
    reg.write_conf(3)
    rc, out = reg.serve("restart")
    check("restart with the access log on again", rc == 0, out)


def test_cut_short(reg):
    """The counter file truncated while the pool maps it (an operator's
    `: > run/metrics`): no worker dies of SIGBUS; each says once that it
    counts on its own, and a restart shares the counters again."""
    workers = set(children(reg.pool_pid()))
    start = len(reg.log())
    open(os.path.join(reg.run, "metrics"), "w").close()
    got = [request(reg.port, "GET", "/v2/")[0] for _ in range(30)]
    log = reg.log()[start:]
    check("cut short: every request still answers 200, no worker restarted",
          got == [200] * 30 and set(children(reg.pool_pid())) == workers,
          (got, workers, log[-600:]))
    check("cut short: the workers that met it say so",
          "run/metrics was cut short while in use" in log and "SIGBUS" not in log, log[-600:])
    rc, out = reg.serve("restart")
    # The old workers (counting alone) drain; a request on a connection
    # nginx kept to one of them would not reach the shared file.
    wait_for(lambda: not any(os.path.exists("/proc/%d" % w) for w in workers), 40)
    s1, _, _ = reg.scrape()
    for _ in range(5):
        request(reg.port, "GET", "/v2/")
    s2, _, _ = reg.scrape()
    check("cut short: after a restart the counters are shared again",
          rc == 0 and get(s2[0], "berth_http_requests_total", route="base", method="GET",
                          code="2xx")
          - get(s1[0], "berth_http_requests_total", route="base", method="GET", code="2xx") == 5,
          (rc, out))


def test_shape(shape):
    """Behind lighttpd, Apache (FastCGI) and Apache (CGI, the .htaccess):
    the endpoints from 127.0.0.1, refused from 127.0.0.2, and counters
    that rise by the requests made."""
    reg = Registry(workers=2, server=shape)
    rc, out = reg.serve("start")
    if not check("%s: serve.sh start" % shape, rc == 0, out):
        reg.serve("stop")
        return
    try:
        st, _, body = request(reg.port, "GET", "/_berth/health")
        check("%s: health 200 from 127.0.0.1" % shape, st == 200, (st, body[:200]))
        s0, _, _ = reg.scrape()
        for _ in range(3):
            request(reg.port, "GET", "/v2/")
        s1, _, _ = reg.scrape()
        d = {(dict(k)["route"], dict(k)["code"]): v
             for k, v in diff(s0[0], s1[0], "berth_http_requests_total").items()}
        check("%s: the counters rose by the 3 requests and the scrape" % shape,
              d == {("base", "2xx"): 3, ("metrics", "2xx"): 1}, d)
        # Refused: 403 from the web server's access rules, or, for the
        # .htaccess, the host's 404 (the rewrite to berth.cgi is not made).
        want = 404 if shape == "apache-cgi" else 403
        for path in ("/_berth/metrics", "/_berth/health"):
            st, _, body = request(reg.port, "GET", path, source="127.0.0.2")
            check("%s: %s from 127.0.0.2 refused (%d)" % (shape, path, want),
                  st == want and b"berth_" not in body, (st, body[:120]))
        st, _, _ = request(reg.port, "GET", "/v2/", source="127.0.0.2")
        check("%s: the registry itself answers 127.0.0.2" % shape, st == 200, st)
    finally:
        reg.serve("stop")
        sanitizer_check(reg.log(), shape)
        shutil.rmtree(reg.tmp, ignore_errors=True)


# --- the notify socket ----------------------------------------------------

def test_notify(abstract):
    tmp = tempfile.mkdtemp(prefix="berth-notify-")
    data = os.path.join(tmp, "data")
    conf = os.path.join(tmp, "berth.ini")
    with open(conf, "w") as f:
        f.write("[storage]\ndata_dir = %s\n[server]\nworkers = 2\n" % data)
    lsn = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "berth-notify-%d-%d" % (os.getpid(), time.time_ns() % 100000)
        lsn.bind("\0" + name)
        where = "@" + name
    else:
        where = os.path.join(tmp, "notify")
        lsn.bind(where)
    lsn.settimeout(30)
    kind = "abstract" if abstract else "path"
    log = open(os.path.join(tmp, "berth.log"), "w")
    p = subprocess.Popen([BERTH, "-c", conf], env=dict(os.environ, NOTIFY_SOCKET=where),
                         stdout=log, stderr=subprocess.STDOUT)

    def recv():
        try:
            return dict(l.split("=", 1) for l in lsn.recv(4096).decode().split("\n") if l)
        except socket.timeout:
            return {}
    try:
        m = recv()
        sock = os.path.join(data, "run", "berth.sock")
        check("notify (%s): READY=1 with MAINPID once the pool serves" % kind,
              m.get("READY") == "1" and m.get("MAINPID") == str(p.pid)
              and os.path.exists(sock) and "2 workers" in m.get("STATUS", ""), m)
        if not abstract:
            # A FastCGI request on the socket answers right after READY.
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.close()
        os.kill(p.pid, signal.SIGHUP)
        m1, m2 = recv(), recv()
        check("notify (%s): RELOADING=1 with MONOTONIC_USEC, then READY=1 after a restart" % kind,
              m1.get("RELOADING") == "1" and m1.get("MONOTONIC_USEC", "").isdigit()
              and m2.get("READY") == "1" and m2.get("MAINPID") == str(p.pid), (m1, m2))
        with open(conf, "a") as f:
            f.write("bogus = 1\n")
        os.kill(p.pid, signal.SIGHUP)
        m1, m2 = recv(), recv()
        check("notify (%s): a refused restart still ends READY=1" % kind,
              m1.get("RELOADING") == "1" and m2.get("READY") == "1"
              and "refused" in m2.get("STATUS", ""), (m1, m2))
        os.kill(p.pid, signal.SIGTERM)
        m = recv()
        check("notify (%s): STOPPING=1 on SIGTERM" % kind, m.get("STOPPING") == "1", m)
        check("notify (%s): the pool stops with status 0" % kind, p.wait(timeout=60) == 0)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        lsn.close()
        log.close()
        sanitizer_check(open(os.path.join(tmp, "berth.log"), errors="replace").read(),
                        "notify (%s)" % kind)
        shutil.rmtree(tmp, ignore_errors=True)


def sanitizer_check(text, what):
    if os.environ.get("SANITIZER_LOG_CHECK") == "1":
        bad = [l for l in text.splitlines()
               if "ERROR: AddressSanitizer" in l or "runtime error:" in l]
        check("%s: no sanitizer report in the log" % what, not bad, bad[:3])


# --- socket activation ----------------------------------------------------

def fcgi_get(sock_path, uri, timeout=30):
    """One FastCGI GET on a unix socket (a minimal responder client); the
    CGI-style response bytes berth wrote."""
    import struct

    def record(kind, body):
        return struct.pack(">BBHHBx", 1, kind, 1, len(body), 0) + body

    def pair(k, v):
        k, v = k.encode(), v.encode()
        ln = lambda n: bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
        return ln(len(k)) + ln(len(v)) + k + v
    params = b"".join(pair(k, v) for k, v in (
        ("REQUEST_METHOD", "GET"), ("REQUEST_URI", uri), ("QUERY_STRING", ""),
        ("SERVER_PROTOCOL", "HTTP/1.1"), ("CONTENT_LENGTH", "")))
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4, b"")
              + record(5, b""))
    out, buf = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            _, kind, _, n, pad = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + n + pad:
                break
            if kind == 6:
                out += buf[8:8 + n]
            buf = buf[8 + n + pad:]
            if kind == 3:
                s.close()
                return out
    s.close()
    return out


def test_socket_activation():
    tmp = tempfile.mkdtemp(prefix="berth-activate-")
    data = os.path.join(tmp, "data")
    conf = os.path.join(tmp, "berth.ini")
    sock = os.path.join(tmp, "act.sock")
    with open(conf, "w") as f:
        f.write("[storage]\ndata_dir = %s\n[server]\nworkers = 2\n" % data)
    logf = os.path.join(tmp, "berth.log")
    log = open(logf, "w")
    # systemd-socket-activate listens, and on the first connection
    # executes berth with the socket as fd 3 and LISTEN_PID/LISTEN_FDS set,
    # as the service manager does for berth.socket.
    p = subprocess.Popen(["systemd-socket-activate", "-l", sock, BERTH, "-c", conf],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        out = fcgi_get(sock, "/_berth/health")
        check("socket activation: the first request is answered by the pool "
              "on the passed socket", out.startswith(b"Status: 200"), out[:200])
        # The pool says so once its workers are forked, and one of them
        # may have answered already: the line may be a moment behind.
        said = ("workers on %s (from the service manager)" % sock,
                "[server] socket %s/run/berth.sock is not used" % data)

        def log_says():
            t = open(logf).read()
            return t if said[0] in t and said[1] in t else ""
        text = wait_for(log_says, 5) or open(logf).read()
        check("socket activation: the pool says it serves the manager's socket",
              said[0] in text and said[1] in text, text[-600:])
        check("socket activation: berth made no socket of its own",
              not os.path.exists(os.path.join(data, "run", "berth.sock")))
        os.kill(p.pid, signal.SIGHUP)
        for _ in range(200):
            if "berth: restarted" in open(logf).read():
                break
            time.sleep(0.05)
        out = fcgi_get(sock, "/v2/")
        check("socket activation: a restart keeps the socket and serves",
              out.startswith(b"Status: 200") and "berth: restarted" in open(logf).read(),
              out[:200])
        os.kill(p.pid, signal.SIGTERM)
        rc = p.wait(timeout=60)
        check("socket activation: a stop leaves the manager's socket in place",
              rc == 0 and os.path.exists(sock), (rc, os.path.exists(sock)))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()
        sanitizer_check(open(logf, errors="replace").read(), "socket activation")
        shutil.rmtree(tmp, ignore_errors=True)


# --- plain CGI --------------------------------------------------------------

def test_cgi():
    tmp = tempfile.mkdtemp(prefix="berth-cgi-metrics-")
    conf = os.path.join(tmp, "berth.ini")
    with open(conf, "w") as f:
        f.write("[storage]\ndata_dir = %s/data\n[blob.fs]\noffload = stream\n" % tmp)

    def cgi(method, uri, body=b"", query="", fault=None):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method,
               "REQUEST_URI": uri + ("?" + query if query else ""),
               "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
               "BERTH_CONFIG": conf, "CONTENT_LENGTH": str(len(body)),
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", ""),
               "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "")}
        if fault:
            env["BERTH_FAULT"] = fault
        r = subprocess.run([BERTH], env=env, input=body, capture_output=True, timeout=60)
        head, _, data = r.stdout.partition(b"\r\n\r\n")
        status = int(head.split(b"\r\n")[0].split()[1])
        return status, data, r.stderr.decode(errors="replace")

    try:
        st, text, _ = cgi("GET", "/_berth/metrics")
        check("cgi: a first scrape creates the counter file", st == 200 and
              os.path.exists(os.path.join(tmp, "data", "run", "metrics")), st)
        s0 = parse_metrics(text.decode())
        first_len = len(text)
        jobs = [("GET", "/v2/")] * 12 + [("GET", "/v2/c/manifests/none")] * 6 + \
               [("HEAD", "/v2/")] * 4
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            results = list(ex.map(lambda j: cgi(*j), jobs))
        st, text, _ = cgi("GET", "/_berth/metrics")
        s1 = parse_metrics(text.decode())
        got = {(dict(k)["route"], dict(k)["method"], dict(k)["code"]): v
               for k, v in diff(s0[0], s1[0], "berth_http_requests_total").items()}
        want = {("metrics", "GET", "2xx"): 1, ("base", "GET", "2xx"): 12,
                ("manifest-get", "GET", "4xx"): 6, ("base", "HEAD", "2xx"): 4}
        check("cgi: the counters rose by exactly the requests of 22 processes",
              got == want, {"got": got, "want": want})
        d_sent = get(s1[0], "berth_http_sent_bytes_total") - get(s0[0], "berth_http_sent_bytes_total")
        want_sent = sum(len(r[1]) for r in results) + first_len
        check("cgi: sent bytes rose by the bodies written (and the first scrape's)",
              d_sent == want_sent, (d_sent, want_sent))
        logs = [access_lines(r[2]) for r in results]
        check("cgi: each process wrote its one access line to stderr",
              all(len(l) == 1 for l in logs)
              and sorted((l[0].group(1), l[0].group(3)) for l in logs)
              == sorted([("GET", "200")] * 12 + [("GET", "404")] * 6 + [("HEAD", "200")] * 4),
              [r[2] for r in results[:2]])
        check("cgi: workers busy counts the scraping process only",
              get(s1[0], "berth_workers_busy") == 1, get(s1[0], "berth_workers_busy"))
        st, body, _ = cgi("GET", "/_berth/health")
        check("cgi: health 200", st == 200, (st, body))
        with open(conf, "a") as f:
            f.write("[server]\naccess_log = false\n")
        st, _, err = cgi("GET", "/v2/")
        check("cgi: access_log = false writes no line", st == 200 and not access_lines(err),
              err)

        # Storage errors, from the fault-injecting blob handler of test
        # builds (FAULT=1): a failed write counts blob/io, a full disk
        # blob/full.
        with open(conf, "w") as f:
            f.write("[storage]\ndata_dir = %s/data\nblob_handler = fault\n"
                    "[blob.fault]\noffload = stream\n" % tmp)
        if subprocess.run([BERTH, "-t", "-c", conf], capture_output=True).returncode != 0:
            check("cgi: a FAULT=1 build for the storage error counters", False,
                  "blob_handler = fault unknown to %s" % BERTH)
            return
        s0 = parse_metrics(cgi("GET", "/_berth/metrics")[1].decode())
        blob = os.urandom(5000)
        st_eio = cgi("POST", "/v2/f/img/blobs/uploads/", blob, "digest=" + sha256(blob),
                     fault="eio")[0]
        st_nospc = cgi("POST", "/v2/f/img/blobs/uploads/", blob, "digest=" + sha256(blob),
                       fault="enospc")[0]
        s1 = parse_metrics(cgi("GET", "/_berth/metrics")[1].decode())
        errs = {(dict(k)["store"], dict(k)["kind"]): v
                for k, v in diff(s0[0], s1[0], "berth_storage_errors_total").items()}
        check("cgi: an I/O error and a full disk counted as blob store errors",
              (st_eio, st_nospc) == (500, 507)
              and errs == {("blob", "io"): 1, ("blob", "full"): 1},
              (st_eio, st_nospc, errs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if not os.access(BERTH, os.X_OK):
        print("metrics.py: %s is not built" % BERTH)
        print("0 passed, 1 failed")
        return 1
    reg = Registry()
    rc, out = reg.serve("start")
    if not check("serve.sh start", rc == 0, out):
        return berthtest.summary()
    try:
        test_counters(reg)
        test_jobs(reg)
        test_health(reg)
        test_loopback_only(reg)
        test_access_log_off(reg)
        test_cut_short(reg)
    finally:
        reg.serve("stop")
        sanitizer_check(reg.log(), "nginx registry")
        shutil.rmtree(reg.tmp, ignore_errors=True)
    for shape in os.environ.get("SERVERS", "nginx lighttpd apache apache-cgi").split():
        if shape != "nginx":
            test_shape(shape)
    test_notify(False)
    test_notify(True)
    if shutil.which("systemd-socket-activate"):
        test_socket_activation()
    else:
        check("systemd-socket-activate is installed (Debian: systemd)", False)
    test_cgi()
    return berthtest.summary()


if __name__ == "__main__":
    sys.exit(main())
