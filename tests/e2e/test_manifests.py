"""Manifests: push and pull of the four media types, validation, negotiation.

Covers oci-spec.md §1.1 end-3 and end-7, §1.3 (manifest headers), §5.1
(media types, unknown fields and types), §5.2 (exact bytes, push by tag and by
digest, DIGEST_INVALID, the 4 MiB limit and 413, chunked bodies, referenced
content and MANIFEST_BLOB_UNKNOWN, non-distributable layers, dangling
subject), §5.3 (GET/HEAD headers, Accept negotiation) and checklist items 2,
3, 9 and 10.
"""

import json

from lib import (EMPTY_JSON_SHA256, MANIFEST_LIMIT, MT_DOCKER_CONFIG, MT_DOCKER_LAYER,
                 MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_CONFIG, MT_OCI_EMPTY,
                 MT_OCI_INDEX, MT_OCI_LAYER, MT_OCI_LAYER_ND, MT_OCI_MANIFEST,
                 RegistryTestCase, descriptor, dumps, make_config, oci_index,
                 oci_manifest, push_image, rand_bytes, rand_suffix, repo_name, sha256,
                 sha512)


def mpath(repo, ref):
    return "/v2/%s/manifests/%s" % (repo, ref)


class TestPushPull(RegistryTestCase):

    def test_oci_manifest_by_tag(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, tag=None)  # blobs pushed, manifest by digest
        r = self.reg.put(mpath(repo, "latest"), body=img.manifest,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", mpath(repo, img.digest))
        self.assertHeader(r, "Docker-Content-Digest", img.digest)
        self.assertManifest(repo, "latest", img.manifest, MT_OCI_MANIFEST)
        self.assertManifest(repo, img.digest, img.manifest, MT_OCI_MANIFEST)

    def test_location_of_put_is_pullable(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, "v1")
        r = self.reg.put(mpath(repo, "v2"), body=img.manifest,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 201)
        g = self.reg.get(r.location)
        self.assertStatus(g, 200)
        self.assertBody(g, img.manifest)
        self.assertHeader(g, "Content-Type", MT_OCI_MANIFEST)

    def test_bytes_kept_exactly(self):
        repo = repo_name("man")
        config = make_config()
        self.reg.push_blob(repo, config)
        # odd but valid JSON formatting that a re-serialiser would change
        body = ('{\n\t"schemaVersion" : 2 ,\r\n  "mediaType":"%s",\n'
                '"config": {"size": %d, "digest": "%s", "mediaType": "%s"},'
                '"layers":[ ] ,"annotations":{"z":"1","a":"\\u00e9"}  }\n\n'
                % (MT_OCI_MANIFEST, len(config), sha256(config), MT_OCI_CONFIG)).encode()
        r = self.reg.push_manifest(repo, "odd", body, MT_OCI_MANIFEST)
        self.assertHeader(r, "Docker-Content-Digest", sha256(body))
        self.assertManifest(repo, "odd", body, MT_OCI_MANIFEST)

    def test_oci_index(self):
        repo = repo_name("man")
        a = push_image(self.reg, repo)
        b = push_image(self.reg, repo)
        idx = dumps(oci_index([
            a.descriptor(platform={"architecture": "amd64", "os": "linux"}),
            b.descriptor(platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ]), pretty=True)
        r = self.reg.push_manifest(repo, "multi", idx, MT_OCI_INDEX)
        self.assertHeader(r, "Docker-Content-Digest", sha256(idx))
        self.assertHeader(r, "Location", mpath(repo, sha256(idx)))
        self.assertManifest(repo, "multi", idx, MT_OCI_INDEX)
        self.assertManifest(repo, sha256(idx), idx, MT_OCI_INDEX)

    def test_docker_schema2_manifest(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, "d1", docker=True)
        self.assertEqual(img.media_type, MT_DOCKER_MANIFEST)
        self.assertManifest(repo, "d1", img.manifest, MT_DOCKER_MANIFEST)
        self.assertManifest(repo, img.digest, img.manifest, MT_DOCKER_MANIFEST)

    def test_docker_manifest_list(self):
        repo = repo_name("man")
        a = push_image(self.reg, repo, docker=True)
        b = push_image(self.reg, repo, docker=True)
        lst = dumps({"schemaVersion": 2, "mediaType": MT_DOCKER_LIST, "manifests": [
            a.descriptor(platform={"architecture": "amd64", "os": "linux"}),
            b.descriptor(platform={"architecture": "arm", "os": "linux", "variant": "v7"}),
        ]})
        r = self.reg.push_manifest(repo, "list", lst, MT_DOCKER_LIST)
        self.assertHeader(r, "Docker-Content-Digest", sha256(lst))
        self.assertManifest(repo, "list", lst, MT_DOCKER_LIST)
        self.assertManifest(repo, sha256(lst), lst, MT_DOCKER_LIST)

    def test_put_by_digest(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, tag=None)
        r = self.reg.put(mpath(repo, img.digest), body=img.manifest,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 201)
        self.assertHeader(r, "Location", mpath(repo, img.digest))
        self.assertHeader(r, "Docker-Content-Digest", img.digest)
        self.assertManifest(repo, img.digest, img.manifest, MT_OCI_MANIFEST)

    def test_put_by_sha512_digest(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, tag="x")
        d = sha512(img.manifest)
        r = self.reg.put(mpath(repo, d), body=img.manifest,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", d)
        self.assertHeader(r, "Location", mpath(repo, d))
        self.assertManifest(repo, d, img.manifest, MT_OCI_MANIFEST, digest=d)

    def test_put_by_digest_mismatch(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, tag=None)
        other = img.manifest + b" "
        r = self.reg.put(mpath(repo, img.digest), body=other,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertManifestAbsent(repo, sha256(other))
        # the earlier push by that digest is untouched
        self.assertManifest(repo, img.digest, img.manifest, MT_OCI_MANIFEST)

    def test_put_by_digest_mismatch_leaves_nothing(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, tag="keep")
        other = img.manifest + b"\n"
        r = self.reg.put(mpath(repo, sha256(b"not the body")), body=other,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertManifestAbsent(repo, sha256(other))
        self.assertManifestAbsent(repo, sha256(b"not the body"))

    def test_tag_moves_on_second_put(self):
        repo = repo_name("man")
        a = push_image(self.reg, repo, "moving")
        b = push_image(self.reg, repo, "moving")
        self.assertManifest(repo, "moving", b.manifest, MT_OCI_MANIFEST)
        self.assertManifest(repo, a.digest, a.manifest, MT_OCI_MANIFEST)

    def test_tag_moves_between_media_types(self):
        repo = repo_name("man")
        push_image(self.reg, repo, "t")
        b = push_image(self.reg, repo, "t", docker=True)
        self.assertManifest(repo, "t", b.manifest, MT_DOCKER_MANIFEST)

    def test_same_manifest_under_two_tags(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, "one")
        self.reg.push_manifest(repo, "two", img.manifest, MT_OCI_MANIFEST)
        self.assertManifest(repo, "one", img.manifest, MT_OCI_MANIFEST)
        self.assertManifest(repo, "two", img.manifest, MT_OCI_MANIFEST)

    def test_same_manifest_pushed_twice(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, "again")
        r = self.reg.put(mpath(repo, "again"), body=img.manifest,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", img.digest)
        self.assertManifest(repo, "again", img.manifest, MT_OCI_MANIFEST)

    def test_manifest_is_per_repository(self):
        repo, other = repo_name("man"), repo_name("man")
        img = push_image(self.reg, repo, "mine")
        push_image(self.reg, other, "theirs")
        self.assertManifestAbsent(other, img.digest)
        self.assertManifestAbsent(other, "mine")

    def test_tag_of_128_characters(self):
        repo = repo_name("man")
        tag = "T" + "a" * 120 + "_.-9876"
        self.assertEqual(len(tag), 128)
        img = push_image(self.reg, repo, tag)
        self.assertManifest(repo, tag, img.manifest, MT_OCI_MANIFEST)

    def test_chunked_request_body(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, tag=None)
        body = img.manifest
        r = self.reg.put(mpath(repo, "chunked"), body=[body[:50], body[50:120], body[120:]],
                         headers={"Content-Type": MT_OCI_MANIFEST}, chunked=True)
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", img.digest)
        self.assertManifest(repo, "chunked", body, MT_OCI_MANIFEST)

    def test_manifest_with_many_layers(self):
        repo = repo_name("man")
        img = push_image(self.reg, repo, "many", layers=40, layer_size=10)
        self.assertManifest(repo, "many", img.manifest, MT_OCI_MANIFEST)


class TestAccepted(RegistryTestCase):
    """What a registry must store without complaint (§5.1, §5.2, checklist 9)."""

    def setUp(self):
        self.repo = repo_name("accept")
        self.config = make_config()
        self.layer = rand_bytes(500)
        self.reg.push_blob(self.repo, self.config)
        self.reg.push_blob(self.repo, self.layer)
        self.cdesc = descriptor(MT_OCI_CONFIG, self.config)
        self.ldesc = descriptor(MT_OCI_LAYER, self.layer)

    def push_ok(self, obj, media_type=MT_OCI_MANIFEST, tag="t"):
        body = dumps(obj)
        r = self.reg.put(mpath(self.repo, tag), body=body, headers={"Content-Type": media_type})
        self.assertStatus(r, 201)
        self.assertHeader(r, "Docker-Content-Digest", sha256(body))
        self.assertManifest(self.repo, tag, body, media_type)
        return r

    def test_unknown_fields(self):
        m = oci_manifest(self.cdesc, [dict(self.ldesc, futureField={"x": [1, 2]})],
                         newUnspecifiedField="hello", annotations={"k": "v"})
        self.push_ok(m)

    def test_unknown_config_and_layer_media_types(self):
        cdesc = dict(self.cdesc, mediaType="application/vnd.example.config.v7+json")
        ldesc = dict(self.ldesc, mediaType="application/vnd.example.layer.v9+weird")
        self.push_ok(oci_manifest(cdesc, [ldesc]))

    def test_artifact_with_empty_config(self):
        self.reg.push_blob(self.repo, b"{}")
        cdesc = descriptor(MT_OCI_EMPTY, b"{}")
        self.assertEqual(cdesc["digest"], EMPTY_JSON_SHA256)
        self.push_ok(oci_manifest(cdesc, [self.ldesc], artifactType="application/vnd.example.thing"))

    def test_empty_layers(self):
        self.push_ok(oci_manifest(self.cdesc, []))

    def test_buildkit_cache_index(self):
        # BuildKit's --cache-to type=registry: an index whose entries are
        # two layer blobs and a cache-config blob, no manifest at all.
        repo = repo_name("buildkit")
        layers = [rand_bytes(1500), rand_bytes(900)]
        cache = dumps({"layers": [{"blob": sha256(l)} for l in layers]})
        for b in layers + [cache]:
            self.reg.push_blob(repo, b)
        entries = [descriptor(MT_OCI_LAYER, l, annotations={
            "buildkit/createdat": "2026-12-01T00:00:00Z"}) for l in layers]
        entries.append(descriptor("application/vnd.buildkit.cacheconfig.v0", cache))
        body = dumps(oci_index(entries))
        r = self.reg.push_manifest(repo, "cache", body, MT_OCI_INDEX)
        self.assertHeader(r, "Docker-Content-Digest", sha256(body))
        self.assertManifest(repo, "cache", body, MT_OCI_INDEX)
        self.assertManifest(repo, sha256(body), body, MT_OCI_INDEX)

    def test_empty_index(self):
        self.push_ok(oci_index([]), MT_OCI_INDEX)

    def test_data_field(self):
        cdesc = dict(descriptor(MT_OCI_EMPTY, b"{}"), data="e30=")
        self.reg.push_blob(self.repo, b"{}")
        self.push_ok(oci_manifest(cdesc, [dict(self.ldesc)], artifactType="application/x.data"))

    def test_dangling_subject(self):
        subject = descriptor(MT_OCI_MANIFEST, digest=sha256(rand_bytes(8)), size=1234)
        r = self.push_ok(oci_manifest(self.cdesc, [self.ldesc], subject=subject))
        self.assertHeader(r, "OCI-Subject", subject["digest"])

    def test_nondistributable_layers_with_urls(self):
        nd1 = descriptor(MT_OCI_LAYER_ND, digest=sha256(b"foreign one"), size=11,
                         urls=["https://example.com/layer1"])
        nd2 = descriptor(MT_OCI_LAYER_ND, digest=sha256(b"foreign two"), size=11,
                         urls=["https://example.com/layer2"])
        self.push_ok(oci_manifest(self.cdesc, [self.ldesc, nd1, nd2]))

    def test_docker_foreign_layer_with_urls(self):
        config = make_config()
        self.reg.push_blob(self.repo, config)
        foreign = descriptor("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                             digest=sha256(b"windows base"), size=12,
                             urls=["https://example.com/base"])
        m = {"schemaVersion": 2, "mediaType": MT_DOCKER_MANIFEST,
             "config": descriptor(MT_DOCKER_CONFIG, config),
             "layers": [foreign, descriptor(MT_DOCKER_LAYER, self.layer)]}
        self.push_ok(m, MT_DOCKER_MANIFEST)

    def test_manifest_without_media_type_field(self):
        m = oci_manifest(self.cdesc, [self.ldesc])
        del m["mediaType"]
        self.push_ok(m)

    def test_index_with_unknown_fields_and_annotations(self):
        img = push_image(self.reg, self.repo)
        self.push_ok(oci_index([img.descriptor(annotations={"a": "b"})],
                               annotations={"org.opencontainers.image.created": "2024"},
                               extraThing=[None, True]), MT_OCI_INDEX)

    def test_large_manifest_of_3_9_mb(self):
        annotations = {"org.example.%03d" % i: rand_suffix(10) * 1000 for i in range(390)}
        m = oci_manifest(self.cdesc, [self.ldesc], annotations=annotations)
        body = dumps(m)
        self.assertGreater(len(body), 3900000)
        self.assertLess(len(body), MANIFEST_LIMIT)
        r = self.reg.put(mpath(self.repo, "big"), body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST}, chunked=True)
        self.assertStatus(r, 201)
        self.assertManifest(self.repo, "big", body, MT_OCI_MANIFEST)

    def test_manifest_of_exactly_4_mib(self):
        m = oci_manifest(self.cdesc, [self.ldesc], annotations={"pad": ""})
        base = len(dumps(m))
        m["annotations"]["pad"] = "p" * (MANIFEST_LIMIT - base)
        body = dumps(m)
        self.assertEqual(len(body), MANIFEST_LIMIT)
        r = self.reg.put(mpath(self.repo, "limit"), body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 201)
        self.assertManifest(self.repo, "limit", body, MT_OCI_MANIFEST)


class TestRejected(RegistryTestCase):

    def setUp(self):
        self.repo = repo_name("reject")
        self.config = make_config()
        self.reg.push_blob(self.repo, self.config)
        self.cdesc = descriptor(MT_OCI_CONFIG, self.config)

    def assertNotStored(self, body, tag="t"):
        self.assertManifestAbsent(self.repo, tag)
        self.assertManifestAbsent(self.repo, sha256(body))

    def test_media_type_differs_from_content_type(self):
        body = dumps(oci_manifest(self.cdesc, []))
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_INDEX})
        self.assertError(r, 400, "MANIFEST_INVALID")
        self.assertNotStored(body)

    def test_docker_media_type_under_oci_content_type(self):
        m = oci_manifest(self.cdesc, [])
        m["mediaType"] = MT_DOCKER_MANIFEST
        body = dumps(m)
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertError(r, 400, "MANIFEST_INVALID")
        self.assertNotStored(body)

    def test_invalid_json(self):
        body = b'{"schemaVersion": 2, "mediaType": "' + MT_OCI_MANIFEST.encode() + b'", "config": '
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertError(r, 400, "MANIFEST_INVALID")
        self.assertNotStored(body)

    def test_json_that_is_not_an_object(self):
        for body in (b"[]", b"42", b'"manifest"', b"null", b""):
            with self.subTest(body=body):
                r = self.reg.put(mpath(self.repo, "t"), body=body,
                                 headers={"Content-Type": MT_OCI_MANIFEST})
                self.assertError(r, 400, "MANIFEST_INVALID")
        self.assertManifestAbsent(self.repo, "t")

    def test_manifest_without_config(self):
        for body in (b"{}", dumps({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "layers": []})):
            with self.subTest(body=body):
                r = self.reg.put(mpath(self.repo, "t"), body=body,
                                 headers={"Content-Type": MT_OCI_MANIFEST})
                self.assertError(r, 400, "MANIFEST_INVALID")
        self.assertManifestAbsent(self.repo, "t")

    def test_missing_config_blob(self):
        missing = descriptor(MT_OCI_CONFIG, make_config())
        body = dumps(oci_manifest(missing, []))
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        errors = self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(len(errors), 1, r.describe())
        self.assertIn(missing["digest"], json.dumps(errors[0]), r.describe())
        self.assertNotStored(body)

    def test_one_error_per_missing_blob(self):
        present = rand_bytes(10)
        self.reg.push_blob(self.repo, present)
        gone = [rand_bytes(10), rand_bytes(11), rand_bytes(12)]
        missing_cfg = descriptor(MT_OCI_CONFIG, make_config())
        layers = [descriptor(MT_OCI_LAYER, gone[0]), descriptor(MT_OCI_LAYER, present),
                  descriptor(MT_OCI_LAYER, gone[1]), descriptor(MT_OCI_LAYER, gone[2])]
        body = dumps(oci_manifest(missing_cfg, layers))
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        errors = self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual([e["code"] for e in errors], ["MANIFEST_BLOB_UNKNOWN"] * 4, r.describe())
        text = r.body.decode()
        for d in [missing_cfg["digest"]] + [sha256(g) for g in gone]:
            self.assertIn(d, text)
        self.assertNotIn(sha256(present), text)
        self.assertNotStored(body)

    def test_blob_only_in_another_repository_counts_as_missing(self):
        other = repo_name("reject-other")
        layer = rand_bytes(100)
        self.reg.push_blob(other, layer)
        body = dumps(oci_manifest(self.cdesc, [descriptor(MT_OCI_LAYER, layer)]))
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        errors = self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(len(errors), 1, r.describe())
        self.assertNotStored(body)

    def test_docker_manifest_missing_layer(self):
        layer = rand_bytes(100)
        config = make_config()
        self.reg.push_blob(self.repo, config)
        body = dumps({"schemaVersion": 2, "mediaType": MT_DOCKER_MANIFEST,
                      "config": descriptor(MT_DOCKER_CONFIG, config),
                      "layers": [descriptor(MT_DOCKER_LAYER, layer)]})
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_DOCKER_MANIFEST})
        errors = self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(len(errors), 1, r.describe())
        self.assertNotStored(body)

    def test_index_with_missing_child(self):
        img = push_image(self.reg, self.repo)
        ghost = descriptor(MT_OCI_MANIFEST, b'{"not":"pushed"}')
        body = dumps(oci_index([img.descriptor(), ghost]))
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_INDEX})
        errors = self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(len(errors), 1, r.describe())
        self.assertIn(ghost["digest"], r.body.decode())
        self.assertNotStored(body)

    def test_index_with_unknown_entry_missing(self):
        # An entry of a media type that is no manifest's is a blob: it
        # must be in the repository like a layer.
        ghost = descriptor("application/vnd.buildkit.cacheconfig.v0", b'{"ghost":1}')
        body = dumps(oci_index([ghost]))
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_INDEX})
        errors = self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(len(errors), 1, r.describe())
        self.assertIn(ghost["digest"], r.body.decode())
        self.assertNotStored(body)

    def test_index_with_child_only_in_another_repository(self):
        other = repo_name("reject-other")
        img = push_image(self.reg, other, "x")
        body = dumps(oci_index([img.descriptor()]))
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_INDEX})
        errors = self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertEqual(len(errors), 1, r.describe())
        self.assertNotStored(body)

    def test_manifest_list_with_missing_child(self):
        ghost = descriptor(MT_DOCKER_MANIFEST, b'{"also":"not pushed"}',
                           platform={"architecture": "amd64", "os": "linux"})
        body = dumps({"schemaVersion": 2, "mediaType": MT_DOCKER_LIST, "manifests": [ghost]})
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_DOCKER_LIST})
        self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        self.assertNotStored(body)

    def test_body_over_4_mib_is_413(self):
        m = oci_manifest(self.cdesc, [], annotations={"pad": ""})
        m["annotations"]["pad"] = "p" * (MANIFEST_LIMIT + 1 - len(dumps(m)))
        body = dumps(m)
        self.assertEqual(len(body), MANIFEST_LIMIT + 1)
        r = self.reg.put(mpath(self.repo, "t"), body=body,
                         headers={"Content-Type": MT_OCI_MANIFEST})
        self.assertStatus(r, 413)
        self.assertApiVersion(r)
        if r.body:
            self.assertError(r, 413, {"MANIFEST_INVALID", "SIZE_INVALID"})
        self.assertNotStored(body)

    def test_chunked_body_over_4_mib_is_413(self):
        m = oci_manifest(self.cdesc, [], annotations={"pad": "p" * (6 * 1024 * 1024)})
        body = dumps(m)
        r = self.reg.put(mpath(self.repo, "t"), headers={"Content-Type": MT_OCI_MANIFEST},
                         body=[body[i:i + 65536] for i in range(0, len(body), 65536)],
                         chunked=True)
        self.assertStatus(r, 413)
        self.assertApiVersion(r)
        self.assertNotStored(body)


class TestAcceptNegotiation(RegistryTestCase):
    """The stored manifest is served whatever Accept says (§5.3, checklist 10)."""

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("accept-hdr")
        cls.img = push_image(cls.reg, cls.repo, "oci")
        cls.docker = push_image(cls.reg, cls.repo, "docker", docker=True)

    def get_with(self, ref, accepts, method="GET"):
        return self.reg.request(method, mpath(self.repo, ref),
                                headers=[("Accept", a) for a in accepts])

    def assertServed(self, r, img):
        self.assertStatus(r, 200)
        self.assertHeader(r, "Content-Type", img.media_type)
        self.assertHeader(r, "Docker-Content-Digest", img.digest)
        if r.method == "GET":
            self.assertBody(r, img.manifest)

    def test_accept_lacking_the_stored_type(self):
        self.assertServed(self.get_with("oci", [MT_DOCKER_MANIFEST]), self.img)
        self.assertServed(self.get_with("docker", [MT_OCI_MANIFEST]), self.docker)

    def test_accept_lacking_the_stored_type_on_head(self):
        self.assertServed(self.get_with("oci", [MT_DOCKER_MANIFEST], "HEAD"), self.img)

    def test_accept_star_star(self):
        self.assertServed(self.get_with("oci", ["*/*"]), self.img)
        self.assertServed(self.get_with(self.docker.digest, ["*/*"]), self.docker)

    def test_two_accept_lines(self):
        self.assertServed(self.get_with("oci", [MT_OCI_INDEX, MT_OCI_MANIFEST]), self.img)

    def test_containerd_style_accept_list(self):
        accept = ", ".join([MT_DOCKER_MANIFEST, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_OCI_INDEX,
                            "*/*"])
        self.assertServed(self.get_with("oci", [accept]), self.img)
        self.assertServed(self.get_with("docker", [accept]), self.docker)

    def test_accept_with_quality_values(self):
        self.assertServed(self.get_with("oci", [MT_OCI_MANIFEST + ";q=0.5, application/json;q=0.1"]),
                          self.img)

    def test_no_accept(self):
        self.assertServed(self.get_with("oci", []), self.img)

    def test_accept_application_json(self):
        self.assertServed(self.get_with("docker", ["application/json"]), self.docker)
