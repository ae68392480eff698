"""Bad input: names, tags, digests, upload ids, methods, garbage paths.

Covers oci-spec.md §2.1 (repository name grammar, 255 characters,
NAME_INVALID, routing from the right), §2.2 (tag grammar, 128 characters,
TAG_INVALID, `.INVALID_MANIFEST_NAME` -> 404), §2.3 (digest grammar,
DIGEST_INVALID), §2.4 (upload ids), §9 (the error table and envelope) and
checklist items 8 and 15: every bad input gets the right status and code,
changes nothing, and nothing ever answers 5xx.  TestErrorHeaders takes one
error of each family and checks the exact set of headers it carries: only
what the spec wants on an error, never a success header (issue 10).
"""

import json

from lib import (SERVER, KNOWN_CODES, MANIFEST_LIMIT, MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST,
                 RegistryTestCase, descriptor, dumps, make_config, oci_manifest, push_image, rand_bytes,
                 rand_suffix, repo_name, sha256, sha512)


def mpath(repo, ref):
    return "/v2/%s/manifests/%s" % (repo, ref)


class TestRepositoryNames(RegistryTestCase):

    BAD = [
        "E2E/Upper-%s",          # uppercase
        "e2e/a..b-%s",           # two dots in a row
        "e2e/..hidden-%s",       # component starting with a separator
        "e2e/trailing-%s-",      # component ending with a separator
        "e2e/x_.y-%s",           # mixed separators
        "e2e/a___b-%s",          # three underscores
        "e2e/_under-%s",         # leading underscore
        "e2e/sp%%20ace-%s",      # space
        "e2e/%%C3%%A9-%s",       # non-ASCII
    ]

    def bad_names(self):
        return [b % rand_suffix() for b in self.BAD]

    def test_invalid_names_on_manifest_put(self):
        img = push_image(self.reg, repo_name("names"), "t")
        for name in self.bad_names():
            with self.subTest(name=name):
                r = self.reg.put(mpath(name, "t"), body=img.manifest,
                                 headers={"Content-Type": MT_OCI_MANIFEST})
                self.assertError(r, 400, "NAME_INVALID")

    def test_invalid_names_on_upload_post(self):
        for name in self.bad_names():
            with self.subTest(name=name):
                r = self.reg.post("/v2/%s/blobs/uploads/" % name)
                self.assertError(r, 400, "NAME_INVALID")
                r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (name, sha256(b"x")), body=b"x")
                self.assertError(r, 400, "NAME_INVALID")

    def test_invalid_names_on_pull_endpoints(self):
        for name in self.bad_names():
            with self.subTest(name=name):
                for path in (mpath(name, "latest"), "/v2/%s/blobs/%s" % (name, sha256(b"x")),
                             "/v2/%s/tags/list" % name):
                    self.assertError(self.reg.get(path), 400, "NAME_INVALID")
                self.assertError(self.reg.head(mpath(name, "latest")), 400, "NAME_INVALID")

    def test_empty_components(self):
        for name in ("e2e//empty-%s" % rand_suffix(), "e2e/empty-%s/" % rand_suffix()):
            with self.subTest(name=name):
                r = self.reg.post("/v2/%s/blobs/uploads/" % name)
                self.assertError(r, 400, "NAME_INVALID")
                r = self.reg.get("/v2/%s/tags/list" % name)
                self.assertError(r, 400, "NAME_INVALID")

    def test_leading_slash_component(self):
        r = self.reg.get("/v2//e2e/lead-%s/tags/list" % rand_suffix())
        self.assertError(r, (400, 404), {"NAME_INVALID", "NAME_UNKNOWN"})
        r = self.reg.post("/v2//e2e/lead-%s/blobs/uploads/" % rand_suffix())
        self.assertStatus(r, (400, 404))

    def test_name_over_255_characters(self):
        name = "e2e/" + "a" * 252  # 256 characters
        self.assertEqual(len(name), 256)
        r = self.reg.post("/v2/%s/blobs/uploads/" % name)
        self.assertErrorOrFrontRefused(r, 400, "NAME_INVALID")
        r = self.reg.get("/v2/%s/tags/list" % name)
        self.assertErrorOrFrontRefused(r, 400, "NAME_INVALID")
        r = self.reg.post("/v2/%s/blobs/uploads/" % ("e2e/" + "b" * 5000))
        self.assertErrorOrFrontRefused(r, 400, "NAME_INVALID")

    def test_name_of_exactly_255_characters(self):
        name = "e2e/" + rand_suffix(10) + "a" * 241
        self.assertEqual(len(name), 255)
        img = push_image(self.reg, name, "t")
        self.assertManifest(name, "t", img.manifest, MT_OCI_MANIFEST)

    def test_valid_separators(self):
        for name in ("e2e/a__b-%s", "e2e/a---b-%s", "e2e/a.b_c-d-%s", "e2e/0-%s/1/2/3"):
            with self.subTest(name=name):
                name = name % rand_suffix()
                img = push_image(self.reg, name, "t", layers=1, layer_size=5)
                self.assertManifest(name, "t", img.manifest, MT_OCI_MANIFEST)

    def test_names_containing_endpoint_words(self):
        # names may hold "blobs", "manifests", "tags", "uploads": match from the right
        name = "e2e/w-%s/blobs/manifests/tags/uploads/referrers" % rand_suffix()
        data = rand_bytes(100)
        digest = self.reg.push_blob(name, data)
        self.assertBlobPresent(name, digest, data)
        img = push_image(self.reg, name, "list")
        self.assertManifest(name, "list", img.manifest, MT_OCI_MANIFEST)
        r = self.reg.get("/v2/%s/tags/list" % name)
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"name": name, "tags": ["list"]})

    def test_nothing_created_by_invalid_name(self):
        name = "E2E/NotCreated-%s" % rand_suffix()
        self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (name, sha256(b"x")), body=b"x")
        seen, path = [], "/v2/_catalog?n=1000"
        while path:
            r = self.reg.get(path)
            seen += r.json()["repositories"]
            link = r.header("Link")
            path = link[1:link.index(">")] if link else None
        self.assertNotIn(name, seen)
        self.assertNotIn(name.lower(), seen)


class TestTags(RegistryTestCase):

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("badtag")
        cls.img = push_image(cls.reg, cls.repo, "good")

    def put_tag(self, tag):
        return self.reg.put(mpath(self.repo, tag), body=self.img.manifest,
                            headers={"Content-Type": MT_OCI_MANIFEST})

    def test_tag_over_128_characters(self):
        r = self.put_tag("t" * 129)
        self.assertError(r, 400, "TAG_INVALID")
        self.assertError(self.reg.get(mpath(self.repo, "t" * 129)), 404, "MANIFEST_UNKNOWN")

    def test_tags_with_bad_characters(self):
        for tag in ("-lead", ".lead", "has%21bang", "sp%20ace", "%C3%A9t%C3%A9", "a+b",
                    "a%2Cb", "%7Etilde"):
            with self.subTest(tag=tag):
                r = self.put_tag(tag)
                self.assertError(r, 400, "TAG_INVALID")
        tags = self.reg.get("/v2/%s/tags/list" % self.repo).json()["tags"]
        self.assertEqual(tags, ["good"])

    def test_invalid_tag_on_get_and_head_is_404(self):
        r = self.reg.get(mpath(self.repo, ".INVALID_MANIFEST_NAME"))
        self.assertError(r, 404, "MANIFEST_UNKNOWN")
        r = self.reg.head(mpath(self.repo, ".INVALID_MANIFEST_NAME"))
        self.assertError(r, 404, "MANIFEST_UNKNOWN")

    def test_unknown_tag(self):
        self.assertManifestAbsent(self.repo, "nope")

    def test_unknown_digest(self):
        self.assertManifestAbsent(self.repo, sha256(b"nope"))
        self.assertManifestAbsent(self.repo, sha512(b"nope"))

    def test_unknown_repository(self):
        name = repo_name("nonexistent")
        for method in ("GET", "HEAD"):
            with self.subTest(method=method):
                r = self.reg.request(method, mpath(name, "latest"))
                self.assertError(r, 404, {"NAME_UNKNOWN", "MANIFEST_UNKNOWN"})


class TestDigests(RegistryTestCase):

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("baddigest")
        cls.data = rand_bytes(64)
        cls.digest = cls.reg.push_blob(cls.repo, cls.data)
        cls.img = push_image(cls.reg, cls.repo, "t")
        hexpart = cls.digest[7:]
        cls.BAD = [
            "md5:" + "0" * 32,                      # unknown algorithm
            "sha1:" + "0" * 40,
            "sha256:" + hexpart[:63],               # wrong length
            "sha256:" + hexpart + "0",
            "sha512:" + hexpart,                    # sha512 with 64 hex
            "sha256:" + hexpart.upper(),            # uppercase hex
            "SHA256:" + hexpart,                    # uppercase algorithm
            "sha256:" + "g" * 64,                   # not hex
            "sha256:totallywrong",
            "sha256:",
        ]

    def test_blob_get_and_head(self):
        for bad in self.BAD:
            with self.subTest(bad=bad):
                self.assertError(self.reg.get("/v2/%s/blobs/%s" % (self.repo, bad)), 400,
                                 "DIGEST_INVALID")
                self.assertError(self.reg.head("/v2/%s/blobs/%s" % (self.repo, bad)), 400,
                                 "DIGEST_INVALID")

    def test_manifest_get(self):
        for bad in self.BAD:
            with self.subTest(bad=bad):
                if bad.startswith("SHA256:"):
                    continue  # not a digest by grammar, and not a valid tag either (":")
                r = self.reg.get(mpath(self.repo, bad))
                self.assertError(r, 400, "DIGEST_INVALID")

    def test_manifest_put_by_bad_digest(self):
        for bad in self.BAD:
            with self.subTest(bad=bad):
                r = self.reg.put(mpath(self.repo, bad), body=self.img.manifest,
                                 headers={"Content-Type": MT_OCI_MANIFEST})
                self.assertError(r, 400, {"DIGEST_INVALID", "TAG_INVALID"} if bad.startswith("SHA")
                                 else "DIGEST_INVALID")

    def test_upload_put_with_bad_digest(self):
        for bad in self.BAD:
            with self.subTest(bad=bad):
                loc = self.reg.start_upload(self.repo).location
                r = self.reg.finish_upload(loc, bad, b"abc")
                self.assertError(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(self.repo, sha256(b"abc"))

    def test_single_post_with_bad_digest(self):
        for bad in self.BAD:
            with self.subTest(bad=bad):
                r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (self.repo, bad), body=b"abc")
                self.assertError(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(self.repo, sha256(b"abc"))

    def test_blob_and_manifest_delete_with_bad_digest(self):
        for bad in self.BAD:
            with self.subTest(bad=bad):
                self.assertError(self.reg.delete("/v2/%s/blobs/%s" % (self.repo, bad)), 400,
                                 "DIGEST_INVALID")
        self.assertBlobPresent(self.repo, self.digest, self.data)

    def test_referrers_with_bad_digest(self):
        for bad in self.BAD:
            with self.subTest(bad=bad):
                self.assertError(self.reg.get("/v2/%s/referrers/%s" % (self.repo, bad)), 400,
                                 "DIGEST_INVALID")


class TestUploadIds(RegistryTestCase):

    def test_unknown_upload_uuid(self):
        repo = repo_name("badup")
        self.reg.start_upload(repo)
        for uuid in ("6f1d6ef2-2a3a-4a7d-bb2e-0d35d0b1d3f9", "0" * 32, "abc"):
            with self.subTest(uuid=uuid):
                path = "/v2/%s/blobs/uploads/%s" % (repo, uuid)
                self.assertError(self.reg.get(path), 404, "BLOB_UPLOAD_UNKNOWN")
                self.assertError(self.reg.patch_chunk(path, b"x", 0), 404, "BLOB_UPLOAD_UNKNOWN")
                self.assertError(self.reg.finish_upload(path, sha256(b"x"), b"x"), 404,
                                 "BLOB_UPLOAD_UNKNOWN")
                self.assertError(self.reg.delete(path), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertBlobAbsent(repo, sha256(b"x"))

    def test_malformed_upload_ids(self):
        repo = repo_name("badup")
        self.reg.start_upload(repo)
        for uuid in ("..%2Fx", "..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E", "x%20y", "a;b",
                     "%3Cscript%3E", "z" * 600, "..\\x", "%25", "x%0Ay"):
            with self.subTest(uuid=uuid):
                path = "/v2/%s/blobs/uploads/%s" % (repo, uuid)
                self.assertErrorOrFrontRefused(self.reg.get(path), 404, "BLOB_UPLOAD_UNKNOWN")
                self.assertErrorOrFrontRefused(self.reg.patch_chunk(path, b"x", 0), 404,
                                               "BLOB_UPLOAD_UNKNOWN")
                self.assertErrorOrFrontRefused(self.reg.finish_upload(path, sha256(b"x"), b"x"),
                                               404, "BLOB_UPLOAD_UNKNOWN")

    def test_upload_id_with_dot_dot_segment(self):
        # nginx normalises "/../"; whatever reaches berth must not be a 5xx
        repo = repo_name("badup")
        r = self.reg.get("/v2/%s/blobs/uploads/../x" % repo)
        self.assertLess(r.status, 500, r.describe())
        self.assertIn(r.status, (400, 404), r.describe())


class TestMethods(RegistryTestCase):
    """Unknown method on a known path -> 405 UNSUPPORTED."""

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("methods")
        cls.img = push_image(cls.reg, cls.repo, "t")
        cls.upload = cls.reg.start_upload(cls.repo).location

    def check(self, method, path):
        r = self.reg.request(method, path, body=b"" if method in ("POST", "PUT", "PATCH") else None)
        self.assertError(r, 405, "UNSUPPORTED")

    def test_base(self):
        for m in ("POST", "PUT", "DELETE", "PATCH"):
            self.check(m, "/v2/")

    def test_allow_lists_the_methods_of_the_endpoint(self):
        cases = [("POST", "/v2/", "GET, HEAD"),
                 ("GET", "/v2/%s/blobs/uploads/" % self.repo, "POST"),
                 ("POST", mpath(self.repo, "t"), "GET, HEAD, PUT, DELETE"),
                 ("PUT", "/v2/%s/tags/list" % self.repo, "GET, HEAD")]
        for method, path, allow in cases:
            r = self.reg.request(method, path, body=b"" if method in ("POST", "PUT") else None)
            self.assertEqual(r.status, 405, path)
            self.assertEqual(r.header("Allow"), allow, path)

    def test_manifest(self):
        for m in ("POST", "PATCH"):
            self.check(m, mpath(self.repo, "t"))

    def test_blob(self):
        for m in ("POST", "PUT", "PATCH"):
            self.check(m, "/v2/%s/blobs/%s" % (self.repo, self.img.config_digest))

    def test_tags_and_catalog(self):
        for m in ("POST", "PUT", "DELETE", "PATCH"):
            self.check(m, "/v2/%s/tags/list" % self.repo)
            self.check(m, "/v2/_catalog")

    def test_referrers(self):
        for m in ("POST", "PUT", "DELETE"):
            self.check(m, "/v2/%s/referrers/%s" % (self.repo, self.img.digest))

    def test_uploads_collection(self):
        for m in ("GET", "PUT", "PATCH", "DELETE"):
            self.check(m, "/v2/%s/blobs/uploads/" % self.repo)

    def test_upload_session(self):
        self.check("POST", self.upload)

    def test_unknown_method_name(self):
        r = self.reg.request("BREW", mpath(self.repo, "t"))
        if SERVER == "lighttpd" and r.status == 501:
            return  # lighttpd refuses methods it does not know itself
        self.assertLess(r.status, 500, r.describe())
        self.assertIn(r.status, (400, 405), r.describe())


class TestGarbage(RegistryTestCase):
    """Never a 5xx; whatever berth answers is a JSON error envelope."""

    PATHS = [
        ("GET", "/v2/x"),
        ("GET", "/v2/x/y/z"),
        ("GET", "/v2/_catalog/extra"),
        ("GET", "/v2/_unknown_extension/thing"),
        ("GET", "/v2/x/manifests/"),
        ("GET", "/v2/x/blobs/"),
        ("GET", "/v2/x/tags"),
        ("GET", "/v2/x/tags/list/more"),
        ("GET", "/v2/x/referrers/"),
        ("GET", "/v2/x/blobs/uploads"),
        ("GET", "/v2/manifests/latest"),
        ("GET", "/v2/blobs/uploads/"),
        ("GET", "/v2/x/blobs/sha256:..%2F..%2Fberth.db"),
        ("GET", "/v2/x/manifests/%FF%FE"),
        ("GET", "/v2/%FF/tags/list"),
        ("PUT", "/v2/"),
        ("POST", "/v2/x/tags/list"),
        ("DELETE", "/v2/_catalog"),
        ("PATCH", "/v2/x/blobs/uploads/"),
        ("GET", "/v2/x/manifests/latest?" + "q=" * 3000),
        ("GET", "/v2/" + "a/" * 400 + "tags/list"),
        ("GET", "/v2/x/tags/list?n=1&n=2&last=&last=%00"),
        ("POST", "/v2/x/blobs/uploads/?digest="),
        ("POST", "/v2/x/blobs/uploads/?digest=sha256:&digest=sha256:"),
    ]

    # Odd but possibly meaningful requests: any answer below 500 will do.
    ODD = [
        ("GET", "/v2/_catalog?n=%00"),
        ("GET", "/v2/_catalog?n=-5&last=%FF"),
        ("POST", "/v2/e2e/odd/blobs/uploads/?mount=&from="),
        ("POST", "/v2/e2e/odd/blobs/uploads/?mount=sha256:%zz&from=%zz"),
        ("GET", "/v2/e2e/odd/referrers/sha256:" + "0" * 64 + "?artifactType=%zz"),
        ("GET", "/v2/e2e/odd/tags/list?last=" + "z" * 5000),
    ]

    # Paths nginx itself may refuse (400) before berth sees them.
    HOSTILE = [
        ("GET", "/v2/../../etc/passwd"),
        ("GET", "/v2/%2e%2e/%2e%2e/etc/passwd"),
        ("GET", "/v2/x/manifests/..%2F..%2F..%2Fetc%2Fpasswd"),
        ("GET", "/v2/x/referrers/sha256:%00"),
        ("GET", "/v2/%00"),
        ("GET", "/v2/x/manifests/%00"),
        ("GET", "/v2/x/blobs/uploads/%00"),
        ("GET", "/v2/x/../../../../etc/passwd"),
    ]

    def test_web_server_refusals_are_oci_errors(self):
        """What nginx refuses itself (TRACE; request headers over its
        buffers) still answers an OCI error body; other shapes may refuse
        with a page of their own, never a 5xx."""
        for method, headers, status in (("TRACE", None, 405),
                                        ("GET", {"X-Big": "a" * 20000}, 400)):
            r = self.reg.request(method, "/v2/", headers=headers)
            if SERVER == "nginx":
                self.assertError(r, status, "UNSUPPORTED")
                self.assertApiVersion(r)
            else:
                self.assertLess(r.status, 500, r.describe())

    def test_garbage_paths_get_json_errors(self):
        problems = []
        for method, path in self.PATHS:
            body = b"" if method in ("POST", "PUT", "PATCH") else None
            r = self.reg.request(method, path, body=body)
            if self.frontRefused(r):
                continue
            ok = 400 <= r.status < 500 and r.header("Docker-Distribution-API-Version") == \
                "registry/2.0" and r.header("Content-Type") == "application/json"
            if ok:
                try:
                    errors = r.json()["errors"]
                    ok = bool(errors) and all(e.get("code") in KNOWN_CODES for e in errors)
                except Exception:
                    ok = False
            if not ok:
                problems.append(r.describe(300))
        if problems:
            self.fail("%d garbage requests misanswered:%s" % (len(problems), "\n".join(problems)))

    def test_garbage_statuses_are_404_or_405_or_400(self):
        for method, path in self.PATHS:
            body = b"" if method in ("POST", "PUT", "PATCH") else None
            r = self.reg.request(method, path, body=body)
            self.assertIn(r.status, (400, 404, 405, 414), r.describe())

    def test_odd_requests_never_5xx(self):
        for method, path in self.ODD:
            body = b"" if method in ("POST", "PUT", "PATCH") else None
            r = self.reg.request(method, path, body=body)
            self.assertLess(r.status, 500, r.describe())
            if not self.frontRefused(r):
                self.assertApiVersion(r)

    def test_hostile_paths_never_5xx_never_leak(self):
        for method, path in self.HOSTILE:
            r = self.reg.request(method, path)
            self.assertLess(r.status, 500, r.describe())
            self.assertGreaterEqual(r.status, 400, r.describe())
            self.assertNotIn(b"root:", r.body)
            self.assertNotIn(b"SQLite format", r.body)

    def test_raw_request_with_control_characters(self):
        for target in (b"/v2/x/manifests/a\x01b", b"/v2/x%00y/tags/list", b"/v2/\x7f"):
            try:
                r = self.reg.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            except Exception:
                continue  # the server may simply close the connection
            self.assertLess(r.status, 500, r.describe())

    def test_blob_get_cannot_escape_the_data_directory(self):
        repo = repo_name("escape")
        self.reg.push_blob(repo, b"x")
        for d in ("sha256:../../../../../../etc/passwd", "sha256:..%2f..%2fberth.db",
                  "sha256:%2e%2e%2f%2e%2e%2fberth.db"):
            r = self.reg.get("/v2/%s/blobs/%s" % (repo, d))
            self.assertLess(r.status, 500, r.describe())
            self.assertIn(r.status, (400, 404), r.describe())
            self.assertNotIn(b"root:", r.body)
            self.assertNotIn(b"SQLite format", r.body)

    def test_errors_are_valid_json_with_known_codes_on_many_endpoints(self):
        repo = repo_name("garbage")
        cases = [
            self.reg.get(mpath(repo, "x")),
            self.reg.get("/v2/%s/blobs/%s" % (repo, sha256(b"x"))),
            self.reg.get("/v2/%s/tags/list" % repo),
            self.reg.get("/v2/%s/blobs/uploads/nope" % repo),
            self.reg.put(mpath(repo, "x"), body=b"nope", headers={"Content-Type": MT_OCI_MANIFEST}),
        ]
        for r in cases:
            self.assertGreaterEqual(r.status, 400, r.describe())
            self.assertHeader(r, "Content-Type", "application/json")
            doc = json.loads(r.body)
            self.assertEqual(list(doc), ["errors"], r.describe())


# What the web server adds to any response of its own accord.
FRONT_HEADERS = {"server", "date", "connection", "keep-alive"}
# What every error response of berth carries: the version and the JSON envelope.
ERROR_HEADERS = {"docker-distribution-api-version", "content-type", "content-length"}
# Headers of a success that must never ride on an error (a cache would keep
# a 416 with Cache-Control: max-age=31536000 for a year).
SUCCESS_ONLY = {"cache-control", "etag", "docker-content-digest", "accept-ranges", "oci-subject",
                "x-accel-redirect", "x-sendfile", "link", "oci-filters-applied"}


class TestErrorHeaders(RegistryTestCase):
    """One error of each family, with exactly the headers it should carry."""

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("errhdr")
        cls.img = push_image(cls.reg, cls.repo, "t")
        cls.small = b"0123456789"
        cls.small_digest = cls.reg.push_blob(cls.repo, cls.small)

    def assertHeaderSet(self, r, status, code, extra=()):
        """r is the error (status, code) with exactly the error headers plus
        `extra` (lower-case names), and the web server's own."""
        self.assertError(r, status, code)
        names = {k.lower() for k in r.headers.keys()}
        leaked = names & SUCCESS_ONLY
        self.assertFalse(leaked, "success headers on an error: %s%s" % (sorted(leaked), r.describe()))
        if "location" not in extra:
            self.assertNoHeader(r, "Location")
        if "content-range" not in extra:
            self.assertNoHeader(r, "Content-Range")
        self.assertHeader(r, "Content-Type", "application/json")
        if r.method != "HEAD":
            self.assertEqual(r.header("Content-Length"), str(len(r.body)), r.describe())
        if SERVER != "nginx":
            return  # other web servers add headers of their own
        want = ERROR_HEADERS | set(extra)
        self.assertEqual(names - FRONT_HEADERS, want, r.describe())

    def test_404_blob_unknown(self):
        path = "/v2/%s/blobs/%s" % (self.repo, sha256(b"not pushed " + rand_bytes(8)))
        self.assertHeaderSet(self.reg.get(path), 404, "BLOB_UNKNOWN")
        self.assertHeaderSet(self.reg.head(path), 404, "BLOB_UNKNOWN")
        # a Range on a blob that is not there: still a 404, no Content-Range
        self.assertHeaderSet(self.reg.get(path, headers={"Range": "bytes=0-1"}), 404, "BLOB_UNKNOWN")

    def test_404_manifest_unknown(self):
        path = "/v2/%s/manifests/nope" % self.repo
        self.assertHeaderSet(self.reg.get(path), 404, "MANIFEST_UNKNOWN")
        self.assertHeaderSet(self.reg.head(path), 404, "MANIFEST_UNKNOWN")
        self.assertHeaderSet(self.reg.delete("/v2/%s/manifests/%s" % (self.repo, sha256(b"nope"))), 404,
                             "MANIFEST_UNKNOWN")

    def test_404_name_unknown(self):
        self.assertHeaderSet(self.reg.get("/v2/%s/tags/list" % repo_name("nobody")), 404, "NAME_UNKNOWN")

    def test_400_digest_invalid(self):
        # refused by the route's declared checks
        self.assertHeaderSet(self.reg.get("/v2/%s/blobs/sha256:nothex" % self.repo), 400, "DIGEST_INVALID")
        loc = self.reg.start_upload(self.repo).location
        r = self.reg.put(loc + ("&" if "?" in loc else "?") + "digest=md5:00", body=b"x")
        self.assertHeaderSet(r, 400, "DIGEST_INVALID")
        # found by the handler: bytes that do not match the digest
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (self.repo, sha256(b"other")), body=b"abc")
        self.assertHeaderSet(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(self.repo, sha256(b"abc"))

    def test_400_name_invalid(self):
        self.assertHeaderSet(self.reg.get("/v2/Bad-%s/tags/list" % rand_suffix()), 400, "NAME_INVALID")
        r = self.reg.post("/v2/%s/blobs/uploads/?mount=%s&from=Not/Valid" % (self.repo, self.small_digest))
        self.assertHeaderSet(r, 400, "NAME_INVALID")

    def test_400_manifest_invalid(self):
        r = self.reg.put("/v2/%s/manifests/bad" % self.repo, body=b"{not json",
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertHeaderSet(r, 400, "MANIFEST_INVALID")
        self.assertIn("detail", r.json()["errors"][0], r.describe())

    def test_400_manifest_blob_unknown(self):
        missing = [descriptor(MT_OCI_LAYER, rand_bytes(9)), descriptor(MT_OCI_LAYER, rand_bytes(10))]
        body = dumps(oci_manifest(descriptor(MT_OCI_CONFIG, make_config("hdr")), missing))
        r = self.reg.put("/v2/%s/manifests/dangling" % self.repo, body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertHeaderSet(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual([e["code"] for e in r.json()["errors"]], ["MANIFEST_BLOB_UNKNOWN"] * 3, r.describe())
        self.assertManifestAbsent(self.repo, "dangling")

    def test_400_size_invalid(self):
        loc = self.reg.start_upload(self.repo).location
        r = self.reg.patch(loc, body=b"x" * 5, headers=[("Content-Type", "application/octet-stream"),
                                                        ("Content-Range", "0-9")])
        self.assertHeaderSet(r, 400, "SIZE_INVALID")

    def test_400_pagination_number_invalid(self):
        for q in ("n=x", "n=-1", "n=100001"):
            with self.subTest(q=q):
                r = self.reg.get("/v2/%s/tags/list?%s" % (self.repo, q))
                self.assertHeaderSet(r, 400, "PAGINATION_NUMBER_INVALID")
                self.assertIn("query parameter n", r.json()["errors"][0].get("detail", ""), r.describe())
        self.assertHeaderSet(self.reg.get("/v2/_catalog?n=x"), 400, "PAGINATION_NUMBER_INVALID")

    def test_undeclared_query_keys_are_ignored(self):
        r = self.reg.get("/v2/%s/tags/list?_state=%%zz&ns=docker.io&n=1" % self.repo)
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["tags"], ["t"])

    def test_405_with_allow(self):
        r = self.reg.post("/v2/%s/tags/list" % self.repo, body=b"")
        self.assertHeaderSet(r, 405, "UNSUPPORTED", extra={"allow"})
        self.assertHeader(r, "Allow", "GET, HEAD")
        r = self.reg.put("/v2/%s/blobs/%s" % (self.repo, self.small_digest), body=b"")
        self.assertHeaderSet(r, 405, "UNSUPPORTED", extra={"allow"})
        self.assertHeader(r, "Allow", "GET, HEAD, DELETE")

    def test_413_manifest_too_large(self):
        m = oci_manifest(descriptor(MT_OCI_CONFIG, make_config()), [], annotations={"pad": ""})
        m["annotations"]["pad"] = "p" * (MANIFEST_LIMIT + 1 - len(dumps(m)))
        r = self.reg.put("/v2/%s/manifests/big" % self.repo, body=dumps(m),
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertHeaderSet(r, 413, "MANIFEST_INVALID")

    def test_416_blob_range(self):
        # issue 10: a 10-byte blob and bytes=100-200 answered 416 with the
        # blob's Cache-Control and ETag
        path = "/v2/%s/blobs/%s" % (self.repo, self.small_digest)
        for rng in ("bytes=100-200", "bytes=10-", "bytes=5-2", "bytes=-0"):
            with self.subTest(range=rng):
                r = self.reg.get(path, headers={"Range": rng})
                self.assertHeaderSet(r, 416, "RANGE_INVALID", extra={"content-range"})
                self.assertHeader(r, "Content-Range", "bytes */10")
        # the success beside it still has its headers
        r = self.reg.get(path, headers={"Range": "bytes=2-4"})
        self.assertStatus(r, 206)
        self.assertHeader(r, "Docker-Content-Digest", self.small_digest)
        self.assertBody(r, b"234")

    def test_416_upload_chunk(self):
        r = self.reg.start_upload(self.repo)
        uuid = r.header("Docker-Upload-UUID")
        r = self.reg.patch_chunk(r.location, b"abc", 0)
        self.assertStatus(r, 202)
        loc = r.location
        r = self.reg.patch_chunk(loc, b"def", 5)
        self.assertHeaderSet(r, 416, "RANGE_INVALID", extra={"location", "range", "docker-upload-uuid"})
        self.assertHeader(r, "Range", "0-2")
        self.assertHeader(r, "Docker-Upload-UUID", uuid)
        self.assertEqual(r.location, loc, r.describe())
        # a malformed Content-Range is out of order too
        r = self.reg.patch(loc, body=b"def", headers=[("Content-Type", "application/octet-stream"),
                                                      ("Content-Range", "3-x")])
        self.assertHeaderSet(r, 416, "RANGE_INVALID", extra={"location", "range", "docker-upload-uuid"})
        self.assertUploadRange(loc, "0-2")
