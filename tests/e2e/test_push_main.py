"""The newest push features of distribution-spec main (unreleased).

Covers oci-spec.md §0.2 item 7 and §5.2 (end-7b: `PUT
/v2/<name>/manifests/<digest>?tag=a&tag=b` tags the manifest in the same
request; at least 10 tags, each validated; `OCI-Tag` lists what was applied;
414 past berth's documented limit of 32; all or nothing with the manifest)
and §4.6 (a mount without `from` mounts automatically, 201, when the blob
exists in a repository the caller may pull; 202 otherwise).
"""

from lib import (MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST, RegistryTestCase,
                 descriptor, dumps, make_config, oci_manifest, push_image, rand_bytes,
                 repo_name, sha256, sha512)

TAGS_MAX = 32  # QUERY_TAGS_MAX in cgi/request.h, documented in README


def tag_query(tags):
    return "&".join("tag=%s" % t for t in tags)


def oci_tags(resp):
    """The tags an OCI-Tag response lists: repeated headers and/or commas."""
    out = []
    for value in resp.header_all("OCI-Tag"):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


class TestTagQuery(RegistryTestCase):

    def put(self, repo, reference, body, query=""):
        return self.reg.put("/v2/%s/manifests/%s%s" % (repo, reference,
                                                       ("?" + query) if query else ""),
                            body=body, headers=[("Content-Type", MT_OCI_MANIFEST)])

    def image(self, repo):
        """Its config and layer pushed to repo, the manifest not: (body, digest)."""
        config, layer = make_config(), rand_bytes(500)
        self.reg.push_blob(repo, config)
        self.reg.push_blob(repo, layer)
        body = dumps(oci_manifest(descriptor(MT_OCI_CONFIG, config),
                                  [descriptor(MT_OCI_LAYER, layer)]))
        return body, sha256(body)

    def tag_list(self, repo):
        r = self.reg.get("/v2/%s/tags/list" % repo)
        self.assertStatus(r, 200)
        return r.json()["tags"]

    def test_push_by_digest_with_tags(self):
        repo = repo_name("tagq")
        body, digest = self.image(repo)
        tags = ["v1", "v1.0", "latest"]
        r = self.put(repo, digest, body, tag_query(tags))
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", "/v2/%s/manifests/%s" % (repo, digest))
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertEqual(oci_tags(r), tags, r.describe())
        for t in tags:
            self.assertManifest(repo, t, body, MT_OCI_MANIFEST, digest)
        self.assertEqual(sorted(self.tag_list(repo)), sorted(tags))

    def test_ten_tags_and_the_limit(self):
        repo = repo_name("tagq")
        body, digest = self.image(repo)
        ten = ["t%02d" % i for i in range(10)]
        r = self.put(repo, digest, body, tag_query(ten))
        self.assertStatus(r, 201)
        self.assertEqual(oci_tags(r), ten, r.describe())
        most = ["m%02d" % i for i in range(TAGS_MAX)]
        r = self.put(repo, digest, body, tag_query(most))
        self.assertStatus(r, 201)
        self.assertEqual(len(oci_tags(r)), TAGS_MAX, r.describe())
        self.assertEqual(sorted(self.tag_list(repo)), sorted(ten + most))

    def test_one_past_the_limit_is_414_and_stores_nothing(self):
        repo = repo_name("tagq")
        body, digest = self.image(repo)
        tags = ["x%02d" % i for i in range(TAGS_MAX + 1)]
        r = self.put(repo, digest, body, tag_query(tags))
        self.assertError(r, 414, "TAG_INVALID")
        self.assertManifestAbsent(repo, digest)
        self.assertManifestAbsent(repo, "x00")

    def test_an_invalid_tag_refuses_them_all(self):
        repo = repo_name("tagq")
        body, digest = self.image(repo)
        for bad in (".dot", "", "a%2Fb", "x" * 129, "sp%20ace"):
            r = self.put(repo, digest, body, "tag=good&tag=%s&tag=also" % bad)
            self.assertError(r, 400, "TAG_INVALID")
        self.assertManifestAbsent(repo, digest)
        self.assertManifestAbsent(repo, "good")
        self.assertManifestAbsent(repo, "also")

    def test_repeats_are_applied_and_listed_once(self):
        repo = repo_name("tagq")
        body, digest = self.image(repo)
        r = self.put(repo, digest, body, "tag=a&tag=b&tag=a&tag=%62")
        self.assertStatus(r, 201)
        self.assertEqual(oci_tags(r), ["a", "b"], r.describe())
        self.assertEqual(sorted(self.tag_list(repo)), ["a", "b"])

    def test_push_by_tag_with_more_tags(self):
        repo = repo_name("tagq")
        body, digest = self.image(repo)
        r = self.put(repo, "main", body, "tag=main&tag=v2")
        self.assertStatus(r, 201)
        self.assertEqual(oci_tags(r), ["main", "v2"], r.describe())
        self.assertManifest(repo, "main", body, MT_OCI_MANIFEST, digest)
        self.assertManifest(repo, "v2", body, MT_OCI_MANIFEST, digest)

    def test_without_tag_parameters_no_oci_tag(self):
        repo = repo_name("tagq")
        body, digest = self.image(repo)
        r = self.put(repo, digest, body, "tags=nope&x=1")
        self.assertStatus(r, 201)
        self.assertEqual(r.header_all("OCI-Tag"), [], r.describe())
        self.assertManifestAbsent(repo, "nope")

    def test_tags_move_together(self):
        repo = repo_name("tagq")
        one, d1 = self.image(repo)
        self.assertStatus(self.put(repo, d1, one, "tag=stable&tag=prod"), 201)
        two = push_image(self.reg, repo, tag=None)
        d2 = sha256(two.manifest)
        r = self.put(repo, d2, two.manifest, "tag=stable&tag=prod")
        self.assertStatus(r, 201)
        self.assertManifest(repo, "stable", two.manifest, MT_OCI_MANIFEST, d2)
        self.assertManifest(repo, "prod", two.manifest, MT_OCI_MANIFEST, d2)
        self.assertManifest(repo, d1, one, MT_OCI_MANIFEST, d1)

    def test_missing_blob_moves_no_tag(self):
        repo = repo_name("tagq")
        one, d1 = self.image(repo)
        self.assertStatus(self.put(repo, d1, one, "tag=stable"), 201)
        lost = push_image(self.reg, repo + "-other", tag=None)
        d = sha256(lost.manifest)
        r = self.put(repo, d, lost.manifest, "tag=stable&tag=fresh")
        self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertManifest(repo, "stable", one, MT_OCI_MANIFEST, d1)
        self.assertManifestAbsent(repo, "fresh")
        self.assertManifestAbsent(repo, d)

    def test_sha512_manifest_with_tags(self):
        repo = repo_name("tagq")
        body, _ = self.image(repo)
        digest = sha512(body)
        r = self.put(repo, digest, body, "tag=five12")
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertEqual(oci_tags(r), ["five12"], r.describe())
        self.assertManifest(repo, "five12", body, MT_OCI_MANIFEST, digest)


class TestAutomaticMount(RegistryTestCase):

    def mount_anywhere(self, repo, digest):
        return self.reg.post("/v2/%s/blobs/uploads/?mount=%s" % (repo, digest))

    def test_blob_elsewhere_mounts(self):
        src, dst = repo_name("amount-src"), repo_name("amount-dst")
        data = rand_bytes(3000)
        digest = self.reg.push_blob(src, data)
        self.assertBlobAbsent(dst, digest)
        r = self.mount_anywhere(dst, digest)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", "/v2/%s/blobs/%s" % (dst, digest))
        self.assertHeader(r, "Docker-Content-Digest", digest)
        self.assertBlobPresent(dst, digest, data)
        self.assertBlobPresent(src, digest, data)

    def test_sha512_blob_mounts(self):
        src, dst = repo_name("amount-src"), repo_name("amount-dst")
        data = rand_bytes(700)
        digest = self.reg.push_blob(src, data, "sha512")
        r = self.mount_anywhere(dst, digest)
        self.assertStatus(r, 201)
        self.assertBlobPresent(dst, digest, data)

    def test_unknown_blob_opens_a_session(self):
        dst = repo_name("amount-dst")
        data = rand_bytes(200)
        r = self.mount_anywhere(dst, sha256(data))
        self.assertStatus(r, 202)
        self.assertTrue(r.location.startswith("/v2/%s/blobs/uploads/" % dst), r.describe())
        self.assertHeader(r, "Range", "0-0")
        self.assertBlobAbsent(dst, sha256(data))
        r = self.reg.finish_upload(r.location, sha256(data), data)
        self.assertStatus(r, 201)
        self.assertBlobPresent(dst, sha256(data), data)

    def test_with_from_lacking_the_blob_no_mount_from_elsewhere(self):
        src, dst, empty = (repo_name("amount-src"), repo_name("amount-dst"),
                           repo_name("amount-empty"))
        data = rand_bytes(300)
        digest = self.reg.push_blob(src, data)
        self.reg.push_blob(empty, b"something else")
        r = self.reg.mount(dst, digest, empty)
        self.assertStatus(r, 202)
        self.assertBlobAbsent(dst, digest)

    def test_blob_unlinked_everywhere_opens_a_session(self):
        src, dst = repo_name("amount-src"), repo_name("amount-dst")
        data = rand_bytes(400)
        digest = self.reg.push_blob(src, data)
        d = self.reg.delete("/v2/%s/blobs/%s" % (src, digest))
        if d.status != 202:
            self.skipTest("blob delete is off here (%d)" % d.status)
        r = self.mount_anywhere(dst, digest)
        self.assertStatus(r, 202)
        self.assertBlobAbsent(dst, digest)
