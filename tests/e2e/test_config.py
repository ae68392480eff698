"""Configuration switches seen from the outside: read_only and upload_expiry.

Covers oci-spec.md §9.2 code-13 (UNSUPPORTED / 405 for operations a registry
does not offer: every push and delete on a read-only registry, while pulls
keep working) and §4.0 / §4.4 (an expired upload session -> 404
BLOB_UPLOAD_UNKNOWN).  The read-only registry (BERTH_URL_READONLY) was seeded
by seed.py with the content below before it was restarted read-only; the
expiry registry (BERTH_URL_EXPIRY) runs with a short `upload_expiry`; when
its data directory is given (BERTH_DATA_DIR_EXPIRY, the tests run on the
same machine) the removal of the expired session's staging file is checked.
"""

import os
import time
import unittest

from lib import (EXPIRY_DATA_DIR, EXPIRY_SECONDS, EXPIRY_URL, MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST,
                 READONLY_URL, Registry, RegistryTestCase, descriptor, dumps, oci_manifest,
                 repo_name, sha256)

SEED_REPO = "e2e/seeded"
SEED_TAG = "v1"
SEED_LAYER = b"berth read-only seed layer\n" * 100
SEED_CONFIG = dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [sha256(SEED_LAYER)]}})
SEED_MANIFEST = dumps(oci_manifest(descriptor(MT_OCI_CONFIG, SEED_CONFIG),
                                   [descriptor(MT_OCI_LAYER, SEED_LAYER)]))


def seed(reg):
    """Push the fixed content the read-only tests pull (run before read_only)."""
    reg.push_blob(SEED_REPO, SEED_CONFIG)
    reg.push_blob(SEED_REPO, SEED_LAYER)
    reg.push_manifest(SEED_REPO, SEED_TAG, SEED_MANIFEST, MT_OCI_MANIFEST)


@unittest.skipUnless(READONLY_URL, "BERTH_URL_READONLY not set")
class TestReadOnly(RegistryTestCase):

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(READONLY_URL)

    def test_base_answers(self):
        r = self.reg.get("/v2/")
        self.assertStatus(r, 200)
        self.assertApiVersion(r)

    def test_pull_manifest_and_blobs(self):
        self.assertManifest(SEED_REPO, SEED_TAG, SEED_MANIFEST, MT_OCI_MANIFEST)
        self.assertManifest(SEED_REPO, sha256(SEED_MANIFEST), SEED_MANIFEST, MT_OCI_MANIFEST)
        self.assertBlobPresent(SEED_REPO, sha256(SEED_LAYER), SEED_LAYER)
        self.assertBlobPresent(SEED_REPO, sha256(SEED_CONFIG), SEED_CONFIG)
        r = self.reg.get("/v2/%s/blobs/%s" % (SEED_REPO, sha256(SEED_LAYER)),
                         headers={"Range": "bytes=10-19"})
        self.assertStatus(r, 206)
        self.assertEqual(r.body, SEED_LAYER[10:20])

    def test_discovery_works(self):
        r = self.reg.get("/v2/%s/tags/list" % SEED_REPO)
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"name": SEED_REPO, "tags": [SEED_TAG]})
        r = self.reg.get("/v2/_catalog")
        self.assertStatus(r, 200)
        self.assertIn(SEED_REPO, r.json()["repositories"])
        r = self.reg.get("/v2/%s/referrers/%s" % (SEED_REPO, sha256(SEED_MANIFEST)))
        self.assertStatus(r, 200)

    def test_upload_start_unsupported(self):
        r = self.reg.start_upload(SEED_REPO)
        self.assertError(r, 405, "UNSUPPORTED")
        r = self.reg.start_upload(repo_name("ro"))
        self.assertError(r, 405, "UNSUPPORTED")

    def test_single_post_unsupported(self):
        data = b"not stored"
        r = self.reg.post("/v2/%s/blobs/uploads/?digest=%s" % (SEED_REPO, sha256(data)), body=data)
        self.assertError(r, 405, "UNSUPPORTED")
        self.assertBlobAbsent(SEED_REPO, sha256(data))

    def test_mount_unsupported(self):
        r = self.reg.mount(repo_name("ro"), sha256(SEED_LAYER), SEED_REPO)
        self.assertError(r, 405, "UNSUPPORTED")

    def test_upload_session_methods_unsupported(self):
        path = "/v2/%s/blobs/uploads/00000000-0000-0000-0000-000000000000" % SEED_REPO
        r = self.reg.patch_chunk(path, b"abc", 0)
        self.assertError(r, 405, "UNSUPPORTED")
        r = self.reg.finish_upload(path, sha256(b"abc"), b"abc")
        self.assertError(r, 405, "UNSUPPORTED")

    def test_manifest_put_unsupported(self):
        r = self.reg.put("/v2/%s/manifests/other" % SEED_REPO, body=SEED_MANIFEST,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertError(r, 405, "UNSUPPORTED")
        self.assertManifestAbsent(SEED_REPO, "other")

    def test_deletes_unsupported(self):
        r = self.reg.delete("/v2/%s/manifests/%s" % (SEED_REPO, SEED_TAG))
        self.assertError(r, 405, "UNSUPPORTED")
        r = self.reg.delete("/v2/%s/manifests/%s" % (SEED_REPO, sha256(SEED_MANIFEST)))
        self.assertError(r, 405, "UNSUPPORTED")
        r = self.reg.delete("/v2/%s/blobs/%s" % (SEED_REPO, sha256(SEED_LAYER)))
        self.assertError(r, 405, "UNSUPPORTED")
        self.assertManifest(SEED_REPO, SEED_TAG, SEED_MANIFEST, MT_OCI_MANIFEST)
        self.assertBlobPresent(SEED_REPO, sha256(SEED_LAYER), SEED_LAYER)


@unittest.skipUnless(EXPIRY_URL, "BERTH_URL_EXPIRY not set")
class TestUploadExpiry(RegistryTestCase):

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(EXPIRY_URL)

    def test_stale_session_expires(self):
        repo = repo_name("expiry")
        data = b"started but abandoned"
        r = self.reg.start_upload(repo)
        self.assertStatus(r, 202)
        loc = r.location
        r = self.reg.patch_chunk(loc, data, 0)
        self.assertStatus(r, 202)
        loc = r.location
        time.sleep(EXPIRY_SECONDS + 2)
        self.assertError(self.reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(self.reg.patch_chunk(loc, b"more", len(data)), 404,
                         "BLOB_UPLOAD_UNKNOWN")
        self.assertError(self.reg.finish_upload(loc, sha256(data)), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertBlobAbsent(repo, sha256(data))

    @unittest.skipUnless(EXPIRY_DATA_DIR, "BERTH_DATA_DIR_EXPIRY not set")
    def test_staging_file_of_expired_session_is_removed(self):
        # berth sweeps stale sessions from time to time (at the latest about a
        # minute after a worker starts); keep the workers busy and wait for it
        repo = repo_name("expiry")
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, b"left behind", 0)
        self.assertStatus(r, 202)
        uuid = r.header("Docker-Upload-UUID")
        self.assertTrue(uuid, r.describe())

        def staged():
            hits = []
            for top, dirs, files in os.walk(EXPIRY_DATA_DIR):
                if os.path.relpath(top, EXPIRY_DATA_DIR).split(os.sep)[0] == "run":
                    continue
                hits += [os.path.join(top, f) for f in files + dirs if uuid in f]
            return hits

        self.assertTrue(staged(), "no staging file named after the session found")
        deadline = time.monotonic() + 100
        while staged() and time.monotonic() < deadline:
            self.reg.get("/v2/")
            time.sleep(1)
        self.assertEqual(staged(), [], "staging file of an expired session is still there")
        self.assertError(self.reg.get(r.location), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_fresh_session_is_kept(self):
        repo = repo_name("expiry")
        data = b"quick"
        r = self.reg.start_upload(repo)
        r = self.reg.patch_chunk(r.location, data, 0)
        self.assertStatus(r, 202)
        r = self.reg.finish_upload(r.location, sha256(data))
        self.assertStatus(r, 201)
        self.assertBlobPresent(repo, sha256(data), data)
