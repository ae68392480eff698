"""Content management: deleting manifests, tags and blobs.

Covers oci-spec.md §1.1 end-9 and end-10, §7.4 (manifest by digest takes
every tag with it at once, tag delete leaves the manifest, blob delete in one
repository only, repeated deletes 404, malformed digests 400, deletion
switched off -> 405 UNSUPPORTED) and checklist item 13.  The switched-off
cases run against the registry named by BERTH_URL_NODELETE
(`[registry] delete_enabled = false`).
"""

import unittest

from lib import (MT_OCI_INDEX, MT_OCI_MANIFEST, NODELETE_URL, Registry, RegistryTestCase,
                 dumps, oci_index, push_image, rand_bytes, repo_name, sha256)


def mpath(repo, ref):
    return "/v2/%s/manifests/%s" % (repo, ref)


def bpath(repo, digest):
    return "/v2/%s/blobs/%s" % (repo, digest)


class TestManifestDelete(RegistryTestCase):

    def test_delete_by_digest_removes_manifest_and_all_its_tags(self):
        repo = repo_name("del")
        img = push_image(self.reg, repo, "one")
        self.reg.push_manifest(repo, "two", img.manifest, MT_OCI_MANIFEST)
        other = push_image(self.reg, repo, "other")
        r = self.reg.delete(mpath(repo, img.digest))
        self.assertStatus(r, 202)
        self.assertApiVersion(r)
        for ref in (img.digest, "one", "two"):
            self.assertManifestAbsent(repo, ref)
        self.assertManifest(repo, "other", other.manifest, MT_OCI_MANIFEST)
        tags = self.reg.get("/v2/%s/tags/list" % repo).json()["tags"]
        self.assertEqual(tags, ["other"])

    def test_delete_tag_keeps_manifest(self):
        repo = repo_name("del")
        img = push_image(self.reg, repo, "gone")
        self.reg.push_manifest(repo, "stays", img.manifest, MT_OCI_MANIFEST)
        r = self.reg.delete(mpath(repo, "gone"))
        self.assertStatus(r, 202)
        self.assertManifestAbsent(repo, "gone")
        self.assertManifest(repo, img.digest, img.manifest, MT_OCI_MANIFEST)
        self.assertManifest(repo, "stays", img.manifest, MT_OCI_MANIFEST)
        self.assertEqual(self.reg.get("/v2/%s/tags/list" % repo).json()["tags"], ["stays"])

    def test_delete_twice(self):
        repo = repo_name("del")
        img = push_image(self.reg, repo, "t")
        self.assertStatus(self.reg.delete(mpath(repo, "t")), 202)
        self.assertError(self.reg.delete(mpath(repo, "t")), 404, "MANIFEST_UNKNOWN")
        self.assertStatus(self.reg.delete(mpath(repo, img.digest)), 202)
        self.assertError(self.reg.delete(mpath(repo, img.digest)), 404, "MANIFEST_UNKNOWN")

    def test_delete_unknown_manifest_and_tag(self):
        repo = repo_name("del")
        push_image(self.reg, repo, "t")
        self.assertError(self.reg.delete(mpath(repo, sha256(b"no such manifest"))), 404,
                         "MANIFEST_UNKNOWN")
        self.assertError(self.reg.delete(mpath(repo, "nosuchtag")), 404, "MANIFEST_UNKNOWN")

    def test_delete_in_unknown_repository(self):
        r = self.reg.delete(mpath(repo_name("del-none"), sha256(b"x")))
        self.assertError(r, 404, {"NAME_UNKNOWN", "MANIFEST_UNKNOWN"})

    def test_delete_with_malformed_digest(self):
        repo = repo_name("del")
        img = push_image(self.reg, repo, "t")
        r = self.reg.delete(mpath(repo, "sha256:" + img.digest[7:].upper()))
        self.assertError(r, 400, "DIGEST_INVALID")
        r = self.reg.delete(mpath(repo, "sha256:short"))
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertManifest(repo, "t", img.manifest, MT_OCI_MANIFEST)

    def test_delete_is_per_repository(self):
        a, b = repo_name("del"), repo_name("del")
        img = push_image(self.reg, a, "t")
        for d, data in img.blobs.items():
            self.assertStatus(self.reg.mount(b, d, a), 201)
        self.reg.push_manifest(b, "t", img.manifest, MT_OCI_MANIFEST)
        self.assertStatus(self.reg.delete(mpath(a, img.digest)), 202)
        self.assertManifestAbsent(a, "t")
        self.assertManifest(b, "t", img.manifest, MT_OCI_MANIFEST)
        self.assertManifest(b, img.digest, img.manifest, MT_OCI_MANIFEST)

    def test_push_again_after_delete(self):
        repo = repo_name("del")
        img = push_image(self.reg, repo, "t")
        self.assertStatus(self.reg.delete(mpath(repo, img.digest)), 202)
        self.reg.push_manifest(repo, "t", img.manifest, MT_OCI_MANIFEST)
        self.assertManifest(repo, "t", img.manifest, MT_OCI_MANIFEST)

    def test_delete_index_then_children_remain(self):
        repo = repo_name("del")
        a = push_image(self.reg, repo)
        idx = dumps(oci_index([a.descriptor()]))
        self.reg.push_manifest(repo, "idx", idx, MT_OCI_INDEX)
        self.assertStatus(self.reg.delete(mpath(repo, sha256(idx))), 202)
        self.assertManifestAbsent(repo, "idx")
        self.assertManifest(repo, a.digest, a.manifest, MT_OCI_MANIFEST)

    def test_delete_of_a_tag_that_was_moved(self):
        repo = repo_name("del")
        old = push_image(self.reg, repo, "m")
        new = push_image(self.reg, repo, "m")
        self.assertStatus(self.reg.delete(mpath(repo, old.digest)), 202)
        self.assertManifest(repo, "m", new.manifest, MT_OCI_MANIFEST)


class TestBlobDelete(RegistryTestCase):

    def test_delete_blob_in_one_repository_only(self):
        a, b = repo_name("bdel"), repo_name("bdel")
        data = rand_bytes(1234)
        digest = self.reg.push_blob(a, data)
        self.assertStatus(self.reg.mount(b, digest, a), 201)
        r = self.reg.delete(bpath(a, digest))
        self.assertStatus(r, 202)
        self.assertApiVersion(r)
        self.assertBlobAbsent(a, digest)
        self.assertError(self.reg.get(bpath(a, digest)), 404, "BLOB_UNKNOWN")
        self.assertBlobPresent(b, digest, data)

    def test_delete_blob_twice(self):
        repo = repo_name("bdel")
        digest = self.reg.push_blob(repo, rand_bytes(10))
        self.assertStatus(self.reg.delete(bpath(repo, digest)), 202)
        self.assertError(self.reg.delete(bpath(repo, digest)), 404, "BLOB_UNKNOWN")

    def test_delete_unknown_blob(self):
        repo = repo_name("bdel")
        self.reg.push_blob(repo, b"repository exists")
        self.assertError(self.reg.delete(bpath(repo, sha256(b"never"))), 404, "BLOB_UNKNOWN")

    def test_delete_blob_not_linked_here(self):
        a, b = repo_name("bdel"), repo_name("bdel")
        digest = self.reg.push_blob(a, rand_bytes(50))
        self.reg.push_blob(b, b"b exists")
        self.assertError(self.reg.delete(bpath(b, digest)), 404, "BLOB_UNKNOWN")
        self.assertStatus(self.reg.head(bpath(a, digest)), 200)

    def test_delete_blob_with_malformed_digest(self):
        repo = repo_name("bdel")
        self.reg.push_blob(repo, b"x")
        self.assertError(self.reg.delete(bpath(repo, "sha256:nothex")), 400, "DIGEST_INVALID")

    def test_push_blob_again_after_delete(self):
        repo = repo_name("bdel")
        data = rand_bytes(777)
        digest = self.reg.push_blob(repo, data)
        self.assertStatus(self.reg.delete(bpath(repo, digest)), 202)
        self.assertBlobAbsent(repo, digest)
        self.reg.push_blob(repo, data)
        self.assertBlobPresent(repo, digest, data)

    def test_mount_from_repository_after_its_blob_was_deleted(self):
        a, b = repo_name("bdel"), repo_name("bdel")
        data = rand_bytes(99)
        digest = self.reg.push_blob(a, data)
        self.assertStatus(self.reg.delete(bpath(a, digest)), 202)
        r = self.reg.mount(b, digest, a)
        self.assertStatus(r, 202)
        self.assertBlobAbsent(b, digest)

    def test_delete_empty_blob(self):
        repo = repo_name("bdel")
        digest = self.reg.push_blob(repo, b"")
        self.assertStatus(self.reg.delete(bpath(repo, digest)), 202)
        self.assertBlobAbsent(repo, digest)


@unittest.skipUnless(NODELETE_URL, "BERTH_URL_NODELETE not set")
class TestDeleteDisabled(RegistryTestCase):
    """[registry] delete_enabled = false: 405 UNSUPPORTED, and nothing goes."""

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(NODELETE_URL)
        cls.repo = repo_name("nodel")
        cls.img = push_image(cls.reg, cls.repo, "t")

    def test_manifest_delete_by_digest_unsupported(self):
        r = self.reg.delete(mpath(self.repo, self.img.digest))
        self.assertError(r, 405, "UNSUPPORTED")
        self.assertManifest(self.repo, self.img.digest, self.img.manifest, MT_OCI_MANIFEST)
        self.assertManifest(self.repo, "t", self.img.manifest, MT_OCI_MANIFEST)

    def test_tag_delete_unsupported(self):
        r = self.reg.delete(mpath(self.repo, "t"))
        self.assertError(r, 405, "UNSUPPORTED")
        self.assertManifest(self.repo, "t", self.img.manifest, MT_OCI_MANIFEST)

    def test_blob_delete_unsupported(self):
        r = self.reg.delete(bpath(self.repo, self.img.config_digest))
        self.assertError(r, 405, "UNSUPPORTED")
        self.assertBlobPresent(self.repo, self.img.config_digest,
                               self.img.blobs[self.img.config_digest])

    def test_pushes_and_pulls_still_work(self):
        repo = repo_name("nodel")
        img = push_image(self.reg, repo, "x")
        self.assertManifest(repo, "x", img.manifest, MT_OCI_MANIFEST)

    def test_upload_cancel_still_allowed(self):
        # cancelling an upload session is not content deletion (end-14)
        loc = self.reg.start_upload(self.repo).location
        self.assertStatus(self.reg.delete(loc), 204)
