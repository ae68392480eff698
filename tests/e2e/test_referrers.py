"""Referrers (OCI 1.1): `subject`, `OCI-Subject`, the referrers index, filters.

Covers oci-spec.md §1.1 end-12a/12b, §3 (`OCI-Subject`,
`OCI-Filters-Applied`), §6.1 (OCI-Subject on manifests and indexes with a
subject), §6.2 (the index answer, artifactType and its config-mediaType
fallback, annotations copied exactly, 200 + empty for unknown digests and
repositories, 400 for an invalid digest, artifactType filtering) and
checklist item 11.
"""

import urllib.parse

from lib import (MT_OCI_CONFIG, MT_OCI_EMPTY, MT_OCI_INDEX, MT_OCI_LAYER, MT_OCI_MANIFEST,
                 RegistryTestCase, descriptor, dumps, oci_index, oci_manifest, push_image,
                 rand_bytes, repo_name, sha256, sha512)

SBOM = "application/vnd.example.sbom.v1+json"
SIG_CONFIG = "application/vnd.example.signature.config.v1+json"
BUNDLE = "application/vnd.example.bundle.v1"


def ref_path(repo, digest, artifact_type=None):
    q = ""
    if artifact_type is not None:
        q = "?artifactType=" + urllib.parse.quote(artifact_type, safe="")
    return "/v2/%s/referrers/%s%s" % (repo, digest, q)


def expected_descriptor(body, media_type, artifact_type, annotations):
    d = {"mediaType": media_type, "digest": sha256(body), "size": len(body)}
    if artifact_type is not None:
        d["artifactType"] = artifact_type
    if annotations is not None:
        d["annotations"] = annotations
    return d


class ReferrersCase(RegistryTestCase):

    def push_referrer(self, repo, subject, artifact_type=None, config_type=MT_OCI_EMPTY,
                      annotations=None, tag=None):
        """Push an image manifest whose subject is `subject` (a descriptor)."""
        config = b"{}" if config_type == MT_OCI_EMPTY else dumps({"sig": sha256(rand_bytes(4))})
        layer = rand_bytes(64)
        self.reg.push_blob(repo, config)
        self.reg.push_blob(repo, layer)
        extra = {"subject": subject}
        if artifact_type is not None:
            extra["artifactType"] = artifact_type
        if annotations is not None:
            extra["annotations"] = annotations
        m = oci_manifest(descriptor(config_type, config),
                         [descriptor(MT_OCI_LAYER, layer)], **extra)
        body = dumps(m)
        r = self.reg.push_manifest(repo, tag or sha256(body), body, MT_OCI_MANIFEST)
        self.assertHeader(r, "OCI-Subject", subject["digest"])
        return body, expected_descriptor(
            body, MT_OCI_MANIFEST,
            artifact_type if artifact_type is not None else config_type, annotations)

    def referrers(self, repo, digest, artifact_type=None):
        r = self.reg.get(ref_path(repo, digest, artifact_type))
        self.assertStatus(r, 200)
        self.assertHeader(r, "Content-Type", MT_OCI_INDEX)
        doc = r.json()
        self.assertEqual(doc.get("schemaVersion"), 2, r.describe())
        self.assertEqual(doc.get("mediaType"), MT_OCI_INDEX, r.describe())
        self.assertIsInstance(doc.get("manifests"), list, r.describe())
        return r, doc["manifests"]

    def assertSameDescriptors(self, got, want):
        def norm(d):
            d = dict(d)
            if d.get("annotations") == {}:
                del d["annotations"]
            return d
        key = lambda d: d.get("digest", "")
        self.assertEqual(sorted((norm(d) for d in got), key=key), sorted(want, key=key))


class TestReferrers(ReferrersCase):

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("refs")
        cls.subject_img = push_image(cls.reg, cls.repo, "subject")
        cls.subject = cls.subject_img.descriptor()

    def test_full_listing(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        _, a = self.push_referrer(repo, subj, artifact_type=SBOM,
                                  annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z",
                                               "com.example.note": "sbom \u00e9 \"quoted\""})
        _, b = self.push_referrer(repo, subj, config_type=SIG_CONFIG,
                                  annotations={"com.example.sig": "yes"})
        # an index with a subject and no artifactType: the field is omitted
        child = push_image(self.reg, repo)
        idx = dumps(oci_index([child.descriptor()], subject=subj,
                              annotations={"com.example.kind": "index"}))
        r = self.reg.push_manifest(repo, sha256(idx), idx, MT_OCI_INDEX)
        self.assertHeader(r, "OCI-Subject", subj["digest"])
        c = expected_descriptor(idx, MT_OCI_INDEX, None, {"com.example.kind": "index"})
        # an index with a subject and an artifactType
        idx2 = dumps(oci_index([child.descriptor()], subject=subj, artifactType=BUNDLE))
        r = self.reg.push_manifest(repo, "bundle", idx2, MT_OCI_INDEX)
        self.assertHeader(r, "OCI-Subject", subj["digest"])
        d = expected_descriptor(idx2, MT_OCI_INDEX, BUNDLE, None)

        r, got = self.referrers(repo, subj["digest"])
        self.assertNoHeader(r, "OCI-Filters-Applied")
        self.assertSameDescriptors(got, [a, b, c, d])

    def test_artifact_type_comes_from_the_manifest(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        _, a = self.push_referrer(repo, subj, artifact_type=SBOM, config_type=SIG_CONFIG)
        _, got = self.referrers(repo, subj["digest"])
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["artifactType"], SBOM)

    def test_artifact_type_falls_back_to_config_media_type(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        _, b = self.push_referrer(repo, subj, config_type=SIG_CONFIG)
        _, got = self.referrers(repo, subj["digest"])
        self.assertSameDescriptors(got, [b])
        self.assertEqual(got[0]["artifactType"], SIG_CONFIG)

    def test_annotations_copied_exactly(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        ann = {"a": "1", "b": "", "c.d/e": "x y z", "unicode": "\u2603"}
        _, a = self.push_referrer(repo, subj, artifact_type=SBOM, annotations=ann)
        _, got = self.referrers(repo, subj["digest"])
        self.assertEqual(got[0].get("annotations"), ann)

    def test_filter_by_artifact_type(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        _, a1 = self.push_referrer(repo, subj, artifact_type=SBOM, annotations={"n": "1"})
        _, a2 = self.push_referrer(repo, subj, artifact_type=SBOM, annotations={"n": "2"})
        self.push_referrer(repo, subj, artifact_type="application/vnd.other")
        self.push_referrer(repo, subj, config_type=SIG_CONFIG)
        r, got = self.referrers(repo, subj["digest"], SBOM)
        self.assertHeader(r, "OCI-Filters-Applied", "artifactType")
        self.assertSameDescriptors(got, [a1, a2])

    def test_filter_matches_config_fallback(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        self.push_referrer(repo, subj, artifact_type=SBOM)
        _, b = self.push_referrer(repo, subj, config_type=SIG_CONFIG)
        r, got = self.referrers(repo, subj["digest"], SIG_CONFIG)
        self.assertHeader(r, "OCI-Filters-Applied", "artifactType")
        self.assertSameDescriptors(got, [b])

    def test_filter_without_match(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        self.push_referrer(repo, subj, artifact_type=SBOM)
        r, got = self.referrers(repo, subj["digest"], "application/vnd.nothing")
        self.assertHeader(r, "OCI-Filters-Applied", "artifactType")
        self.assertEqual(got, [])

    def test_unknown_digest_gives_empty_index(self):
        r, got = self.referrers(self.repo, sha256(b"nobody refers to me"))
        self.assertEqual(got, [])
        self.assertNoHeader(r, "OCI-Filters-Applied")

    def test_unknown_repository_gives_empty_index(self):
        _, got = self.referrers(repo_name("refs-none"), sha256(b"anything"))
        self.assertEqual(got, [])

    def test_subject_without_referrers(self):
        _, got = self.referrers(self.repo, self.subject["digest"])
        self.assertEqual(got, [])

    def test_invalid_digest_is_400(self):
        for bad in ("sha256:abc", "notadigest", "sha256:" + "A" * 64, "md5:" + "0" * 32):
            with self.subTest(bad=bad):
                r = self.reg.get(ref_path(self.repo, bad))
                self.assertError(r, 400, "DIGEST_INVALID")

    def test_referrers_are_per_repository(self):
        repo, other = repo_name("refs"), repo_name("refs")
        subj_img = push_image(self.reg, repo, "s")
        subj = subj_img.descriptor()
        self.push_referrer(repo, subj, artifact_type=SBOM)
        push_image(self.reg, other, "x")
        _, got = self.referrers(other, subj["digest"])
        self.assertEqual(got, [])

    def test_dangling_subject_is_listed(self):
        repo = repo_name("refs")
        ghost = descriptor(MT_OCI_MANIFEST, digest=sha256(b"pushed later or never"), size=99)
        _, a = self.push_referrer(repo, ghost, artifact_type=SBOM)
        _, got = self.referrers(repo, ghost["digest"])
        self.assertSameDescriptors(got, [a])

    def test_referrer_pushed_by_tag_is_listed_once(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        body, a = self.push_referrer(repo, subj, artifact_type=SBOM, tag="sig")
        self.reg.push_manifest(repo, "sig2", body, MT_OCI_MANIFEST)
        _, got = self.referrers(repo, subj["digest"])
        self.assertSameDescriptors(got, [a])

    def test_no_oci_subject_without_subject(self):
        repo = repo_name("refs")
        img = push_image(self.reg, repo, tag=None)
        r = self.reg.put("/v2/%s/manifests/plain" % repo, body=img.manifest,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 201)
        self.assertNoHeader(r, "OCI-Subject")

    def test_deleted_referrer_disappears(self):
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        body, a = self.push_referrer(repo, subj, artifact_type=SBOM)
        _, b = self.push_referrer(repo, subj, artifact_type=SBOM)
        self.assertStatus(self.reg.delete("/v2/%s/manifests/%s" % (repo, sha256(body))), 202)
        _, got = self.referrers(repo, subj["digest"])
        self.assertSameDescriptors(got, [b])

    def test_referrer_of_an_index_subject(self):
        repo = repo_name("refs")
        child = push_image(self.reg, repo)
        idx = dumps(oci_index([child.descriptor()]))
        self.reg.push_manifest(repo, "idx", idx, MT_OCI_INDEX)
        subj = descriptor(MT_OCI_INDEX, idx)
        _, a = self.push_referrer(repo, subj, config_type=MT_OCI_CONFIG)
        _, got = self.referrers(repo, sha256(idx))
        self.assertSameDescriptors(got, [a])

    def test_sha512_subject(self):
        repo = repo_name("refs")
        subj_img = push_image(self.reg, repo, "s")
        d512 = sha512(subj_img.manifest)
        self.reg.push_manifest(repo, d512, subj_img.manifest, MT_OCI_MANIFEST)
        subj = descriptor(MT_OCI_MANIFEST, digest=d512, size=len(subj_img.manifest))
        _, a = self.push_referrer(repo, subj, artifact_type=SBOM)
        _, got = self.referrers(repo, d512)
        self.assertSameDescriptors(got, [a])
        _, got = self.referrers(repo, subj_img.digest)
        self.assertEqual(got, [])

    def test_subject_digest_of_referrer_is_referrable_too(self):
        # a chain: sig -> sbom -> image; each level lists only its direct referrers
        repo = repo_name("refs")
        subj = push_image(self.reg, repo, "s").descriptor()
        sbom_body, sbom = self.push_referrer(repo, subj, artifact_type=SBOM)
        _, sig = self.push_referrer(repo, descriptor(MT_OCI_MANIFEST, sbom_body),
                                    config_type=SIG_CONFIG)
        _, got = self.referrers(repo, subj["digest"])
        self.assertSameDescriptors(got, [sbom])
        _, got = self.referrers(repo, sha256(sbom_body))
        self.assertSameDescriptors(got, [sig])
