"""Shared helpers for the berth end-to-end spec suite.

Everything here is Python standard library only.  The client speaks HTTP/1.1
through http.client, one connection per request, so each test controls the
exact request headers (several Accept lines, Content-Length that disagrees
with Content-Range, Transfer-Encoding: chunked, HEAD, PATCH, ...).

The registry under test is named by the environment:
  BERTH_URL            the registry (default http://127.0.0.1:5000)
  BERTH_URL_NODELETE   a registry started with [registry] delete_enabled = false
  BERTH_URL_READONLY   a registry started with [registry] read_only = true,
                       seeded by seed.py before it was switched read-only
  BERTH_URL_EXPIRY     a registry started with a short upload_expiry
  BERTH_EXPIRY_SECONDS that expiry, in seconds
  BERTH_DATA_DIR_EXPIRY its data directory (to see staging files go)
  BERTH_FOLLOW_REDIRECTS 1: a blob GET answered 307 (a blob handler that
                       redirects, tests/s3) is followed as a client would,
                       with the same Range, and the answer is the store's
                       with the registry's headers from the 307 added
Tests that need one of the optional registries are skipped when it is unset.
"""

import hashlib
import http.client
import json
import os
import random
import re
import socket
import string
import unittest
import urllib.parse

# The web server shape in front of berth (tests/run.sh sets it per run).
SERVER = os.environ.get("SERVER", "nginx")

BASE_URL = os.environ.get("BERTH_URL", "http://127.0.0.1:5000")
NODELETE_URL = os.environ.get("BERTH_URL_NODELETE")
READONLY_URL = os.environ.get("BERTH_URL_READONLY")
EXPIRY_URL = os.environ.get("BERTH_URL_EXPIRY")
EXPIRY_SECONDS = int(os.environ.get("BERTH_EXPIRY_SECONDS", "3"))
EXPIRY_DATA_DIR = os.environ.get("BERTH_DATA_DIR_EXPIRY")
FOLLOW_REDIRECTS = os.environ.get("BERTH_FOLLOW_REDIRECTS") == "1"

API_VERSION = "registry/2.0"
MANIFEST_LIMIT = 4 * 1024 * 1024  # 4 MiB: largest manifest body berth keeps

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
MT_OCI_EMPTY = "application/vnd.oci.empty.v1+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
EMPTY_JSON_SHA256 = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

# Every code of the OCI table plus the legacy Docker ones (oci-spec.md §9.2).
KNOWN_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
    "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED",
    "TOOMANYREQUESTS", "MANIFEST_UNVERIFIED", "TAG_INVALID", "RANGE_INVALID",
    "PAGINATION_NUMBER_INVALID", "UNKNOWN", "UNAVAILABLE",
}


# --------------------------------------------------------------------------
# digests and names

def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data):
    return "sha512:" + hashlib.sha512(data).hexdigest()


def digest_of(data, algorithm="sha256"):
    return sha512(data) if algorithm == "sha512" else sha256(data)


def rand_suffix(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def repo_name(family):
    """A fresh repository name, so every test works in its own repository."""
    return "e2e/%s-%s" % (family, rand_suffix())


def rand_bytes(n):
    return os.urandom(n)


def with_query(location, query):
    """Append query ("digest=...") to an upload Location, keeping its own query."""
    return location + ("&" if "?" in location else "?") + query


def path_of(location):
    """The path and query of a Location that may be absolute or relative."""
    if location is None:
        return None
    parts = urllib.parse.urlsplit(location)
    if parts.scheme:
        return parts.path + ("?" + parts.query if parts.query else "")
    return location


# --------------------------------------------------------------------------
# HTTP

class Response:
    """One HTTP exchange: the request as sent and the response as received."""

    def __init__(self, method, path, req_headers, status, reason, headers, body):
        self.method = method
        self.path = path
        self.req_headers = req_headers
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage
        self.body = body

    def header(self, name):
        """The value of a header; repeated headers are joined with ", "."""
        values = self.headers.get_all(name)
        if values is None:
            return None
        return ", ".join(values)

    def header_all(self, name):
        return self.headers.get_all(name) or []

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def error_codes(self):
        try:
            return [e.get("code") for e in self.json()["errors"]]
        except Exception:
            return None

    @property
    def location(self):
        return path_of(self.header("Location"))

    def describe(self, body_limit=600):
        """A readable transcript used in assertion messages."""
        path = self.path
        if len(path) > 300:
            path = path[:200] + "...(%d characters)" % len(path)
        req = "%s %s" % (self.method, path)
        for k, v in self.req_headers:
            req += "\n    > %s: %s" % (k, v)
        resp = "%d %s" % (self.status, self.reason)
        for k, v in self.headers.items():
            resp += "\n    < %s: %s" % (k, v)
        body = self.body[:body_limit]
        try:
            body_text = body.decode("utf-8")
        except UnicodeDecodeError:
            body_text = repr(body)
        if len(self.body) > body_limit:
            body_text += "... (%d bytes)" % len(self.body)
        return "\n  request:  %s\n  response: %s\n  body: %s" % (req, resp, body_text)


METHODS_WITH_BODY = ("POST", "PUT", "PATCH")


class Registry:
    """A tiny registry client on http.client; one TCP connection per request."""

    def __init__(self, base_url=BASE_URL, timeout=120):
        parts = urllib.parse.urlsplit(base_url)
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout

    # -- raw requests -------------------------------------------------------

    def request(self, method, path, body=None, headers=None, chunked=False):
        """Send one request.

        headers: a dict or a list of (name, value); a list may repeat names.
        body: bytes, or with chunked=True bytes or a list of byte chunks, sent
        with Transfer-Encoding: chunked and no Content-Length.
        A Content-Length is added for bytes bodies (0 for POST/PUT/PATCH with
        no body) unless the caller gave one.
        """
        if headers is None:
            headers = []
        elif isinstance(headers, dict):
            headers = list(headers.items())
        else:
            headers = list(headers)
        names = {k.lower() for k, _ in headers}
        if chunked:
            if isinstance(body, (bytes, bytearray)):
                body = [bytes(body)]
            body = list(body or [])
            if "transfer-encoding" not in names:
                headers.append(("Transfer-Encoding", "chunked"))
        elif "content-length" not in names and "transfer-encoding" not in names:
            if body is not None:
                headers.append(("Content-Length", str(len(body))))
            elif method in METHODS_WITH_BODY:
                headers.append(("Content-Length", "0"))
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            try:
                conn.endheaders(message_body=body, encode_chunked=chunked)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (413, 400) and close before reading
                # the whole body; the response is still there to be read.
                pass
            resp = conn.getresponse()
            data = resp.read()
            if (FOLLOW_REDIRECTS and method == "GET" and resp.status == 307
                    and "/blobs/" in path):
                return self._follow(method, path, headers, resp)
            return Response(method, path, headers, resp.status, resp.reason, resp.msg, data)
        finally:
            conn.close()

    def _follow(self, method, path, headers, first):
        """GET the 307's Location with the request's Range."""
        where = urllib.parse.urlsplit(first.getheader("Location"))
        target = where.path + ("?" + where.query if where.query else "")
        conn = http.client.HTTPConnection(where.hostname, where.port or 80,
                                          timeout=self.timeout)
        try:
            conn.putrequest("GET", target, skip_accept_encoding=True)
            for k, v in headers:
                if k.lower() == "range":
                    conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            data = resp.read()
            merged = resp.msg
            for k in ("Docker-Content-Digest", "Docker-Distribution-API-Version"):
                if first.getheader(k) is not None and merged.get(k) is None:
                    merged[k] = first.getheader(k)
            return Response(method, path, headers, resp.status, resp.reason, merged, data)
        finally:
            conn.close()

    def raw(self, request_bytes, method="GET"):
        """Send hand-made request bytes (for paths http.client refuses)."""
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            sock.sendall(request_bytes)
            resp = http.client.HTTPResponse(sock, method=method)
            resp.begin()
            data = resp.read()
            first = request_bytes.split(b"\r\n", 1)[0].decode("latin-1")
            return Response(method, first, [], resp.status, resp.reason, resp.msg, data)
        finally:
            sock.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def head(self, path, headers=None):
        return self.request("HEAD", path, headers=headers)

    def delete(self, path, headers=None):
        return self.request("DELETE", path, headers=headers)

    def post(self, path, body=None, headers=None, chunked=False):
        return self.request("POST", path, body=body, headers=headers, chunked=chunked)

    def put(self, path, body=None, headers=None, chunked=False):
        return self.request("PUT", path, body=body, headers=headers, chunked=chunked)

    def patch(self, path, body=None, headers=None, chunked=False):
        return self.request("PATCH", path, body=body, headers=headers, chunked=chunked)

    # -- registry operations ------------------------------------------------

    def start_upload(self, repo, query=""):
        return self.post("/v2/%s/blobs/uploads/%s" % (repo, ("?" + query) if query else ""))

    def patch_chunk(self, location, data, start=None, content_range=True):
        headers = [("Content-Type", "application/octet-stream")]
        if content_range:
            headers.append(("Content-Range", "%d-%d" % (start, start + len(data) - 1)))
        return self.patch(location, body=data, headers=headers)

    def finish_upload(self, location, digest, data=None, headers=None):
        hdrs = [("Content-Type", "application/octet-stream")] + list(headers or [])
        return self.put(with_query(location, "digest=" + digest), body=data, headers=hdrs)

    def push_blob(self, repo, data, algorithm="sha256"):
        """POST + PUT monolithic upload; returns the digest, raises on failure."""
        digest = digest_of(data, algorithm)
        r = self.start_upload(repo)
        if r.status != 202 or not r.location:
            raise AssertionError("push_blob: POST failed" + r.describe())
        r = self.finish_upload(r.location, digest, data)
        if r.status != 201:
            raise AssertionError("push_blob: PUT failed" + r.describe())
        return digest

    def push_manifest(self, repo, reference, body, media_type):
        """PUT a manifest; returns the Response, raises unless 201."""
        r = self.put("/v2/%s/manifests/%s" % (repo, reference), body=body,
                     headers=[("Content-Type", media_type)])
        if r.status != 201:
            raise AssertionError("push_manifest failed" + r.describe())
        return r

    def mount(self, repo, digest, from_repo):
        return self.post("/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repo, digest, from_repo))


# --------------------------------------------------------------------------
# manifests

def descriptor(media_type, data=None, digest=None, size=None, **extra):
    d = {"mediaType": media_type,
         "digest": digest if digest is not None else sha256(data),
         "size": size if size is not None else len(data)}
    d.update(extra)
    return d


def dumps(obj, pretty=False):
    if pretty:
        return json.dumps(obj, indent=3, sort_keys=False).encode()
    return json.dumps(obj, separators=(",", ":")).encode()


def oci_manifest(config, layers, **extra):
    m = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": config, "layers": layers}
    m.update(extra)
    return m


def oci_index(manifests, **extra):
    m = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifests}
    m.update(extra)
    return m


class Image:
    """A pushed image: its manifest bytes, digest, media type and blobs."""

    def __init__(self, repo, manifest, media_type, blobs, config_digest, layer_digests):
        self.repo = repo
        self.manifest = manifest
        self.media_type = media_type
        self.digest = sha256(manifest)
        self.blobs = blobs  # digest -> bytes
        self.config_digest = config_digest
        self.layer_digests = layer_digests

    def descriptor(self, **extra):
        return descriptor(self.media_type, self.manifest, **extra)


def make_config(label=""):
    return dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": []},
                  "config": {"Labels": {"e2e": label or rand_suffix()}}})


def push_image(reg, repo, tag=None, layers=2, layer_size=1000, docker=False,
               push_blobs=True, pretty=False, **extra):
    """Upload a config and layers, then PUT an OCI (or Docker schema 2) manifest.

    tag=None pushes by digest.  Returns an Image.
    """
    config = make_config()
    layer_data = [rand_bytes(layer_size + i) for i in range(layers)]
    blobs = {sha256(config): config}
    for d in layer_data:
        blobs[sha256(d)] = d
    if push_blobs:
        for d in [config] + layer_data:
            reg.push_blob(repo, d)
    if docker:
        mt = MT_DOCKER_MANIFEST
        body = {"schemaVersion": 2, "mediaType": mt,
                "config": descriptor(MT_DOCKER_CONFIG, config),
                "layers": [descriptor(MT_DOCKER_LAYER, d) for d in layer_data]}
    else:
        mt = MT_OCI_MANIFEST
        body = oci_manifest(descriptor(MT_OCI_CONFIG, config),
                            [descriptor(MT_OCI_LAYER, d) for d in layer_data])
    body.update(extra)
    manifest = dumps(body, pretty=pretty)
    reg.push_manifest(repo, tag or sha256(manifest), manifest, mt)
    return Image(repo, manifest, mt, blobs, sha256(config), [sha256(d) for d in layer_data])


LINK_RE = re.compile(r'^<([^>]+)>;\s*rel="next"$')


def next_link(resp):
    """The URL of a Link: <...>; rel="next" header, or None."""
    value = resp.header("Link")
    if value is None:
        return None
    m = LINK_RE.match(value.strip())
    if not m:
        raise AssertionError("malformed Link header %r" % value + resp.describe())
    return m.group(1)


# --------------------------------------------------------------------------
# assertions

class RegistryTestCase(unittest.TestCase):
    """Base class: a client for the registry under test and OCI-aware asserts."""

    maxDiff = 4000
    reg = Registry(BASE_URL)

    def assertStatus(self, resp, status):
        if isinstance(status, (tuple, list, set)):
            ok = resp.status in status
        else:
            ok = resp.status == status
        if not ok:
            self.fail("expected status %s, got %d%s" % (status, resp.status, resp.describe()))

    def assertHeader(self, resp, name, value):
        got = resp.header(name)
        if got != value:
            self.fail("header %s: expected %r, got %r%s" % (name, value, got, resp.describe()))

    def assertNoHeader(self, resp, name):
        got = resp.header(name)
        if got is not None:
            self.fail("header %s should be absent, got %r%s" % (name, got, resp.describe()))

    def assertApiVersion(self, resp):
        self.assertHeader(resp, "Docker-Distribution-API-Version", API_VERSION)

    def assertBody(self, resp, data):
        if resp.body != data:
            self.fail("body differs: expected %d bytes (%s), got %d bytes (%s)%s" % (
                len(data), sha256(data), len(resp.body), sha256(resp.body), resp.describe(200)))

    def assertJsonBody(self, resp):
        self.assertHeader(resp, "Content-Type", "application/json")
        try:
            return resp.json()
        except Exception as e:
            self.fail("body is not JSON (%s)%s" % (e, resp.describe()))

    def frontRefused(self, resp):
        """Did the web server in front refuse this request itself, before
        berth saw it?  lighttpd and Apache answer some malformed requests
        (%00 in a path, unknown methods, over-long or encoded-slash paths
        under .htaccess) with their own 4xx page.  Only behind those shapes
        (SERVER), only for a 4xx, and only without the header every berth
        response carries."""
        return (SERVER != "nginx" and 400 <= resp.status < 500 and
                resp.header("Docker-Distribution-API-Version") is None)

    def assertErrorOrFrontRefused(self, resp, status, code):
        """assertError, unless the front server refused the request itself."""
        if self.frontRefused(resp):
            return None
        return self.assertError(resp, status, code)

    def assertError(self, resp, status, code):
        """Status, OCI error envelope with `code` (one of codes if a set)."""
        self.assertStatus(resp, status)
        self.assertApiVersion(resp)
        codes = code if isinstance(code, (set, tuple, list)) else {code}
        if resp.method == "HEAD":
            self.assertEqual(resp.body, b"", "HEAD error carries a body" + resp.describe())
            return None
        doc = self.assertJsonBody(resp)
        self.assertIsInstance(doc, dict, resp.describe())
        errors = doc.get("errors")
        if not isinstance(errors, list) or not errors:
            self.fail("no errors array in body" + resp.describe())
        for e in errors:
            self.assertIsInstance(e, dict, resp.describe())
            if e.get("code") not in KNOWN_CODES:
                self.fail("error code %r is not in the OCI table (oci-spec.md §9.2)%s" % (
                    e.get("code"), resp.describe()))
            if "message" in e:
                self.assertIsInstance(e["message"], str, resp.describe())
        if errors[0].get("code") not in codes:
            self.fail("expected error code %s, got %s%s" % (
                "/".join(sorted(codes)), [e.get("code") for e in errors], resp.describe()))
        return errors

    def assertBlobAbsent(self, repo, digest):
        r = self.reg.head("/v2/%s/blobs/%s" % (repo, digest))
        self.assertError(r, 404, "BLOB_UNKNOWN")

    def assertBlobPresent(self, repo, digest, data):
        r = self.reg.get("/v2/%s/blobs/%s" % (repo, digest))
        self.assertStatus(r, 200)
        self.assertBody(r, data)
        self.assertHeader(r, "Docker-Content-Digest", digest)

    def assertManifestAbsent(self, repo, reference):
        r = self.reg.get("/v2/%s/manifests/%s" % (repo, reference))
        self.assertError(r, 404, "MANIFEST_UNKNOWN")
        r = self.reg.head("/v2/%s/manifests/%s" % (repo, reference))
        self.assertError(r, 404, "MANIFEST_UNKNOWN")

    def assertManifest(self, repo, reference, body, media_type, digest=None):
        """GET and HEAD return the exact bytes with exact headers."""
        digest = digest or sha256(body)
        for method in ("GET", "HEAD"):
            r = self.reg.request(method, "/v2/%s/manifests/%s" % (repo, reference))
            self.assertStatus(r, 200)
            self.assertHeader(r, "Content-Type", media_type)
            self.assertHeader(r, "Content-Length", str(len(body)))
            self.assertHeader(r, "Docker-Content-Digest", digest)
            self.assertBody(r, body if method == "GET" else b"")

    def assertUploadRange(self, location, expected_range):
        """GET <location> answers 204 with Location and the given Range."""
        r = self.reg.get(location)
        self.assertStatus(r, 204)
        self.assertTrue(r.header("Location"), "upload status without Location" + r.describe())
        self.assertHeader(r, "Range", expected_range)
        return r
