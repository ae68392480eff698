#!/usr/bin/env python3
"""hosts.py -- berth behind every web server shape, end to end.

For each shape in SERVERS (default: nginx lighttpd apache apache-cgi) this
brings berth up with nginx/serve.sh (SERVER=<shape>) on a free loopback
port and a fresh data directory, then checks what differs between web
servers: request bodies (a chunked upload of a layer over 100 MB, part
with Content-Range, part streamed with Transfer-Encoding: chunked), blob
GET and HEAD through the server's offload (X-Accel-Redirect, X-Sendfile,
or streamed by berth) with Docker-Content-Digest kept, Range GETs, and
Location headers under a path prefix.  Then a skopeo round trip of an
image, and the worker logs are searched for sanitizer reports.

Prints one line per check and, last, "N passed, N failed"; exits non-zero
on any failure.  Environment: BERTH (the binary), SERVERS, BIG_MB (size of
the big layer, default 120), SANITIZER_LOG_CHECK=1 to fail on reports.
Needs root for Apache (it serves as www-data) and python3's stdlib only.
"""

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import berthtest  # noqa: E402
from berthtest import check_shape as check, free_port, sha256  # noqa: E402
BERTH = os.environ.get("BERTH", os.path.join(TOP, "build", "berth"))
SERVERS = os.environ.get("SERVERS", "nginx lighttpd apache apache-cgi").split()
BIG = int(os.environ.get("BIG_MB", "120")) * 1024 * 1024
REPO = "hosts/big"


class Client:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None, chunked=False):
        """One request on a fresh connection; (status, headers, body)."""
        return berthtest.request(self.port, method, path, body, headers, timeout=300,
                                 chunked=chunked)


def pieces(data, size):
    """An iterable body that http.client sends chunk by chunk."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def push_blob(cl, repo, data, prefix=""):
    """Monolithic POST ?digest=; (status, location)."""
    d = sha256(data)
    st, h, _ = cl.request("POST", f"{prefix}/v2/{repo}/blobs/uploads/?digest={d}", data,
                          {"Content-Type": "application/octet-stream"})
    return st, h.get("location", "")


def run_shape(shape):
    data_dir = tempfile.mkdtemp(prefix=f"berth-hosts-{shape}.")
    os.chmod(data_dir, 0o755)  # Apache's children run as www-data
    port = free_port()
    env = dict(os.environ, SERVER=shape, PORT=str(port), DATA_DIR=data_dir, BERTH=BERTH)
    env.pop("BERTH_CONFIG", None)
    env.pop("WORKERS", None)
    serve = os.path.join(TOP, "nginx", "serve.sh")
    # The daemons it leaves running inherit its stdout: not a pipe.
    with tempfile.TemporaryFile(mode="w+") as err:
        rc = subprocess.call([serve, "start"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        msg = err.read().strip()
    if not check(shape, "server starts", rc == 0, msg):
        subprocess.call([serve, "stop"], env=env, stdout=subprocess.DEVNULL)
        return
    try:
        checks(shape, Client(port), port)
    finally:
        subprocess.call([serve, "stop"], env=env, stdout=subprocess.DEVNULL)
    logs = [os.path.join(data_dir, "run", f) for f in ("berth.log", "apache-error.log")]
    bad = []
    for f in logs:
        if os.path.exists(f):
            with open(f, errors="replace") as fh:
                for line in fh:
                    if "runtime error" in line or "AddressSanitizer" in line \
                            or "LeakSanitizer" in line:
                        bad.append(line.strip())
    if os.environ.get("SANITIZER_LOG_CHECK") == "1":
        check(shape, "no sanitizer reports in the logs", not bad, "; ".join(bad[:3]))
    if berthtest.failed == 0:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"# {shape}: data and logs kept in {data_dir}")


def checks(shape, cl, port):
    st, h, body = cl.request("GET", "/v2/")
    check(shape, "GET /v2/ is 200 with the API version header",
          st == 200 and h.get("docker-distribution-api-version") == "registry/2.0",
          f"{st} {h}")

    # A small blob: offload path for GET, HEAD by berth, Range.
    small = b"0123456789abcdefghijklmnopqrstuvwxyz" * 100
    d = sha256(small)
    st, loc = push_blob(cl, REPO, small)
    check(shape, "monolithic upload 201 with Location /v2/...",
          st == 201 and loc == f"/v2/{REPO}/blobs/{d}", f"{st} {loc}")
    st, h, body = cl.request("GET", f"/v2/{REPO}/blobs/{d}")
    check(shape, "blob GET: bytes and Docker-Content-Digest",
          st == 200 and body == small and h.get("docker-content-digest") == d,
          f"{st} len={len(body)} {h.get('docker-content-digest')}")
    st, h, body = cl.request("HEAD", f"/v2/{REPO}/blobs/{d}")
    check(shape, "blob HEAD: Content-Length and Docker-Content-Digest",
          st == 200 and h.get("content-length") == str(len(small))
          and h.get("docker-content-digest") == d, f"{st} {h}")
    st, h, body = cl.request("GET", f"/v2/{REPO}/blobs/{d}", headers={"Range": "bytes=10-19"})
    check(shape, "blob Range GET: 206, the bytes, Content-Range",
          st == 206 and body == small[10:20]
          and h.get("content-range") == f"bytes 10-19/{len(small)}", f"{st} {body!r} {h}")

    # A body refused before any of it is read (a digest of an unknown
    # algorithm): the answer must still arrive.  A CGI that exits with the
    # body unread resets mod_cgid's socket and the response is lost.
    answers = []
    for body in [b"abc"] * 8 + [os.urandom(300000)] * 2:
        try:
            st, h, rb = cl.request("POST", f"/v2/{REPO}/blobs/uploads/?digest=sha1:{'0' * 40}",
                                   body, {"Content-Type": "application/octet-stream"})
            answers.append(st if b"DIGEST_INVALID" in rb else f"{st} {rb[:80]!r}")
        except (OSError, http.client.HTTPException) as e:
            answers.append(repr(e))
    check(shape, "bodies refused unread (bad digest): 400 DIGEST_INVALID, every time",
          answers == [400] * 10, f"{answers}")

    # The big layer: POST, a PATCH with Content-Range, a streamed PATCH
    # with Transfer-Encoding: chunked and no Content-Range (docker's way),
    # then PUT ?digest=.
    big = os.urandom(BIG)
    bd = sha256(big)
    first = BIG // 3
    st, h, _ = cl.request("POST", f"/v2/{REPO}/blobs/uploads/")
    loc = h.get("location", "")
    check(shape, "upload session: 202 and Location /v2/<name>/blobs/uploads/<id>",
          st == 202 and loc.startswith(f"/v2/{REPO}/blobs/uploads/"), f"{st} {loc}")
    st, h, _ = cl.request("PATCH", loc, big[:first],
                          {"Content-Type": "application/octet-stream",
                           "Content-Range": f"0-{first - 1}"})
    check(shape, f"PATCH {first} bytes with Content-Range: 202, Range 0-{first - 1}",
          st == 202 and h.get("range") == f"0-{first - 1}", f"{st} {h}")
    loc = h.get("location", loc)
    st, h, _ = cl.request("PATCH", loc, pieces(big[first:], 1 << 20),
                          {"Content-Type": "application/octet-stream"}, chunked=True)
    check(shape, f"PATCH {BIG - first} bytes chunked: 202, Range 0-{BIG - 1}",
          st == 202 and h.get("range") == f"0-{BIG - 1}", f"{st} {h}")
    loc = h.get("location", loc)
    st, h, _ = cl.request("PUT", f"{loc}?digest={bd}")
    check(shape, f"PUT ?digest= closes the {BIG >> 20} MiB upload: 201",
          st == 201 and h.get("location") == f"/v2/{REPO}/blobs/{bd}"
          and h.get("docker-content-digest") == bd, f"{st} {h}")
    st, h, body = cl.request("GET", f"/v2/{REPO}/blobs/{bd}")
    check(shape, "big blob GET: every byte back",
          st == 200 and len(body) == BIG and sha256(body) == bd, f"{st} len={len(body)}")
    off = BIG - 5000
    st, h, body = cl.request("GET", f"/v2/{REPO}/blobs/{bd}",
                             headers={"Range": f"bytes={off}-{off + 999}"})
    check(shape, "big blob Range GET near the end",
          st == 206 and body == big[off:off + 1000]
          and h.get("content-range") == f"bytes {off}-{off + 999}/{BIG}", f"{st} {h}")
    del big, body

    # A manifest referencing both blobs; Location of the manifest.
    cfg = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    push_blob(cl, REPO, cfg)
    man = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": bd, "size": BIG},
                   {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": d, "size": len(small)}],
    }).encode()
    md = sha256(man)
    st, h, _ = cl.request("PUT", f"/v2/{REPO}/manifests/v1", man,
                          {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    check(shape, "manifest PUT: 201, Location /v2/<name>/manifests/<digest>",
          st == 201 and h.get("location") == f"/v2/{REPO}/manifests/{md}", f"{st} {h}")
    st, h, body = cl.request("GET", f"/v2/{REPO}/manifests/v1",
                             headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    check(shape, "manifest GET by tag: the bytes, digest header",
          st == 200 and body == man and h.get("docker-content-digest") == md, f"{st}")

    # Under a path prefix (a proxy location, or a CGI script name): the
    # Locations repeat the prefix the request came with.
    prefix = "/berth.cgi" if shape == "apache-cgi" else "/registry"
    st, h, _ = cl.request("POST", f"{prefix}/v2/{REPO}/blobs/uploads/")
    loc = h.get("location", "")
    check(shape, f"under {prefix}: upload Location keeps the prefix",
          st == 202 and loc.startswith(f"{prefix}/v2/{REPO}/blobs/uploads/"), f"{st} {loc}")
    tiny = b"prefixed blob"
    st, h, _ = cl.request("PUT", f"{loc}?digest={sha256(tiny)}", tiny,
                          {"Content-Type": "application/octet-stream"})
    check(shape, f"under {prefix}: PUT to that Location, 201 Location with the prefix",
          st == 201 and h.get("location") == f"{prefix}/v2/{REPO}/blobs/{sha256(tiny)}",
          f"{st} {h}")
    st, h, _ = cl.request("GET", f"/v2/{REPO}/tags/list?n=0")
    check(shape, "tags list with n=0 answers", st == 200, f"{st}")

    if shape == "apache-cgi":
        st, _, body = cl.request("GET", "/berth.ini")
        check(shape, "the .htaccess keeps berth.ini from being served",
              st in (403, 404) and b"data_dir" not in body, f"{st}")
        # Apache turns a query without '=' into program arguments.
        st, _, body = cl.request("GET", "/v2/?-t")
        check(shape, "a query without '=' is not taken for options (GET /v2/?-t)",
              st == 200 and body == b"{}", f"{st} {body[:100]!r}")

    skopeo_round_trip(shape, port)


def oci_layout(path):
    """A one-layer OCI image layout at path, tag "1"."""
    import io
    import tarfile
    os.makedirs(os.path.join(path, "blobs", "sha256"))

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(path, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + d, "size": len(data)}

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        content = os.urandom(300000)
        ti = tarfile.TarInfo("data.bin")
        ti.size = len(content)
        t.addfile(ti, io.BytesIO(content))
    layer = buf.getvalue()
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers",
                                 "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
                      "config": {}}).encode()
    man = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **put(cfg)),
        "layers": [dict(mediaType="application/vnd.oci.image.layer.v1.tar", **put(layer))],
    }).encode()
    m = put(man)
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            dict(mediaType="application/vnd.oci.image.manifest.v1+json",
                 annotations={"org.opencontainers.image.ref.name": "1"}, **m)]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return m["digest"]


def skopeo_round_trip(shape, port):
    if shutil.which("skopeo") is None:
        check(shape, "skopeo round trip", False, "skopeo is not installed")
        return
    work = tempfile.mkdtemp(prefix="berth-hosts-oci.")
    try:
        oci_layout(os.path.join(work, "src"))
        ref = f"docker://127.0.0.1:{port}/hosts/skopeo:1"
        p = subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false",
                            f"oci:{work}/src:1", ref], capture_output=True, text=True)
        if not check(shape, "skopeo copy oci: -> registry", p.returncode == 0, p.stderr.strip()):
            return
        p = subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", ref,
                            f"oci:{work}/dst:1"], capture_output=True, text=True)
        ok, detail = p.returncode == 0, p.stderr.strip()
        if ok:
            # skopeo may rewrite a manifest on push; the registry's is the one.
            with open(os.path.join(work, "dst", "index.json")) as f:
                got = json.load(f)["manifests"][0]["digest"]
            st, h, _ = Client(port).request(
                "HEAD", "/v2/hosts/skopeo/manifests/1",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            ok = st == 200 and h.get("docker-content-digest") == got
            detail = f"pulled {got}, registry {st} {h.get('docker-content-digest')}"
        check(shape, "skopeo copy registry -> oci:, the registry's manifest", ok, detail)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    for shape in SERVERS:
        print(f"# {shape}")
        run_shape(shape)
    return berthtest.summary()


if __name__ == "__main__":
    sys.exit(main())
