"""ops.py -- end-to-end tests of berth's operator commands (issue 7).

Starts a registry behind nginx (nginx/serve.sh) on a fresh data
directory, fills it through the HTTP API as a client would, then runs
`berth -d DATA <command>` and checks exact values against what was pushed,
against the database (sqlite3, read-only) and against the files on disk.
The gc stress test pushes, pulls and deletes from several threads while
`berth gc --grace 0s` runs in a loop, then pulls every tagged image and
checks every byte.  Standard library only.

With OPS_PG_DSN set (tests/pg/run.sh), the registry and every command use
`[metadata] backend = postgresql` on that server, in a schema of their
own, through a configuration file in BERTH_CONFIG; the database is read
with psql instead of sqlite3, and the schema checks ask PostgreSQL's
catalog.  Everything else is the same test.
"""
import fcntl
import json
import os
import pty
import random
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import berthtest  # noqa: E402
from berthtest import check, free_port, sha256 as sha  # noqa: E402
BERTH = os.path.abspath(os.environ.get("BERTH", os.path.join(TOP, "build", "berth")))
STRESS_SECONDS = float(os.environ.get("OPS_STRESS_SECONDS", "20"))
PG_DSN = os.environ.get("OPS_PG_DSN")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

cli_stderr = []          # every command's stderr, for the sanitizer check


class Registry:
    """The HTTP side: just enough of the distribution API to push and pull."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None):
        return berthtest.request(self.port, method, path, body, headers)

    def push_blob(self, repo, data):
        d = sha(data)
        st, h, _ = self.request("POST", "/v2/%s/blobs/uploads/" % repo)
        if st != 202:
            raise RuntimeError("POST upload: %d" % st)
        loc = h["location"]
        loc += ("&" if "?" in loc else "?") + "digest=" + d
        st, h, body = self.request("PUT", loc, body=data,
                                   headers={"Content-Type": "application/octet-stream"})
        if st != 201:
            raise RuntimeError("PUT upload: %d %s" % (st, body[:200]))
        return d

    def head_blob(self, repo, digest):
        return self.request("HEAD", "/v2/%s/blobs/%s" % (repo, digest))[0]

    def get_blob(self, repo, digest):
        st, _, data = self.request("GET", "/v2/%s/blobs/%s" % (repo, digest))
        return st, data

    def put_manifest(self, repo, ref, body, media_type=OCI_MANIFEST):
        return self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body,
                            headers={"Content-Type": media_type})

    def get_manifest(self, repo, ref):
        st, h, data = self.request("GET", "/v2/%s/manifests/%s" % (repo, ref),
                                   headers={"Accept": OCI_MANIFEST + ", " + OCI_INDEX})
        return st, data

    def delete_manifest(self, repo, digest):
        return self.request("DELETE", "/v2/%s/manifests/%s" % (repo, digest))[0]


def descriptor(media_type, data):
    return {"mediaType": media_type, "digest": sha(data), "size": len(data)}


def image_manifest(config, layers, subject=None, artifact_type=None):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": descriptor(OCI_CONFIG, config),
         "layers": [descriptor(OCI_LAYER, l) for l in layers]}
    if subject is not None:
        m["subject"] = subject
    if artifact_type is not None:
        m["artifactType"] = artifact_type
    return json.dumps(m, sort_keys=True).encode()


def push_image(reg, repo, ref, config, layers, **kw):
    """Push config and layers, then the manifest under tag ref (None: by
    digest); the manifest's bytes."""
    for blob in [config] + layers:
        reg.push_blob(repo, blob)
    body = image_manifest(config, layers, **kw)
    ref = ref or sha(body)
    st, _, resp = reg.put_manifest(repo, ref, body)
    if st != 201:
        raise RuntimeError("PUT manifest %s:%s: %d %s" % (repo, ref, st, resp[:300]))
    return body


class Env:
    def __init__(self):
        self.data = tempfile.mkdtemp(prefix="berth-ops-")
        os.chmod(self.data, 0o755)
        self.port = free_port()
        self.reg = Registry(self.port)
        self.env = dict(os.environ, PORT=str(self.port), DATA_DIR=self.data, BERTH=BERTH)
        self.env.pop("BERTH_CONFIG", None)
        # The metadata settings every configuration file of the test
        # carries: none for SQLite (the default), the server for
        # PostgreSQL.
        self.ini_metadata = ""
        if PG_DSN:
            self.schema = "ops_" + os.urandom(4).hex()
            self.ini_metadata = ("[metadata]\nbackend = postgresql\n"
                                 "[metadata.postgresql]\ndsn = %s\nschema = %s\n"
                                 % (PG_DSN, self.schema))
            cfg = self.data + ".ini"
            with open(cfg, "w") as fh:
                fh.write("[storage]\ndata_dir = %s\n" % self.data + self.ini_metadata)
            os.chmod(cfg, 0o644)
            self.env["BERTH_CONFIG"] = cfg

    def start(self):
        # Output to a file, not a pipe: nginx, once a daemon, would keep a
        # pipe open and the wait for its end would never return.
        with open(self.data + ".serve.log", "w+") as log:
            r = subprocess.run([os.path.join(TOP, "nginx", "serve.sh"), "start"],
                               env=self.env, cwd=TOP, stdout=log, stderr=log)
            if r.returncode != 0:
                log.seek(0)
                print(log.read())
                raise SystemExit("could not start the registry")
        os.unlink(self.data + ".serve.log")

    def stop(self):
        subprocess.run([os.path.join(TOP, "nginx", "serve.sh"), "stop"], env=self.env,
                       cwd=TOP, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def berth(self, *args, tty=False):
        """Run `berth -d DATA args...`; (status, stdout, stderr)."""
        cmd = [BERTH, "-d", self.data] + list(args)
        if tty:
            return run_on_pty(cmd, self.env)
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=300)
        cli_stderr.append(r.stderr)
        return r.returncode, r.stdout, r.stderr

    def berth_json(self, *args):
        rc, out, err = self.berth(*(list(args) + ["--json"]))
        try:
            return rc, json.loads(out), err
        except ValueError:
            return rc, None, err + out

    def db(self):
        return sqlite3.connect("file:%s/berth.db?mode=ro" % self.data, uri=True, timeout=30)

    def psql(self, query, args=()):
        """Run query with psql in the test's schema; rows as tuples, integers
        as int, NULL as None.  `?` placeholders take args as literals."""
        parts = query.split("?")
        assert len(parts) == len(args) + 1, query
        text = parts[0]
        for a, rest in zip(args, parts[1:]):
            text += (str(a) if isinstance(a, int) else
                     "'" + str(a).replace("'", "''") + "'") + rest
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-P", "null=\x1e",
                            "-v", "ON_ERROR_STOP=1", PG_DSN,
                            "-c", "SET search_path = " + self.schema, "-c", text],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (text, r.stderr))

        def value(v):
            if v == "\x1e":
                return None
            return int(v) if v.lstrip("-").isdigit() else v
        return [tuple(value(v) for v in line.split("\x1f"))
                for line in r.stdout.splitlines() if line != ""]

    def sql(self, query, args=()):
        if PG_DSN:
            return self.psql(query, args)
        c = self.db()
        try:
            return c.execute(query, args).fetchall()
        finally:
            c.close()

    def sql_write(self, query, args=()):
        if PG_DSN:
            self.psql(query, args)
            return
        c = sqlite3.connect("%s/berth.db" % self.data, timeout=30)
        try:
            c.execute(query, args)
            c.commit()
        finally:
            c.close()

    def blob_file(self, digest):
        alg, hexd = digest.split(":")
        return os.path.join(self.data, "blobs", alg, hexd[:2], hexd)


def run_on_pty(cmd, env):
    """Run cmd with stderr on a pseudo-terminal; (status, stdout, tty text)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    tty = b""
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
        elif p.poll() is not None:
            break
    out = p.stdout.read()
    p.wait()
    os.close(master)
    cli_stderr.append(tty.decode(errors="replace"))
    return p.returncode, out.decode(), tty.decode(errors="replace")


# --- The fill: what every later test knows exactly -------------------------

class Fill:
    pass


def fill(e):
    reg = e.reg
    f = Fill()
    rnd = random.Random(7)

    def blob(n):
        return bytes(rnd.getrandbits(8) for _ in range(n))

    f.L1 = blob(3000)        # shared by ops/alpha and ops/beta
    f.L2 = blob(2000)        # alpha only
    f.L3 = blob(1500)        # beta only
    f.L4 = blob(1200)        # beta, arm64 image only
    f.L5 = blob(900)         # beta "old" image, deleted later: garbage
    f.G1 = blob(700)         # uploaded to alpha, never referenced: garbage
    f.cA = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},"n":"A"}'
    f.cB = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},"n":"B"}'
    f.cB2 = b'{"architecture":"arm64","os":"linux","rootfs":{"type":"layers"},"n":"B2"}'
    f.cOld = b'{"architecture":"amd64","os":"linux","n":"old"}'
    f.cSig = b'{"n":"signature"}'
    f.S1 = blob(300)         # the signature's payload

    f.A = push_image(reg, "ops/alpha", "1.0", f.cA, [f.L1, f.L2])
    st, _, _ = reg.put_manifest("ops/alpha", "latest", f.A)
    assert st == 201
    # A signature: a referrer pushed by digest, as cosign and notation do.
    f.sig = push_image(reg, "ops/alpha", None, f.cSig, [f.S1],
                       subject=descriptor(OCI_MANIFEST, f.A),
                       artifact_type="application/vnd.example.signature")
    f.B = push_image(reg, "ops/beta", "v1", f.cB, [f.L1, f.L3])
    f.B2 = push_image(reg, "ops/beta", None, f.cB2, [f.L4])
    f.index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        dict(descriptor(OCI_MANIFEST, f.B), platform={"os": "linux", "architecture": "amd64"}),
        dict(descriptor(OCI_MANIFEST, f.B2),
             platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
    ]}, sort_keys=True).encode()
    st, _, _ = reg.put_manifest("ops/beta", "multi", f.index, OCI_INDEX)
    assert st == 201, st
    f.old = push_image(reg, "ops/beta", "old", f.cOld, [f.L5])
    assert reg.delete_manifest("ops/beta", sha(f.old)) == 202
    reg.push_blob("ops/alpha", f.G1)
    return f


# --- Tests ------------------------------------------------------------------

def test_schema_pg(e):
    v = e.sql("SELECT max(version) FROM schema_migrations")[0][0]
    check("schema: migrated to 002", v >= 2, v)
    missing = e.sql("SELECT c.table_name, c.column_name FROM information_schema.columns c "
                    "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
                    "AND t.table_name = c.table_name WHERE t.table_type = 'BASE TABLE' "
                    "AND c.table_schema = current_schema() AND NOT EXISTS (SELECT 1 "
                    "FROM schema_doc d WHERE d.object = c.table_name "
                    "AND d.\"column\" = c.column_name)")
    check("schema: every column of every table documented in schema_doc", not missing, missing)
    undoc = e.sql("SELECT table_name FROM information_schema.tables t "
                  "WHERE table_schema = current_schema() AND NOT EXISTS (SELECT 1 "
                  "FROM schema_doc d WHERE d.object = t.table_name AND d.\"column\" = '')")
    check("schema: every table and view documented", not undoc, undoc)
    cols = [r[0] for r in e.sql("SELECT column_name FROM information_schema.columns "
                                "WHERE table_schema = current_schema() "
                                "AND table_name = 'tag_list'")]
    check("schema: tag_list has digest, media_type, size, pushed",
          all(c in cols for c in ("digest", "media_type", "size", "pushed", "updated")), cols)
    # The audit trail is written by triggers in PostgreSQL too.
    n = e.sql("SELECT count(*) FROM information_schema.triggers "
              "WHERE trigger_schema = current_schema()")[0][0]
    check("schema: the audit triggers are there", n >= 9, n)


def test_schema(e):
    if PG_DSN:
        return test_schema_pg(e)
    v = e.sql("PRAGMA user_version")[0][0]
    check("schema: migrated to 002", v >= 2, v)
    missing = e.sql("SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p "
                    "WHERE m.type = 'table' AND NOT EXISTS (SELECT 1 FROM schema_doc d "
                    "WHERE d.object = m.name AND d.column = p.name)")
    check("schema: every column of every table documented in schema_doc", not missing, missing)
    undoc = e.sql("SELECT name FROM sqlite_master m WHERE type IN ('table', 'view') "
                  "AND name NOT LIKE 'sqlite_%' AND NOT EXISTS (SELECT 1 FROM schema_doc d "
                  "WHERE d.object = m.name AND d.column = '')")
    check("schema: every table and view documented", not undoc, undoc)
    cols = [r[1] for r in e.sql("PRAGMA table_info(tag_list)")]
    check("schema: tag_list has digest, media_type, size, pushed",
          all(c in cols for c in ("digest", "media_type", "size", "pushed", "updated")), cols)


def test_inspect(e, f):
    rc, repos, err = e.berth_json("repos")
    check("repos: exit 0", rc == 0, err)
    names = [r["repository"] for r in repos or []]
    check("repos: exactly ops/alpha and ops/beta", names == ["ops/alpha", "ops/beta"], names)
    by = dict((r["repository"], r) for r in repos or [])
    a = by.get("ops/alpha", {})
    alpha_blobs = [f.cA, f.L1, f.L2, f.cSig, f.S1, f.G1]
    check("repos: ops/alpha counts", (a.get("tags"), a.get("manifests"), a.get("blobs")) ==
          (2, 2, len(alpha_blobs)), a)
    check("repos: ops/alpha blob bytes", a.get("blob_bytes") == sum(map(len, alpha_blobs)), a)
    b = by.get("ops/beta", {})
    beta_blobs = [f.cB, f.L1, f.L3, f.cB2, f.L4, f.cOld, f.L5]
    check("repos: ops/beta counts", (b.get("tags"), b.get("manifests"), b.get("blobs")) ==
          (2, 3, len(beta_blobs)), b)
    rc, out, _ = e.berth("repos")
    check("repos: table", rc == 0 and out.splitlines()[0].split()[:3] ==
          ["REPOSITORY", "TAGS", "MANIFESTS"] and "ops/alpha" in out and "ops/beta" in out, out)

    rc, tags, err = e.berth_json("tags", "ops/alpha")
    check("tags: exit 0", rc == 0, err)
    check("tags: ops/alpha has 1.0 and latest", [t["tag"] for t in tags or []] == ["1.0", "latest"],
          tags)
    t = (tags or [{}])[0]
    check("tags: digest, media type, size, times",
          t.get("digest") == sha(f.A) and t.get("media_type") == OCI_MANIFEST and
          t.get("size") == len(f.A) and abs(t.get("pushed_at", 0) - time.time()) < 300 and
          t.get("updated_at", 0) >= t.get("pushed_at", 0), t)
    rc, out, _ = e.berth("tags", "ops/beta")
    check("tags: table", rc == 0 and "multi" in out and "v1" in out and sha(f.index) in out, out)
    rc, _, err = e.berth("tags", "ops/nothing")
    check("tags: unknown repository exits 1", rc == 1 and "no repository" in err, (rc, err))
    rc, _, err = e.berth("tags")
    check("tags: missing argument is a usage error", rc == 2, (rc, err))

    rc, m, err = e.berth_json("show", "ops/alpha:1.0")
    check("show: exit 0", rc == 0, err)
    m = m or {}
    check("show: digest, media type, size, tags",
          (m.get("digest"), m.get("media_type"), m.get("size"), m.get("tags")) ==
          (sha(f.A), OCI_MANIFEST, len(f.A), ["1.0", "latest"]), m)
    check("show: config", m.get("config", {}).get("digest") == sha(f.cA) and
          m["config"].get("size") == len(f.cA) and m["config"].get("stored") is True, m.get("config"))
    check("show: layers with sizes",
          [(l["digest"], l["size"], l["stored"]) for l in m.get("layers", [])] ==
          [(sha(f.L1), len(f.L1), True), (sha(f.L2), len(f.L2), True)] and
          m.get("layer_bytes") == len(f.L1) + len(f.L2), m.get("layers"))
    refs = m.get("referrers", [])
    check("show: referrers", [(r.get("digest"), r.get("artifactType")) for r in refs] ==
          [(sha(f.sig), "application/vnd.example.signature")], refs)
    rc, m2, _ = e.berth_json("show", "ops/alpha@" + sha(f.A))
    check("show: by digest is the same manifest", rc == 0 and m2 and m2.get("digest") == sha(f.A))
    rc, ix, _ = e.berth_json("show", "ops/beta:multi")
    plats = [(x.get("platform"), x.get("digest")) for x in (ix or {}).get("manifests", [])]
    check("show: index platforms", rc == 0 and plats ==
          [("linux/amd64", sha(f.B)), ("linux/arm64/v8", sha(f.B2))], plats)
    rc, out, _ = e.berth("show", "ops/alpha:latest")
    check("show: human output", rc == 0 and "layers: 2, %d bytes" % (len(f.L1) + len(f.L2)) in out
          and "referrers: 1" in out and "application/vnd.example.signature" in out, out)
    check("show: a plain image is no artifact", "\nartifact " not in out, out)
    rc, out, _ = e.berth("show", "ops/alpha@" + sha(f.sig))
    check("show: an artifact's type", rc == 0 and
          "\nartifact    application/vnd.example.signature\n" in out, out)
    rc, _, err = e.berth("show", "ops/alpha:nope")
    check("show: unknown tag exits 1", rc == 1 and "no manifest" in err, (rc, err))
    rc, _, _ = e.berth("show", "ops/alpha")
    check("show: reference without tag or digest is a usage error", rc == 2)

    rc, du, err = e.berth_json("du")
    check("du: exit 0", rc == 0, err)
    du = du or {"total": {}, "repositories": []}
    every = set(alpha_blobs + beta_blobs)
    tot = du["total"]
    check("du: stored bytes count each blob once",
          (tot.get("blobs"), tot.get("blob_bytes")) == (len(every), sum(map(len, every))), tot)
    check("du: linked bytes sum over repositories",
          tot.get("linked_bytes") == sum(map(len, alpha_blobs)) + sum(map(len, beta_blobs)), tot)
    check("du: shared bytes are L1's", (tot.get("shared_blobs"), tot.get("shared_bytes")) ==
          (1, len(f.L1)), tot)
    check("du: unreferenced are G1 and the deleted image's L5 and config",
          (tot.get("unreferenced_blobs"), tot.get("unreferenced_bytes")) ==
          (3, len(f.G1) + len(f.L5) + len(f.cOld)), tot)
    check("du: manifest bytes", tot.get("manifest_bytes") == sum(map(len, [f.A, f.sig, f.B, f.B2,
          f.index])), tot)
    dby = dict((r["repository"], r) for r in du["repositories"])
    check("du: per repository shared/unique split",
          dby.get("ops/alpha", {}).get("shared_bytes") == len(f.L1) and
          dby["ops/alpha"].get("unique_bytes") == sum(map(len, alpha_blobs)) - len(f.L1) and
          dby.get("ops/beta", {}).get("shared_bytes") == len(f.L1), dby)
    rc, out, _ = e.berth("du")
    check("du: human output", rc == 0 and "each blob once" in out and
          "(%d bytes)" % sum(map(len, every)) in out and
          " in 1 blob linked by more than one repository" in out and
          " in 3 blobs no manifest references" in out, out)
    # The view an operator would query says the same.
    rows = e.sql("SELECT repository, blob_bytes, shared_bytes FROM repository_size "
                 "ORDER BY repository")
    check("du: the repository_size view agrees",
          rows == [(r["repository"], r["blob_bytes"], r["shared_bytes"])
                   for r in du["repositories"]], rows)


def test_audit(e, f):
    rc, rows, err = e.berth_json("audit", "--limit", "1000")
    check("audit: exit 0", rc == 0, err)
    ev = [(r["action"], r["repository"], r["tag"], r["digest"]) for r in rows or []]
    check("audit: manifest push", ("manifest.push", "ops/alpha", None, sha(f.A)) in ev)
    check("audit: tag push", ("tag.push", "ops/alpha", "1.0", sha(f.A)) in ev)
    check("audit: manifest delete with its tag",
          ("tag.delete", "ops/beta", "old", sha(f.old)) in ev and
          ("manifest.delete", "ops/beta", None, sha(f.old)) in ev)
    check("audit: blob link", ("blob.link", "ops/alpha", None, sha(f.G1)) in ev)
    # Move a tag: "latest" to a new image.
    f.A2 = push_image(e.reg, "ops/alpha", "latest", f.cA + b" ", [f.L1, f.L2])
    rc, rows, _ = e.berth_json("audit", "ops/alpha", "--limit", "5")
    mv = [r for r in rows or [] if r["action"] == "tag.move"]
    check("audit: tag move with the old digest", len(mv) == 1 and mv[0]["tag"] == "latest" and
          mv[0]["digest"] == sha(f.A2) and mv[0]["old_digest"] == sha(f.A), rows)
    check("audit: --limit and repository filter", rows is not None and len(rows) == 5 and
          all(r["repository"] in ("ops/alpha", None) for r in rows), rows)
    check("audit: every row timed", all(abs(r["at"] - time.time()) < 300 for r in rows or []))
    n = e.sql("SELECT count(*) FROM audit_log WHERE action = 'tag.move'")[0][0]
    check("audit: the audit_log view", n == 1, n)


def blob_state(e, digest):
    """(file exists, blobs row, blob_links rows)"""
    return (os.path.exists(e.blob_file(digest)),
            e.sql("SELECT count(*) FROM blobs WHERE digest = ?", (digest,))[0][0],
            e.sql("SELECT count(*) FROM blob_links WHERE digest = ?", (digest,))[0][0])


def all_blob_digests(e):
    return set(r[0] for r in e.sql("SELECT digest FROM blobs"))


def pull_all(e, errors):
    """Pull every tagged image through the API, checking every byte."""
    n = 0
    for repo, tag in e.sql("SELECT repository, tag FROM tag_list"):
        st, body = e.reg.get_manifest(repo, tag)
        if st != 200:
            errors.append("%s:%s manifest %d" % (repo, tag, st))
            continue
        n += 1
        stack = [body]
        while stack:
            m = json.loads(stack.pop())
            for d in m.get("manifests", []):
                if d.get("mediaType") not in (None, OCI_MANIFEST, OCI_INDEX):
                    continue    # a blob entry (BuildKit's cache): checked below
                st, child = e.reg.get_manifest(repo, d["digest"])
                if st != 200 or sha(child) != d["digest"]:
                    errors.append("%s@%s child %d" % (repo, d["digest"], st))
                else:
                    stack.append(child)
            blobs = [d for d in m.get("manifests", [])
                     if d.get("mediaType") not in (None, OCI_MANIFEST, OCI_INDEX)]
            for d in ([m["config"]] if "config" in m else []) + m.get("layers", []) + blobs:
                st, data = e.reg.get_blob(repo, d["digest"])
                if st != 200 or sha(data) != d["digest"] or len(data) != d["size"]:
                    errors.append("%s:%s blob %s: %d" % (repo, tag, d["digest"], st))
    return n


def test_gc(e, f):
    garbage = sorted([sha(f.G1), sha(f.L5), sha(f.cOld)])
    before = all_blob_digests(e)
    rc, r, err = e.berth_json("gc", "--dry-run", "--grace", "0s")
    check("gc --dry-run: exit 0", rc == 0, err)
    check("gc --dry-run: lists exactly the unreferenced blobs",
          sorted(b["digest"] for b in (r or {}).get("blobs", [])) == garbage, r)
    check("gc --dry-run: bytes", (r or {}).get("bytes_reclaimed") ==
          len(f.G1) + len(f.L5) + len(f.cOld), r)
    check("gc --dry-run: changes nothing", all_blob_digests(e) == before and
          all(blob_state(e, d)[0] for d in garbage))

    # The grace window (1h by default) spares all three: said, with bytes.
    rc, r, err = e.berth_json("gc", "--dry-run")
    check("gc --dry-run: reports what the grace window spares",
          rc == 0 and r and r.get("blobs") == [] and r.get("spared") ==
          {"blobs": 3, "bytes": len(f.G1) + len(f.L5) + len(f.cOld)}, (rc, r, err))
    rc, out, _ = e.berth("gc", "--dry-run")
    check("gc --dry-run: the summary says so and how to override",
          rc == 0 and "would remove 0 manifests and 0 blobs" in out and
          "spared by the grace window (3600s): 3 unreferenced blobs" in out and
          "--grace 0s removes them too" in out, out)
    rc, r, _ = e.berth_json("gc", "--dry-run", "--grace", "0s")
    check("gc --dry-run --grace 0s: spares nothing", rc == 0 and r and
          r.get("spared") == {"blobs": 0, "bytes": 0}, r)
    rc, out, _ = e.berth("gc", "--dry-run", "--grace", "0s")
    check("gc: no spared line when nothing was spared", rc == 0 and "spared" not in out, out)

    rc, out, err = e.berth("gc")
    check("gc (grace 1h): says what it spared and how to override",
          rc == 0 and "removed 0 manifests and 0 blobs" in out and
          "3 unreferenced blobs" in out and "--grace 0s" in out, (out, err))
    rc, r, err = e.berth_json("gc")
    check("gc (grace 1h): keeps blobs pushed just now", rc == 0 and r and r["blobs_removed"] == 0 and
          all_blob_digests(e) == before, (rc, r, err))

    # Two old unreferenced blobs: G3 is uploaded again (a client about to
    # push a manifest that uses it), G4 is not.  The re-upload refreshes
    # the link, so the grace window keeps G3.
    f.G3, f.G4 = os.urandom(500), os.urandom(400)
    e.reg.push_blob("ops/alpha", f.G3)
    e.reg.push_blob("ops/alpha", f.G4)
    old = int(time.time()) - 7200
    for d in (sha(f.G3), sha(f.G4)):
        e.sql_write("UPDATE blobs SET created_at = ? WHERE digest = ?", (old, d))
        e.sql_write("UPDATE blob_links SET linked_at = ? WHERE digest = ?", (old, d))
    e.reg.push_blob("ops/alpha", f.G3)
    rc, r, err = e.berth_json("gc", "--grace", "1h")
    check("gc --grace 1h: removes the old blob, keeps the one pushed again",
          rc == 0 and r and [b["digest"] for b in r["blobs"]] == [sha(f.G4)],
          (rc, r, err))
    check("gc: G4 gone on disk and in the db", blob_state(e, sha(f.G4)) == (False, 0, 0),
          blob_state(e, sha(f.G4)))
    check("gc: G3 still there", blob_state(e, sha(f.G3)) == (True, 1, 1))

    before = all_blob_digests(e)
    rc, r, err = e.berth_json("gc", "--grace", "0s")
    garbage = sorted(garbage + [sha(f.G3)])
    check("gc --grace 0s: exit 0", rc == 0, err)
    check("gc --grace 0s: removes exactly the unreferenced blobs",
          sorted(b["digest"] for b in (r or {}).get("blobs", [])) == garbage, r)
    check("gc: reports the bytes reclaimed", (r or {}).get("bytes_reclaimed") ==
          len(f.G1) + len(f.L5) + len(f.cOld) + len(f.G3), r)
    check("gc: the removed are gone from disk, blobs and blob_links",
          all(blob_state(e, d) == (False, 0, 0) for d in garbage),
          [blob_state(e, d) for d in garbage])
    check("gc: everything else stays", all_blob_digests(e) == before - set(garbage) and
          all(os.path.exists(e.blob_file(d)) for d in before - set(garbage)))
    st, _ = e.reg.get_blob("ops/alpha", sha(f.G1))
    check("gc: a removed blob answers 404", st == 404, st)
    errors = []
    n = pull_all(e, errors)
    check("gc: every tagged image still pulls intact", n == 4 and not errors, (n, errors))
    rc, r, _ = e.berth_json("gc", "--grace", "0s")
    check("gc: a second run finds nothing", rc == 0 and r and r["blobs_removed"] == 0, r)
    rc, out, _ = e.berth("gc", "--grace", "0s")
    check("gc: human summary", rc == 0 and "removed 0 manifests and 0 blobs" in out, out)
    rc, _, _ = e.berth("gc", "--grace", "soon")
    check("gc: a bad duration is a usage error", rc == 2)

    # --untagged: an image pushed by digest only; the signature (a
    # referrer of a manifest present) and B2 (child of an index) stay.
    f.L6 = os.urandom(800)
    cU = b'{"n":"untagged"}'
    for blob in (cU, f.L6):
        e.reg.push_blob("ops/alpha", blob)
    f.U = image_manifest(cU, [f.L6])
    st, _, _ = e.reg.put_manifest("ops/alpha", sha(f.U), f.U)
    check("gc --untagged: setup push by digest", st == 201, st)
    rc, r, _ = e.berth_json("gc", "--grace", "0s")
    check("gc: a referenced blob of an untagged manifest stays", rc == 0 and r and
          r["blobs_removed"] == 0 and blob_state(e, sha(f.L6)) == (True, 1, 1), r)
    rc, r, err = e.berth_json("gc", "--untagged", "--grace", "0s", "--dry-run")
    got = [(m["repository"], m["digest"]) for m in (r or {}).get("manifests", [])]
    check("gc --untagged --dry-run: the untagged manifest, not referrers or index children",
          rc == 0 and got == [("ops/alpha", sha(f.U))], (got, err))
    check("gc --untagged --dry-run: counts the blobs they free",
          sorted(b["digest"] for b in r["blobs"]) == sorted([sha(cU), sha(f.L6)]) and
          e.sql("SELECT count(*) FROM manifests WHERE digest = ?", (sha(f.U),))[0][0] == 1,
          r["blobs"])
    rc, r, err = e.berth_json("gc", "--untagged", "--grace", "0s")
    got = [(m["repository"], m["digest"]) for m in (r or {}).get("manifests", [])]
    check("gc --untagged: removes the untagged manifest", rc == 0 and got ==
          [("ops/alpha", sha(f.U))], (got, err))
    check("gc --untagged: and the blobs only it referenced",
          sorted(b["digest"] for b in r["blobs"]) == sorted([sha(cU), sha(f.L6)]) and
          blob_state(e, sha(f.L6)) == (False, 0, 0), r["blobs"])
    check("gc --untagged: referrer and index child stay",
          e.reg.get_manifest("ops/alpha", sha(f.sig))[0] == 200 and
          e.reg.get_manifest("ops/beta", sha(f.B2))[0] == 200)
    st, _ = e.reg.get_manifest("ops/alpha", sha(f.U))
    check("gc --untagged: the removed manifest answers 404", st == 404, st)


def test_buildkit_cache(e):
    # BuildKit's registry cache: an index listing layer blobs and a
    # cache-config blob, no manifests.  Its blobs are referenced: gc keeps
    # them, and the index comes back byte for byte.
    layers = [os.urandom(1200), os.urandom(700)]
    cache = json.dumps({"layers": [{"blob": sha(l)} for l in layers]}).encode()
    for b in layers + [cache]:
        e.reg.push_blob("ops/cache", b)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests":
                        [descriptor(OCI_LAYER, l) for l in layers] +
                        [descriptor("application/vnd.buildkit.cacheconfig.v0", cache)]}).encode()
    st, _, _ = e.reg.put_manifest("ops/cache", "buildcache", index, OCI_INDEX)
    check("buildkit cache index: accepted", st == 201, st)
    rc, r, err = e.berth_json("gc", "--grace", "0s")
    check("buildkit cache index: gc removes none of its blobs", rc == 0 and r and
          not {b["digest"] for b in r["blobs"]} & {sha(b) for b in layers + [cache]},
          (rc, r, err))
    for b in layers + [cache]:
        st, got = e.reg.get_blob("ops/cache", sha(b))
        check("buildkit cache index: blob %s... still pulls" % sha(b)[7:19],
              st == 200 and got == b, st)
    st, body = e.reg.get_manifest("ops/cache", "buildcache")
    check("buildkit cache index: served back exactly", st == 200 and body == index, st)


def test_uploads(e, f):
    reg = e.reg
    st, h, _ = reg.request("POST", "/v2/ops/alpha/blobs/uploads/")
    loc = h.get("location", "")
    st2, _, _ = reg.request("PATCH", loc, body=b"x" * 1234,
                            headers={"Content-Type": "application/octet-stream"})
    uuid = loc.rstrip("/").split("/")[-1].split("?")[0]
    check("uploads: setup a session with 1234 bytes", st == 202 and st2 == 202, (st, st2))
    junk = os.path.join(e.data, "uploads", "00000000-0000-4000-8000-000000000000")
    with open(junk, "wb") as fh:
        fh.write(b"left by a crash")
    rc, r, err = e.berth_json("uploads")
    sess = dict((s["uuid"], s) for s in (r or {}).get("sessions", []))
    check("uploads: lists the session with its size and repository",
          rc == 0 and uuid in sess and sess[uuid]["size"] == 1234 and
          sess[uuid]["repository"] == "ops/alpha", (r, err))
    check("uploads: lists staging files without a session",
          [x["file"] for x in (r or {}).get("staging_without_session", [])] ==
          [os.path.basename(junk)], r)
    rc, out, _ = e.berth("uploads")
    check("uploads: table", rc == 0 and uuid in out and "sessions: 1" in out, out)

    rc, r, _ = e.berth_json("uploads", "--expire", "1h")
    check("uploads --expire 1h: a fresh session stays", rc == 0 and r and
          r["expired"]["sessions"] == 0 and r["expired"]["files"] == 0 and
          len(r["sessions"]) == 1, r)
    old = time.time() - 7200
    e.sql_write("UPDATE uploads SET updated_at = ? WHERE uuid = ?", (int(old), uuid))
    os.utime(os.path.join(e.data, "uploads", uuid), (old, old))
    os.utime(junk, (old, old))
    rc, r, err = e.berth_json("uploads", "--expire", "1h")
    check("uploads --expire 1h: ends the stale session and removes both files",
          rc == 0 and r and r["expired"]["sessions"] == 1 and r["expired"]["files"] == 2 and
          r["sessions"] == [] and r["staging_without_session"] == [], (r, err))
    check("uploads: staging files gone", not os.path.exists(junk) and
          not os.path.exists(os.path.join(e.data, "uploads", uuid)))
    st, _, _ = reg.request("GET", loc)
    check("uploads: the expired session answers 404", st == 404, st)


def test_stress(e):
    """Pushes, pulls and deletes from several threads while gc --grace 0s
    runs in a loop; then every tagged image must pull intact, and fsck
    must find rows and files in step."""
    reg = e.reg
    stop = threading.Event()
    lock = threading.Lock()
    stats = {"pushes": 0, "retries": 0, "pulls": 0, "garbage": 0, "gc_runs": 0,
             "gc_removed": 0, "deletes": 0, "invariant_checks": 0}
    violations = []
    # A small pool of layers that every pusher uses: they go in and out of
    # being referenced, so gc removes them while others upload them again.
    pool = [os.urandom(random.randint(1000, 30000)) for _ in range(6)]
    repos = ["stress/r%d" % i for i in range(3)]

    def bump(k, n=1):
        with lock:
            stats[k] += n

    def pusher(ix):
        rnd = random.Random(ix)
        repo = repos[ix % len(repos)]
        mine = []        # manifests this pusher tagged, oldest first
        k = 0
        while not stop.is_set():
            k += 1
            config = json.dumps({"pusher": ix, "k": k}).encode()
            layers = [rnd.choice(pool), os.urandom(rnd.randint(100, 5000))]
            body = image_manifest(config, layers)
            tag = "p%d-%d" % (ix, k % 4)
            ok = False
            attempt = 0
            while not ok and not stop.is_set():
                try:
                    for b in [config] + layers:
                        # Like docker: skip what the registry has.
                        if attempt > 0 or reg.head_blob(repo, sha(b)) != 200:
                            reg.push_blob(repo, b)
                    st, _, resp = reg.put_manifest(repo, tag, body)
                except (RuntimeError, OSError) as ex:
                    violations.append("push %s:%s: %s" % (repo, tag, ex))
                    break
                ok = st == 201
                if ok:
                    break
                if st != 400 or b"MANIFEST_BLOB_UNKNOWN" not in resp:
                    violations.append("push %s:%s: %d %s" % (repo, tag, st, resp[:200]))
                    break
                # With --grace 0s gc may take a blob between its upload and
                # the manifest: MANIFEST_BLOB_UNKNOWN, nothing written.  A
                # client uploads again.
                attempt += 1
                bump("retries")
            if not ok:
                continue
            bump("pushes")
            mine.append(sha(body))
            # Delete an older manifest of ours: its unique layer and maybe
            # pool layers become garbage.
            if len(mine) > 6:
                old = mine.pop(0)
                if reg.delete_manifest(repo, old) in (202, 404):
                    bump("deletes")

    def garbage_maker():
        """Uploads pool layers without ever referencing them."""
        while not stop.is_set():
            try:
                reg.push_blob(random.choice(repos), random.choice(pool))
                bump("garbage")
            except (RuntimeError, OSError) as ex:
                violations.append("garbage upload: %s" % ex)

    def puller():
        while not stop.is_set():
            repo = random.choice(repos)
            rows = e.sql("SELECT tag FROM tag_list WHERE repository = ?", (repo,))
            if not rows:
                time.sleep(0.05)
                continue
            tag = random.choice(rows)[0]
            st, body = reg.get_manifest(repo, tag)
            if st != 200:
                continue         # the tag moved or went meanwhile
            digest = sha(body)
            m = json.loads(body)
            for d in [m["config"]] + m["layers"]:
                st, data = reg.get_blob(repo, d["digest"])
                if st == 200 and sha(data) == d["digest"]:
                    continue
                # Only a manifest deleted meanwhile may lose its blobs.
                if reg.get_manifest(repo, digest)[0] == 200:
                    violations.append("pull %s@%s: blob %s answered %d while the "
                                      "manifest is still there" % (repo, digest, d["digest"], st))
            bump("pulls")

    def monitor():
        """The invariant, checked whenever no upload is between put and
        commit and no gc is deleting: every blobs row has its file.  The
        exclusive blob lock gives such a moment; a push or gc that did not
        keep to the lock would show here."""
        fd = os.open(os.path.join(e.data, "blobs.lock"), os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            while not stop.is_set():
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    rows = e.sql("SELECT digest FROM blobs")
                    gone = [d for (d,) in rows if not os.path.exists(e.blob_file(d))]
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                if gone:
                    violations.append("blobs rows without files: %s" % gone)
                bump("invariant_checks")
                time.sleep(0.005)
        finally:
            os.close(fd)

    def collector():
        while not stop.is_set():
            rc, out, err = e.berth("gc", "--grace", "0s", "--json")
            if rc != 0:
                violations.append("gc exited %d: %s" % (rc, err[-500:]))
                time.sleep(0.2)
                continue
            bump("gc_runs")
            bump("gc_removed", json.loads(out)["blobs_removed"])

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=garbage_maker), threading.Thread(target=puller),
                threading.Thread(target=puller), threading.Thread(target=collector),
                threading.Thread(target=monitor)]
    for t in threads:
        t.start()
    time.sleep(STRESS_SECONDS)
    stop.set()
    for t in threads:
        t.join()
    print("     stress: %s" % stats)
    check("stress: pushes, pulls and gc runs all happened",
          stats["pushes"] > 10 and stats["pulls"] > 10 and stats["gc_runs"] > 3 and
          stats["invariant_checks"] > 10, stats)
    check("stress: gc removed blobs while pushes went on", stats["gc_removed"] > 0, stats)
    check("stress: no violation during the run", not violations, violations[:10])
    rc, _, err = e.berth("gc", "--grace", "0s")
    check("stress: a last gc", rc == 0, err)
    errors = []
    n = pull_all(e, errors)
    check("stress: every tagged image pulls intact afterwards (%d images)" % n,
          n >= 5 and not errors, errors[:10])
    rc, r, err = e.berth_json("fsck")
    check("stress: fsck finds rows and files in step", rc == 0 and r and r["problems"] == [] and
          r["files"] == r["blobs"], (r and r["problems"][:5], err))
    dangling = e.sql("SELECT count(*) FROM manifest_references x JOIN manifests m "
                     "ON m.id = x.manifest_id WHERE x.kind = 'blob' AND NOT EXISTS "
                     "(SELECT 1 FROM blobs b WHERE b.digest = x.digest)")[0][0]
    check("stress: no manifest references a removed blob", dangling == 0, dangling)


def test_fsck(e, f):
    rc, r, err = e.berth_json("fsck")
    check("fsck: a sound registry: exit 0, no problems", rc == 0 and r and r["problems"] == [],
          (r, err))
    nblobs = e.sql("SELECT count(*) FROM blobs")[0][0]
    check("fsck: hashed every file", r and r["files"] == nblobs and r["blobs"] == nblobs and
          r["bytes_hashed"] == e.sql("SELECT sum(size) FROM blobs")[0][0], r)

    corrupt, missing = sha(f.L2), sha(f.L3)
    path = e.blob_file(corrupt)
    with open(path, "r+b") as fh:
        fh.seek(100)
        c = fh.read(1)
        fh.seek(100)
        fh.write(bytes([c[0] ^ 0x01]))
    os.unlink(e.blob_file(missing))
    orphan_bytes = b"bytes nobody pushed"
    orphan = sha(orphan_bytes)
    os.makedirs(os.path.dirname(e.blob_file(orphan)), exist_ok=True)
    with open(e.blob_file(orphan), "wb") as fh:
        fh.write(orphan_bytes)
    stray = os.path.join(e.data, "blobs", "sha256", "zz", "not-a-blob")
    os.makedirs(os.path.dirname(stray), exist_ok=True)
    open(stray, "w").close()
    st, data = e.reg.get_blob("ops/alpha", corrupt)
    check("fsck: before repair the flipped blob is served wrong", st == 200 and sha(data) != corrupt,
          st)

    rc, r, err = e.berth_json("fsck")
    probs = dict(((p["problem"], p.get("digest") or p.get("path")), p)
                 for p in (r or {}).get("problems", []))
    check("fsck: finds problems: exit 1", rc == 1, (rc, err))
    check("fsck: the flipped byte", ("corrupt", corrupt) in probs and
          "hashes to" in probs[("corrupt", corrupt)]["detail"], probs.keys())
    check("fsck: says which manifests use it",
          "ops/alpha@" + sha(f.A) in probs.get(("corrupt", corrupt), {}).get("referenced_by", []),
          probs.get(("corrupt", corrupt)))
    check("fsck: the deleted file", ("missing", missing) in probs, probs.keys())
    check("fsck: the file without a row", ("orphan", orphan) in probs, probs.keys())
    check("fsck: the stray file", ("stray", stray) in probs, probs.keys())
    check("fsck: exactly these four", len(probs) == 4, list(probs.keys()))
    check("fsck: without --repair nothing changes",
          os.path.exists(path) and os.path.exists(e.blob_file(orphan)) and
          blob_state(e, missing)[1] == 1)
    rc, out, _ = e.berth("fsck")
    check("fsck: human report", rc == 1 and "corrupt  " + corrupt in out and
          "4 problems, 4 unrepaired" in out, out)

    # The images the repair leaves without a layer (its rows go).
    users = set((rp + "@" + m, d) for rp, m, d in e.sql(
        "SELECT r.name, m.digest, x.digest FROM manifest_references x "
        "JOIN manifests m ON m.id = x.manifest_id JOIN repositories r ON r.id = m.repository_id "
        "WHERE x.digest IN (?, ?)", (corrupt, missing)))
    rc, r, err = e.berth_json("fsck", "--repair")
    probs = dict(((p["problem"], p.get("digest") or p.get("path")), p)
                 for p in (r or {}).get("problems", []))
    unlinked = set((p["referenced_by"][0], p["digest"]) for p in (r or {}).get("problems", [])
                   if p["problem"] == "unlinked")
    check("fsck --repair: repairs all but the stray file (exit 1)", rc == 1 and r and
          r["unrepaired"] == 1 + len(users) and not probs[("stray", stray)]["repaired"] and
          all(p["repaired"] for k, p in probs.items() if k[0] not in ("stray", "unlinked")),
          (r, err))
    check("fsck --repair: names the images left without a blob as unlinked",
          len(users) >= 2 and unlinked == users and
          all("pulls of that image fail" in p["detail"] and not p["repaired"]
              for p in r["problems"] if p["problem"] == "unlinked"), (users, unlinked))
    q = os.path.join(e.data, "quarantine", "sha256-" + corrupt.split(":")[1])
    check("fsck --repair: the corrupt blob is quarantined", os.path.exists(q) and
          not os.path.exists(path) and blob_state(e, corrupt) == (False, 0, 0),
          blob_state(e, corrupt))
    st, _ = e.reg.get_blob("ops/alpha", corrupt)
    st2 = e.reg.head_blob("ops/alpha", corrupt)
    check("fsck --repair: the corrupt blob now answers 404", (st, st2) == (404, 404), (st, st2))
    check("fsck --repair: the missing blob's rows are gone",
          blob_state(e, missing) == (False, 0, 0) and
          e.reg.head_blob("ops/beta", missing) == 404, blob_state(e, missing))
    check("fsck --repair: the orphan file is removed", not os.path.exists(e.blob_file(orphan)))
    check("fsck --repair: the stray file is left alone", os.path.exists(stray))
    os.unlink(stray)
    rc, r, err = e.berth_json("fsck")
    check("fsck: after repair only the unlinked images are left",
          rc == 1 and r and set(p["problem"] for p in r["problems"]) == {"unlinked"}, (r, err))
    rc, out, _ = e.berth("fsck")
    check("fsck: human report of an unlinked blob", rc == 1 and "unlinked " + corrupt in out and
          "repair: push the blob to the repository again" in out, out)
    # Pushing the removed layers' true bytes again heals the images.
    for ref, d in users:
        e.reg.push_blob(ref.split("@")[0], f.L2 if d == corrupt else f.L3)
    rc, r, err = e.berth_json("fsck")
    check("fsck: sound again once the blobs are pushed again", rc == 0 and r and
          r["problems"] == [], (r, err))
    e.reg.push_blob("ops/alpha", f.L2)
    st, data = e.reg.get_blob("ops/alpha", corrupt)
    check("fsck: a push of the right bytes serves them again", st == 200 and sha(data) == corrupt,
          st)


def test_progress(e):
    rc, out, tty = e.berth("fsck", tty=True)
    check("progress: a bar on a terminal", rc == 0 and "\r" in tty and "hash" in tty and
          "100%" in tty, repr(tty[-300:]))
    rc, out, err = e.berth("fsck")
    check("progress: nothing when stderr is not a terminal", rc == 0 and err == "", repr(err))


def test_cli_misc(e):
    rc, _, err = e.berth("frobnicate")
    check("cli: unknown command is a usage error", rc == 2 and "unknown command" in err, err)
    rc, out, _ = e.berth("help")  # asked for, so on stdout (| less works)
    check("cli: help lists every command", rc == 0 and all(
        c in out for c in ("repos", "tags", "show", "du", "gc", "uploads", "fsck", "audit")), out)
    empty = tempfile.mkdtemp(prefix="berth-ops-empty-")
    r = subprocess.run([BERTH, "-d", empty, "repos"], capture_output=True, text=True)
    check("cli: a directory without a registry is refused", r.returncode == 1 and
          "no registry database" in r.stderr and not os.path.exists(empty + "/berth.db"), r.stderr)
    shutil.rmtree(empty, ignore_errors=True)
    cfg = os.path.join(e.data, "ops.ini")
    with open(cfg, "w") as fh:
        fh.write("[storage]\ndata_dir = %s\n" % e.data + e.ini_metadata)
    r = subprocess.run([BERTH, "-c", cfg, "repos", "--json"], capture_output=True, text=True)
    check("cli: reads the data directory from -c FILE", r.returncode == 0 and
          "ops/alpha" in r.stdout, r.stderr)
    r = subprocess.run([BERTH, "repos", "--json"], capture_output=True, text=True,
                       env=dict(os.environ, BERTH_CONFIG=cfg))
    check("cli: and from BERTH_CONFIG", r.returncode == 0 and "ops/alpha" in r.stdout, r.stderr)
    # A handler without delete (redirect: read-only) cannot collect, and
    # has no files to re-hash.
    ro = os.path.join(e.data, "redirect.ini")
    with open(ro, "w") as fh:
        fh.write("[storage]\ndata_dir = %s\nblob_handler = redirect\n"
                 "[blob.redirect]\nurl = http://cdn.invalid/blobs\n" % e.data + e.ini_metadata)
    before = all_blob_digests(e)
    r = subprocess.run([BERTH, "-c", ro, "gc", "--grace", "0s"], capture_output=True, text=True)
    check("cli: gc refuses a blob handler that cannot delete", r.returncode == 1 and
          "cannot delete" in r.stderr and all_blob_digests(e) == before, r.stderr)
    r = subprocess.run([BERTH, "-c", ro, "gc", "--dry-run", "--json"], capture_output=True,
                       text=True)
    check("cli: but --dry-run reports", r.returncode == 0 and '"dry_run": true' in r.stdout,
          r.stderr)
    r = subprocess.run([BERTH, "-c", ro, "fsck", "--json"], capture_output=True, text=True)
    check("cli: fsck checks only the database then", r.returncode == 0 and
          "database only" in r.stderr and json.loads(r.stdout)["files"] == 0, r.stderr)


def test_empty_repository(e):
    """An emptied repository leaves _catalog and `berth repos` by itself."""
    data = os.urandom(300)
    d = e.reg.push_blob("ops/emptied", data)

    def catalog():
        st, _, body = e.reg.request("GET", "/v2/_catalog")
        return st, json.loads(body or b"{}").get("repositories")

    def repos():
        rc, r, _ = e.berth_json("repos")
        return [x["repository"] for x in (r or [])]

    st, names = catalog()
    check("empty repos: listed while it links a blob", st == 200 and "ops/emptied" in names and
          "ops/emptied" in repos(), names)
    st = e.reg.request("DELETE", "/v2/ops/emptied/blobs/%s" % d)[0]
    check("empty repos: blob delete", st == 202, st)
    st, names = catalog()
    check("empty repos: gone from _catalog", st == 200 and "ops/emptied" not in names and
          "ops/alpha" in names, names)
    check("empty repos: gone from berth repos", "ops/emptied" not in repos() and
          "ops/alpha" in repos(), repos())
    st, _, body = e.reg.request("GET", "/v2/ops/emptied/tags/list")
    check("empty repos: its tag list is still answered (empty)",
          st == 200 and json.loads(body)["tags"] == [], (st, body))
    e.reg.push_blob("ops/emptied", data)
    check("empty repos: back with its next push", "ops/emptied" in catalog()[1] and
          "ops/emptied" in repos())


def test_error_prefixes(e):
    """Every command's messages begin "berth <command>: "."""
    cases = [
        (("repos", "--bogus"), "berth repos: unrecognized option --bogus"),
        (("repos", "-d", "var"), "berth repos: -d is berth's own option: it goes before the command"),
        (("tags", "-x", "ops/alpha"), "berth tags: unrecognized option -x"),
        (("gc", "--grace"), "berth gc: option --grace needs a value"),
        (("gc", "--grace", "soon"), "berth gc: bad --grace"),
        (("uploads", "--expire", "x"), "berth uploads: bad --expire"),
        (("fsck", "--nope"), "berth fsck: unrecognized option --nope"),
        (("audit", "--limit", "0"), "berth audit: bad --limit"),
        (("audit", "--limit", "5x"), "berth audit: bad --limit"),
        (("audit", "--limit", ""), "berth audit: bad --limit"),
        (("du", "extra"), "berth du: wrong number of arguments"),
        (("tags", "ops/nosuch"), "berth tags: no repository ops/nosuch"),
        (("show", "ops/alpha:nosuch"), "berth show: no manifest"),
    ]
    for args, first in cases:
        rc, out, err = e.berth(*args)
        lines = err.splitlines()
        cmd = args[0]
        check("error prefix: berth %s" % " ".join(args),
              rc != 0 and lines and lines[0].startswith(first) and
              all(l.startswith("berth %s: " % cmd) or l.startswith("usage: berth %s " % cmd)
                  for l in lines), err)
    rc, out, err = e.berth("gc", "--help")
    check("error prefix: --help prints only the usage", rc == 2 and
          err.startswith("usage: berth gc ") and "berth gc:" not in err, err)


def test_make_deps():
    """`make run` installs what its SERVER needs plus sqlite3; `make test` all."""
    # Under `make test` the outer make's flags would reach ours: none.
    env = dict((k, v) for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"))

    def pkgs(*args):
        r = subprocess.run(["make", "-s", "-n", "-C", TOP] + list(args), capture_output=True,
                           text=True, env=env)
        words = set()
        for line in r.stdout.splitlines():
            if "need-packages.sh" in line:
                words |= set(line.split()[2:])
        return r.returncode, words

    web = {"nginx", "lighttpd", "apache2", "libapache2-mod-xsendfile"}
    want = {"nginx": {"nginx"}, "lighttpd": {"lighttpd"},
            "apache": {"apache2", "libapache2-mod-xsendfile"},
            "apache-cgi": {"apache2", "libapache2-mod-xsendfile"}}
    for server, need in sorted(want.items()):
        rc, got = pkgs("deps", "SERVER=" + server)
        check("make deps SERVER=%s: its server, sqlite3 and curl only" % server,
              rc == 0 and got & web == need and {"sqlite3", "curl"} <= got, sorted(got))
    rc, got = pkgs("deps-test")
    check("make deps-test: every server", rc == 0 and web <= got and "sqlite3" in got,
          sorted(got))
    r = subprocess.run(["make", "-s", "-C", TOP, "deps", "SERVER=caddy"], capture_output=True,
                       text=True, env=env)
    check("make deps: an unknown SERVER is refused", r.returncode != 0 and
          "SERVER=caddy" in r.stderr, r.stderr)


def test_stop_says(e):
    """`make stop` (serve.sh stop) says what it stopped."""
    r = subprocess.run([os.path.join(TOP, "nginx", "serve.sh"), "stop"], env=e.env, cwd=TOP,
                       capture_output=True, text=True, timeout=120)
    check("stop: names what it stopped", r.returncode == 0 and
          "serve.sh: stopped nginx (pid " in r.stdout and
          "berth's worker pool (pid " in r.stdout and e.data in r.stdout, (r.stdout, r.stderr))
    r = subprocess.run([os.path.join(TOP, "nginx", "serve.sh"), "stop"], env=e.env, cwd=TOP,
                       capture_output=True, text=True, timeout=120)
    check("stop: and when nothing ran, says that", r.returncode == 0 and
          "nothing was running" in r.stderr and r.stdout == "", (r.stdout, r.stderr))


def sanitizer_check(e):
    if os.environ.get("SANITIZER_LOG_CHECK") != "1":
        return
    bad = ("ERROR: AddressSanitizer", "runtime error:")
    try:
        log = open(os.path.join(e.data, "run", "berth.log"), errors="replace").read()
    except OSError:
        log = ""
    hits = [l for l in log.splitlines() if any(b in l for b in bad)]
    check("sanitizers: nothing in berth.log", not hits, hits[:5])
    hits = [l for s in cli_stderr for l in s.splitlines() if any(b in l for b in bad)]
    check("sanitizers: nothing from the commands", not hits, hits[:5])


def test_gc_orphans(e):
    """Stored bytes with no blobs row (an upload whose commit failed on a
    full disk): gc reclaims them once older than the grace window."""
    def orphan(data, age):
        d = sha(data)
        path = e.blob_file(d)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        t = time.time() - age
        os.utime(path, (t, t))
        return d
    old_data, fresh_data = os.urandom(3000), os.urandom(700)
    old, fresh = orphan(old_data, 7200), orphan(fresh_data, 0)
    before = all_blob_digests(e)
    rc, r, err = e.berth_json("gc", "--dry-run")
    check("gc --dry-run: reports the old orphan only", rc == 0 and r and
          [o["digest"] for o in r["orphans"]] == [old] and r["orphans_removed"] == 1 and
          r["orphan_bytes"] == len(old_data), (r, err))
    check("gc --dry-run: leaves the orphans", os.path.exists(e.blob_file(old)) and
          os.path.exists(e.blob_file(fresh)))
    rc, out, _ = e.berth("gc", "--dry-run")
    check("gc --dry-run: the summary names them",
          "would remove 1 orphan blob files (stored, with no metadata row)" in out, out)
    rc, r, err = e.berth_json("gc")
    check("gc: removes the orphan older than the grace window", rc == 0 and r and
          [o["digest"] for o in r["orphans"]] == [old] and
          not os.path.exists(e.blob_file(old)), (r, err))
    check("gc: keeps the orphan within the grace window, and every stored blob",
          os.path.exists(e.blob_file(fresh)) and
          all_blob_digests(e) == before and
          all(os.path.exists(e.blob_file(d)) for d in before), r)
    rc, r, err = e.berth_json("gc", "--grace", "0s")
    check("gc --grace 0s: removes the fresh orphan too", rc == 0 and r and
          [o["digest"] for o in r["orphans"]] == [fresh] and
          not os.path.exists(e.blob_file(fresh)) and r["blobs_removed"] == 0, (r, err))
    errors = []
    pull_all(e, errors)
    check("gc orphans: every tagged image still pulls intact", not errors, errors)


def main():
    if not os.access(BERTH, os.X_OK):
        print("ops: %s is not built" % BERTH)
        print("0 passed, 1 failed")
        return 1
    e = Env()
    e.start()
    try:
        f = fill(e)
        for name, fn in (("schema", lambda: test_schema(e)),
                         ("inspect", lambda: test_inspect(e, f)),
                         ("audit", lambda: test_audit(e, f)),
                         ("gc", lambda: test_gc(e, f)),
                         ("gc orphans", lambda: test_gc_orphans(e)),
                         ("uploads", lambda: test_uploads(e, f)),
                         ("stress", lambda: test_stress(e)),
                         ("fsck", lambda: test_fsck(e, f)),
                         ("buildkit", lambda: test_buildkit_cache(e)),
                         ("progress", lambda: test_progress(e)),
                         ("cli", lambda: test_cli_misc(e)),
                         ("empty", lambda: test_empty_repository(e)),
                         ("prefixes", lambda: test_error_prefixes(e)),
                         ("make deps", test_make_deps),
                         ("stop", lambda: test_stop_says(e))):
            try:
                fn()
            except Exception as ex:          # a crash is one failure, not the end
                import traceback
                traceback.print_exc()
                check("%s: ran to the end" % name, False, repr(ex))
    finally:
        e.stop()
        sanitizer_check(e)
        if berthtest.failed == 0:
            shutil.rmtree(e.data, ignore_errors=True)
        else:
            print("     data directory kept: %s" % e.data)
    return berthtest.summary()


if __name__ == "__main__":
    sys.exit(main())
