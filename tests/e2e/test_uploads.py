"""Blob push: every upload flow, session status and cancel, mount.

Covers oci-spec.md §1.1 end-4a/4b/4c/5/6/11/13/14, §1.3 (upload headers),
§2.4 (session ids), §4.0-4.9 (monolithic POST+PUT, single POST, chunked PATCH
with Content-Range, streamed PATCH with Content-Length or chunked
Transfer-Encoding, the final chunk on PUT, ordering and 416, the exact C111
sequence, status GET, cancel, digest and size mismatches, the zero-length
blob, sha512, mount) and checklist items 2, 4, 5, 6, 7 and 8.
"""

import threading

from lib import (EMPTY_SHA256, RegistryTestCase, path_of, rand_bytes, repo_name,
                 sha256, sha512, with_query)


def blob_path(repo, digest):
    return "/v2/%s/blobs/%s" % (repo, digest)


class TestStartUpload(RegistryTestCase):

    def test_post_opens_a_session(self):
        repo = repo_name("up")
        r = self.reg.start_upload(repo)
        self.assertStatus(r, 202)
        loc = r.header("Location")
        self.assertTrue(loc and loc.startswith("/v2/%s/blobs/uploads/" % repo),
                        "Location must be relative under the repository" + r.describe())
        self.assertGreater(len(loc), len("/v2/%s/blobs/uploads/" % repo), r.describe())
        self.assertTrue(r.header("Docker-Upload-UUID"), r.describe())
        self.assertHeader(r, "Range", "0-0")
        self.assertHeader(r, "Content-Length", "0")
        self.assertEqual(r.body, b"")

    def test_two_posts_give_two_sessions(self):
        repo = repo_name("up")
        a = self.reg.start_upload(repo)
        b = self.reg.start_upload(repo)
        self.assertStatus(a, 202)
        self.assertStatus(b, 202)
        self.assertNotEqual(a.header("Docker-Upload-UUID"), b.header("Docker-Upload-UUID"))
        self.assertNotEqual(a.location, b.location)

    def test_status_of_a_fresh_session(self):
        repo = repo_name("up")
        r = self.reg.start_upload(repo)
        s = self.assertUploadRange(r.location, "0-0")
        self.assertTrue(path_of(s.header("Location")).startswith("/v2/%s/blobs/uploads/" % repo))
        self.assertNoHeader(s, "Content-Length")  # none on a 204, RFC 9110 8.6
        self.assertEqual(s.body, b"")

    def test_chunk_min_length_if_announced_is_a_number(self):
        r = self.reg.start_upload(repo_name("up"))
        self.assertStatus(r, 202)
        v = r.header("OCI-Chunk-Min-Length")
        if v is not None:
            self.assertTrue(v.isdigit() and int(v) > 0, r.describe())


class TestMonolithic(RegistryTestCase):

    def test_post_then_put_with_body(self):
        repo = repo_name("mono")
        data = rand_bytes(5000)
        digest = sha256(data)
        r = self.reg.start_upload(repo)
        self.assertStatus(r, 202)
        r = self.reg.finish_upload(r.location, digest, data)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", "/v2/%s/blobs/%s" % (repo, digest))
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertBlobPresent(repo, digest, data)

    def test_location_after_put_is_pullable(self):
        repo = repo_name("mono")
        data = rand_bytes(300)
        r = self.reg.start_upload(repo)
        r = self.reg.finish_upload(r.location, sha256(data), data)
        self.assertStatus(r, 201)
        g = self.reg.get(r.location)
        self.assertStatus(g, 200)
        self.assertBody(g, data)

    def test_single_post_with_digest(self):
        repo = repo_name("mono")
        data = rand_bytes(4321)
        digest = sha256(data)
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, digest), body=data,
                          headers={"Content-Type": "application/octet-stream"})
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", "/v2/%s/blobs/%s" % (repo, digest))
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertBlobPresent(repo, digest, data)

    def test_single_post_with_chunked_body(self):
        repo = repo_name("mono")
        data = rand_bytes(70000)
        digest = sha256(data)
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, digest),
                          body=[data[:30000], data[30000:]], chunked=True)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertBlobPresent(repo, digest, data)

    def test_put_with_chunked_body(self):
        repo = repo_name("mono")
        data = rand_bytes(100000)
        digest = sha256(data)
        r = self.reg.start_upload(repo)
        r = self.reg.put(with_query(r.location, "digest=" + digest),
                         body=[data[i:i + 8192] for i in range(0, len(data), 8192)],
                         chunked=True)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertBlobPresent(repo, digest, data)

    def test_large_blob_monolithic(self):
        repo = repo_name("mono")
        data = rand_bytes(8 * 1024 * 1024 + 3)
        digest = self.reg.push_blob(repo, data)
        r = self.reg.get(blob_path(repo, digest))
        self.assertStatus(r, 200)
        self.assertHeader(r, "Content-Length", str(len(data)))
        self.assertEqual(sha256(r.body), digest)


class TestChunked(RegistryTestCase):

    def test_patch_chunks_then_put(self):
        repo = repo_name("chunk")
        data = rand_bytes(3000)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data[:1000], 0)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-999")
        self.assertTrue(path_of(r.header("Location")).startswith("/v2/%s/blobs/uploads/" % repo))
        self.assertTrue(r.header("Docker-Upload-UUID"), r.describe())
        self.assertHeader(r, "Content-Length", "0")
        r = self.reg.patch_chunk(r.location, data[1000:2500], 1000)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-2499")
        r = self.reg.patch_chunk(r.location, data[2500:], 2500)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-2999")
        self.assertUploadRange(r.location, "0-2999")
        r = self.reg.finish_upload(r.location, sha256(data))
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", blob_path(repo, sha256(data)))
        self.assertHeader(r, "Docker-Content-Digest", sha256(data))
        self.assertBlobPresent(repo, sha256(data), data)

    def test_many_small_chunks(self):
        # each chunk may be served by another worker: the hash state must travel
        repo = repo_name("chunk")
        data = rand_bytes(12 * 777)
        loc = self.reg.start_upload(repo).location
        for i in range(12):
            r = self.reg.patch_chunk(loc, data[i * 777:(i + 1) * 777], i * 777)
            self.assertStatus(r, 202)
            self.assertHeader(r, "Range", "0-%d" % ((i + 1) * 777 - 1))
            loc = r.location
        r = self.reg.finish_upload(loc, sha256(data))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(data), data)

    def test_large_chunks(self):
        repo = repo_name("chunk")
        data = rand_bytes(6 * 1024 * 1024)
        half = len(data) // 2
        loc = self.reg.start_upload(repo).location
        r = self.reg.patch_chunk(loc, data[:half], 0)
        self.assertStatus(r, 202)
        r = self.reg.patch_chunk(r.location, data[half:], half)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-%d" % (len(data) - 1))
        r = self.reg.finish_upload(r.location, sha256(data))
        self.assertStatus(r, 201)
        g = self.reg.get(blob_path(repo, sha256(data)))
        self.assertEqual(sha256(g.body), sha256(data))

    def test_final_chunk_on_put(self):
        repo = repo_name("chunk")
        data = rand_bytes(2000)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data[:1200], 0)
        self.assertStatus(r, 202)
        r = self.reg.finish_upload(r.location, sha256(data), data[1200:],
                                   headers=[("Content-Range", "1200-1999")])
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", blob_path(repo, sha256(data)))
        self.assertHeader(r, "Docker-Content-Digest", sha256(data))
        self.assertBlobPresent(repo, sha256(data), data)

    def test_final_chunk_on_put_without_content_range(self):
        repo = repo_name("chunk")
        data = rand_bytes(2000)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data[:500], 0)
        r = self.reg.finish_upload(r.location, sha256(data), data[500:])
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(data), data)

    def test_streamed_patch_with_content_length(self):
        repo = repo_name("stream")
        data = rand_bytes(5555)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data, content_range=False)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-5554")
        self.assertTrue(r.header("Location"), r.describe())
        r = self.reg.finish_upload(r.location, sha256(data))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(data), data)

    def test_streamed_patch_with_chunked_encoding(self):
        repo = repo_name("stream")
        data = rand_bytes(200000)
        r = self.reg.start_upload(repo)
        r = self.reg.patch(r.location, body=[data[i:i + 16384] for i in range(0, len(data), 16384)],
                           headers={"Content-Type": "application/octet-stream"}, chunked=True)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-%d" % (len(data) - 1))
        r = self.reg.finish_upload(r.location, sha256(data))
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", sha256(data))
        self.assertBlobPresent(repo, sha256(data), data)

    def test_chunked_encoding_with_content_range(self):
        repo = repo_name("stream")
        a, b = rand_bytes(3000), rand_bytes(5000)
        r = self.reg.start_upload(repo)
        r = self.reg.patch(r.location, body=[a[:1000], a[1000:]], chunked=True,
                           headers=[("Content-Range", "0-2999")])
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-2999")
        r = self.reg.patch(r.location, body=[b], chunked=True,
                           headers=[("Content-Range", "3000-7999")])
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-7999")
        r = self.reg.finish_upload(r.location, sha256(a + b))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(a + b), a + b)

    def test_chunked_encoding_shorter_than_content_range(self):
        repo = repo_name("stream")
        loc = self.reg.start_upload(repo).location
        r = self.reg.patch(loc, body=[b"x" * 5], chunked=True, headers=[("Content-Range", "0-9")])
        self.assertError(r, 400, "SIZE_INVALID")
        self.assertUploadRange(loc, "0-0")

    def test_chunked_encoding_longer_than_content_range(self):
        repo = repo_name("stream")
        loc = self.reg.start_upload(repo).location
        r = self.reg.patch(loc, body=[b"x" * 15], chunked=True, headers=[("Content-Range", "0-9")])
        self.assertError(r, 400, "SIZE_INVALID")
        self.assertUploadRange(loc, "0-0")

    def test_two_streamed_patches_accumulate(self):
        repo = repo_name("stream")
        a, b = rand_bytes(1000), rand_bytes(3000)
        r = self.reg.start_upload(repo)
        r = self.reg.patch(r.location, body=[a], chunked=True)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-999")
        r = self.reg.patch(r.location, body=[b], chunked=True)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-3999")
        r = self.reg.finish_upload(r.location, sha256(a + b))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(a + b), a + b)

    def test_any_body_content_type_is_accepted(self):
        repo = repo_name("chunk")
        a, b, c = rand_bytes(10), rand_bytes(20), rand_bytes(30)
        r = self.reg.start_upload(repo)
        r = self.reg.patch(r.location, body=a, headers=[("Content-Range", "0-9")])
        self.assertStatus(r, 202)
        r = self.reg.patch(r.location, body=b, headers=[("Content-Range", "10-29"),
                                                        ("Content-Type", "application/x-tar")])
        self.assertStatus(r, 202)
        r = self.reg.put(with_query(r.location, "digest=" + sha256(a + b + c)), body=c,
                         headers=[("Content-Type", "text/plain; charset=utf-8")])
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(a + b + c), a + b + c)

    def test_concurrent_patches_of_the_same_chunk(self):
        # only one of several identical first chunks may land (no double append)
        repo = repo_name("chunk")
        data = rand_bytes(256 * 1024)
        loc = self.reg.start_upload(repo).location
        results = [None] * 4
        barrier = threading.Barrier(len(results))

        def send(i):
            try:
                barrier.wait(timeout=30)
                results[i] = self.reg.patch_chunk(loc, data, 0)
            except Exception as e:
                results[i] = e

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        statuses = sorted(getattr(r, "status", repr(r)) for r in results)
        self.assertEqual(statuses.count(202), 1, statuses)
        self.assertEqual(statuses.count(416), len(results) - 1, statuses)
        self.assertUploadRange(loc, "0-%d" % (len(data) - 1))
        r = self.reg.finish_upload(loc, sha256(data))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(data), data)

    def test_mixed_content_range_and_streamed(self):
        repo = repo_name("stream")
        a, b = rand_bytes(700), rand_bytes(900)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, a, 0)
        self.assertStatus(r, 202)
        r = self.reg.patch_chunk(r.location, b, content_range=False)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-1599")
        r = self.reg.finish_upload(r.location, sha256(a + b))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(a + b), a + b)


class TestChunkOrdering(RegistryTestCase):
    """Out-of-order chunks: 416 and an untouched session (§4.3, checklist 5)."""

    def test_exact_c111_sequence(self):
        repo = repo_name("c111")
        blob = rand_bytes(42)
        c1, c2 = blob[:22], blob[22:]
        # 1. a first chunk that does not start at 0
        r = self.reg.start_upload(repo)
        self.assertStatus(r, 202)
        r = self.reg.patch_chunk(r.location, c2, 22)
        self.assertStatus(r, 416)
        # 2. a new session; the first chunk
        post = self.reg.start_upload(repo)
        self.assertStatus(post, 202)
        first_loc = post.location
        r = self.reg.patch_chunk(first_loc, c1, 0)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-21")
        self.assertTrue(r.header("Location"))
        # 3. the same chunk again at the POST's location
        r = self.reg.patch_chunk(first_loc, c1, 0)
        self.assertStatus(r, 416)
        # 4. status at the POST's location
        r = self.reg.get(first_loc)
        self.assertStatus(r, 204)
        self.assertTrue(r.header("Location"), r.describe())
        self.assertHeader(r, "Range", "0-21")
        # 5. the second chunk at the location the GET gave
        r = self.reg.patch_chunk(r.location, c2, 22)
        self.assertStatus(r, 202)
        self.assertTrue(r.header("Location"), r.describe())
        self.assertHeader(r, "Range", "0-41")
        # 6. close
        r = self.reg.finish_upload(r.location, sha256(blob), headers=[("Content-Length", "0")])
        self.assertStatus(r, 201)
        self.assertTrue(r.header("Location"), r.describe())
        self.assertBlobPresent(repo, sha256(blob), blob)

    def test_gap_is_416_and_session_unchanged(self):
        repo = repo_name("order")
        data = rand_bytes(300)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data[:100], 0)
        loc = r.location
        r = self.reg.patch_chunk(loc, data[200:], 200)
        self.assertStatus(r, 416)
        self.assertUploadRange(loc, "0-99")
        r = self.reg.patch_chunk(loc, data[100:], 100)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-299")
        r = self.reg.finish_upload(r.location, sha256(data))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(data), data)

    def test_overlap_is_416(self):
        repo = repo_name("order")
        data = rand_bytes(300)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data[:100], 0)
        loc = r.location
        r = self.reg.patch_chunk(loc, data[50:150], 50)
        self.assertStatus(r, 416)
        self.assertUploadRange(loc, "0-99")

    def test_resend_of_accepted_chunk_at_newest_location_is_416(self):
        repo = repo_name("order")
        data = rand_bytes(100)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data, 0)
        loc = r.location
        r = self.reg.patch_chunk(loc, data, 0)
        self.assertStatus(r, 416)
        self.assertUploadRange(loc, "0-99")
        r = self.reg.finish_upload(loc, sha256(data))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(data), data)

    def test_out_of_order_chunk_then_status_before_any_data(self):
        repo = repo_name("order")
        r = self.reg.start_upload(repo)
        loc = r.location
        r = self.reg.patch_chunk(loc, b"x" * 10, 5)
        self.assertStatus(r, 416)
        self.assertUploadRange(loc, "0-0")

    def test_out_of_order_final_chunk_on_put_is_416(self):
        repo = repo_name("order")
        data = rand_bytes(200)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data[:100], 0)
        loc = r.location
        r = self.reg.finish_upload(loc, sha256(data), data[150:],
                                   headers=[("Content-Range", "150-199")])
        self.assertStatus(r, 416)
        self.assertBlobAbsent(repo, sha256(data))

    def test_inverted_content_range_is_rejected(self):
        repo = repo_name("order")
        loc = self.reg.start_upload(repo).location
        r = self.reg.patch(loc, body=b"0123456789", headers=[("Content-Range", "9-0")])
        self.assertStatus(r, (400, 416))
        self.assertUploadRange(loc, "0-0")

    def test_malformed_content_range_is_rejected_not_500(self):
        repo = repo_name("order")
        loc = self.reg.start_upload(repo).location
        for value in ("bytes 0-9/10", "abc", "0-", "-9", "0-9-10", "0x0-0x9"):
            with self.subTest(value=value):
                r = self.reg.patch(loc, body=b"0123456789", headers=[("Content-Range", value)])
                self.assertStatus(r, (400, 416))
        self.assertUploadRange(loc, "0-0")


class TestSessionStatusAndCancel(RegistryTestCase):

    def test_status_after_chunk(self):
        repo = repo_name("status")
        r = self.reg.start_upload(repo)
        first = r.location
        r = self.reg.patch_chunk(first, b"hello world", 0)
        s = self.assertUploadRange(r.location, "0-10")
        self.assertTrue(s.header("Docker-Upload-UUID"), s.describe())
        # the older location answers the same
        self.assertUploadRange(first, "0-10")

    def test_head_on_session(self):
        repo = repo_name("status")
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, b"0123456789", 0)
        h = self.reg.head(r.location)
        self.assertStatus(h, 204)
        self.assertHeader(h, "Range", "0-9")
        self.assertTrue(h.header("Location"), h.describe())

    def test_upload_uuid_is_stable(self):
        repo = repo_name("status")
        post = self.reg.start_upload(repo)
        uuid = post.header("Docker-Upload-UUID")
        r = self.reg.patch_chunk(post.location, b"abc", 0)
        self.assertHeader(r, "Docker-Upload-UUID", uuid)
        self.assertHeader(self.reg.get(r.location), "Docker-Upload-UUID", uuid)
        self.assertIn(uuid, post.location)

    def test_cancel_then_unknown(self):
        repo = repo_name("cancel")
        r = self.reg.start_upload(repo)
        loc = r.location
        r = self.reg.patch_chunk(loc, b"some bytes", 0)
        loc2 = r.location
        r = self.reg.delete(loc2)
        self.assertStatus(r, 204)
        self.assertError(self.reg.get(loc2), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(self.reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.reg.patch_chunk(loc2, b"more", 10)
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        r = self.reg.finish_upload(loc2, sha256(b"some bytes"))
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertBlobAbsent(repo, sha256(b"some bytes"))

    def test_cancel_twice_is_404(self):
        repo = repo_name("cancel")
        loc = self.reg.start_upload(repo).location
        self.assertStatus(self.reg.delete(loc), 204)
        self.assertError(self.reg.delete(loc), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_session_is_closed_after_successful_put(self):
        repo = repo_name("status")
        data = b"closed after put"
        loc = self.reg.start_upload(repo).location
        r = self.reg.finish_upload(loc, sha256(data), data)
        self.assertStatus(r, 201)
        self.assertError(self.reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(self.reg.patch_chunk(loc, b"x", len(data)), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_session_of_one_repository_is_unknown_in_another(self):
        repo, other = repo_name("status"), repo_name("status")
        loc = self.reg.start_upload(repo).location
        self.reg.start_upload(other)
        foreign = loc.replace("/v2/%s/" % repo, "/v2/%s/" % other, 1)
        self.assertError(self.reg.get(foreign), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(self.reg.patch_chunk(foreign, b"abc", 0), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(self.reg.delete(foreign), 404, "BLOB_UPLOAD_UNKNOWN")
        data = b"wrong repository"
        r = self.reg.finish_upload(foreign, sha256(data), data)
        self.assertError(r, 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertBlobAbsent(other, sha256(data))
        self.assertUploadRange(loc, "0-0")


class TestDigestAndSizeErrors(RegistryTestCase):

    def test_digest_mismatch_on_put(self):
        repo = repo_name("bad")
        data = rand_bytes(1000)
        wrong = sha256(b"something else")
        loc = self.reg.start_upload(repo).location
        r = self.reg.finish_upload(loc, wrong, data)
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(repo, wrong)
        self.assertBlobAbsent(repo, sha256(data))

    def test_digest_mismatch_after_chunks(self):
        repo = repo_name("bad")
        data = rand_bytes(1000)
        wrong = sha256(data + b"!")
        loc = self.reg.start_upload(repo).location
        r = self.reg.patch_chunk(loc, data, 0)
        self.assertStatus(r, 202)
        r = self.reg.finish_upload(r.location, wrong)
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(repo, wrong)
        self.assertBlobAbsent(repo, sha256(data))

    def test_digest_mismatch_on_single_post(self):
        repo = repo_name("bad")
        data = rand_bytes(1000)
        wrong = sha256(b"not the data")
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, wrong), body=data)
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(repo, wrong)
        self.assertBlobAbsent(repo, sha256(data))

    def test_sha512_digest_mismatch(self):
        repo = repo_name("bad")
        data = rand_bytes(1000)
        wrong = sha512(b"other")
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, wrong), body=data)
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(repo, wrong)

    def test_missing_digest_on_put(self):
        repo = repo_name("bad")
        data = rand_bytes(100)
        loc = self.reg.start_upload(repo).location
        r = self.reg.put(loc, body=data)
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(repo, sha256(data))

    def test_malformed_digest_on_put(self):
        repo = repo_name("bad")
        data = rand_bytes(100)
        for bad in ("sha256:xyz", "sha256:" + sha256(data)[7:].upper(), "md5:" + "0" * 32,
                    "sha256:" + "0" * 63, "nonsense"):
            with self.subTest(bad=bad):
                loc = self.reg.start_upload(repo).location
                r = self.reg.finish_upload(loc, bad, data)
                self.assertError(r, 400, "DIGEST_INVALID")
        self.assertBlobAbsent(repo, sha256(data))

    def test_malformed_digest_on_single_post(self):
        repo = repo_name("bad")
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=sha256:1234" % repo, body=b"abc")
        self.assertError(r, 400, "DIGEST_INVALID")

    def test_unsupported_digest_algorithm_param(self):
        r = self.reg.start_upload(repo_name("bad"), "digest-algorithm=md5")
        self.assertError(r, 400, {"DIGEST_INVALID", "UNSUPPORTED"})

    def test_content_range_span_differs_from_content_length(self):
        repo = repo_name("size")
        loc = self.reg.start_upload(repo).location
        r = self.reg.patch(loc, body=b"01234", headers=[("Content-Range", "0-9")])
        self.assertError(r, 400, "SIZE_INVALID")
        self.assertUploadRange(loc, "0-0")

    def test_content_length_smaller_than_body(self):
        repo = repo_name("size")
        loc = self.reg.start_upload(repo).location
        r = self.reg.patch(loc, body=b"0123456789",
                           headers=[("Content-Range", "0-9"), ("Content-Length", "5")])
        self.assertError(r, 400, "SIZE_INVALID")
        self.assertUploadRange(loc, "0-0")

    def test_final_chunk_span_differs_from_content_length(self):
        repo = repo_name("size")
        data = rand_bytes(20)
        loc = self.reg.start_upload(repo).location
        r = self.reg.finish_upload(loc, sha256(data), data, headers=[("Content-Range", "0-29")])
        self.assertError(r, 400, "SIZE_INVALID")
        self.assertBlobAbsent(repo, sha256(data))


class TestEmptyAndSha512(RegistryTestCase):

    def test_empty_blob_post_then_put(self):
        repo = repo_name("zero")
        loc = self.reg.start_upload(repo).location
        r = self.reg.finish_upload(loc, EMPTY_SHA256)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", blob_path(repo, EMPTY_SHA256))
        self.assertHeader(r, "Docker-Content-Digest", EMPTY_SHA256)
        g = self.reg.get(blob_path(repo, EMPTY_SHA256))
        self.assertStatus(g, 200)
        self.assertHeader(g, "Content-Length", "0")
        self.assertEqual(g.body, b"")

    def test_empty_blob_single_post(self):
        repo = repo_name("zero")
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, EMPTY_SHA256))
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", blob_path(repo, EMPTY_SHA256))
        self.assertHeader(r, "Docker-Content-Digest", EMPTY_SHA256)
        g = self.reg.get(blob_path(repo, EMPTY_SHA256))
        self.assertStatus(g, 200)
        self.assertHeader(g, "Content-Length", "0")

    def test_empty_blob_put_with_chunked_empty_body(self):
        repo = repo_name("zero")
        loc = self.reg.start_upload(repo).location
        r = self.reg.put(with_query(loc, "digest=" + EMPTY_SHA256), body=[], chunked=True)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", EMPTY_SHA256)
        self.assertStatus(self.reg.head(blob_path(repo, EMPTY_SHA256)), 200)

    def test_sha512_single_post(self):
        repo = repo_name("sha512")
        data = rand_bytes(3000)
        d = sha512(data)
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=data)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", blob_path(repo, d))
        self.assertHeader(r, "Docker-Content-Digest", d)
        self.assertBlobPresent(repo, d, data)
        h = self.reg.head(blob_path(repo, d))
        self.assertStatus(h, 200)
        self.assertHeader(h, "Content-Length", "3000")
        self.assertHeader(h, "Docker-Content-Digest", d)

    def test_sha512_post_then_put(self):
        repo = repo_name("sha512")
        data = rand_bytes(3000)
        d = self.reg.push_blob(repo, data, "sha512")
        self.assertBlobPresent(repo, d, data)

    def test_sha512_chunked_with_digest_algorithm(self):
        repo = repo_name("sha512")
        data = rand_bytes(5000)
        d = sha512(data)
        r = self.reg.start_upload(repo, "digest-algorithm=sha512")
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-0")
        r = self.reg.patch_chunk(r.location, data[:2000], 0)
        self.assertStatus(r, 202)
        r = self.reg.patch_chunk(r.location, data[2000:], 2000)
        self.assertStatus(r, 202)
        self.assertHeader(r, "Range", "0-4999")
        r = self.reg.finish_upload(r.location, d)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", blob_path(repo, d))
        self.assertHeader(r, "Docker-Content-Digest", d)
        self.assertBlobPresent(repo, d, data)

    def test_wrong_digest_of_the_other_algorithm_is_refused(self):
        repo = repo_name("sha512")
        data = rand_bytes(3000)
        # a sha512 session closed with a wrong sha256 digest, and the reverse
        for query, wrong in (("digest-algorithm=sha512", sha256(data + b"x")),
                             ("", sha512(data + b"x"))):
            with self.subTest(query=query):
                r = self.reg.start_upload(repo, query)
                r = self.reg.patch_chunk(r.location, data, 0)
                self.assertStatus(r, 202)
                r = self.reg.finish_upload(r.location, wrong)
                self.assertError(r, 400, "DIGEST_INVALID")
                self.assertBlobAbsent(repo, wrong)

    def test_right_digest_of_the_other_algorithm_is_verified(self):
        # the session hashed with sha256 but is closed with a sha512 digest:
        # the registry may refuse (400), but must not store unverified bytes
        repo = repo_name("sha512")
        data = rand_bytes(3000)
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data, 0)
        r = self.reg.finish_upload(r.location, sha512(data))
        self.assertStatus(r, (201, 400))
        if r.status == 201:
            self.assertBlobPresent(repo, sha512(data), data)
        else:
            self.assertError(r, 400, {"DIGEST_INVALID", "UNSUPPORTED"})
            self.assertBlobAbsent(repo, sha512(data))

    def test_sha512_range(self):
        repo = repo_name("sha512")
        data = rand_bytes(1000)
        d = self.reg.push_blob(repo, data, "sha512")
        r = self.reg.get(blob_path(repo, d), headers={"Range": "bytes=10-19"})
        self.assertStatus(r, 206)
        self.assertHeader(r, "Content-Range", "bytes 10-19/1000")
        self.assertEqual(r.body, data[10:20])


class TestPushTwice(RegistryTestCase):

    def test_same_blob_twice_in_one_repository(self):
        repo = repo_name("twice")
        data = rand_bytes(10000)
        self.reg.push_blob(repo, data)
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(data)), body=data)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", sha256(data))
        self.assertBlobPresent(repo, sha256(data), data)

    def test_same_blob_in_two_repositories(self):
        a, b = repo_name("twice"), repo_name("twice")
        data = rand_bytes(10000)
        self.reg.push_blob(a, data)
        self.reg.push_blob(b, data)
        self.assertBlobPresent(a, sha256(data), data)
        self.assertBlobPresent(b, sha256(data), data)

    def test_same_blob_by_two_clients_at_once(self):
        repos = [repo_name("race"), repo_name("race")]
        repos.append(repos[0])  # two into one repository, one into another
        data = rand_bytes(2 * 1024 * 1024)
        digest = sha256(data)
        results = [None] * len(repos)
        barrier = threading.Barrier(len(repos))

        def push(i):
            try:
                loc = self.reg.start_upload(repos[i]).location
                r = self.reg.patch_chunk(loc, data[:1024 * 1024], 0)
                barrier.wait(timeout=60)
                r = self.reg.finish_upload(r.location, digest, data[1024 * 1024:],
                                           headers=[("Content-Range", "%d-%d" % (
                                               1024 * 1024, len(data) - 1))])
                results[i] = r
            except Exception as e:  # reported below
                results[i] = e

        threads = [threading.Thread(target=push, args=(i,)) for i in range(len(repos))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for r in results:
            if not hasattr(r, "status"):
                self.fail("push raised %r" % (r,))
            self.assertStatus(r, 201)
            self.assertHeader(r, "Docker-Content-Digest", digest)
        for repo in set(repos):
            g = self.reg.get(blob_path(repo, digest))
            self.assertStatus(g, 200)
            self.assertEqual(sha256(g.body), digest)


class TestMount(RegistryTestCase):

    def test_mount_from_repository_that_has_the_blob(self):
        src, dst = repo_name("mount-src"), repo_name("mount-dst")
        data = rand_bytes(4000)
        digest = self.reg.push_blob(src, data)
        r = self.reg.mount(dst, digest, src)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", blob_path(dst, digest))
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertBlobPresent(dst, digest, data)
        self.assertBlobPresent(src, digest, data)

    def test_mount_from_repository_without_the_blob_opens_a_session(self):
        src, dst = repo_name("mount-src"), repo_name("mount-dst")
        self.reg.push_blob(src, b"something else lives here")
        data = rand_bytes(4000)
        r = self.reg.mount(dst, sha256(data), src)
        self.assertStatus(r, 202)
        self.assertTrue(r.location.startswith("/v2/%s/blobs/uploads/" % dst), r.describe())
        self.assertHeader(r, "Range", "0-0")
        self.assertBlobAbsent(dst, sha256(data))
        r = self.reg.finish_upload(r.location, sha256(data), data)
        self.assertStatus(r, 201)
        self.assertBlobPresent(dst, sha256(data), data)

    def test_mount_from_unknown_repository_opens_a_session(self):
        dst = repo_name("mount-dst")
        r = self.reg.mount(dst, sha256(b"x"), repo_name("mount-none"))
        self.assertStatus(r, 202)
        self.assertTrue(r.location.startswith("/v2/%s/blobs/uploads/" % dst), r.describe())

    def test_mount_without_from_of_an_unknown_blob_opens_a_session(self):
        # With the blob somewhere: an automatic mount (test_push_main.py).
        dst = repo_name("mount-dst")
        r = self.reg.post("/v2/%s/blobs/uploads/?mount=%s" % (dst, sha256(b"nonexistent mount")))
        self.assertStatus(r, 202)
        self.assertTrue(r.location.startswith("/v2/%s/blobs/uploads/" % dst), r.describe())

    def test_mount_links_only_the_target(self):
        src, dst, third = repo_name("mount-src"), repo_name("mount-dst"), repo_name("mount-3")
        data = rand_bytes(100)
        digest = self.reg.push_blob(src, data)
        self.reg.push_blob(third, b"third exists")
        self.assertStatus(self.reg.mount(dst, digest, src), 201)
        self.assertBlobAbsent(third, digest)

    def test_mount_of_empty_blob(self):
        src, dst = repo_name("mount-src"), repo_name("mount-dst")
        self.reg.push_blob(src, b"")
        r = self.reg.mount(dst, EMPTY_SHA256, src)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", blob_path(dst, EMPTY_SHA256))
        g = self.reg.get(blob_path(dst, EMPTY_SHA256))
        self.assertStatus(g, 200)
        self.assertHeader(g, "Content-Length", "0")

    def test_mount_sha512_blob(self):
        src, dst = repo_name("mount-src"), repo_name("mount-dst")
        data = rand_bytes(333)
        digest = self.reg.push_blob(src, data, "sha512")
        r = self.reg.mount(dst, digest, src)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertBlobPresent(dst, digest, data)

    def test_mount_with_malformed_digest_is_not_500(self):
        src, dst = repo_name("mount-src"), repo_name("mount-dst")
        self.reg.push_blob(src, b"abc")
        r = self.reg.post("/v2/%s/blobs/uploads/?mount=sha256:nothex&from=%s" % (dst, src))
        self.assertStatus(r, (202, 400))
        if r.status == 400:
            self.assertError(r, 400, "DIGEST_INVALID")
