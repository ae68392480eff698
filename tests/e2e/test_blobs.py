"""Blob pull: GET and HEAD by digest, per-repository visibility, Range.

Covers oci-spec.md §1.1 end-2, §1.3 (end-2 headers), §8 (blob GET/HEAD,
Range a-b / a- / -n, clipping, 416, inverted range, no Content-Encoding),
§4.8 (the zero-length blob), §4.6 (per-repository visibility) and checklist
items 2, 3 and 14.  run.sh runs this file both with nginx sending the file
(X-Accel-Redirect) and with the worker streaming it (offload = stream).
"""

from lib import (SERVER, EMPTY_SHA256, KNOWN_CODES, RegistryTestCase, rand_bytes, repo_name, sha256,
                 sha512)

SIZE = 2048


class TestBlobGet(RegistryTestCase):

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("blobs")
        cls.data = rand_bytes(SIZE)
        cls.digest = cls.reg.push_blob(cls.repo, cls.data)
        cls.path = "/v2/%s/blobs/%s" % (cls.repo, cls.digest)

    def test_get_returns_exact_bytes_and_headers(self):
        r = self.reg.get(self.path)
        self.assertStatus(r, 200)
        self.assertBody(r, self.data)
        self.assertEqual(sha256(r.body), self.digest)
        self.assertHeader(r, "Content-Length", str(SIZE))
        self.assertHeader(r, "Docker-Content-Digest", self.digest)
        self.assertHeader(r, "Content-Type", "application/octet-stream")

    def test_head_returns_headers_and_no_body(self):
        r = self.reg.head(self.path)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        self.assertHeader(r, "Content-Length", str(SIZE))
        self.assertHeader(r, "Docker-Content-Digest", self.digest)
        self.assertHeader(r, "Content-Type", "application/octet-stream")

    def test_get_is_not_content_encoded(self):
        r = self.reg.get(self.path, headers={"Accept-Encoding": "gzip, deflate, zstd"})
        self.assertStatus(r, 200)
        self.assertNoHeader(r, "Content-Encoding")
        self.assertBody(r, self.data)

    def test_blob_is_unknown_in_another_repository(self):
        other = repo_name("blobs-other")
        self.reg.push_blob(other, b"make the other repository exist")
        r = self.reg.get("/v2/%s/blobs/%s" % (other, self.digest))
        self.assertError(r, 404, "BLOB_UNKNOWN")
        r = self.reg.head("/v2/%s/blobs/%s" % (other, self.digest))
        self.assertError(r, 404, "BLOB_UNKNOWN")

    def test_blob_is_unknown_in_a_repository_that_does_not_exist(self):
        r = self.reg.get("/v2/%s/blobs/%s" % (repo_name("nowhere"), self.digest))
        self.assertError(r, 404, {"BLOB_UNKNOWN", "NAME_UNKNOWN"})

    def test_unknown_digest_is_blob_unknown(self):
        r = self.reg.get("/v2/%s/blobs/%s" % (self.repo, sha256(b"not here")))
        self.assertError(r, 404, "BLOB_UNKNOWN")
        r = self.reg.head("/v2/%s/blobs/%s" % (self.repo, sha256(b"not here")))
        self.assertError(r, 404, "BLOB_UNKNOWN")

    def test_unknown_sha512_digest_is_blob_unknown(self):
        r = self.reg.get("/v2/%s/blobs/%s" % (self.repo, sha512(b"not here")))
        self.assertError(r, 404, "BLOB_UNKNOWN")


class TestBlobRange(RegistryTestCase):
    """Range on blob GET (oci-spec.md §8)."""

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("range")
        cls.data = rand_bytes(SIZE)
        cls.digest = cls.reg.push_blob(cls.repo, cls.data)
        cls.path = "/v2/%s/blobs/%s" % (cls.repo, cls.digest)

    def get_range(self, value):
        return self.reg.get(self.path, headers={"Range": value})

    def assertPartial(self, r, first, last):
        self.assertStatus(r, 206)
        self.assertHeader(r, "Content-Range", "bytes %d-%d/%d" % (first, last, SIZE))
        self.assertHeader(r, "Content-Length", str(last - first + 1))
        self.assertBody(r, self.data[first:last + 1])

    def test_closed_range(self):
        self.assertPartial(self.get_range("bytes=100-199"), 100, 199)

    def test_first_byte_only(self):
        self.assertPartial(self.get_range("bytes=0-0"), 0, 0)

    def test_open_ended_range(self):
        self.assertPartial(self.get_range("bytes=1000-"), 1000, SIZE - 1)

    def test_suffix_range(self):
        self.assertPartial(self.get_range("bytes=-100"), SIZE - 100, SIZE - 1)

    def test_last_byte(self):
        self.assertPartial(self.get_range("bytes=%d-" % (SIZE - 1)), SIZE - 1, SIZE - 1)

    def test_whole_blob_as_range(self):
        self.assertPartial(self.get_range("bytes=0-%d" % (SIZE - 1)), 0, SIZE - 1)

    def test_end_past_eof_is_clipped(self):
        self.assertPartial(self.get_range("bytes=2000-5000"), 2000, SIZE - 1)

    def test_suffix_longer_than_blob_is_whole_blob(self):
        self.assertPartial(self.get_range("bytes=-5000"), 0, SIZE - 1)

    def test_start_past_eof_is_416(self):
        r = self.get_range("bytes=5000-10000")
        self.assertStatus(r, 416)
        self.assertHeader(r, "Content-Range", "bytes */%d" % SIZE)

    def test_start_at_eof_is_416(self):
        r = self.get_range("bytes=%d-" % SIZE)
        self.assertStatus(r, 416)

    def test_inverted_range_is_416(self):
        r = self.get_range("bytes=500-0")
        self.assertStatus(r, 416)

    def test_416_body_is_empty_or_error_envelope(self):
        r = self.get_range("bytes=5000-")
        self.assertStatus(r, 416)
        if r.body:
            self.assertError(r, 416, KNOWN_CODES)

    def test_malformed_range_header_is_ignored_or_416(self):
        for value in ("bytes=abc", "bytes=", "items=0-5", "bytes=--5", "bytes 0-5"):
            with self.subTest(value=value):
                r = self.get_range(value)
                self.assertStatus(r, (200, 416))
                if r.status == 200:
                    self.assertBody(r, self.data)

    def test_head_with_range(self):
        r = self.reg.head(self.path, headers={"Range": "bytes=0-9"})
        self.assertStatus(r, (200, 206))
        self.assertEqual(r.body, b"")
        self.assertHeader(r, "Docker-Content-Digest", self.digest)

    def test_range_keeps_digest_header(self):
        r = self.get_range("bytes=10-19")
        self.assertStatus(r, 206)
        self.assertHeader(r, "Docker-Content-Digest", self.digest)

    def test_resume_style_range_on_large_blob(self):
        repo = repo_name("range-big")
        data = rand_bytes(3 * 1024 * 1024 + 17)
        digest = self.reg.push_blob(repo, data)
        path = "/v2/%s/blobs/%s" % (repo, digest)
        r = self.reg.get(path)
        self.assertStatus(r, 200)
        self.assertEqual(sha256(r.body), digest)
        off = 1024 * 1024 + 5
        r = self.reg.get(path, headers={"Range": "bytes=%d-" % off})
        self.assertStatus(r, 206)
        self.assertHeader(r, "Content-Range", "bytes %d-%d/%d" % (off, len(data) - 1, len(data)))
        self.assertEqual(r.body, data[off:])


class TestEmptyBlob(RegistryTestCase):
    """The zero-length blob (oci-spec.md §4.8)."""

    def test_empty_blob_get_and_head(self):
        repo = repo_name("empty")
        self.assertEqual(self.reg.push_blob(repo, b""), EMPTY_SHA256)
        r = self.reg.get("/v2/%s/blobs/%s" % (repo, EMPTY_SHA256))
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        self.assertHeader(r, "Content-Length", "0")
        self.assertHeader(r, "Docker-Content-Digest", EMPTY_SHA256)
        r = self.reg.head("/v2/%s/blobs/%s" % (repo, EMPTY_SHA256))
        self.assertStatus(r, 200)
        if not (SERVER.startswith("apache") and r.header("Content-Length") is None):
            # Apache drops "Content-Length: 0" from every HEAD answer.
            self.assertHeader(r, "Content-Length", "0")
        self.assertHeader(r, "Docker-Content-Digest", EMPTY_SHA256)
