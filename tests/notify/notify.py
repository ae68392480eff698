#!/usr/bin/env python3
"""notify.py -- event notifications (issue 16, item 3), behind nginx.

A registry (nginx/serve.sh, two workers and the pool's deliverer, a fresh
data directory, a free port) with two receivers in [notify] url (local
http.server listeners on free ports that record every body and header)
and a secret_file:
  - a push by tag, a push by digest with two ?tag= values, a tag moved to
    another manifest, a blob mounted into another repository, a tag
    deleted and a manifest deleted: each becomes the event Distribution
    would send, checked field by field (action, repository, digest, tag,
    mediaType, size and length, url, fromRepository, request method and
    useragent, source), Content-Type
    application/vnd.docker.distribution.events.v1+json, ids unique;
  - X-Berth-Signature: sha256=HMAC(secret, body) verifies; with a
    tampered secret it does not;
  - the pool restarts a killed deliverer, replaces it on a SIGHUP
    restart and stops it with itself; `berth notify run` delivers what
    a stopped pool left, and stops on SIGTERM;
  - receiver B down from the start: A gets everything while B's backlog
    grows (`berth notify status`: pending and last error for B, 0 for A);
    B started on the same port gets every event it missed, in order;
    then B stopped again, more pushes, B started again: nothing lost at
    either receiver, a repeat only ever of the same event (same id, same
    content); the outbox is emptied once both have everything;
  - with access control on, actor.name is the user who pushed (Basic);
  - a registry without [notify] writes no outbox row;
  - with BERTH_TEST_PG_DSN, the PostgreSQL backend writes and delivers
    the same events.
Prints one line per check and, last, "N passed, N failed".  Environment:
BERTH, SANITIZER_LOG_CHECK=1, BERTH_TEST_PG_DSN.  python3's standard
library; nginx.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import berthtest  # noqa: E402
from berthtest import check, free_port, sha256, wait_for  # noqa: E402

BERTH = os.path.abspath(os.environ.get("BERTH", os.path.join(TOP, "build", "berth")))
SERVE = os.path.join(TOP, "nginx", "serve.sh")
PG_DSN = os.environ.get("BERTH_TEST_PG_DSN", "")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"
SECRET = b"s3cret-for-the-hmac\n"
UA = "notify-test/1.0"


class Receiver:
    """An HTTP listener on a fixed port that records each POST (headers,
    body) and answers 200; stop() and start() again on the same port."""

    def __init__(self, port):
        self.port = port
        self.posts = []
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    rec.posts.append(({k.lower(): v for k, v in self.headers.items()},
                                      body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        with self.lock:
            out = []
            for _, body in self.posts:
                out.extend(json.loads(body)["events"])
            return out


class Registry:
    def __init__(self, extra, name):
        self.tmp = tempfile.mkdtemp(prefix="berth-notify-")
        os.chmod(self.tmp, 0o755)
        self.data = os.path.join(self.tmp, "data")
        self.conf = os.path.join(self.tmp, "berth.ini")
        self.port = free_port()
        self.name = name
        with open(self.conf, "w") as f:
            f.write("[storage]\ndata_dir = %s\n[server]\nworkers = 2\n%s"
                    % (self.data, extra))
        self.env = dict(os.environ, PORT=str(self.port), DATA_DIR=self.data,
                        BERTH=BERTH, BERTH_CONFIG=self.conf, SERVER="nginx")

    def serve(self, cmd):
        r = subprocess.run([SERVE, cmd], env=self.env, cwd=TOP, capture_output=True,
                           text=True, timeout=120)
        return r.returncode, r.stdout + r.stderr

    def log(self):
        try:
            with open(os.path.join(self.data, "run", "berth.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def berth(self, *args):
        return subprocess.run([BERTH, "-c", self.conf] + list(args),
                              capture_output=True, text=True, timeout=120)

    def deliverers(self):
        """Pids of the deliverers the log says started, that still run."""
        pids = [int(p) for p in re.findall(r"notify: process (\d+) delivers", self.log())]
        return [p for p in pids if os.path.exists("/proc/%d" % p) and
                open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[0] != "Z"]

    def req(self, method, path, body=None, headers=None):
        h = {"User-Agent": UA}
        if getattr(self, "basic", None):
            h["Authorization"] = "Basic " + base64.b64encode(self.basic.encode()).decode()
        h.update(headers or {})
        return berthtest.request(self.port, method, path, body, h, timeout=30)

    def push_blob(self, repo, data):
        st, _, _ = self.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(data)),
                            data, {"Content-Type": "application/octet-stream"})
        return st

    def put_manifest(self, repo, ref, body):
        return self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), body,
                        {"Content-Type": OCI_MANIFEST})[0]

    def outbox_rows(self):
        db = sqlite3.connect("file:%s/berth.db?mode=ro" % self.data, uri=True)
        try:
            return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        finally:
            db.close()

    def cleanup(self):
        self.serve("stop")
        if os.environ.get("SANITIZER_LOG_CHECK") == "1":
            bad = [l for l in self.log().splitlines()
                   if "runtime error" in l or "AddressSanitizer" in l]
            check("%s: no sanitizer report in the pool's log" % self.name, not bad,
                  bad[:3])
        shutil.rmtree(self.tmp, ignore_errors=True)


def manifest(config, layer, note):
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256(layer), "size": len(layer)}],
        "annotations": {"note": note},
    }, separators=(",", ":")).encode()


def status(reg):
    r = reg.berth("notify", "status", "--json")
    try:
        return {row["url"]: row for row in json.loads(r.stdout)}, r
    except ValueError:
        return {}, r


def signed(secret, headers, body):
    want = "sha256=" + hmac.new(secret.rstrip(b"\n"), body, hashlib.sha256).hexdigest()
    return headers.get("x-berth-signature") == want


def find(events, **kw):
    """The events whose action and target fields match kw."""
    out = []
    for e in events:
        t = e.get("target", {})
        if e.get("action") != kw.get("action", e.get("action")):
            continue
        if all(t.get(k) == v for k, v in kw.items() if k != "action"):
            out.append(e)
    return out


def no_loss_no_strangers(name, got, ids_all):
    """Every id in ids_all at least once; each repeat the same event."""
    seen = {}
    same = True
    for e in got:
        if e["id"] in seen and seen[e["id"]] != e:
            same = False
        seen[e["id"]] = e
    check(name + ": every event arrived", set(ids_all) <= set(seen),
          sorted(set(ids_all) - set(seen))[:5])
    check(name + ": a repeat is only ever the same event (same id, same content)",
          same)
    check(name + ": nothing but the registry's events", set(seen) <= set(ids_all),
          sorted(set(seen) - set(ids_all))[:5])


def main_sqlite():
    a, b = Receiver(free_port()), Receiver(free_port())
    a.start()   # b stays down for now
    tmp = tempfile.mkdtemp(prefix="berth-notify-secret-")
    secret = os.path.join(tmp, "secret")
    with open(secret, "wb") as f:
        f.write(SECRET)
    url_a = "http://127.0.0.1:%d/events" % a.port
    url_b = "http://127.0.0.1:%d/hook" % b.port
    reg = Registry("[notify]\nurl = %s\nurl = %s\nsecret_file = %s\ntimeout = 2\n"
                   "backoff_max = 2s\nbatch = 3\n" % (url_a, url_b, secret), "sqlite")
    rc, out = reg.serve("start")
    if not check("the registry with [notify] starts", rc == 0, out[-2000:]):
        return
    try:
        run_events(reg, a, b, url_a, url_b)
    finally:
        reg.cleanup()
        a.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def run_events(reg, a, b, url_a, url_b):
    check("the pool's log says events are delivered",
          wait_for(lambda: "events delivered" in reg.log(), 10), reg.log()[-500:])
    config, layer = b'{"architecture":"amd64","os":"linux"}', os.urandom(5000)
    check("blobs pushed", reg.push_blob("team/app", config) == 201 and
          reg.push_blob("team/app", layer) == 201)
    m1, m2 = manifest(config, layer, "one"), manifest(config, layer, "two")
    d1, d2 = sha256(m1), sha256(m2)
    check("push by tag v1: 201", reg.put_manifest("team/app", "v1", m1) == 201)
    check("push by digest with ?tag=x&tag=y: 201",
          reg.put_manifest("team/app", d2 + "?tag=x&tag=y", m2) == 201)
    check("tag v1 moved to the second manifest: 201",
          reg.put_manifest("team/app", "v1", m2) == 201)
    st, _, _ = reg.req("POST", "/v2/other/app/blobs/uploads/?mount=%s&from=team/app"
                       % sha256(layer))
    check("blob mounted into other/app: 201", st == 201, st)
    st, _, _ = reg.req("DELETE", "/v2/team/app/manifests/x")
    check("tag x deleted: 202", st == 202, st)
    # m1 lost its only tag with the move; delete it by digest.
    st, _, _ = reg.req("DELETE", "/v2/team/app/manifests/%s" % d1)
    check("manifest 1 deleted: 202", st == 202, st)
    want = 7   # push v1, x, y, v1 again (the move), mount, delete x, delete m1
    got = wait_for(lambda: len(a.events()) >= want and a.events(), 30) or []
    check("receiver A got %d events" % want, len(got) == want,
          [(e["action"], e["target"].get("tag")) for e in got])

    # Field by field.
    push_v1 = find(got, action="push", tag="v1", digest=d1)
    check("push v1: one event", len(push_v1) == 1, len(push_v1))
    if push_v1:
        e = push_v1[0]
        t = e["target"]
        check("push v1: target fields",
              t.get("repository") == "team/app" and t.get("mediaType") == OCI_MANIFEST
              and t.get("size") == len(m1) and t.get("length") == len(m1)
              and t.get("url") == "http://127.0.0.1:%d/v2/team/app/manifests/%s"
              % (reg.port, d1), t)
        check("push v1: request method, useragent and host",
              e["request"].get("method") == "PUT" and e["request"].get("useragent") == UA
              and e["request"].get("host") == "127.0.0.1:%d" % reg.port
              and e["request"].get("addr") == "127.0.0.1"
              and len(e["request"].get("id", "")) == 36, e["request"])
        check("push v1: source and timestamp",
              e["source"].get("addr") and len(e["source"].get("instanceID", "")) == 36
              and e["timestamp"].endswith("Z") and e["timestamp"][4] == "-", e)
        check("push v1: no actor name with access control off", e["actor"] == {},
              e["actor"])
    check("push by digest: one event per ?tag= value",
          len(find(got, action="push", tag="x", digest=d2)) == 1 and
          len(find(got, action="push", tag="y", digest=d2)) == 1)
    check("tag move: a push of v1 naming the new manifest",
          len(find(got, action="push", tag="v1", digest=d2, size=len(m2))) == 1)
    mounts = find(got, action="mount")
    check("mount: one event with the repository, fromRepository, blob digest and size",
          len(mounts) == 1 and mounts[0]["target"].get("repository") == "other/app"
          and mounts[0]["target"].get("fromRepository") == "team/app"
          and mounts[0]["target"].get("digest") == sha256(layer)
          and mounts[0]["target"].get("size") == len(layer)
          and mounts[0]["target"].get("mediaType") == "application/octet-stream"
          and mounts[0]["target"].get("url", "").endswith(
              "/v2/other/app/blobs/" + sha256(layer)), mounts)
    dtag = find(got, action="delete", tag="x")
    check("tag delete: the repository, the tag and the manifest it named",
          len(dtag) == 1 and dtag[0]["target"].get("repository") == "team/app"
          and dtag[0]["target"].get("digest") == d2
          and dtag[0]["request"].get("method") == "DELETE", dtag)
    dman = [e for e in find(got, action="delete", digest=d1) if "tag" not in e["target"]]
    check("manifest delete: the repository and digest, no tag",
          len(dman) == 1 and dman[0]["target"].get("repository") == "team/app", dman)
    ids = [e["id"] for e in got]
    check("event ids unique", len(set(ids)) == len(ids) == want, ids)
    order = [(e["action"], e["target"].get("tag")) for e in got]
    check("events in commit order",
          order == [("push", "v1"), ("push", "x"), ("push", "y"), ("push", "v1"),
                    ("mount", None), ("delete", "x"), ("delete", None)], order)
    with a.lock:
        posts = list(a.posts)
    check("every POST: Content-Type %s" % EVENTS_TYPE,
          all(h.get("content-type") == EVENTS_TYPE for h, _ in posts),
          [h.get("content-type") for h, _ in posts])
    check("batch = 3: no POST carries more than 3 events",
          all(len(json.loads(b)["events"]) <= 3 for _, b in posts) and len(posts) >= 3,
          [len(json.loads(b)["events"]) for _, b in posts])
    check("X-Berth-Signature is HMAC-SHA256(secret, body)",
          all(signed(SECRET, h, body) for h, body in posts),
          [h.get("x-berth-signature") for h, _ in posts][:2])
    check("with a tampered secret the signature does not verify",
          not any(signed(b"s3cret-for-the-hmaC", h, body) for h, body in posts))
    check("a tampered body does not verify",
          not any(signed(SECRET, h, body + b" ") for h, body in posts))

    # B has been down all along.
    st, r = status(reg)
    check("notify status: receiver A has nothing pending",
          st.get(url_a, {}).get("pending") == 0, r.stdout + r.stderr)
    sb = st.get(url_b, {})
    check("notify status: receiver B (down) has all %d pending, its error and age" % want,
          sb.get("pending") == want and sb.get("failures", 0) >= 1
          and sb.get("last_error") and isinstance(sb.get("oldest_age"), int), sb)
    r = reg.berth("notify", "status")
    check("notify status (table): a line per receiver",
          r.returncode == 0 and url_a in r.stdout and url_b in r.stdout, r.stdout + r.stderr)
    check("the outbox keeps the events B lacks", reg.outbox_rows() == want)
    b.start()
    got_b = wait_for(lambda: len(b.events()) >= want and b.events(), 30) or []
    check("receiver B, started again on its port, gets every event it missed",
          [e["id"] for e in got_b] == ids, len(got_b))
    check("after both have everything the outbox is emptied",
          wait_for(lambda: reg.outbox_rows() == 0, 15), reg.outbox_rows())
    st, _ = status(reg)
    check("notify status: nothing pending for either",
          st.get(url_a, {}).get("pending") == 0 and st.get(url_b, {}).get("pending") == 0,
          st)

    # B down for part of the run.
    b.stop()
    for i in range(4):
        check("push v%d while B is down: 201" % (i + 2),
              reg.put_manifest("team/app", "v%d" % (i + 2), m2) == 201)
    got = wait_for(lambda: len(a.events()) >= want + 4 and a.events(), 30) or []
    more = [e["id"] for e in got[want:]]
    check("A gets the pushes made while B is down", len(more) == 4, len(got))
    st, _ = status(reg)
    check("notify status: B's backlog is the 4 new events",
          st.get(url_b, {}).get("pending") == 4, st.get(url_b))
    b.start()
    wait_for(lambda: set(more) <= {e["id"] for e in b.events()}, 30)
    no_loss_no_strangers("receiver B", b.events(), ids + more)
    no_loss_no_strangers("receiver A", a.events(), ids + more)
    check("the outbox is empty again",
          wait_for(lambda: reg.outbox_rows() == 0, 15), reg.outbox_rows())

    # The pool restarts a deliverer that dies.
    first = reg.deliverers()
    check("the pool runs one deliverer", len(first) == 1, first)
    if first:
        os.kill(first[0], signal.SIGKILL)
        again = wait_for(lambda: [p for p in reg.deliverers() if p != first[0]], 15)
        check("a killed deliverer is started again", again and len(again) == 1,
              reg.log()[-800:])
        check("push after the deliverer's death: 201",
              reg.put_manifest("team/app", "after-crash", m2) == 201)
        check("the new deliverer delivers it", wait_for(
            lambda: find(a.events(), action="push", tag="after-crash") and
            find(b.events(), action="push", tag="after-crash"), 30))

    # A restart (SIGHUP: the pool re-executes itself) replaces the
    # deliverer too, and the new one goes on where the old one stopped.
    old = reg.deliverers()
    with open(os.path.join(reg.data, "run", "berth.pid")) as f:
        os.kill(int(f.read().strip()), signal.SIGHUP)
    new = wait_for(lambda: [p for p in reg.deliverers() if p not in old], 30)
    check("after a restart one new deliverer runs, the old one is gone",
          new and len(new) == 1 and wait_for(lambda: reg.deliverers() == new, 15),
          (old, new, reg.log()[-800:]))
    check("push after the restart: 201",
          reg.put_manifest("team/app", "after-restart", m2) == 201)
    check("the restarted pool's deliverer delivers it", wait_for(
        lambda: find(a.events(), action="push", tag="after-restart") and
        find(b.events(), action="push", tag="after-restart"), 30))

    # Events outlive the pool; `berth notify run` delivers them.
    b.stop()
    check("push while B is down, before the pool stops: 201",
          reg.put_manifest("team/app", "before-stop", m2) == 201)
    wait_for(lambda: find(a.events(), action="push", tag="before-stop"), 30)
    check("a deliverer runs before the stop", len(reg.deliverers()) == 1)
    rc, out = reg.serve("stop")
    check("the pool stops, and its deliverer with it",
          rc == 0 and wait_for(lambda: not reg.deliverers(), 10), out[-500:])
    check("the event B lacks stays in the outbox", reg.outbox_rows() == 1,
          reg.outbox_rows())
    b.start()
    run = subprocess.Popen([BERTH, "-c", reg.conf, "notify", "run"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        check("berth notify run delivers it to B", wait_for(
            lambda: find(b.events(), action="push", tag="before-stop"), 30))
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            _, err = run.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            run.kill()
            _, err = run.communicate()
    check("berth notify run stops on SIGTERM with status 0",
          run.returncode == 0 and "notify: stopped" in err, (run.returncode, err[-500:]))
    check("then the outbox is empty", reg.outbox_rows() == 0, reg.outbox_rows())
    no_loss_no_strangers("receiver B at the end", b.events(),
                         [e["id"] for e in a.events()])
    b.stop()


def main_off():
    reg = Registry("", "no notify")
    rc, out = reg.serve("start")
    if not check("a registry without [notify] starts", rc == 0, out[-2000:]):
        return
    try:
        config, layer = b'{"os":"linux"}', os.urandom(100)
        reg.push_blob("quiet/app", config)
        reg.push_blob("quiet/app", layer)
        check("without [notify]: push 201",
              reg.put_manifest("quiet/app", "v1", manifest(config, layer, "q")) == 201)
        check("without [notify]: tag delete 202",
              reg.req("DELETE", "/v2/quiet/app/manifests/v1")[0] == 202)
        check("without [notify]: no outbox row", reg.outbox_rows() == 0)
        r = reg.berth("notify", "status")
        check("without [notify]: berth notify status says so",
              r.returncode == 1 and "no [notify] url" in r.stderr, r.stderr)
        check("the pool starts no deliverer",
              "events delivered" not in reg.log() and "notify:" not in reg.log(),
              reg.log()[-500:])
    finally:
        reg.cleanup()


def main_auth():
    a = Receiver(free_port())
    a.start()
    url = "http://127.0.0.1:%d/auth" % a.port
    reg = Registry("[auth]\nenabled = true\n[notify]\nurl = %s\n" % url, "auth")
    r1 = subprocess.run([BERTH, "-c", reg.conf, "user", "add", "alice"], input="alice-pw\n",
                        capture_output=True, text=True, timeout=60)
    r2 = reg.berth("grant", "alice", "team/**", "pull,push,delete")
    check("auth: user and grant added", r1.returncode == 0 and r2.returncode == 0,
          r1.stderr + r2.stderr)
    rc, out = reg.serve("start")
    if not check("auth: the registry starts", rc == 0, out[-2000:]):
        a.stop()
        return
    try:
        reg.basic = "alice:alice-pw"
        config, layer = b'{"os":"auth"}', os.urandom(200)
        reg.push_blob("team/signed", config)
        reg.push_blob("team/signed", layer)
        check("auth: push as alice (Basic): 201",
              reg.put_manifest("team/signed", "v1", manifest(config, layer, "a")) == 201)
        reg.basic = None
        check("auth: an anonymous push is refused (401)",
              reg.put_manifest("team/signed", "v2", manifest(config, layer, "b")) == 401)
        got = wait_for(lambda: a.events(), 30) or []
        check("auth: one event, actor.name alice",
              len(got) == 1 and got[0]["actor"] == {"name": "alice"} and
              got[0]["target"].get("tag") == "v1", got)
    finally:
        reg.cleanup()
        a.stop()


def main_pg():
    a = Receiver(free_port())
    a.start()
    schema = "notify_" + os.urandom(4).hex()
    url = "http://127.0.0.1:%d/pg" % a.port
    reg = Registry("[metadata]\nbackend = postgresql\n[metadata.postgresql]\n"
                   "dsn = %s\nschema = %s\n[notify]\nurl = %s\nbackoff_max = 2s\n"
                   % (PG_DSN, schema, url), "postgresql")
    rc, out = reg.serve("start")
    if not check("postgresql: the registry with [notify] starts", rc == 0, out[-2000:]):
        a.stop()
        return
    try:
        config, layer = b'{"os":"pg"}', os.urandom(300)
        reg.push_blob("pg/app", config)
        reg.push_blob("pg/app", layer)
        m = manifest(config, layer, "pg")
        check("postgresql: push with ?tag=a&tag=b: 201",
              reg.put_manifest("pg/app", sha256(m) + "?tag=a&tag=b", m) == 201)
        st, _, _ = reg.req("POST", "/v2/pg/other/blobs/uploads/?mount=%s&from=pg/app"
                           % sha256(layer))
        check("postgresql: mount 201", st == 201, st)
        check("postgresql: tag delete 202",
              reg.req("DELETE", "/v2/pg/app/manifests/a")[0] == 202)
        check("postgresql: manifest delete 202",
              reg.req("DELETE", "/v2/pg/app/manifests/" + sha256(m))[0] == 202)
        got = wait_for(lambda: len(a.events()) >= 5 and a.events(), 30) or []
        order = [(e["action"], e["target"].get("tag"), e["target"].get("digest"))
                 for e in got]
        check("postgresql: the same events, in order", order == [
            ("push", "a", sha256(m)), ("push", "b", sha256(m)),
            ("mount", None, sha256(layer)), ("delete", "a", sha256(m)),
            ("delete", None, sha256(m))], order)
        st, r = status(reg)
        check("postgresql: notify status shows nothing pending",
              st.get(url, {}).get("pending") == 0, r.stdout + r.stderr)
    finally:
        reg.cleanup()
        a.stop()


if __name__ == "__main__":
    main_sqlite()
    main_off()
    main_auth()
    if PG_DSN:
        main_pg()
    sys.exit(berthtest.summary())
