#!/usr/bin/env python3
"""fastpath.py -- reads without a worker (issue 13): nginx answering a
manifest by digest and a blob GET or HEAD from the files berth keeps in
<data_dir>/pub, and answering exactly what the worker answers.

"What the worker answers" comes from a twin: a second nginx on another
free port with a copy of the configuration nginx/serve.sh generated,
minus the four `if ($berth_pub = ...) { return 41x; }` lines (and with its
own pid, logs and temporary paths), in front of the same worker pool.
Every comparison sends the same request line and headers (Host
included) to both and wants the same status, the same headers as a
multiset of (lower-cased name, value) with Date left out, and the same
body bytes.  Behind nginx only, with the fs blob handler and SQLite
(fast_reads on by default):
  - the generated configuration: the map and the four `if` lines,
    `berth -t` saying fast_reads=yes, nginx/berth.conf (the production
    example) with the same maps and named locations; the files under
    pub/ (a manifest's exact bytes in a regular file named by its media
    type, a blob a symlink to the stored file, nothing for sha512);
  - manifests by digest, GET and HEAD, of all four media types (OCI image
    manifest and index, Docker v2 manifest and manifest list), blobs GET
    and HEAD (an empty one too), a repository that does not link the
    digest, a name the grammar allows with every separator;
  - the worker not needed: every process of the pool stopped (SIGSTOP),
    manifests by digest and blobs still answer 200 with their bytes
    while a GET by tag gets no answer within 2 s; SIGCONT in a finally;
  - hostile and edge requests, each compared and (where the request
    reaches berth at all) seen in berth's access log, i.e. answered by a
    worker: a query string, %-encoded name or digest, // and /./ and ..
    in the path, an upper-case name or hex, sha512, 63 hex digits, a
    trailing slash; Range on a blob GET (206, multi-range, an
    unsatisfiable one gets the worker's JSON 416), Range on a manifest
    GET and on a blob HEAD (ignored), If-None-Match, If-Modified-Since,
    If-Unmodified-Since, If-Match, If-Range (the worker ignores them on
    manifests and blob HEADs); POST, PUT and DELETE on a fast-path URL
    reaching the worker; HTTP/1.0, the absolute form;
  - the files following the database: a manifest deleted by digest (404
    at once, GET and HEAD) and pushed again, a tag deleted (by digest
    still 200), a blob deleted in one repository while another links it,
    a cross-repository mount, gc removing an untagged manifest and its
    blobs (404 after) and the same blob pushed again into another
    repository not showing again in the first;
  - races: a push and a delete of one manifest at once, a mount and a
    delete of one blob, gc removing a blob while it is mounted elsewhere
    again and again: after each the fast path answers as the worker;
  - berth fsck: a stale pub file, a stale blob link and a file of no
    known shape planted by hand are problems (non-zero exit), --repair
    removes them (and keeps the files of repositories named like pub's
    own directories); a removed manifest file and blob link are counted
    (pub_missing) and remade by --repair; a blob without its bytes
    repaired away takes its names with it;
  - no fast path where it must not be: [server] fast_reads = false
    generates none (`berth -t`: fast_reads=no) and removes pub/ at start
    (turned on again, fsck --repair makes the files), nor [auth] enabled,
    where an anonymous GET by digest is the worker's 401 even with the
    pub files in place, and a valid token gets the worker's 200; and the
    PostgreSQL default (`berth -t`);
  - another configuration's leftovers: workers with fast_reads = false
    remove, on a delete, the file a command with it on made; [auth]
    enabled turned on with `serve.sh restart` alone reloads nginx without
    the fast reads and removes the files (anonymous: the worker's 401),
    also when the restart's environment lacks the configuration (the
    pool's own is used); [blob.fs] offload = stream leaves the blob lines
    out, removes the names an x-accel run made, and fsck removes one
    planted by hand.
Prints one line per check and, last, "N passed, N failed"; exits non-zero
on any failure.  Environment: BERTH (the binary), SANITIZER_LOG_CHECK=1
to fail on sanitizer reports in the pool's log, FASTPATH_RACE_ROUNDS
(30) for the push-and-delete race, KEEP=1 to keep the fast-path
server's directory after a failure.  python3's standard library; nginx.
"""

import base64
import collections
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import berthtest  # noqa: E402
from berthtest import check, children, free_port, wait_for  # noqa: E402
import lib  # noqa: E402  (tests/e2e/lib.py: the registry client, images)
from lib import (MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_INDEX,  # noqa: E402
                 MT_OCI_MANIFEST, descriptor, dumps, oci_index, push_image,
                 sha256, sha512)

BERTH = os.path.abspath(os.environ.get("BERTH", os.path.join(TOP, "build", "berth")))
SERVE = os.path.join(TOP, "nginx", "serve.sh")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
EXT = {MT_OCI_MANIFEST: "oim", MT_OCI_INDEX: "oii",
       MT_DOCKER_MANIFEST: "dm2", MT_DOCKER_LIST: "dml"}
FAST_IF = re.compile(r"^\s*if \(\$berth_pub = [A-Za-z]+\) \{ return 4(18|19|20); \}\s*$")
ACCESS = re.compile(r"^berth: access \S+ \S+ \d{3} ")
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # [(name, value)] as received
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def multiset(self):
        return collections.Counter((k.lower(), v) for k, v in self.headers
                                   if k.lower() != "date")

    def show(self):
        body = self.body[:160]
        return "%d %s %r%s" % (self.status, sorted(self.multiset().elements()),
                               body, "..." if len(self.body) > 160 else "")


def fetch(port, method, target, headers=(), body=None, timeout=30, host=None):
    """One request on a fresh connection, the request line exactly
    METHOD TARGET; Host is HOST (default 127.0.0.1:PORT)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", host or "127.0.0.1:%d" % port)
        for k, v in headers:
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        return Resp(r.status, r.getheaders(), r.read())
    finally:
        c.close()


def raw(port, target):
    """GET TARGET HTTP/1.0, no headers, on a raw socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sk:
        sk.sendall(b"GET %s HTTP/1.0\r\n\r\n" % target.encode())
        r = http.client.HTTPResponse(sk, method="GET")
        r.begin()
        return Resp(r.status, r.getheaders(), r.read())


class Server:
    """berth behind nginx (nginx/serve.sh start) in a fresh data directory,
    and its twin: the same configuration without the fast path."""

    def __init__(self, name, extra="", workers=2):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="berth-fastpath-%s-" % name)
        os.chmod(self.tmp, 0o755)
        self.data = os.path.join(self.tmp, "data")
        self.run = os.path.join(self.data, "run")
        self.pub = os.path.join(self.data, "pub")
        self.conf = os.path.join(self.tmp, "berth.ini")
        self.twin_dir = os.path.join(self.tmp, "twin")
        self.port = free_port()
        self.twin_port = None
        with open(self.conf, "w") as f:
            f.write("[storage]\ndata_dir = %s\n[server]\nworkers = %d\n%s"
                    % (self.data, workers, extra))
        self.env = dict(os.environ, PORT=str(self.port), DATA_DIR=self.data,
                        BERTH=BERTH, BERTH_CONFIG=self.conf, SERVER="nginx")
        self.reg = lib.Registry("http://127.0.0.1:%d" % self.port, timeout=60)
        self.up = False

    def berth(self, *args, stdin=None):
        return subprocess.run([BERTH, "-c", self.conf] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))

    def serve(self, cmd):
        r = subprocess.run([SERVE, cmd], env=self.env, cwd=TOP, timeout=120,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return r.returncode, r.stdout

    def start(self):
        rc, out = self.serve("start")
        self.up = rc == 0
        return check("%s: serve.sh start" % self.name, self.up, out)

    def generated(self, which):
        with open(os.path.join(self.run, "berth-%s.conf" % which)) as f:
            return f.read()

    def start_twin(self):
        """The twin nginx; the number of fast-path lines left out of it."""
        os.makedirs(self.twin_dir, exist_ok=True)
        self.twin_port = free_port()
        run, twin = self.run + "/", self.twin_dir + "/"
        local, n = [], collections.Counter()
        for line in self.generated("local").splitlines():
            m = re.match(r"^(\s*(pid|error_log|access_log|include|"
                         r"(client_body|fastcgi|proxy|uwsgi|scgi)_temp_path)\s+)"
                         + re.escape(run) + r"(.*)$", line)
            if m:
                line = m.group(1) + twin + m.group(4)
                n[m.group(2)] += 1
            m = re.match(r"^(\s*listen\s+\S+:)%d;$" % self.port, line)
            if m:
                line = m.group(1) + "%d;" % self.twin_port
                n["listen"] += 1
            local.append(line)
        if (n["pid"], n["listen"], n["include"]) != (1, 1, 1):
            raise RuntimeError("berth-local.conf: pid/listen/include not found "
                               "once each: %r" % n)
        removed, locations = 0, []
        for line in self.generated("locations").splitlines():
            if FAST_IF.match(line):
                removed += 1
            else:
                locations.append(line)
        with open(twin + "berth-local.conf", "w") as f:
            f.write("\n".join(local) + "\n")
        with open(twin + "berth-locations.conf", "w") as f:
            f.write("\n".join(locations) + "\n")
        r = subprocess.run([NGINX, "-p", twin, "-c", twin + "berth-local.conf",
                            "-e", twin + "nginx-error.log"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("twin nginx: %s" % r.stderr)
        if not wait_for(lambda: self._answers(self.twin_port), 20, 0.1):
            raise RuntimeError("twin nginx does not answer on %d" % self.twin_port)
        return removed

    @staticmethod
    def _answers(port):
        try:
            return fetch(port, "GET", "/v2/", timeout=5).status in (200, 401)
        except OSError:
            return False

    def stop(self):
        pidfile = os.path.join(self.twin_dir, "nginx.pid")
        if os.path.exists(pidfile):
            with open(pidfile) as f:
                pid = int(f.read().strip())
            try:
                os.kill(pid, signal.SIGQUIT)
            except ProcessLookupError:
                pass
            wait_for(lambda: not os.path.exists("/proc/%d" % pid), 15, 0.1)
        if self.up:
            self.serve("stop")
            self.up = False

    def pool(self):
        with open(os.path.join(self.run, "berth.pid")) as f:
            master = int(f.read().strip())
        return [master] + sorted(children(master))

    def log(self):
        with open(os.path.join(self.run, "berth.log"), errors="replace") as f:
            return f.read()

    def accesses(self):
        return sum(1 for l in self.log().splitlines() if ACCESS.match(l))

    # -- pub files ----------------------------------------------------------

    def manifest_file(self, repo, digest, media_type):
        alg, hexd = digest.split(":")
        return os.path.join(self.pub, repo, "manifests", alg,
                            "%s.%s" % (hexd, EXT[media_type]))

    def blob_link(self, repo, digest):
        alg, hexd = digest.split(":")
        return os.path.join(self.pub, repo, "blobs", alg, hexd)

    def blob_file(self, digest):
        alg, hexd = digest.split(":")
        return os.path.join(self.data, "blobs", alg, hexd[:2], hexd)


S = None        # the fast-path server under test


def same(name, method, target, headers=(), status=None, body=None, srv=None,
         worker=False, host=None):
    """The fast path's answer and the twin's, compared; with STATUS and
    BODY, the fast path's checked against them too; with WORKER, the
    request to the fast port is seen in berth's access log (a worker
    answered it).  The fast path's Resp."""
    srv = srv or S
    host = host or "127.0.0.1:%d" % srv.port
    before = srv.accesses() if worker else 0
    f = fetch(srv.port, method, target, headers, host=host)
    if worker:
        check("%s: answered by a worker" % name,
              wait_for(lambda: srv.accesses() > before, 10, 0.05),
              "no access line in berth.log for %s %s (got %s)" % (method, target, f.show()))
    w = fetch(srv.twin_port, method, target, headers, host=host)
    unify(f, w)
    fm, wm = f.multiset(), w.multiset()
    diffs = []
    if f.status != w.status:
        diffs.append("status fast %d, worker %d" % (f.status, w.status))
    if fm != wm:
        diffs.append("headers only fast %s; only worker %s"
                     % (sorted((fm - wm).elements()), sorted((wm - fm).elements())))
    if f.body != w.body:
        diffs.append("body fast %d bytes %r, worker %d bytes %r"
                     % (len(f.body), f.body[:120], len(w.body), w.body[:120]))
    check("%s: fast path == worker" % name, not diffs,
          "%s %s: %s" % (method, target, "; ".join(diffs)))
    if status is not None:
        ok = f.status == status and (body is None or f.body == body)
        check("%s: %d%s" % (name, status, "" if body is None else
                            " with the right %d bytes" % len(body)),
              ok, f.show())
    return f


def unify(f, w):
    """A multipart/byteranges boundary is a counter of each nginx: the
    twin's is put in place of the fast path's before comparing."""
    fb = re.search(r"boundary=(\d+)", f.header("Content-Type") or "")
    wb = re.search(r"boundary=(\d+)", w.header("Content-Type") or "")
    if fb and wb:
        a, b = fb.group(1), wb.group(1)
        f.headers = [(k, v.replace(a, b) if k.lower() == "content-type" else v)
                     for k, v in f.headers]
        f.body = f.body.replace(a.encode(), b.encode())


def is_regular(path, data):
    try:
        st = os.lstat(path)
        with open(path, "rb") as f:
            return (os.path.isfile(path) and not os.path.islink(path)
                    and f.read() == data and st.st_size == len(data))
    except OSError:
        return False


def links_to(srv, repo, digest):
    p = srv.blob_link(repo, digest)
    try:
        return os.path.islink(p) and os.readlink(p) == srv.blob_file(digest)
    except OSError:
        return False


def gone(path):
    return not os.path.lexists(path)


def m_path(repo, ref):
    return "/v2/%s/manifests/%s" % (repo, ref)


def b_path(repo, digest):
    return "/v2/%s/blobs/%s" % (repo, digest)


def push_list(reg, repo, tag, children_, media_type, child_type):
    """An index (OCI) or manifest list (Docker) of children_ (Images)."""
    if media_type == MT_OCI_INDEX:
        body = oci_index([c.descriptor(platform={"architecture": a, "os": "linux"})
                          for c, a in zip(children_, ("amd64", "arm64"))])
    else:
        body = {"schemaVersion": 2, "mediaType": MT_DOCKER_LIST,
                "manifests": [descriptor(child_type, c.manifest,
                                         platform={"architecture": a, "os": "linux"})
                              for c, a in zip(children_, ("amd64", "arm64"))]}
    data = dumps(body)
    reg.push_manifest(repo, tag, data, media_type)
    return data


# --- the configuration -----------------------------------------------------

def t_config(removed):
    out = S.berth("-t")
    check("berth -t: fast_reads=yes (sqlite, no [auth])",
          "fast_reads=yes" in out.stdout.splitlines(), out.stdout + out.stderr)
    local, loc = S.generated("local"), S.generated("locations")
    check("berth-local.conf: map ... $berth_pub (one expression for every kind)",
          re.search(r"^\s*map\s.*\$berth_pub\s*\{", local, re.M) is not None)
    for code, kinds, var in (("418", ("GETmanifests", "HEADmanifests"), "manifest"),
                             ("419", ("GETblobs",), "blob_get"),
                             ("420", ("HEADblobs",), "blob_head")):
        for kind in kinds:
            check("berth-locations.conf: if ($berth_pub = %s) { return %s; } -> @berth_pub_%s"
                  % (kind, code, var),
                  "if ($berth_pub = %s) { return %s; }" % (kind, code) in loc
                  and re.search(r"error_page %s = @berth_pub_%s;" % (code, var), loc)
                  and re.search(r"location @berth_pub_%s \{" % var, loc), code)
    check("berth-locations.conf: the worker's named location @berth",
          re.search(r"location @berth \{", loc) is not None)
    check("the twin has the four return lines left out", removed == 4, removed)


def blocks(text):
    """{header: [directive lines]} of every `map ... {` and `location @x {`
    block in an nginx configuration: comments dropped, lines stripped,
    continuation lines joined, `root` left out (the data directory)."""
    out, cur, depth, stmt = {}, None, 0, ""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if not line.strip().startswith('"~') else line.strip()
        if not line:
            continue
        if cur is None:
            if re.match(r"^(map\s.*|location @\w+)\s*\{$", line):
                cur, depth, out[line] = line, 1, []
            continue
        depth += line.count("{") - line.count("}")
        if depth <= 0:
            cur = None
            continue
        stmt = (stmt + " " + line).strip()
        if stmt.endswith(";") or stmt.endswith("{") or stmt.endswith("}"):
            if not stmt.startswith("root "):
                out[cur].append(stmt)
            stmt = ""
    return out


def t_shipped():
    """nginx/berth.conf, the production example, has the same fast path as
    the configuration the tests run."""
    with open(os.path.join(TOP, "nginx", "berth.conf")) as f:
        text = f.read()
    shipped = blocks(text)
    for code, kind, var in (("418", "GETmanifests", "manifest"),
                            ("418", "HEADmanifests", "manifest"),
                            ("419", "GETblobs", "blob_get"), ("420", "HEADblobs", "blob_head")):
        check("nginx/berth.conf: if ($berth_pub = %s) { return %s; } and its error_page"
              % (kind, code),
              "if ($berth_pub = %s) { return %s; }" % (kind, code) in text
              and "error_page %s = @berth_pub_%s;" % (code, var) in text)
    ours = blocks(S.generated("local") + "\n" + S.generated("locations"))
    for name in [k for k in ours if "berth_pub" in k]:
        check("nginx/berth.conf: %s the same as the generated one" % name,
              len(ours[name]) >= 2 and shipped.get(name) == ours[name],
              "shipped %r; generated %r" % (shipped.get(name), ours[name]))


# --- manifests and blobs, compared -----------------------------------------

def t_manifests(st):
    repo = "fx/a"
    img = push_image(S.reg, repo, tag="v1")
    img2 = push_image(S.reg, repo, tag="v2")
    dimg = push_image(S.reg, repo, tag="d1", docker=True)
    dimg2 = push_image(S.reg, repo, tag="d2", docker=True)
    idx = push_list(S.reg, repo, "i1", [img, img2], MT_OCI_INDEX, MT_OCI_MANIFEST)
    dml = push_list(S.reg, repo, "l1", [dimg, dimg2], MT_DOCKER_LIST, MT_DOCKER_MANIFEST)
    st.update(repo=repo, img=img, dimg=dimg, idx=idx, dml=dml)
    mans = [(img.manifest, MT_OCI_MANIFEST, "OCI image manifest"),
            (idx, MT_OCI_INDEX, "OCI index"),
            (dimg.manifest, MT_DOCKER_MANIFEST, "Docker v2 manifest"),
            (dml, MT_DOCKER_LIST, "Docker manifest list")]
    st["mans"] = mans
    for data, mt, what in mans:
        d = sha256(data)
        check("pub: %s is a regular file with its exact bytes (.%s)" % (what, EXT[mt]),
              wait_for(lambda: is_regular(S.manifest_file(repo, d, mt), data), 5),
              S.manifest_file(repo, d, mt))
        mode = os.stat(S.manifest_file(repo, d, mt)).st_mode & 0o7777 if not gone(
            S.manifest_file(repo, d, mt)) else None
        check("pub: the %s file is 0644 (any web server user reads it)" % what,
              mode == 0o644, oct(mode) if mode is not None else "no file")
        r = same("GET %s by digest" % what, "GET", m_path(repo, d), status=200, body=data)
        check("GET %s by digest: Content-Type %s, Docker-Content-Digest" % (what, mt),
              r.header("Content-Type") == mt and r.header("Docker-Content-Digest") == d,
              r.show())
        same("HEAD %s by digest" % what, "HEAD", m_path(repo, d), status=200, body=b"")
        same("GET %s by digest, Accept another type" % what, "GET", m_path(repo, d),
             headers=[("Accept", "application/vnd.oci.image.layer.v1.tar")], status=200)
    for d, data in sorted(img.blobs.items()) + sorted(dimg.blobs.items()):
        check("pub: blob %s... is a symlink to the stored file" % d[:15],
              wait_for(lambda: links_to(S, repo, d), 5), S.blob_link(repo, d))
        same("GET blob %s..." % d[:15], "GET", b_path(repo, d), status=200, body=data)
        same("HEAD blob %s..." % d[:15], "HEAD", b_path(repo, d), status=200, body=b"")
    big = os.urandom(1536 * 1024 + 7)
    bd = S.reg.push_blob(repo, big)
    same("GET a 1.5 MiB blob", "GET", b_path(repo, bd), status=200, body=big)
    same("GET a 1.5 MiB blob, Range in the middle", "GET", b_path(repo, bd),
         [("Range", "bytes=1000000-1000099")], status=206, body=big[1000000:1000100])
    empty = S.reg.push_blob(repo, b"")
    st["empty"] = empty
    same("GET the empty blob", "GET", b_path(repo, empty), status=200, body=b"")
    same("HEAD the empty blob", "HEAD", b_path(repo, empty), status=200, body=b"")

    # The media type as berth stores it, however it was pushed: with a
    # parameter on Content-Type, with none (the body's mediaType), with
    # neither (inferred from the shape).
    cfg = img.blobs[img.config_digest]
    for what, ctype, extra in (
            ("Content-Type with a parameter",
             MT_OCI_MANIFEST + "; charset=utf-8", {"mediaType": MT_OCI_MANIFEST}),
            ("no Content-Type, the body's mediaType", None, {"mediaType": MT_OCI_MANIFEST}),
            ("no Content-Type, no mediaType", None, {})):
        body = {"schemaVersion": 2,
                "config": descriptor(lib.MT_OCI_CONFIG, cfg),
                "layers": [], "annotations": {"how": what}}
        body.update(extra)
        data = dumps(body)
        hdrs = [("Content-Type", ctype)] if ctype else []
        r = S.reg.put(m_path(repo, sha256(data)), body=data, headers=hdrs)
        if not check("push with %s: 201" % what, r.status == 201, r.describe()):
            continue
        for method in ("GET", "HEAD"):
            same("%s manifest pushed with %s" % (method, what), method,
                 m_path(repo, sha256(data)), status=200,
                 body=data if method == "GET" else b"")

    # A name with every separator the grammar has.
    odd = "fx/a.b_c__d--e/f-0"
    oimg = push_image(S.reg, odd, tag="v1")
    st.update(odd=odd, oimg=oimg)
    check("pub: a manifest file for %s" % odd,
          wait_for(lambda: is_regular(S.manifest_file(odd, oimg.digest, MT_OCI_MANIFEST),
                                      oimg.manifest), 5))
    same("GET manifest in %s" % odd, "GET", m_path(odd, oimg.digest), status=200,
         body=oimg.manifest)
    layer = oimg.layer_digests[0]
    same("GET blob in %s" % odd, "GET", b_path(odd, layer), status=200,
         body=oimg.blobs[layer])

    # Repositories that do not link the digest.
    other = "fx/b"
    bimg = push_image(S.reg, other, tag="v1")
    st.update(other=other, bimg=bimg)
    for where in (other, "fx/none", "fx", "fx/a/a"):
        same("GET manifest of fx/a in %s (not linked)" % where, "GET",
             m_path(where, img.digest), status=404)
        same("HEAD manifest of fx/a in %s (not linked)" % where, "HEAD",
             m_path(where, img.digest), status=404)
        same("GET blob of fx/a in %s (not linked)" % where, "GET",
             b_path(where, img.layer_digests[0]), status=404)
        same("HEAD blob of fx/a in %s (not linked)" % where, "HEAD",
             b_path(where, img.layer_digests[0]), status=404)
    check("pub: nothing of fx/a's under fx/b",
          gone(S.manifest_file(other, img.digest, MT_OCI_MANIFEST))
          and gone(S.blob_link(other, img.layer_digests[0])))
    same("GET an unknown digest", "GET", m_path(repo, sha256(b"no such manifest")),
         status=404)
    same("GET an unknown blob", "GET", b_path(repo, sha256(b"no such blob")), status=404)


def t_no_worker(st):
    """Every process of the pool stopped: the fast path still answers."""
    repo, img = st["repo"], st["img"]
    layer = img.layer_digests[0]
    asks = [(m, m_path(repo, sha256(data)), data if m == "GET" else b"", mt,
             "%s %s by digest" % (m, what))
            for data, mt, what in st["mans"] for m in ("GET", "HEAD")]
    asks += [(m, b_path(repo, layer), img.blobs[layer] if m == "GET" else b"",
              "application/octet-stream", "%s blob" % m) for m in ("GET", "HEAD")]
    asks.append(("GET", m_path(st["odd"], st["oimg"].digest), st["oimg"].manifest,
                 MT_OCI_MANIFEST, "GET by digest in %s" % st["odd"]))
    pids = S.pool()
    check("the pool: a master and its workers", len(pids) >= 2, pids)

    def one(a):
        try:
            return fetch(S.port, a[0], a[1], timeout=20)
        except OSError as e:
            return e

    stopped = []
    try:
        for p in pids:
            os.kill(p, signal.SIGSTOP)
            stopped.append(p)
        # All at once, so that a missing fast path costs one timeout.
        with concurrent.futures.ThreadPoolExecutor(len(asks) + 1) as ex:
            tag = ex.submit(lambda: fetch(S.port, "GET", m_path(repo, "v1"), timeout=2))
            got = list(ex.map(one, asks))
            try:
                r = tag.result()
                ok, detail = False, "answered " + r.show()
            except (socket.timeout, TimeoutError):
                ok, detail = True, ""
            except OSError as e:
                ok, detail = False, "failed instead: %s" % e
        for (method, target, body, mt, what), r in zip(asks, got):
            if isinstance(r, Exception):
                check("pool stopped: %s answers 200" % what, False, "no answer: %s" % r)
                continue
            check("pool stopped: %s answers 200" % what,
                  r.status == 200 and r.body == body and r.header("Content-Type") == mt,
                  r.show())
        check("pool stopped: a GET by tag gets no answer within 2 s (it needs a worker)",
              ok, detail)
    finally:
        for p in stopped:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
    r = fetch(S.port, "GET", m_path(repo, "v1"), timeout=30)
    check("pool continued: the GET by tag answers again", r.status == 200, r.show())


# --- hostile and edge requests -----------------------------------------------

def t_hostile(st):
    repo, img = st["repo"], st["img"]
    d, hexd = img.digest, img.digest.split(":")[1]
    layer = img.layer_digests[0]
    lhex = layer.split(":")[1]
    cases = [
        ("query string", "/v2/fx/a/manifests/%s?x=1" % d),
        ("empty query string", "/v2/fx/a/manifests/%s?" % d),
        ("%-encoded slash in the name", "/v2/fx%%2Fa/manifests/%s" % d),
        ("%-encoded letter in the name", "/v2/f%%78/a/manifests/%s" % d),
        ("%-encoded colon in the digest", "/v2/fx/a/manifests/sha256%%3A%s" % hexd),
        ("// before the name", "/v2//fx/a/manifests/%s" % d),
        ("// in the name", "/v2/fx//a/manifests/%s" % d),
        ("// before manifests", "/v2/fx/a//manifests/%s" % d),
        ("/./ in the name", "/v2/fx/./a/manifests/%s" % d),
        ("/../ in the path", "/v2/fx/b/../a/manifests/%s" % d),
        ("/../ after manifests", "/v2/fx/a/manifests/../manifests/%s" % d),
        ("upper-case name", "/v2/FX/A/manifests/%s" % d),
        ("upper-case hex", "/v2/fx/a/manifests/sha256:%s" % hexd.upper()),
        ("upper-case algorithm", "/v2/fx/a/manifests/SHA256:%s" % hexd),
        ("sha512 of the manifest", "/v2/fx/a/manifests/%s" % sha512(img.manifest)),
        ("63 hex digits", "/v2/fx/a/manifests/sha256:%s" % hexd[:63]),
        ("65 hex digits", "/v2/fx/a/manifests/sha256:%s0" % hexd),
        ("trailing slash", "/v2/fx/a/manifests/%s/" % d),
        ("an extension after the digest", "/v2/fx/a/manifests/%s.oim" % d),
        ("a 300-character name", "/v2/fx/%s/manifests/%s" % ("a" * 296, d)),
        ("a name with a .. component", "/v2/fx/../fx/a/manifests/%s" % d),
        ("a name ending in .oim", "/v2/fx/a.oim/manifests/%s" % d),
        ("blob: query string", "/v2/fx/a/blobs/%s?x=1" % layer),
        ("blob: %-encoded slash", "/v2/fx%%2Fa/blobs/%s" % layer),
        ("blob: // in the name", "/v2/fx//a/blobs/%s" % layer),
        ("blob: /./ in the name", "/v2/fx/./a/blobs/%s" % layer),
        ("blob: /../ in the path", "/v2/fx/b/../a/blobs/%s" % layer),
        ("blob: upper-case name", "/v2/Fx/a/blobs/%s" % layer),
        ("blob: upper-case hex", "/v2/fx/a/blobs/sha256:%s" % lhex.upper()),
        ("blob: 63 hex digits", "/v2/fx/a/blobs/sha256:%s" % lhex[:63]),
        ("blob: trailing slash", "/v2/fx/a/blobs/%s/" % layer),
        ("blob: the manifest's digest", "/v2/fx/a/blobs/%s" % d),
        ("manifests: a blob's digest", "/v2/fx/a/manifests/%s" % layer),
    ]
    for what, target in cases:
        for method in ("GET", "HEAD"):
            same("%s %s" % (method, what), method, target, worker=True)
    # The absolute form: nginx's $request_uri is the path alone (either
    # may answer, the same).  A fragment, a name component starting with
    # a separator: compared.
    for method in ("GET", "HEAD"):
        same("%s in the absolute form" % method, method,
             "http://127.0.0.1:%d/v2/fx/a/manifests/%s" % (S.port, d), status=200)
        same("%s with a fragment" % method, method, "/v2/fx/a/manifests/%s#x" % d)
        same("%s a name component starting with _" % method, method,
             "/v2/fx/_a/manifests/%s" % d)
    # HTTP/1.0 without Host, on a raw socket.
    for target in (m_path(repo, d), b_path(repo, layer)):
        f, w = raw(S.port, target), raw(S.twin_port, target)
        check("HTTP/1.0 GET %s: fast path == worker" % target[:40],
              (f.status, f.multiset(), f.body) == (w.status, w.multiset(), w.body)
              and f.status == 200, "fast %s; worker %s" % (f.show(), w.show()))

    # A sha512 blob: the worker serves it; no file is ever made for it.
    data = os.urandom(3000)
    d512 = S.reg.push_blob(repo, data, algorithm="sha512")
    same("GET a sha512 blob", "GET", b_path(repo, d512), status=200, body=data, worker=True)
    same("HEAD a sha512 blob", "HEAD", b_path(repo, d512), status=200, body=b"", worker=True)
    check("pub: no sha512 directory for blobs",
          gone(os.path.join(S.pub, repo, "blobs", "sha512")), S.blob_link(repo, d512))
    # a sha512 manifest digest: pushed by sha512 if the worker takes it
    m512 = lib.dumps(lib.oci_manifest(lib.descriptor(lib.MT_OCI_CONFIG,
                                                     img.blobs[img.config_digest]),
                                      [], annotations={"k": "512"}))
    r = S.reg.put(m_path(repo, sha512(m512)), body=m512,
                  headers=[("Content-Type", MT_OCI_MANIFEST)])
    if r.status == 201:
        same("GET a manifest pushed by sha512", "GET", m_path(repo, sha512(m512)),
             status=200, body=m512, worker=True)
        check("pub: no sha512 directory for manifests",
              gone(os.path.join(S.pub, repo, "manifests", "sha512")))

    # Range, conditionals.
    blob = img.blobs[layer]
    n = len(blob)
    r = same("blob GET Range bytes=0-9", "GET", b_path(repo, layer),
             [("Range", "bytes=0-9")], status=206, body=blob[:10])
    check("blob GET Range bytes=0-9: Content-Range bytes 0-9/%d" % n,
          r.header("Content-Range") == "bytes 0-9/%d" % n, r.show())
    same("blob GET Range bytes=5-", "GET", b_path(repo, layer), [("Range", "bytes=5-")],
         status=206, body=blob[5:])
    same("blob GET Range bytes=-7", "GET", b_path(repo, layer), [("Range", "bytes=-7")],
         status=206, body=blob[-7:])
    same("blob GET Range bytes=0-1,4-5", "GET", b_path(repo, layer),
         [("Range", "bytes=0-1,4-5")])
    same("blob GET Range bytes=0-%d (past the end)" % (n + 100), "GET", b_path(repo, layer),
         [("Range", "bytes=0-%d" % (n + 100))], status=206, body=blob)
    r = same("blob GET Range bytes=%d- (unsatisfiable)" % n, "GET", b_path(repo, layer),
             [("Range", "bytes=%d-" % n)], status=416)
    check("unsatisfiable Range: the worker's JSON (RANGE_INVALID, Content-Range bytes */%d)" % n,
          r.header("Content-Type") == "application/json"
          and b"RANGE_INVALID" in r.body
          and r.header("Content-Range") == "bytes */%d" % n, r.show())
    same("blob GET Range bytes=%d-%d (unsatisfiable)" % (n + 5, n + 9), "GET",
         b_path(repo, layer), [("Range", "bytes=%d-%d" % (n + 5, n + 9))], status=416)
    same("blob GET Range: garbage", "GET", b_path(repo, layer), [("Range", "bytes=x-y")])
    same("blob GET Range: empty", "GET", b_path(repo, layer), [("Range", "")])
    same("blob GET Range: bytes=0- (all of it)", "GET", b_path(repo, layer),
         [("Range", "bytes=0-")])
    same("blob GET Range: another unit", "GET", b_path(repo, layer), [("Range", "items=0-1")])
    same("empty blob GET Range bytes=0-0", "GET", b_path(repo, st["empty"]),
         [("Range", "bytes=0-0")])
    same("blob HEAD Range bytes=0-9 (ignored)", "HEAD", b_path(repo, layer),
         [("Range", "bytes=0-9")], status=200, body=b"")
    same("blob HEAD unsatisfiable Range (ignored)", "HEAD", b_path(repo, layer),
         [("Range", "bytes=%d-" % n)], status=200)
    same("manifest GET Range bytes=0-9 (ignored)", "GET", m_path(repo, d),
         [("Range", "bytes=0-9")], status=200, body=img.manifest)
    same("manifest GET unsatisfiable Range (ignored)", "GET", m_path(repo, d),
         [("Range", "bytes=99999-")], status=200, body=img.manifest)
    same("manifest HEAD Range (ignored)", "HEAD", m_path(repo, d), [("Range", "bytes=0-9")],
         status=200)
    etag_m, etag_b = '"%s"' % d, '"%s"' % layer
    for what, target, etag in (("manifest", m_path(repo, d), etag_m),
                               ("blob", b_path(repo, layer), etag_b)):
        for method in ("GET", "HEAD"):
            same("%s %s If-None-Match its ETag" % (what, method), method, target,
                 [("If-None-Match", etag)])
            same("%s %s If-None-Match *" % (what, method), method, target,
                 [("If-None-Match", "*")])
            same("%s %s If-None-Match another" % (what, method), method, target,
                 [("If-None-Match", '"sha256:%s"' % ("0" * 64))], status=200)
            same("%s %s If-Modified-Since the future" % (what, method), method, target,
                 [("If-Modified-Since", FUTURE)])
            same("%s %s If-Unmodified-Since the past" % (what, method), method, target,
                 [("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:01 GMT")])
            same("%s %s If-Match another" % (what, method), method, target,
                 [("If-Match", '"nope"')])
        same("%s GET If-Range its ETag + Range" % what, "GET", target,
             [("If-Range", etag), ("Range", "bytes=0-3")])
        same("%s GET If-Range another + Range" % what, "GET", target,
             [("If-Range", '"nope"'), ("Range", "bytes=0-3")])
    same("manifest GET with a body-less Content-Length: 0", "GET", m_path(repo, d),
         [("Content-Length", "0")], status=200)
    same("manifest GET with Authorization (auth off)", "GET", m_path(repo, d),
         [("Authorization", "Bearer nonsense")], status=200)

    # Other methods on fast-path URLs reach the worker.
    for method in ("POST", "PATCH", "OPTIONS"):
        same("%s on a manifest by digest" % method, method, m_path(repo, d), body=None,
             worker=True)
        same("%s on a blob by digest" % method, method, b_path(repo, layer), worker=True)
    before = S.accesses()
    r = fetch(S.port, "PUT", m_path(repo, d), [("Content-Type", MT_OCI_MANIFEST)],
              body=img.manifest)
    check("PUT of a manifest by digest (the fast URL): 201 from a worker",
          r.status == 201 and r.header("Docker-Content-Digest") == d
          and wait_for(lambda: S.accesses() > before, 10), r.show())
    same("GET after the PUT again", "GET", m_path(repo, d), status=200, body=img.manifest)


# --- the files follow the database -------------------------------------------

def t_lifecycle(st):
    reg = S.reg
    # A manifest deleted by digest: 404 at once, both ways; pushed again.
    repo = "fx/del"
    img = push_image(reg, repo, tag="t")
    mf = S.manifest_file(repo, img.digest, MT_OCI_MANIFEST)
    check("pub: fx/del's manifest file", wait_for(lambda: is_regular(mf, img.manifest), 5))
    same("fx/del: GET by digest before the delete", "GET", m_path(repo, img.digest),
         status=200, body=img.manifest)
    before = S.accesses()
    r = fetch(S.port, "DELETE", m_path(repo, img.digest))
    check("DELETE of a manifest by digest (the fast URL): 202 from a worker",
          r.status == 202 and wait_for(lambda: S.accesses() > before, 10), r.show())
    check("pub: the deleted manifest's file is gone", gone(mf), mf)
    for method in ("GET", "HEAD"):
        r = same("deleted manifest: %s by digest" % method, method, m_path(repo, img.digest),
                 status=404)
    r = same("deleted manifest: GET by digest, MANIFEST_UNKNOWN", "GET",
             m_path(repo, img.digest), status=404)
    check("deleted manifest: the body says MANIFEST_UNKNOWN", b"MANIFEST_UNKNOWN" in r.body,
          r.show())
    same("deleted manifest: its blobs still linked", "GET",
         b_path(repo, img.layer_digests[0]), status=200, body=img.blobs[img.layer_digests[0]])
    reg.push_manifest(repo, img.digest, img.manifest, MT_OCI_MANIFEST)
    check("pub: pushed again, the file is back", wait_for(lambda: is_regular(mf, img.manifest), 5))
    for method in ("GET", "HEAD"):
        same("manifest deleted and pushed again: %s by digest" % method, method,
             m_path(repo, img.digest), status=200,
             body=img.manifest if method == "GET" else b"")

    # A tag deleted: the manifest by digest stays.
    repo = "fx/tag"
    img = push_image(reg, repo, tag="t")
    mf = S.manifest_file(repo, img.digest, MT_OCI_MANIFEST)
    wait_for(lambda: is_regular(mf, img.manifest), 5)
    r = reg.delete(m_path(repo, "t"))
    check("DELETE of a tag: 202", r.status == 202, r.describe())
    check("pub: a tag delete keeps the manifest's file", is_regular(mf, img.manifest), mf)
    for method in ("GET", "HEAD"):
        same("tag deleted: %s by digest" % method, method, m_path(repo, img.digest),
             status=200, body=img.manifest if method == "GET" else b"")
    same("tag deleted: GET by tag", "GET", m_path(repo, "t"), status=404)

    # A blob deleted in one repository while another links it; a mount.
    data = os.urandom(5000)
    dg = reg.push_blob("fx/s1", data)
    reg.push_blob("fx/s2", data)
    r = reg.mount("fx/s3", dg, "fx/s2")
    check("mount into fx/s3: 201", r.status == 201, r.describe())
    for rp in ("fx/s1", "fx/s2", "fx/s3"):
        check("pub: %s links the blob" % rp, wait_for(lambda: links_to(S, rp, dg), 5),
              S.blob_link(rp, dg))
    same("mounted blob: GET in fx/s3", "GET", b_path("fx/s3", dg), status=200, body=data)
    before = S.accesses()
    r = fetch(S.port, "DELETE", b_path("fx/s1", dg))
    check("DELETE of a blob (the fast URL): 202 from a worker",
          r.status == 202 and wait_for(lambda: S.accesses() > before, 10), r.show())
    check("pub: fx/s1's link is gone, fx/s2's stays",
          gone(S.blob_link("fx/s1", dg)) and links_to(S, "fx/s2", dg))
    for method in ("GET", "HEAD"):
        same("blob deleted in fx/s1: %s there" % method, method, b_path("fx/s1", dg),
             status=404)
        same("blob deleted in fx/s1: %s in fx/s2" % method, method, b_path("fx/s2", dg),
             status=200, body=data if method == "GET" else b"")
    reg.push_blob("fx/s1", data)
    check("pub: the blob pushed again into fx/s1 is linked again",
          wait_for(lambda: links_to(S, "fx/s1", dg), 5))
    same("blob pushed again into fx/s1: GET", "GET", b_path("fx/s1", dg), status=200,
         body=data)

    # Every way of uploading makes the link: POST ?digest= (monolithic),
    # POST + PATCH + PUT (chunked).
    mono = os.urandom(4000)
    r = reg.post("/v2/fx/up/blobs/uploads/?digest=%s" % sha256(mono), body=mono,
                 headers=[("Content-Type", "application/octet-stream")])
    check("monolithic POST ?digest=: 201", r.status == 201, r.describe())
    chunks = [os.urandom(3000), os.urandom(2000)]
    whole = b"".join(chunks)
    r = reg.start_upload("fx/up")
    loc, at = r.location, 0
    for c in chunks:
        r = reg.patch_chunk(loc, c, at)
        loc, at = r.location, at + len(c)
    r = reg.finish_upload(loc, sha256(whole))
    check("chunked POST + PATCH + PATCH + PUT: 201", r.status == 201, r.describe())
    for what, blob in (("monolithic POST", mono), ("chunked upload", whole)):
        check("pub: a %s makes the link" % what,
              wait_for(lambda: links_to(S, "fx/up", sha256(blob)), 5))
        same("%s: GET the blob" % what, "GET", b_path("fx/up", sha256(blob)), status=200,
             body=blob)

    # The same manifest in two repositories: a delete in one keeps the other's.
    img = push_image(reg, "fx/twin1", tag="t")
    for d, blob in img.blobs.items():
        reg.push_blob("fx/twin2", blob)
    reg.push_manifest("fx/twin2", "t", img.manifest, MT_OCI_MANIFEST)
    mf2 = S.manifest_file("fx/twin2", img.digest, MT_OCI_MANIFEST)
    check("pub: the same manifest in a second repository",
          wait_for(lambda: is_regular(mf2, img.manifest), 5))
    r = reg.delete(m_path("fx/twin1", img.digest))
    check("DELETE in fx/twin1: 202", r.status == 202, r.describe())
    check("pub: fx/twin2's file stays", is_regular(mf2, img.manifest))
    same("deleted in fx/twin1: GET there", "GET", m_path("fx/twin1", img.digest),
         status=404)
    same("deleted in fx/twin1: GET in fx/twin2", "GET", m_path("fx/twin2", img.digest),
         status=200, body=img.manifest)


def t_race(st):
    """A push and a delete of the same manifest at once, and a mount and a
    delete of the same blob, round after round: whichever wins, never a
    file the database does not back (the fast path's answer is the
    worker's after each round)."""
    reg = S.reg
    img = push_image(reg, "fx/race", tag=None)
    layer = img.layer_digests[0]
    rounds = int(os.environ.get("FASTPATH_RACE_ROUNDS", "30"))
    bad, outcome = [], collections.Counter()

    def both(a, b):
        go = threading.Barrier(2)

        def run_(fn):
            go.wait()
            return fn()
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fa, fb = ex.submit(run_, a), ex.submit(run_, b)
            return fa.result().status, fb.result().status

    for i in range(rounds):
        sts = both(lambda: fetch(S.port, "PUT", m_path("fx/race", img.digest),
                                 [("Content-Type", MT_OCI_MANIFEST)], body=img.manifest),
                   lambda: fetch(S.port, "DELETE", m_path("fx/race", img.digest)))
        f = fetch(S.port, "GET", m_path("fx/race", img.digest))
        w = fetch(S.twin_port, "GET", m_path("fx/race", img.digest))
        outcome["manifest %d" % w.status] += 1
        if f.status != w.status or f.body != w.body:
            bad.append("manifest round %d (PUT %d, DELETE %d): fast %d, worker %d"
                       % (i, sts[0], sts[1], f.status, w.status))
        sts = both(lambda: fetch(S.port, "POST", "/v2/fx/race2/blobs/uploads/?mount=%s&from=fx/race"
                                 % layer, body=b""),
                   lambda: fetch(S.port, "DELETE", b_path("fx/race2", layer)))
        f = fetch(S.port, "GET", b_path("fx/race2", layer))
        w = fetch(S.twin_port, "GET", b_path("fx/race2", layer))
        outcome["blob %d" % w.status] += 1
        if f.status != w.status or f.body != w.body:
            bad.append("blob round %d (mount %d, DELETE %d): fast %d, worker %d"
                       % (i, sts[0], sts[1], f.status, w.status))
    check("race: %d rounds of PUT and DELETE, mount and DELETE at once: the fast path "
          "answers as the worker after each (%s)"
          % (rounds, ", ".join("%s: %d" % kv for kv in sorted(outcome.items()))),
          not bad, bad[:5])


def t_gc_race(st):
    """gc removing an untagged manifest's blob while its bytes are mounted
    into another repository again and again: whichever way each mount
    went, the fast path answers as the worker after."""
    bad, outcome = [], collections.Counter()
    for i in range(3):
        src, dst = "fx/gcr%d" % i, "fx/gcr%d-b" % i
        img = push_image(S.reg, src, tag=None, layers=1)
        layer = img.layer_digests[0]
        stop = threading.Event()

        def mounts():
            n = collections.Counter()
            while not stop.is_set():
                n[fetch(S.port, "POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s"
                        % (dst, layer, src), body=b"").status] += 1
            return n
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(mounts)
            out = S.berth("gc", "--untagged", "--grace", "0s")
            stop.set()
            for k, v in fut.result().items():
                outcome["mount %d" % k] += v
        if out.returncode != 0:
            bad.append("gc round %d: %s" % (i, out.stderr[-300:]))
        for rp in (src, dst):
            for method in ("GET", "HEAD"):
                f = fetch(S.port, method, b_path(rp, layer))
                w = fetch(S.twin_port, method, b_path(rp, layer))
                outcome["%s %d" % ("source" if rp == src else "mounted", w.status)] += 1
                if f.status != w.status or f.body != w.body:
                    bad.append("round %d, %s %s: fast %d, worker %d"
                               % (i, method, rp, f.status, w.status))
    check("gc racing mounts of the blob it removes: the fast path answers as the worker "
          "(%s)" % ", ".join("%s: %d" % kv for kv in sorted(outcome.items())),
          not bad, bad[:5])


def t_gc(st):
    repo, other = "fx/gc", "fx/gc2"
    img = push_image(S.reg, repo, tag=None)     # untagged
    mf = S.manifest_file(repo, img.digest, MT_OCI_MANIFEST)
    check("pub: the untagged manifest's file and its blob links",
          wait_for(lambda: is_regular(mf, img.manifest)
                   and all(links_to(S, repo, b) for b in img.blobs), 5))
    same("before gc: GET the untagged manifest", "GET", m_path(repo, img.digest), status=200,
         body=img.manifest)
    out = S.berth("gc", "--untagged", "--grace", "0s")
    check("berth gc --untagged --grace 0s", out.returncode == 0, out.stdout + out.stderr)
    check("pub: gc removed the manifest's file and the blob links",
          gone(mf) and all(gone(S.blob_link(repo, b)) for b in img.blobs),
          [p for p in [mf] + [S.blob_link(repo, b) for b in img.blobs] if not gone(p)])
    for method in ("GET", "HEAD"):
        same("after gc: %s the manifest" % method, method, m_path(repo, img.digest),
             status=404)
        for b in sorted(img.blobs):
            same("after gc: %s blob %s..." % (method, b[:15]), method, b_path(repo, b),
                 status=404)
    layer = img.layer_digests[0]
    S.reg.push_blob(other, img.blobs[layer])
    same("after gc: the blob pushed again into %s" % other, "GET", b_path(other, layer),
         status=200, body=img.blobs[layer])
    for method in ("GET", "HEAD"):
        same("after gc, pushed into %s: %s in %s still 404" % (other, method, repo), method,
             b_path(repo, layer), status=404)
    check("pub: no link in %s again" % repo, gone(S.blob_link(repo, layer)))


def t_lost(st):
    """A linked blob whose bytes are gone (a dangling link): the worker's
    answer, not nginx's 404."""
    data = os.urandom(2000)
    dg = S.reg.push_blob("fx/lost", data)
    wait_for(lambda: links_to(S, "fx/lost", dg), 5)
    os.remove(S.blob_file(dg))
    for method in ("GET", "HEAD"):
        same("a linked blob without its bytes: %s" % method, method, b_path("fx/lost", dg),
             worker=True)
    # fsck --repair removes its rows, and its names with them.
    out, rep = fsck("--repair")
    check("fsck --repair: the blob without bytes is a problem, repaired",
          any(p.get("digest") == dg and p.get("repaired") for p in rep.get("problems", [])),
          out.stdout[-1500:] + out.stderr)
    check("pub: fsck --repair removed fx/lost's name for it", gone(S.blob_link("fx/lost", dg)))
    for method in ("GET", "HEAD"):
        same("after fsck --repair removed the rows: %s" % method, method,
             b_path("fx/lost", dg), status=404)
    S.reg.push_blob("fx/lost2", data)
    same("the same bytes pushed into fx/lost2: GET in fx/lost still 404", "GET",
         b_path("fx/lost", dg), status=404)


def fsck(*args):
    out = S.berth("fsck", "--json", *args)
    try:
        rep = json.loads(out.stdout)
    except ValueError:
        rep = {}
    return out, rep


def mentions(rep, path):
    """The problems of fsck's report naming pub file PATH: by its path
    (absolute or under the data directory), or by its repository and
    digest."""
    rel = os.path.relpath(path, S.data)
    m = re.match(r"^pub/(.+)/(manifests|blobs)/(sha256)/([0-9a-f]{64})", rel)
    out = []
    for p in rep.get("problems", []):
        text = " ".join(v for v in p.values() if isinstance(v, str))
        if path in text or rel in text or (
                m and (" %s " % m.group(1) in " %s " % text.replace('"', " ")
                       or "%s@" % m.group(1) in text) and m.group(4) in text):
            out.append(p)
    return out


def t_fsck(st):
    repo, img, other = st["repo"], st["img"], st["other"]
    # Repositories whose names are fx/a's own pub directories: their files
    # live inside fx/a's, and are neither fx/a's nor stale.
    nested = {}
    for rp in ("fx/a/manifests/sha256", "fx/a/blobs/sha256"):
        nested[rp] = push_image(S.reg, rp, tag="v1")
        n = nested[rp]
        same("GET manifest by digest in %s" % rp, "GET", m_path(rp, n.digest), status=200,
             body=n.manifest)
        same("GET blob in %s" % rp, "GET", b_path(rp, n.layer_digests[0]), status=200,
             body=n.blobs[n.layer_digests[0]])
    st["nested"] = nested
    out, rep = fsck()
    check("fsck: clean before anything is planted (no problem, pub_missing 0)",
          out.returncode == 0 and not rep.get("problems") and rep.get("pub_missing") == 0,
          out.stdout[-1500:] + out.stderr)
    # A stale manifest file and a stale blob link (a digest fx/b does not link).
    bogus = b'{"schemaVersion":2,"planted":true}'
    stale = S.manifest_file(repo, sha256(bogus), MT_OCI_MANIFEST)
    os.makedirs(os.path.dirname(stale), exist_ok=True)
    with open(stale, "wb") as f:
        f.write(bogus)
    layer = img.layer_digests[0]
    stale_link = S.blob_link(other, layer)
    os.makedirs(os.path.dirname(stale_link), exist_ok=True)
    os.symlink(S.blob_file(layer), stale_link)
    # A file of no such shape (what a crash mid-write could leave).
    odd_file = os.path.join(os.path.dirname(stale), "%s.oim.tmp" % ("7" * 64))
    with open(odd_file, "wb") as f:
        f.write(bogus)
    out, rep = fsck()
    check("fsck: a pub file of no known shape is a problem", mentions(rep, odd_file),
          out.stdout[-1500:])
    check("fsck: a planted pub file is a problem (non-zero exit)",
          out.returncode != 0 and mentions(rep, stale), out.stdout[-1500:] + out.stderr)
    check("fsck: a planted blob link is a problem", mentions(rep, stale_link),
          out.stdout[-1500:])
    out, rep = fsck("--repair")
    check("fsck --repair removes the planted file, link and odd file",
          gone(stale) and gone(stale_link) and gone(odd_file),
          out.stdout[-1500:] + out.stderr)
    for rp, n in nested.items():
        check("fsck --repair keeps the files of %s" % rp,
              is_regular(S.manifest_file(rp, n.digest, MT_OCI_MANIFEST), n.manifest)
              and links_to(S, rp, n.layer_digests[0]))
    same("after fsck --repair: GET the planted digest", "GET",
         m_path(repo, sha256(bogus)), status=404)
    same("after fsck --repair: GET the blob in fx/b", "GET", b_path(other, layer), status=404)
    # A removed manifest file and blob link are remade.
    mf = S.manifest_file(repo, img.digest, MT_OCI_MANIFEST)
    bl = S.blob_link(repo, layer)
    for p in (mf, bl):
        if os.path.lexists(p):
            os.remove(p)
    # Not problems (their reads go to a worker): counted, made by --repair.
    out, rep = fsck()
    check("fsck: a missing pub file and link are counted (pub_missing 2, pub_made 0)",
          out.returncode == 0 and not rep.get("problems")
          and (rep.get("pub_missing"), rep.get("pub_made")) == (2, 0) and gone(mf),
          out.stdout[-1500:] + out.stderr)
    same("a missing pub file: GET the manifest (the worker)", "GET",
         m_path(repo, img.digest), status=200, body=img.manifest, worker=True)
    out, rep = fsck("--repair")
    check("fsck --repair remakes the manifest file and the blob link (pub_made 2)",
          is_regular(mf, img.manifest) and links_to(S, repo, layer)
          and (rep.get("pub_missing"), rep.get("pub_made")) == (2, 2),
          out.stdout[-1500:] + out.stderr)
    out, rep = fsck()
    check("fsck: clean after the repairs", out.returncode == 0 and not rep.get("problems")
          and rep.get("pub_missing") == 0, out.stdout[-1500:] + out.stderr)
    same("after fsck --repair: GET the manifest", "GET", m_path(repo, img.digest),
         status=200, body=img.manifest)


# --- where there is no fast path ----------------------------------------------

def t_off():
    """A registry started with fast reads, then without (its pub files
    removed at the start, no fast path generated), then with them again
    (the reads through a worker until fsck --repair makes the files)."""
    srv = Server("off")
    img = None
    try:
        if not srv.start():
            return
        img = push_image(srv.reg, "fx/off", tag="v1")
        mf = srv.manifest_file("fx/off", img.digest, MT_OCI_MANIFEST)
        check("fast_reads on: the manifest's file", wait_for(lambda: is_regular(mf, img.manifest), 5))
        srv.stop()
        with open(srv.conf, "a") as f:
            f.write("fast_reads = false\n")
        out = srv.berth("-t")
        check("fast_reads = false: berth -t says fast_reads=no",
              "fast_reads=no" in out.stdout.splitlines(), out.stdout + out.stderr)
        if not srv.start():
            return
        loc = srv.generated("locations")
        check("fast_reads = false: no return 418/419/420, no @berth_pub_ error_page",
              re.search(r"return 4(18|19|20);|error_page 4\d\d = @berth_pub_", loc) is None,
              [l for l in loc.splitlines() if "berth_pub" in l][:6])
        check("fast_reads = false: the start removed the pub files", gone(srv.pub),
              os.listdir(srv.pub) if os.path.isdir(srv.pub) else "")
        img2 = push_image(srv.reg, "fx/off", tag="v2")
        r = fetch(srv.port, "GET", m_path("fx/off", img2.digest))
        check("fast_reads = false: GET by digest 200 (the worker)",
              r.status == 200 and r.body == img2.manifest, r.show())
        check("fast_reads = false: no pub files are made", gone(srv.pub),
              os.listdir(srv.pub) if os.path.isdir(srv.pub) else "")
        srv.stop()
        with open(srv.conf) as f:
            text = f.read()
        with open(srv.conf, "w") as f:
            f.write(text.replace("fast_reads = false\n", ""))
        if not srv.start():
            return
        srv.start_twin()
        same("fast reads again, no files yet: GET by digest", "GET",
             m_path("fx/off", img2.digest), status=200, body=img2.manifest, srv=srv,
             worker=True)
        out = srv.berth("fsck", "--json", "--repair")
        rep = json.loads(out.stdout) if out.stdout.startswith("{") else {}
        check("fast reads again: fsck --repair makes the files of both images",
              rep.get("pub_made", 0) >= 2 and is_regular(mf, img.manifest)
              and is_regular(srv.manifest_file("fx/off", img2.digest, MT_OCI_MANIFEST),
                             img2.manifest), out.stdout[-800:] + out.stderr)
        same("fast reads again, after fsck --repair: GET by digest", "GET",
             m_path("fx/off", img2.digest), status=200, body=img2.manifest, srv=srv)
    finally:
        srv.stop()
        sanitizer_check(srv, "fast_reads on/off server")
        shutil.rmtree(srv.tmp, ignore_errors=True)
    dsn = os.environ.get("BERTH_TEST_PG_DSN", "host=/nonexistent dbname=berth")
    pg = Server("pg", "[metadata]\nbackend = postgresql\n[metadata.postgresql]\ndsn = %s\n" % dsn)
    try:
        out = pg.berth("-t")
        check("[metadata] backend = postgresql: berth -t says fast_reads=no",
              "fast_reads=no" in out.stdout.splitlines(), out.stdout + out.stderr)
    finally:
        shutil.rmtree(pg.tmp, ignore_errors=True)


def t_auth():
    srv = Server("auth", "[auth]\nenabled = true\n")
    pw = base64.b64encode(os.urandom(12)).decode()
    basic = "Basic " + base64.b64encode(("alice:" + pw).encode()).decode()
    try:
        steps = [srv.berth("user", "add", "alice", stdin=pw + "\n"),
                 srv.berth("grant", "alice", "fx/**", "pull,push,delete"),
                 srv.berth("grant", "alice", "open/**", "pull,push"),
                 srv.berth("grant", "anonymous", "open/**", "pull")]
        bad = [s.stderr for s in steps if s.returncode != 0]
        check("auth: user add, grants", not bad, bad)
        out = srv.berth("-t")
        check("[auth] enabled: berth -t says fast_reads=no",
              "fast_reads=no" in out.stdout.splitlines(), out.stdout + out.stderr)
        with open(srv.conf) as f:
            text = f.read()
        with open(srv.conf + ".on", "w") as f:
            f.write(text.replace("[server]\n", "[server]\nfast_reads = true\n"))
        out = subprocess.run([BERTH, "-c", srv.conf + ".on", "-t"], capture_output=True,
                             text=True, timeout=60)
        check("[auth] enabled and fast_reads = true: berth -t says fast_reads=no",
              "fast_reads=no" in out.stdout.splitlines(), out.stdout + out.stderr)
        if not srv.start():
            return
        check("[auth] enabled: no return 418 in the configuration",
              "return 418" not in srv.generated("locations"))
        removed = srv.start_twin()
        check("[auth] enabled: nothing to leave out of the twin", removed == 0, removed)

        class Authed(lib.Registry):
            def request(self, method, path, body=None, headers=None, chunked=False):
                h = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
                return super().request(method, path, body,
                                       h + [("Authorization", basic)], chunked)

        reg = Authed("http://127.0.0.1:%d" % srv.port)
        imgs = {"fx/p": push_image(reg, "fx/p", tag="v1"),
                "open/p": push_image(reg, "open/p", tag="v1")}
        host = "127.0.0.1:%d" % srv.port
        for repo, img in imgs.items():
            # The pub files in place (as berth made them, else by hand).
            mf = srv.manifest_file(repo, img.digest, MT_OCI_MANIFEST)
            if not os.path.exists(mf):
                os.makedirs(os.path.dirname(mf), exist_ok=True)
                with open(mf, "wb") as f:
                    f.write(img.manifest)
            layer = img.layer_digests[0]
            bl = srv.blob_link(repo, layer)
            if not os.path.lexists(bl):
                os.makedirs(os.path.dirname(bl), exist_ok=True)
                os.symlink(srv.blob_file(layer), bl)
            for method in ("GET", "HEAD"):
                r = same("auth, %s: anonymous %s manifest by digest" % (repo, method), method,
                         m_path(repo, img.digest), status=401, srv=srv, worker=True, host=host)
                check("auth, %s: anonymous %s: a Bearer challenge" % (repo, method),
                      (r.header("WWW-Authenticate") or "").startswith("Bearer realm="),
                      r.show())
                same("auth, %s: anonymous %s blob" % (repo, method), method,
                     b_path(repo, layer), status=401, srv=srv, worker=True, host=host)
                same("auth, %s: a bad token, %s manifest" % (repo, method), method,
                     m_path(repo, img.digest), [("Authorization", "Bearer x.y.z")],
                     status=401, srv=srv, host=host)
            q = "/v2/token?service=berth&scope=repository:%s:pull" % repo
            r = fetch(srv.port, "GET", q, [("Authorization", basic)] if repo == "fx/p" else [])
            tok = json.loads(r.body).get("token") if r.status == 200 else None
            check("auth, %s: a pull token" % repo, tok is not None, r.show())
            if tok is None:
                continue
            bearer = [("Authorization", "Bearer " + tok)]
            for method in ("GET", "HEAD"):
                same("auth, %s: with a token, %s manifest by digest" % (repo, method), method,
                     m_path(repo, img.digest), bearer, status=200,
                     body=img.manifest if method == "GET" else b"", srv=srv, worker=True,
                     host=host)
                same("auth, %s: with a token, %s blob" % (repo, method), method,
                     b_path(repo, layer), bearer, status=200,
                     body=img.blobs[layer] if method == "GET" else b"", srv=srv,
                     worker=True, host=host)
            if repo == "open/p":
                same("auth, open/p's token on fx/p", "GET", m_path("fx/p", imgs["fx/p"].digest),
                     bearer, srv=srv, host=host)
    finally:
        srv.stop()
        sanitizer_check(srv, "auth server")
        shutil.rmtree(srv.tmp, ignore_errors=True)


def t_restart():
    """What another configuration leaves behind: a delete by workers
    with fast_reads = false removes the file a command run with it on
    made; and [auth] enabled turned on with `serve.sh restart` (no stop)
    takes the fast reads away at once -- nginx reloaded without them, the
    files removed -- so an anonymous read of the manifest is the worker's
    401."""
    srv = Server("restart", "fast_reads = false\n")
    try:
        if not srv.start():
            return
        img = push_image(srv.reg, "fx/r", tag="v1")
        on = srv.conf + ".on"
        with open(srv.conf) as f:
            text = f.read()
        with open(on, "w") as f:
            f.write(text.replace("fast_reads = false\n", ""))
        out = subprocess.run([BERTH, "-c", on, "fsck", "--repair"], capture_output=True,
                             text=True, timeout=120,
                             env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        mf = srv.manifest_file("fx/r", img.digest, MT_OCI_MANIFEST)
        check("restart: fsck --repair with fast reads on made the file, beside workers without",
              is_regular(mf, img.manifest), out.stdout[-400:] + out.stderr[-400:])
        r = fetch(srv.port, "DELETE", m_path("fx/r", img.digest))
        check("restart: DELETE by digest 202", r.status == 202, r.show())
        check("restart: the workers without fast reads removed the file with the row",
              gone(mf))
        srv.stop()
        with open(srv.conf, "w") as f:
            f.write(text.replace("fast_reads = false\n", ""))
        if not srv.start():
            return
        img = push_image(srv.reg, "fx/r", tag="v2")
        mf = srv.manifest_file("fx/r", img.digest, MT_OCI_MANIFEST)
        check("restart: fast reads on, the file", is_regular(mf, img.manifest))
        check("restart: fast reads on, in the locations",
              "return 418" in srv.generated("locations"))
        pw = base64.b64encode(os.urandom(12)).decode()
        with open(srv.conf, "a") as f:
            f.write("[auth]\nenabled = true\n")
        steps = [srv.berth("user", "add", "alice", stdin=pw + "\n"),
                 srv.berth("grant", "alice", "**", "pull,push,delete")]
        bad = [s.stderr for s in steps if s.returncode != 0]
        check("restart: user add, grant", not bad, bad)
        rc, out = srv.serve("restart")
        check("restart: serve.sh restart with [auth] enabled", rc == 0, out)
        check("restart: the locations have no fast reads after it",
              "return 418" not in srv.generated("locations"))
        check("restart: the files are gone", gone(srv.pub),
              os.listdir(srv.pub) if os.path.isdir(srv.pub) else "")
        # nginx reloads gracefully: its old workers may answer a moment.
        ok = wait_for(lambda: fetch(srv.port, "GET", m_path("fx/r", img.digest)).status == 401,
                      10)
        r = fetch(srv.port, "GET", m_path("fx/r", img.digest))
        check("restart: an anonymous GET by digest is the worker's 401",
              ok and r.status == 401 and (r.header("WWW-Authenticate") or "")
              .startswith("Bearer realm="), r.show())
        # A restart from an environment without the configuration (a
        # plain `make restart`): the pool keeps its own, and so do the
        # locations.
        env = {k: v for k, v in srv.env.items() if k != "BERTH_CONFIG"}
        r2 = subprocess.run([SERVE, "restart"], env=env, cwd=TOP, timeout=120,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check("restart: serve.sh restart without BERTH_CONFIG", r2.returncode == 0, r2.stdout)
        check("restart without BERTH_CONFIG: still no fast reads in the locations",
              "return 418" not in srv.generated("locations"))
        time.sleep(0.5)
        r = fetch(srv.port, "GET", m_path("fx/r", img.digest))
        check("restart without BERTH_CONFIG: anonymous GET by digest still 401",
              r.status == 401, r.show())
    finally:
        srv.stop()
        sanitizer_check(srv, "restart server")
        shutil.rmtree(srv.tmp, ignore_errors=True)


def t_offload():
    """[blob.fs] offload = stream: the worker sends blob bytes itself, so
    no blob may be answered from a name -- `berth -t` says
    fast_blob_reads=no, the blob lines are left out (manifests keep
    theirs), the names an x-accel run made are removed at start, and a
    name planted by hand is an fsck problem that --repair removes."""
    srv = Server("offload")
    try:
        if not srv.start():
            return
        img = push_image(srv.reg, "fx/o", tag="v1")
        layer = img.layer_digests[0]
        bl = srv.blob_link("fx/o", layer)
        check("offload: x-accel makes the blob name", os.path.islink(bl))
        srv.stop()
        with open(srv.conf, "a") as f:
            f.write("[blob.fs]\noffload = stream\n")
        out = srv.berth("-t")
        lines = out.stdout.splitlines()
        check("offload = stream: berth -t says fast_reads=yes, fast_blob_reads=no",
              "fast_reads=yes" in lines and "fast_blob_reads=no" in lines, out.stdout)
        if not srv.start():
            return
        loc = srv.generated("locations")
        check("offload = stream: the manifest lines stay, the blob lines go",
              "return 418" in loc and "return 419" not in loc and "return 420" not in loc,
              [l for l in loc.splitlines() if "berth_pub" in l][:6])
        check("offload = stream: the blob name is gone", not os.path.lexists(bl))
        srv.start_twin()
        for method in ("GET", "HEAD"):
            same("offload = stream: %s blob" % method, method, b_path("fx/o", layer),
                 status=200, body=img.blobs[layer] if method == "GET" else b"", srv=srv,
                 worker=True)
        same("offload = stream: GET manifest by digest", "GET", m_path("fx/o", img.digest),
             status=200, body=img.manifest, srv=srv)
        os.makedirs(os.path.dirname(bl), exist_ok=True)
        os.symlink(srv.blob_file(layer), bl)
        out = srv.berth("fsck", "--json")
        rep = json.loads(out.stdout) if out.stdout.startswith("{") else {}
        check("offload = stream: a blob name planted by hand is a problem",
              out.returncode != 0 and mentions(rep, bl), out.stdout[-600:])
        out = srv.berth("fsck", "--json", "--repair")
        check("offload = stream: --repair removes it", not os.path.lexists(bl),
              out.stdout[-600:])
    finally:
        srv.stop()
        sanitizer_check(srv, "offload server")
        shutil.rmtree(srv.tmp, ignore_errors=True)


def sanitizer_check(srv, what):
    if os.environ.get("SANITIZER_LOG_CHECK") != "1":
        return
    try:
        text = srv.log()
    except OSError:
        return
    bad = [l for l in text.splitlines()
           if "ERROR: AddressSanitizer" in l or "runtime error:" in l]
    check("%s: no sanitizer report in the log" % what, not bad, bad[:3])


def run(name, fn, *args):
    try:
        fn(*args)
    except Exception as e:   # a crash of a step is a failure, the rest runs
        check("%s: ran to the end" % name, False, "%s: %s" % (type(e).__name__, e))


def main():
    global S
    if not os.access(BERTH, os.X_OK):
        print("fastpath.py: %s is not built" % BERTH)
        print("0 passed, 1 failed")
        return 1
    S = Server("fast")
    try:
        if S.start():
            removed = S.start_twin()
            st = {}
            run("config", t_config, removed)
            run("shipped", t_shipped)
            run("manifests", t_manifests, st)
            if "mans" in st:
                run("no worker", t_no_worker, st)
                run("hostile", t_hostile, st)
                run("lifecycle", t_lifecycle, st)
                run("race", t_race, st)
                run("fsck", t_fsck, st)
                run("gc", t_gc, st)
                run("gc race", t_gc_race, st)
                run("lost bytes", t_lost, st)
    except Exception as e:
        check("fast server: ran to the end", False, "%s: %s" % (type(e).__name__, e))
    finally:
        S.stop()
        sanitizer_check(S, "fast-path server")
        if berthtest.failed == 0 or os.environ.get("KEEP") != "1":
            shutil.rmtree(S.tmp, ignore_errors=True)
        else:
            print("fastpath: kept %s" % S.tmp)
    run("fast_reads off", t_off)
    run("auth", t_auth)
    run("restart", t_restart)
    run("offload", t_offload)
    return berthtest.summary()


if __name__ == "__main__":
    sys.exit(main())
