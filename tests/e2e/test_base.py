"""The base endpoint and the headers every response carries.

Covers oci-spec.md §1.1 end-1 (`GET /v2/`), §1.3 (Distribution's `{}` body
with `Content-Type: application/json`), §3 `Docker-Distribution-API-Version`
and checklist items 1 and 15: `Docker-Distribution-API-Version: registry/2.0`
on every response -- successes, errors, 404s of unknown paths, responses that
nginx sends itself through X-Accel-Redirect (blob GET, 206, 416) -- and the
JSON error envelope with `Content-Type: application/json`, with no body on
HEAD errors.
"""

from lib import (EMPTY_SHA256, KNOWN_CODES, MT_OCI_MANIFEST, RegistryTestCase, push_image,
                 rand_bytes, repo_name, sha256)


class TestBase(RegistryTestCase):

    def test_get_v2_answers_200_empty_json_object(self):
        r = self.reg.get("/v2/")
        self.assertStatus(r, 200)
        self.assertHeader(r, "Content-Type", "application/json")
        self.assertEqual(r.json(), {}, r.describe())
        self.assertHeader(r, "Content-Length", str(len(r.body)))
        self.assertApiVersion(r)

    def test_head_v2_answers_200_without_body(self):
        r = self.reg.head("/v2/")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        self.assertApiVersion(r)

    def test_unknown_path_under_v2_is_404_json_error(self):
        r = self.reg.get("/v2/%s/no-such-endpoint" % repo_name("base"))
        self.assertStatus(r, 404)
        self.assertApiVersion(r)
        doc = self.assertJsonBody(r)
        self.assertIsInstance(doc.get("errors"), list, r.describe())
        self.assertTrue(doc["errors"], r.describe())
        # the code must be one of the OCI table (oci-spec.md §9.1), not an invented one
        self.assertIn(doc["errors"][0].get("code"), KNOWN_CODES, r.describe())

    def test_unknown_path_outside_v2_is_404(self):
        r = self.reg.get("/nothing-here")
        self.assertStatus(r, 404)
        if not self.frontRefused(r):  # apache-cgi: outside the .htaccess rewrite
            self.assertApiVersion(r)

    def test_error_envelope_shape(self):
        repo = repo_name("base")
        r = self.reg.get("/v2/%s/blobs/%s" % (repo, sha256(b"never pushed")))
        errors = self.assertError(r, 404, "BLOB_UNKNOWN")
        self.assertEqual(set(r.json().keys()), {"errors"}, r.describe())
        self.assertEqual(len(errors), 1, r.describe())
        self.assertTrue(set(errors[0]).issubset({"code", "message", "detail"}), r.describe())
        self.assertIsInstance(errors[0].get("message"), str, r.describe())
        self.assertHeader(r, "Content-Length", str(len(r.body)))

    def test_head_error_has_no_body(self):
        repo = repo_name("base")
        r = self.reg.head("/v2/%s/manifests/nope" % repo)
        self.assertStatus(r, 404)
        self.assertEqual(r.body, b"")
        self.assertApiVersion(r)


class TestApiVersionHeaderEverywhere(RegistryTestCase):
    """Docker-Distribution-API-Version on each kind of response (checklist 1)."""

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("apiver")
        cls.data = rand_bytes(4096)
        cls.digest = cls.reg.push_blob(cls.repo, cls.data)
        cls.image = push_image(cls.reg, cls.repo, "v1")

    def test_on_blob_get(self):
        r = self.reg.get("/v2/%s/blobs/%s" % (self.repo, self.digest))
        self.assertStatus(r, 200)
        self.assertApiVersion(r)

    def test_on_blob_head(self):
        r = self.reg.head("/v2/%s/blobs/%s" % (self.repo, self.digest))
        self.assertStatus(r, 200)
        self.assertApiVersion(r)

    def test_on_blob_range_206(self):
        r = self.reg.get("/v2/%s/blobs/%s" % (self.repo, self.digest),
                         headers={"Range": "bytes=0-9"})
        self.assertStatus(r, 206)
        self.assertApiVersion(r)

    def test_on_blob_range_416(self):
        r = self.reg.get("/v2/%s/blobs/%s" % (self.repo, self.digest),
                         headers={"Range": "bytes=99999-"})
        self.assertStatus(r, 416)
        self.assertApiVersion(r)

    def test_on_empty_blob_get(self):
        repo = repo_name("apiver")
        self.reg.push_blob(repo, b"")
        r = self.reg.get("/v2/%s/blobs/%s" % (repo, EMPTY_SHA256))
        self.assertStatus(r, 200)
        self.assertApiVersion(r)

    def test_on_manifest_get_and_head(self):
        for method in ("GET", "HEAD"):
            r = self.reg.request(method, "/v2/%s/manifests/v1" % self.repo)
            self.assertStatus(r, 200)
            self.assertApiVersion(r)

    def test_on_manifest_put_201(self):
        r = self.reg.put("/v2/%s/manifests/again" % self.repo, body=self.image.manifest,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 201)
        self.assertApiVersion(r)

    def test_on_upload_responses(self):
        r = self.reg.start_upload(self.repo)
        self.assertStatus(r, 202)
        self.assertApiVersion(r)
        loc = r.location
        r = self.reg.patch_chunk(loc, b"abc", 0)
        self.assertStatus(r, 202)
        self.assertApiVersion(r)
        r = self.reg.get(r.location)
        self.assertStatus(r, 204)
        self.assertApiVersion(r)
        r = self.reg.finish_upload(r.location, sha256(b"abc"))
        self.assertStatus(r, 201)
        self.assertApiVersion(r)

    def test_on_tags_catalog_referrers(self):
        for path in ("/v2/%s/tags/list" % self.repo, "/v2/_catalog",
                     "/v2/%s/referrers/%s" % (self.repo, self.image.digest)):
            r = self.reg.get(path)
            self.assertStatus(r, 200)
            self.assertApiVersion(r)

    def test_on_errors_400_404_405(self):
        cases = [
            ("GET", "/v2/Bad_Name/tags/list", 400),
            ("GET", "/v2/%s/manifests/missing" % self.repo, 404),
            ("GET", "/v2/%s/blobs/uploads/%s" % (self.repo, "0" * 36), 404),
            ("PATCH", "/v2/%s/manifests/v1" % self.repo, 405),
        ]
        for method, path, status in cases:
            r = self.reg.request(method, path)
            self.assertStatus(r, status)
            self.assertApiVersion(r)
