"""hosts.py -- berth on PostgreSQL across hosts (issue 15), end to end.

Two berth "hosts" on this machine: each its own data directory, worker
pool, nginx on its own port and configuration file, sharing one
PostgreSQL schema ([metadata] backend = postgresql) and one blob store.
Hosts A and B share a blob directory (the fs handler on a shared file
system): each host's blobs/ is a symbolic link to it, and so is uploads/
(the staging files of upload sessions, which any host must be able to
continue); nginx's body directory ([storage] body_dir), run/ and the
flock file stay per host.  Hosts E and F (the "s3" scenario) share an
object store instead, and nothing on disk.  The blob lock every host honours is
PostgreSQL's advisory lock (store/blob_lock.h, meta_blob_lock()).

  restart   PostgreSQL restarted while requests run through host A: the
            requests it cuts answer 503 (UNAVAILABLE, Retry-After), no
            other error; then service resumes by itself, on host B (idle
            meanwhile) from its first request
  cold      a third host started while PostgreSQL is down answers 503 and
            its commands say so; once the database is back, it serves
  one       push through A, pull through B with exact digests and bytes;
            tags, catalog and referrers agree
  chunks    one chunked upload whose POST, PATCHes and PUT alternate
            between A and B
  shared    concurrent pushes of images sharing layers, through both
  gc        `berth gc --grace 0s` in a loop on A while pushes and deletes
            go through B, and a monitor holding the blob lock through
            PostgreSQL finds every blob row's file; then every tagged image
            pulls intact through both, fsck is clean on both, no manifest
            references a removed blob
  auth      two more hosts, C and D (C-auth, D-auth), with [auth] on, a schema of their own
            and keys/ shared (the signing keys: a token one host signs
            must verify on the other): users, grants and a CI token made
            with `berth user|grant|token` on one host are seen by the
            other's commands and sign-ins; with curl, 401 -> a token from
            D -> a push through C -> a pull through D (exact digest), 403
            DENIED for a push out of the grants and for the CI token's push
            beyond its scope, audit rows naming the user; a user deleted
            and a CI token revoked on one host no longer sign in on the
            other

  s3        two more hosts, E and F, sharing nothing but PostgreSQL and an
            object store (blob_handler = s3, each its own uploads/): a
            chunked upload whose POST, PATCHes, status and PUT alternate
            between them (the session's bytes are segments in the store,
            store/upload.h), pulled through both with exact bytes, no
            segment left behind; fsck clean on both with a session in
            flight; a session finished with a wrong digest through the
            other host ends on both, its segments removed; a second PATCH
            from the same offset through the other host is refused (416)
            and the bytes stay the first one's; then "one", "shared" and
            "gc" above again, on E and F (gc judged by its end state:
            every tagged image pulls intact, fsck clean).  Skipped without
            BERTH_S3_DIR (hosting/s3-local.sh, tests/run.sh starts one)

Env: BERTH, BERTH_TEST_PG_DSN, BERTH_TEST_PG_DIR (hosting/pg-local.sh's
directory, for the restart), BERTH_S3_DIR, HOSTS_GC_SECONDS (default 10),
SANITIZER_LOG_CHECK.  Prints "N passed, N failed" last.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "ops"))
import berthtest  # noqa: E402
from berthtest import check, free_port, sha256 as sha  # noqa: E402
from ops import Registry, image_manifest, OCI_MANIFEST  # noqa: E402

BERTH = os.path.abspath(os.environ.get("BERTH", os.path.join(TOP, "build", "berth")))
DSN = os.environ.get("BERTH_TEST_PG_DSN", "")
PG_DIR = os.environ.get("BERTH_TEST_PG_DIR", "")
GC_SECONDS = float(os.environ.get("HOSTS_GC_SECONDS", "10"))


class Host:
    """One berth host: data directory, nginx + worker pool, its own
    configuration file; blobs/ and uploads/ point at the shared store."""

    def __init__(self, name, top, shared, schema, extra="", links=("blobs", "uploads")):
        self.name = name
        self.data = os.path.join(top, name)
        os.makedirs(self.data)
        os.chmod(self.data, 0o755)
        for d in links:
            os.symlink(os.path.join(shared, d), os.path.join(self.data, d))
        self.port = free_port()
        self.reg = Registry(self.port)
        self.ini = os.path.join(top, name + ".ini")
        with open(self.ini, "w") as fh:
            fh.write("[storage]\ndata_dir = %s\nbody_dir = %s/body\n"
                     "[metadata]\nbackend = postgresql\n"
                     "[metadata.postgresql]\ndsn = %s\nschema = %s\n%s"
                     % (self.data, self.data, DSN, schema, extra))
        os.chmod(self.ini, 0o644)
        self.env = dict(os.environ, PORT=str(self.port), DATA_DIR=self.data, BERTH=BERTH,
                        BERTH_CONFIG=self.ini, WORKERS="2")

    def serve(self, cmd):
        log = os.path.join(os.path.dirname(self.data), self.name + ".serve.log")
        with open(log, "a") as fh:
            r = subprocess.run([os.path.join(TOP, "nginx", "serve.sh"), cmd], env=self.env,
                               cwd=TOP, stdout=fh, stderr=fh)
        return r.returncode == 0

    def berth(self, *args, stdin=None):
        r = subprocess.run([BERTH, "-c", self.ini] + list(args), env=self.env, input=stdin,
                           capture_output=True, text=True, timeout=300)
        return r.returncode, r.stdout, r.stderr

    def berth_json(self, *args):
        rc, out, err = self.berth(*(list(args) + ["--json"]))
        try:
            return rc, json.loads(out), err
        except ValueError:
            return rc, None, err + out


def psql(schema, query):
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", DSN,
                        "-c", "SET search_path = " + schema, "-c", query],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("psql: %s" % r.stderr)
    return [line.split("|") for line in r.stdout.splitlines() if line]


def blob_lock_key(schema):
    """The blob lock's advisory key for schema, as store/meta_pg.c's
    lock_key(schema, KEY_BLOBS) makes it (FNV-1a, signed 64 bits)."""
    h = 1469598103934665603
    for c in b"berth:" + schema.encode() + bytes([2]):
        h = ((h ^ c) * 1099511628211) % (1 << 64)
    return h - (1 << 64) if h >= 1 << 63 else h


def push(reg, repo, tag, config, layers):
    """Push an image through reg; the manifest's bytes.  Retries while gc
    (grace 0) takes a layer between its upload and the manifest."""
    body = image_manifest(config, layers)
    for attempt in range(20):
        for b in [config] + layers:
            if attempt > 0 or reg.head_blob(repo, sha(b)) != 200:
                reg.push_blob(repo, b)
        st, _, resp = reg.put_manifest(repo, tag, body)
        if st == 201:
            return body
        if st != 400 or b"MANIFEST_BLOB_UNKNOWN" not in resp:
            raise RuntimeError("PUT manifest %s:%s: %d %s" % (repo, tag, st, resp[:200]))
    raise RuntimeError("PUT manifest %s:%s: gave up" % (repo, tag))


def pull(reg, repo, ref):
    """Pull an image through reg: None when intact, else what was wrong."""
    st, body = reg.get_manifest(repo, ref)
    if st != 200:
        return "manifest %s:%s: %d" % (repo, ref, st)
    m = json.loads(body)
    for d in [m["config"]] + m["layers"]:
        st, data = reg.get_blob(repo, d["digest"])
        if st != 200 or sha(data) != d["digest"] or len(data) != d["size"]:
            return "%s:%s blob %s: %d" % (repo, ref, d["digest"], st)
    return None


# --- PostgreSQL restarted under load ---------------------------------------

def test_restart(a, b):
    if not PG_DIR:
        check("restart: BERTH_TEST_PG_DIR names the server's directory", False)
        return
    reg = a.reg
    config, layer = b'{"n":"restart"}', os.urandom(2000)
    push(reg, "restart/app", "v1", config, [layer])
    stop = threading.Event()
    lock = threading.Lock()
    seen = {}            # status -> count
    other = []           # anything but success or 503, with when
    sample_503 = []

    def record(st, h, body, what):
        with lock:
            seen[st] = seen.get(st, 0) + 1
            if st == 503 and not sample_503:
                sample_503.append((h, body))
            elif st not in (200, 201, 202, 503):
                other.append("%s: %d %s" % (what, st, body[:200]))

    def getter():
        while not stop.is_set():
            try:
                st, h, body = reg.request("GET", "/v2/restart/app/manifests/v1",
                                          headers={"Accept": OCI_MANIFEST})
                record(st, h, body, "GET manifest")
            except OSError as ex:
                with lock:
                    other.append("GET: %r" % ex)

    def pusher():
        while not stop.is_set():
            try:
                st, h, body = reg.request("POST", "/v2/restart/app/blobs/uploads/")
                record(st, h, body, "POST upload")
                if st != 202:
                    continue
                data = os.urandom(500)
                loc = h["location"] + ("&" if "?" in h["location"] else "?") + \
                    "digest=" + sha(data)
                st, h, body = reg.request("PUT", loc, body=data,
                                          headers={"Content-Type": "application/octet-stream"})
                # A session created just before the restart may be found
                # (201), or the PUT cut (503).
                record(st, h, body, "PUT upload")
            except OSError as ex:
                with lock:
                    other.append("push: %r" % ex)

    threads = [threading.Thread(target=getter) for _ in range(2)] + \
        [threading.Thread(target=pusher)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    r = subprocess.run([os.path.join(TOP, "hosting", "pg-local.sh"), "restart", PG_DIR],
                       capture_output=True, text=True)
    restarted = time.time()
    check("restart: PostgreSQL restarted", r.returncode == 0, r.stderr)
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join()
    check("restart: requests cut by the restart answered 503", seen.get(503, 0) > 0, seen)
    check("restart: and nothing else failed (no 500, no 502, no dropped connection)",
          not other, other[:5])
    if sample_503:
        h, body = sample_503[0]
        try:
            code = json.loads(body)["errors"][0]["code"]
        except (ValueError, KeyError, IndexError):
            code = None
        check("restart: a 503 says UNAVAILABLE with Retry-After",
              code == "UNAVAILABLE" and h.get("retry-after") == "1", (h, body[:200]))
    # Service resumes by itself: every request after the restart succeeds.
    ok = 0
    deadline = restarted + 10
    while ok < 30 and time.time() < deadline:
        st, _, _ = reg.request("GET", "/v2/restart/app/manifests/v1",
                               headers={"Accept": OCI_MANIFEST})
        ok = ok + 1 if st == 200 else 0
    check("restart: service resumed by itself (30 GETs in a row)", ok >= 30, ok)
    check("restart: the image still pulls intact", pull(reg, "restart/app", "v1") is None)
    # Host B sat idle through the restart: its workers' connections are
    # dead, and are found so before a request is sent on them.
    sts = [b.reg.get_manifest("restart/app", "v1")[0] for _ in range(4)]
    check("restart: an idle host's first requests after it succeed", sts == [200] * 4, sts)
    body = push(reg, "restart/app", "v2", b'{"n":"after"}', [os.urandom(800)])
    check("restart: pushes work again", pull(reg, "restart/app", "v2") is None and body)


def test_cold_start(a, top, shared):
    """A host started while PostgreSQL is down: it starts, answers 503
    (not 502: its workers are up), its operator commands say the database
    cannot be reached; once PostgreSQL is back it serves by itself."""
    pgctl = os.path.join(TOP, "hosting", "pg-local.sh")
    r = subprocess.run([pgctl, "stop", PG_DIR], capture_output=True, text=True)
    if not check("cold: PostgreSQL stopped", r.returncode == 0, r.stderr):
        return
    c = Host("C", top, shared, a.schema)
    c.schema = a.schema
    try:
        started = c.serve("start")
        check("cold: a host starts while the database is down", started)
        st, h, body = c.reg.request("GET", "/v2/restart/app/manifests/v1",
                                    headers={"Accept": OCI_MANIFEST})
        try:
            code = json.loads(body)["errors"][0]["code"]
        except (ValueError, KeyError, IndexError):
            code = None
        check("cold: it answers 503 UNAVAILABLE", st == 503 and code == "UNAVAILABLE",
              (st, body[:200]))
        rc, _, err = c.berth("repos")
        check("cold: an operator command says the database cannot be reached",
              rc == 1 and "cannot be reached" in err, err[-300:])
    finally:
        r = subprocess.run([pgctl, "start", PG_DIR], capture_output=True, text=True)
        check("cold: PostgreSQL started again", r.returncode == 0, r.stderr)
    try:
        st, body = c.reg.get_manifest("restart/app", "v1")
        want = a.reg.get_manifest("restart/app", "v1")
        check("cold: then the host serves by itself", st == 200 and (st, body) == want,
              (st, want[0]))
    finally:
        c.serve("stop")


# --- Two hosts, one registry -----------------------------------------------

def test_one_registry(a, b):
    config, l1, l2 = b'{"n":"one"}', os.urandom(5000), os.urandom(70000)
    body = push(a.reg, "hosts/one", "v1", config, [l1, l2])
    st, h, got = b.reg.request("GET", "/v2/hosts/one/manifests/v1",
                               headers={"Accept": OCI_MANIFEST})
    check("one: manifest pushed through A pulls through B, same bytes",
          st == 200 and got == body, st)
    check("one: with the exact digest", h.get("docker-content-digest") == sha(body),
          h.get("docker-content-digest"))
    for data in (config, l1, l2):
        st, got = b.reg.get_blob("hosts/one", sha(data))
        check("one: blob %s... through B" % sha(data)[:19], st == 200 and got == data, st)
    st, _, t = b.reg.request("GET", "/v2/hosts/one/tags/list")
    check("one: B lists A's tag", st == 200 and json.loads(t)["tags"] == ["v1"], t)
    st, _, c = b.reg.request("GET", "/v2/_catalog")
    check("one: B's catalog has A's repository",
          st == 200 and "hosts/one" in json.loads(c)["repositories"], c)
    # A tag moved through B is seen by A at once.
    body2 = push(b.reg, "hosts/one", "v1", b'{"n":"moved"}', [l1])
    st, got = a.reg.get_manifest("hosts/one", "v1")
    check("one: a tag moved through B is seen through A", st == 200 and got == body2, st)
    st = b.reg.delete_manifest("hosts/one", sha(body))
    check("one: delete through B", st == 202, st)
    st, _ = a.reg.get_manifest("hosts/one", sha(body))
    check("one: A answers 404 for it", st == 404, st)


def test_chunks(a, b):
    data = os.urandom(3 * 65536 + 123)
    parts = [data[0:65536], data[65536:150000], data[150000:]]
    st, h, _ = a.reg.request("POST", "/v2/hosts/chunks/blobs/uploads/")
    check("chunks: POST through A", st == 202, st)
    loc = h["location"]
    offset = 0
    hosts = [b, a, b]
    for i, (part, host) in enumerate(zip(parts, hosts)):
        st, h, body = host.reg.request(
            "PATCH", loc, body=part,
            headers={"Content-Type": "application/octet-stream",
                     "Content-Range": "%d-%d" % (offset, offset + len(part) - 1),
                     "Content-Length": str(len(part))})
        offset += len(part)
        check("chunks: PATCH %d through %s" % (i + 1, host.name),
              st == 202 and h.get("range") == "0-%d" % (offset - 1), (st, h.get("range"), body[:200]))
        loc = h.get("location", loc)
    st, h, _ = b.reg.request("GET", loc)
    check("chunks: status through B", st == 204 and h.get("range") == "0-%d" % (offset - 1),
          (st, h.get("range")))
    sep = "&" if "?" in loc else "?"
    st, h, body = a.reg.request("PUT", loc + sep + "digest=" + sha(data),
                                headers={"Content-Length": "0"})
    check("chunks: PUT through A closes the session", st == 201, (st, body[:200]))
    st, got = b.reg.get_blob("hosts/chunks", sha(data))
    check("chunks: the blob pulls through B, exact bytes", st == 200 and got == data, st)
    st, _, _ = b.reg.request("GET", loc)
    check("chunks: the session is gone on B too", st == 404, st)


def test_shared_layers(a, b):
    base = [os.urandom(40000), os.urandom(30000)]
    errors = []
    pushed = []
    lock = threading.Lock()

    def worker(i):
        host = (a, b)[i % 2]
        try:
            body = push(host.reg, "hosts/shared%d" % (i % 3), "t%d" % i,
                        json.dumps({"i": i}).encode(), base + [os.urandom(1000 + i)])
            with lock:
                pushed.append((i, body))
        except (RuntimeError, OSError) as ex:
            with lock:
                errors.append(repr(ex))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("shared: 12 concurrent pushes sharing layers through both", not errors and
          len(pushed) == 12, errors[:3])
    bad = []
    for i, body in pushed:
        other = (b, a)[i % 2]
        st, got = other.reg.get_manifest("hosts/shared%d" % (i % 3), "t%d" % i)
        problem = pull(other.reg, "hosts/shared%d" % (i % 3), "t%d" % i)
        if st != 200 or got != body or problem:
            bad.append((i, st, problem))
    check("shared: each pulls intact through the other host", not bad, bad[:3])
    n = int(psql(a.schema, "SELECT count(*) FROM blobs WHERE digest IN ('%s', '%s')"
                 % (sha(base[0]), sha(base[1])))[0][0])
    check("shared: the shared layers are stored once", n == 2, n)


def test_gc_across(a, b, watch=True, seconds=None, grace="0s"):
    """watch: the monitor below, which reads blob files in A's blobs/
    (the shared directory); an object store is judged by the end state.
    seconds: how long the load runs (GC_SECONDS); grace: the looping
    gc's --grace."""
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"pushes": 0, "deletes": 0, "gc_runs": 0, "gc_removed": 0,
             "invariant_checks": 0}
    problems = []
    pool = [os.urandom(random.randint(1000, 20000)) for _ in range(5)]

    def pusher(ix):
        rnd = random.Random(ix)
        repo = "hosts/gc%d" % (ix % 2)
        mine = []
        k = 0
        while not stop.is_set():
            k += 1
            config = json.dumps({"p": ix, "k": k}).encode()
            try:
                body = push(b.reg, repo, "p%d-%d" % (ix, k % 3), config,
                            [rnd.choice(pool), os.urandom(rnd.randint(100, 3000))])
            except (RuntimeError, OSError) as ex:
                with lock:
                    problems.append("push: %r" % ex)
                continue
            with lock:
                stats["pushes"] += 1
            mine.append(sha(body))
            if len(mine) > 4:
                if b.reg.delete_manifest(repo, mine.pop(0)) in (202, 404):
                    with lock:
                        stats["deletes"] += 1

    def monitor():
        """The invariant -- every blobs row has its file -- checked while
        holding the blob lock exclusive through PostgreSQL, as neither
        host's flock: no upload on either host is between put and
        commit, and gc on A is not between its commit and its unlinks,
        only if both honour the database's lock."""
        key = blob_lock_key(a.schema)
        tmp = tempfile.mkdtemp(prefix="berth-monitor-")
        script = os.path.join(tmp, "check.sql")
        rows, gone = os.path.join(tmp, "rows"), os.path.join(tmp, "gone")
        checker = ("import os, sys; d = sys.argv[2]; print(' '.join(x for x in "
                   "open(sys.argv[1]).read().split() if not os.path.exists(os.path.join("
                   "d, x.split(':')[0], x.split(':')[1][:2], x.split(':')[1]))))")
        with open(script, "w") as fh:
            fh.write("SET search_path = %s;\nSELECT pg_advisory_lock(%d);\n"
                     "\\copy (SELECT digest FROM blobs) TO '%s'\n"
                     "\\! /usr/bin/python3 -c \"%s\" %s %s > %s\n"
                     "SELECT pg_advisory_unlock(%d);\n"
                     % (a.schema, key, rows, checker, rows,
                        os.path.join(a.data, "blobs"), gone, key))
        while not stop.is_set():
            r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                DSN, "-f", script], capture_output=True, text=True,
                               timeout=120)
            with lock:
                if r.returncode != 0:
                    problems.append("monitor: %s" % r.stderr[-300:])
                    break
                stats["invariant_checks"] += 1
                missing = open(gone).read().split()
                if missing:
                    problems.append("blob rows without files under the lock: %s"
                                    % missing[:3])
            time.sleep(0.05)
        shutil.rmtree(tmp, ignore_errors=True)

    def collector():
        while not stop.is_set():
            rc, r, err = a.berth_json("gc", "--grace", grace)
            with lock:
                if rc != 0 or r is None:
                    problems.append("gc on A: %d %s" % (rc, err[-300:]))
                    continue
                stats["gc_runs"] += 1
                stats["gc_removed"] += len(r.get("blobs", []))

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(3)] + \
        [threading.Thread(target=collector)] + \
        ([threading.Thread(target=monitor)] if watch else [])
    for t in threads:
        t.start()
    time.sleep(seconds or GC_SECONDS)
    stop.set()
    for t in threads:
        t.join()
    print("     gc across hosts: %s" % stats)
    check("gc: pushes through B, gc on A and the invariant checks all ran",
          stats["pushes"] >= 5 and stats["gc_runs"] >= 3 and
          (stats["invariant_checks"] >= 3 or not watch), stats)
    check("gc: no push or gc failed", not problems, problems[:5])
    rc, r, err = a.berth_json("gc", "--grace", "0s")
    check("gc: a last gc on A", rc == 0, err)
    errors = []
    n = 0
    for repo, tag in psql(a.schema, "SELECT repository, tag FROM tag_list"):
        n += 1
        for host in (a, b):
            p = pull(host.reg, repo, tag)
            if p:
                errors.append("%s: %s" % (host.name, p))
    check("gc: every tagged image pulls intact through both hosts (%d images)" % n,
          n >= 3 and not errors, errors[:5])
    for host in (a, b):
        rc, r, err = host.berth_json("fsck")
        check("gc: fsck on %s is clean" % host.name, rc == 0 and r and r["problems"] == [] and
              r["files"] == r["blobs"], (r and r["problems"][:3], err[-300:]))
    dangling = int(psql(a.schema, "SELECT count(*) FROM manifest_references x "
                        "WHERE x.kind = 'blob' AND NOT EXISTS (SELECT 1 FROM blobs b "
                        "WHERE b.digest = x.digest)")[0][0])
    check("gc: no manifest references a removed blob", dangling == 0, dangling)


# --- Access control across hosts ------------------------------------------

def curl(host, method, path, user=None, token=None, body=None, headers=()):
    """One request with curl: (status, {lower-case header: value}, body)."""
    cmd = ["curl", "-s", "-S", "-i", "-X", method, "-H", "Expect:",
           "--max-time", "60", "http://127.0.0.1:%d%s" % (host.port, path)]
    if user is not None:
        cmd += ["-u", user]
    if token is not None:
        cmd += ["-H", "Authorization: Bearer " + token]
    for h in headers:
        cmd += ["-H", h]
    if body is not None:
        cmd += ["--data-binary", "@-"]
    r = subprocess.run(cmd, input=body or b"", capture_output=True, timeout=90)
    head, _, data = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if len(lines[0].split()) < 2:
        return 0, {}, r.stderr
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, data


def get_token(host, user, scope):
    """(status, token or None) from host's token endpoint for scope."""
    st, _, body = curl(host, "GET", "/v2/token?service=berth&scope=" + scope, user=user)
    try:
        return st, json.loads(body)["token"] if st == 200 else None
    except (ValueError, KeyError):
        return st, None


def test_auth(top, shared):
    schema = "hauth_" + os.urandom(4).hex()
    os.makedirs(os.path.join(shared, "keys"), mode=0o700)
    extra = "[auth]\nenabled = true\n"
    c = Host("C-auth", top, shared, schema, extra, ("blobs", "uploads", "keys"))
    d = Host("D-auth", top, shared, schema, extra, ("blobs", "uploads", "keys"))
    pw = os.urandom(12).hex()
    up = []
    try:
        # Identities made on one host, seen by the other's commands.
        rc, _, err = c.berth("user", "add", "alice", stdin=pw + "\n")
        check("auth: `berth user add` on C (PostgreSQL)", rc == 0, err)
        rc, rows, err = d.berth_json("user", "list")
        check("auth: D's `berth user list` has C's user",
              rc == 0 and [r["name"] for r in rows] == ["alice"], (rows, err))
        for args in (("alice", "team/**", "pull,push"), ("alice", "ro/**", "pull")):
            rc, _, err = d.berth("grant", *args)
            check("auth: `berth grant %s` on D" % " ".join(args), rc == 0, err)
        rc, rows, err = c.berth_json("grant")
        check("auth: C's `berth grant` lists D's grants",
              rc == 0 and [(r["who"], r["pattern"], r["actions"]) for r in rows] ==
              [("alice", "ro/**", "pull"), ("alice", "team/**", "pull,push")], (rows, err))
        rc, out, err = c.berth("token", "add", "ci", "--scope", "team/app:pull")
        secret = out.strip().splitlines()[-1] if rc == 0 and out.strip() else ""
        check("auth: `berth token add` on C prints the secret", secret.startswith("berth_"),
              (out, err))
        rc, rows, err = d.berth_json("token", "list")
        check("auth: D's `berth token list` has it, live",
              rc == 0 and [(r["name"], r["scope"], r["revoked"]) for r in rows] ==
              [("ci", "team/app:pull", 0)], (rows, err))
        rc, _, err = d.berth("user", "add", "ci", stdin="x" * 12 + "\n")
        check("auth: D refuses a user named as C's CI token", rc == 1 and "exists" in err, err)

        for h in (c, d):
            if check("auth: start host %s with [auth] on (port %d)" % (h.name, h.port),
                     h.serve("start")):
                up.append(h)
        if len(up) != 2:
            return
        st, h, _ = curl(c, "GET", "/v2/")
        check("auth: GET /v2/ on C without credentials: 401 with a Bearer challenge",
              st == 401 and h.get("www-authenticate", "").startswith("Bearer realm="),
              (st, h.get("www-authenticate")))
        st, _, _ = curl(c, "GET", "/v2/token?service=berth", user="alice:wrong")
        check("auth: a wrong password: 401", st == 401, st)
        st, tok = get_token(d, "alice:" + pw, "repository:team/app:pull,push")
        check("auth: alice's token from D", st == 200 and tok, st)
        st, _, _ = curl(c, "GET", "/v2/", token=tok)
        check("auth: D's token on C: 200 (one registry, shared keys)", st == 200, st)

        config, layer = b'{"n":"auth"}', os.urandom(20000)
        for data in (config, layer):
            st, _, _ = curl(c, "POST", "/v2/team/app/blobs/uploads/?digest=" + sha(data),
                            token=tok, body=data,
                            headers=("Content-Type: application/octet-stream",))
            check("auth: blob push through C with D's token: 201", st == 201, st)
        st, _, _ = curl(c, "POST", "/v2/team/app/blobs/uploads/", body=b"")
        check("auth: a push without a token: 401", st == 401, st)
        man = image_manifest(config, [layer])
        st, h, _ = curl(c, "PUT", "/v2/team/app/manifests/v1", token=tok, body=man,
                        headers=("Content-Type: " + OCI_MANIFEST,))
        check("auth: manifest PUT through C: 201", st == 201, st)
        st, h, got = curl(d, "GET", "/v2/team/app/manifests/v1", token=tok,
                          headers=("Accept: " + OCI_MANIFEST,))
        check("auth: pulled through D with the exact digest",
              st == 200 and got == man and h.get("docker-content-digest") == sha(man),
              (st, h.get("docker-content-digest")))

        st, tok_ro = get_token(c, "alice:" + pw, "repository:ro/app:pull,push")
        st, h, body = curl(d, "POST", "/v2/ro/app/blobs/uploads/", token=tok_ro, body=b"")
        check("auth: a push where alice may only pull: 403 DENIED",
              st == 403 and b"DENIED" in body, (st, body[:200]))

        st, tok_ci = get_token(d, "ci:" + secret, "repository:team/app:pull,push")
        check("auth: the CI token signs in on D", st == 200 and tok_ci, st)
        st, _, got = curl(c, "GET", "/v2/team/app/manifests/v1", token=tok_ci,
                          headers=("Accept: " + OCI_MANIFEST,))
        check("auth: the CI token pulls through C", st == 200 and got == man, st)
        st, _, body = curl(c, "POST", "/v2/team/app/blobs/uploads/", token=tok_ci, body=b"")
        check("auth: the CI token's push beyond its scope: 403 DENIED",
              st == 403 and b"DENIED" in body, (st, body[:200]))

        rc, rows, err = d.berth_json("audit", "team/app")
        pushes = [r for r in rows or [] if r["action"] == "manifest.push"]
        check("auth: D's audit names alice for the push through C",
              rc == 0 and len(pushes) == 1 and pushes[0]["user"] == "alice", (rows, err))

        rc, _, err = d.berth("token", "revoke", "ci")
        check("auth: `berth token revoke` on D", rc == 0, err)
        st, _ = get_token(c, "ci:" + secret, "repository:team/app:pull")
        check("auth: the revoked CI token no longer signs in on C", st == 401, st)
        rc, _, err = c.berth("user", "del", "alice")
        check("auth: `berth user del` on C", rc == 0, err)
        st, _ = get_token(d, "alice:" + pw, "repository:team/app:pull")
        check("auth: the deleted user no longer signs in on D", st == 401, st)
        rc, rows, err = d.berth_json("grant")
        check("auth: her grants went with her, seen on D", rc == 0 and rows == [], (rows, err))
    finally:
        for h in up:
            h.serve("stop")
        sanitizer_check(up)


# --- Upload sessions across hosts, staged in the object store --------------

S3TOOL = os.path.join(TOP, "tests", "s3", "s3tool.py")


def s3_keys(prefix):
    r = subprocess.run(["/usr/bin/python3", S3TOOL, "ls", prefix], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("s3tool ls: %s" % r.stderr)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def patch(host, loc, part, offset):
    return host.reg.request("PATCH", loc, body=part, headers={
        "Content-Type": "application/octet-stream",
        "Content-Range": "%d-%d" % (offset, offset + len(part) - 1),
        "Content-Length": str(len(part))})


def test_s3_sessions(top):
    s3dir = os.environ.get("BERTH_S3_DIR", "")
    if not s3dir:
        print("s3: BERTH_S3_DIR not set (hosting/s3-local.sh): not run")
        return
    env = dict(l.strip().split("=", 1) for l in open(os.path.join(s3dir, "s3.env"))
               if "=" in l)
    prefix = "hosts-%s/" % os.urandom(4).hex()
    extra = ("[blob.s3]\nendpoint = %s\nregion = %s\nbucket = %s\nprefix = %s\n"
             "credentials_file = %s/credentials\nredirect = stream\n"
             % (env["endpoint"], env["region"], env["bucket"], prefix, s3dir))
    schema = "hs3_" + os.urandom(4).hex()
    e = Host("E", top, top, schema, extra, ())
    f = Host("F", top, top, schema, extra, ())
    e.schema = f.schema = schema
    up = []
    try:
        for h in (e, f):
            with open(h.ini) as fh:
                text = fh.read()
            with open(h.ini, "w") as fh:
                fh.write(text.replace("[storage]\n", "[storage]\nblob_handler = s3\n", 1))
            if check("s3: start host %s, blob_handler = s3, its own uploads/ (port %d)"
                     % (h.name, h.port), h.serve("start")):
                up.append(h)
        if len(up) != 2:
            return
        repo = "hosts/s3"
        data = os.urandom(3 * 65536 + 123)
        parts = [data[0:65536], data[65536:150000], data[150000:190000]]
        last = data[190000:]
        st, h, _ = e.reg.request("POST", "/v2/%s/blobs/uploads/" % repo)
        check("s3: POST through E", st == 202, st)
        loc = h.get("location", "")
        uuid = loc.rstrip("/").split("/")[-1].split("?")[0]
        offset = 0
        for i, (part, host) in enumerate(zip(parts, (f, e, f))):
            st, h, body = patch(host, loc, part, offset)
            offset += len(part)
            check("s3: PATCH %d through %s" % (i + 1, host.name),
                  st == 202 and h.get("range") == "0-%d" % (offset - 1),
                  (st, h.get("range"), body[:200]))
            loc = h.get("location", loc)
        segs = s3_keys(prefix + "uploads/" + uuid + "/")
        check("s3: the session's bytes are three segments in the store, by offset",
              [k.rsplit("/", 1)[1] for k in segs] ==
              ["%020d" % o for o in (0, 65536, 150000)], segs)
        # A second PATCH from an old offset, through the other host: refused,
        # the session unchanged.
        st, h, _ = patch(e, loc, os.urandom(100), 65536)
        check("s3: a PATCH from an old offset through E: 416, nothing kept",
              st == 416 and h.get("range") == "0-%d" % (offset - 1), (st, h.get("range")))
        for h_ in (e, f):
            rc, r, err = h_.berth_json("fsck")
            check("s3: fsck on %s with the session in flight: clean (segments are no "
                  "blobs)" % h_.name, rc == 0 and r and r["problems"] == [], (r, err))
        st, h, _ = e.reg.request("GET", loc)
        check("s3: status through E", st == 204 and h.get("range") == "0-%d" % (offset - 1),
              (st, h.get("range")))
        sep = "&" if "?" in loc else "?"
        st, h, body = e.reg.request("PUT", loc + sep + "digest=" + sha(data), body=last,
                                    headers={"Content-Type": "application/octet-stream",
                                             "Content-Length": str(len(last))})
        check("s3: PUT with the last chunk through E closes the session", st == 201,
              (st, body[:200]))
        for host in (f, e):
            st, got = host.reg.get_blob(repo, sha(data))
            check("s3: the blob pulls through %s, exact bytes" % host.name,
                  st == 200 and got == data, st)
        check("s3: no segment left in the store", s3_keys(prefix + "uploads/") == [],
              s3_keys(prefix + "uploads/"))
        st, _, _ = f.reg.request("GET", loc)
        check("s3: the session is gone on F too", st == 404, st)

        # A wrong digest, finished through the other host: the session ends
        # on both, its segments go, no blob appears.
        data2 = os.urandom(100000)
        st, h, _ = f.reg.request("POST", "/v2/%s/blobs/uploads/" % repo)
        loc = h.get("location", "")
        uuid = loc.rstrip("/").split("/")[-1].split("?")[0]
        st1, h, _ = patch(f, loc, data2[:50000], 0)
        loc = h.get("location", loc)
        st2, h, _ = patch(e, loc, data2[50000:], 50000)
        loc = h.get("location", loc)
        check("s3: a second session, PATCHed through F then E", (st1, st2) == (202, 202),
              (st1, st2))
        wrong = sha(data2 + b"x")
        sep = "&" if "?" in loc else "?"
        st, _, body = f.reg.request("PUT", loc + sep + "digest=" + wrong,
                                    headers={"Content-Length": "0"})
        check("s3: PUT with a wrong digest through F: 400 DIGEST_INVALID",
              st == 400 and b"DIGEST_INVALID" in body, (st, body[:200]))
        st, _, _ = e.reg.request("GET", loc)
        check("s3: that session is gone on E", st == 404, st)
        check("s3: its segments were removed", s3_keys(prefix + "uploads/" + uuid + "/") == [])
        st = e.reg.head_blob(repo, wrong)
        check("s3: and no blob under the wrong digest", st == 404, st)

        # A segment replaced in the store behind berth's back (as a racing
        # append through another host could): finishing hashes the bytes
        # again, so the right digest over wrong bytes is refused.
        data3 = os.urandom(80000)
        st, h, _ = e.reg.request("POST", "/v2/%s/blobs/uploads/" % repo)
        loc = h.get("location", "")
        uuid = loc.rstrip("/").split("/")[-1].split("?")[0]
        st1, h, _ = patch(e, loc, data3, 0)
        loc = h.get("location", loc)
        bad = os.path.join(top, "bad-segment")
        with open(bad, "wb") as fh:
            fh.write(os.urandom(len(data3)))
        r = subprocess.run(["/usr/bin/python3", S3TOOL, "put",
                            prefix + "uploads/%s/%020d" % (uuid, 0), bad],
                           capture_output=True, text=True, timeout=60)
        check("s3: a third session's segment replaced in the store", st1 == 202 and
              r.returncode == 0, (st1, r.stderr))
        sep = "&" if "?" in loc else "?"
        st, _, body = f.reg.request("PUT", loc + sep + "digest=" + sha(data3),
                                    headers={"Content-Length": "0"})
        check("s3: finished through F: 400 DIGEST_INVALID (the bytes were hashed "
              "again)", st == 400 and b"DIGEST_INVALID" in body, (st, body[:200]))
        st = f.reg.head_blob(repo, sha(data3))
        check("s3: no blob holds the replaced bytes", st == 404, st)

        # The same as one registry as A and B, on the object store: push
        # through one and pull through the other, concurrent pushes of
        # shared layers through both, gc in a loop on E while F pushes
        # and deletes, then every tagged image pulls intact through both
        # and fsck (ListObjectsV2 against the rows) is clean on both.
        print("     s3: hosts E and F as one registry")
        test_one_registry(e, f)
        test_shared_layers(e, f)
        # A blob PUT into the store takes long enough here that gc with
        # grace 0 (which may take a blob pushed but not yet referenced:
        # the client then pushes it again) would win every race; with a
        # few seconds' grace, as operators run it, the pushes get
        # through while gc collects what the deletes leave.
        test_gc_across(e, f, watch=False, seconds=2 * GC_SECONDS, grace="5s")
    finally:
        for h in up:
            h.serve("stop")
        sanitizer_check(up)


def sanitizer_check(hosts):
    if os.environ.get("SANITIZER_LOG_CHECK") != "1":
        return
    bad = ("ERROR: AddressSanitizer", "runtime error:")
    for h in hosts:
        try:
            log = open(os.path.join(h.data, "run", "berth.log"), errors="replace").read()
        except OSError:
            log = ""
        hits = [l for l in log.splitlines() if any(x in l for x in bad)]
        check("sanitizers: nothing in %s's berth.log" % h.name, not hits, hits[:5])


def main():
    if not os.access(BERTH, os.X_OK) or not DSN:
        print("hosts: needs BERTH built and BERTH_TEST_PG_DSN")
        print("0 passed, 1 failed")
        return 1
    top = tempfile.mkdtemp(prefix="berth-hosts-")
    os.chmod(top, 0o755)
    shared = os.path.join(top, "shared")
    for d in ("blobs", "uploads"):
        os.makedirs(os.path.join(shared, d))
    schema = "hosts_" + os.urandom(4).hex()
    a = Host("A", top, shared, schema)
    b = Host("B", top, shared, schema)
    a.schema = b.schema = schema
    hosts = []
    try:
        for h in (a, b):
            if check("start host %s (port %d)" % (h.name, h.port), h.serve("start")):
                hosts.append(h)
        if len(hosts) == 2:
            for name, fn in (("restart", lambda: test_restart(a, b)),
                             ("cold", lambda: test_cold_start(a, top, shared)),
                             ("one", lambda: test_one_registry(a, b)),
                             ("chunks", lambda: test_chunks(a, b)),
                             ("shared", lambda: test_shared_layers(a, b)),
                             ("gc", lambda: test_gc_across(a, b)),
                             ("auth", lambda: test_auth(top, shared)),
                             ("s3", lambda: test_s3_sessions(top))):
                if os.environ.get("HOSTS_ONLY") not in (None, "", name):
                    continue
                try:
                    fn()
                except Exception as ex:      # a crash is one failure, not the end
                    import traceback
                    traceback.print_exc()
                    check("%s: ran to the end" % name, False, repr(ex))
    finally:
        for h in hosts:
            h.serve("stop")
        sanitizer_check(hosts)
        if berthtest.failed == 0:
            shutil.rmtree(top, ignore_errors=True)
        else:
            print("     directories kept: %s" % top)
    return berthtest.summary()


if __name__ == "__main__":
    sys.exit(main())
