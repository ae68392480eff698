"""Content discovery: the tag list and the catalog, with pagination.

Covers oci-spec.md §1.1 end-8a/8b, §1.2 `_catalog`, §3 `Link`, §7.1 (sorted
byte order, `"tags": []`, NAME_UNKNOWN), §7.2 (`n`, exclusive `last`,
`Link: <...>; rel="next"` while more remain, none on the last page, none for
n=0), §7.3 (catalog) and checklist item 12.
"""

import urllib.parse

from lib import (MT_OCI_MANIFEST, RegistryTestCase, next_link, push_image, rand_suffix,
                 repo_name)


def tags_path(repo, query=""):
    return "/v2/%s/tags/list%s" % (repo, ("?" + query) if query else "")


class TestTagList(RegistryTestCase):

    TAGS = ["latest", "v1.0", "v1.10", "v1.2", "V2", "A", "_private", "a-b", "a.b",
            "a_b", "zz", "0", "9z", "TEST0", "test0"]

    @classmethod
    def setUpClass(cls):
        cls.repo = repo_name("tags")
        cls.img = push_image(cls.reg, cls.repo, tag=None)
        for t in cls.TAGS:
            cls.reg.push_manifest(cls.repo, t, cls.img.manifest, MT_OCI_MANIFEST)
        cls.sorted = sorted(cls.TAGS)  # Python sorts str by code point = byte order here

    def list(self, query=""):
        r = self.reg.get(tags_path(self.repo, query))
        self.assertStatus(r, 200)
        doc = self.assertJsonBody(r)
        self.assertEqual(set(doc), {"name", "tags"}, r.describe())
        self.assertEqual(doc["name"], self.repo)
        return r, doc["tags"]

    def test_full_list_sorted_in_byte_order(self):
        r, tags = self.list()
        self.assertEqual(tags, self.sorted)
        self.assertNoHeader(r, "Link")

    def test_n_limits_and_links_to_the_rest(self):
        r, tags = self.list("n=4")
        self.assertEqual(tags, self.sorted[:4])
        link = next_link(r)
        self.assertIsNotNone(link, "more remain, so a Link is due" + r.describe())
        self.assertTrue(link.startswith("/v2/%s/tags/list?" % self.repo), link)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
        self.assertEqual(q.get("n"), ["4"], link)
        self.assertEqual(q.get("last"), [self.sorted[3]], link)

    def test_following_links_walks_the_whole_list(self):
        seen, path, pages = [], tags_path(self.repo, "n=4"), 0
        while path:
            r = self.reg.get(path)
            self.assertStatus(r, 200)
            page = r.json()["tags"]
            self.assertLessEqual(len(page), 4)
            seen += page
            path = next_link(r)
            pages += 1
            self.assertLess(pages, 20)
            if path:
                self.assertEqual(len(page), 4, "short page with a Link" + r.describe())
        self.assertEqual(seen, self.sorted)
        self.assertEqual(pages, (len(self.TAGS) + 3) // 4)

    def test_last_is_exclusive(self):
        r, tags = self.list("last=" + urllib.parse.quote(self.sorted[5]))
        self.assertEqual(tags, self.sorted[6:])
        self.assertNoHeader(r, "Link")

    def test_n_and_last(self):
        r, tags = self.list("n=3&last=" + urllib.parse.quote(self.sorted[2]))
        self.assertEqual(tags, self.sorted[3:6])
        self.assertIsNotNone(next_link(r))

    def test_last_page_has_no_link(self):
        r, tags = self.list("n=3&last=" + urllib.parse.quote(self.sorted[-4]))
        self.assertEqual(tags, self.sorted[-3:])
        self.assertNoHeader(r, "Link")

    def test_n_equal_to_count(self):
        r, tags = self.list("n=%d" % len(self.TAGS))
        self.assertEqual(tags, self.sorted)
        self.assertNoHeader(r, "Link")

    def test_n_larger_than_count(self):
        r, tags = self.list("n=1000")
        self.assertEqual(tags, self.sorted)
        self.assertNoHeader(r, "Link")

    def test_n_zero_is_empty_without_link(self):
        r, tags = self.list("n=0")
        self.assertEqual(tags, [])
        self.assertNoHeader(r, "Link")

    def test_last_after_everything(self):
        r, tags = self.list("last=zzzzz")
        self.assertEqual(tags, [])
        self.assertNoHeader(r, "Link")

    def test_last_that_cannot_be_a_tag_is_refused(self):
        # A cursor that does not decode, or is too long for any tag, must
        # not silently restart the listing from the beginning.
        for q in ("last=%ZZ", "last=%00", "last=" + "a" * 5000):
            r = self.reg.request("GET", "/v2/%s/tags/list?%s" % (self.repo, q))
            self.assertErrorOrFrontRefused(r, 400, "TAG_INVALID")

    def test_last_that_is_not_a_tag(self):
        # "b" is not a tag; the list resumes at the first tag sorting after it
        r, tags = self.list("last=b")
        self.assertEqual(tags, [t for t in self.sorted if t > "b"])

    def test_case_variants_both_listed(self):
        _, tags = self.list()
        self.assertLess(tags.index("TEST0"), tags.index("test0"))


class TestTagListEdges(RegistryTestCase):

    def test_many_tags_without_n(self):
        # no n: either every tag at once, or pages joined by Link
        repo = repo_name("tags")
        img = push_image(self.reg, repo, tag=None, layers=1, layer_size=5)
        tags = ["t%03d" % i for i in range(150)]
        for t in tags:
            self.reg.push_manifest(repo, t, img.manifest, MT_OCI_MANIFEST)
        seen, path = [], tags_path(repo)
        while path:
            r = self.reg.get(path)
            self.assertStatus(r, 200)
            seen += r.json()["tags"]
            path = next_link(r)
        self.assertEqual(seen, tags)
        seen, path = [], tags_path(repo, "n=64")
        while path:
            r = self.reg.get(path)
            page = r.json()["tags"]
            seen += page
            path = next_link(r)
            if path:
                self.assertEqual(len(page), 64)
        self.assertEqual(seen, tags)

    def test_unknown_repository(self):
        r = self.reg.get(tags_path(repo_name("no-such-repo")))
        self.assertError(r, 404, "NAME_UNKNOWN")

    def test_repository_with_only_untagged_manifests(self):
        repo = repo_name("tags")
        push_image(self.reg, repo, tag=None)
        r = self.reg.get(tags_path(repo))
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"name": repo, "tags": []})

    def test_repository_whose_tags_were_all_deleted(self):
        repo = repo_name("tags")
        img = push_image(self.reg, repo, "a")
        self.reg.push_manifest(repo, "b", img.manifest, MT_OCI_MANIFEST)
        self.assertStatus(self.reg.delete("/v2/%s/manifests/a" % repo), 202)
        self.assertStatus(self.reg.delete("/v2/%s/manifests/b" % repo), 202)
        r = self.reg.get(tags_path(repo))
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"name": repo, "tags": []})
        self.assertIn(b'"tags":', r.body.replace(b" ", b""))

    def test_moved_tag_listed_once(self):
        repo = repo_name("tags")
        push_image(self.reg, repo, "same")
        push_image(self.reg, repo, "same")
        r = self.reg.get(tags_path(repo))
        self.assertEqual(r.json()["tags"], ["same"])

    def test_nested_repository_name(self):
        repo = "e2e/tags-%s/deeper/still" % rand_suffix()
        push_image(self.reg, repo, "x")
        r = self.reg.get(tags_path(repo))
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"name": repo, "tags": ["x"]})

    def test_bad_n_is_not_500(self):
        repo = repo_name("tags")
        push_image(self.reg, repo, "x")
        for q in ("n=-1", "n=abc", "n=", "n=99999999999999999999999"):
            r = self.reg.get(tags_path(repo, q))
            self.assertLess(r.status, 500, r.describe())
            if r.status != 200:
                self.assertError(r, 400, {"PAGINATION_NUMBER_INVALID", "UNSUPPORTED"})


class TestCatalog(RegistryTestCase):

    @classmethod
    def setUpClass(cls):
        cls.prefix = "e2e-cat-%s" % rand_suffix()
        cls.repos = sorted("%s/%s" % (cls.prefix, n) for n in ("b", "a", "c/d", "c-e", "c"))
        for repo in cls.repos:
            push_image(cls.reg, repo, "t", layers=1, layer_size=10)

    def walk(self, first):
        seen, path, pages = [], first, 0
        while path:
            r = self.reg.get(path)
            self.assertStatus(r, 200)
            self.assertHeader(r, "Content-Type", "application/json")
            doc = r.json()
            self.assertEqual(set(doc), {"repositories"}, r.describe())
            seen += doc["repositories"]
            path = next_link(r)
            if path:
                self.assertTrue(path.startswith("/v2/_catalog?"), path)
            pages += 1
            self.assertLess(pages, 10000)
        return seen

    def test_catalog_lists_repositories_sorted(self):
        seen = self.walk("/v2/_catalog")
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual([s for s in seen if s.startswith(self.prefix + "/")], self.repos)

    def test_catalog_pagination_with_link(self):
        full = self.walk("/v2/_catalog")
        paged = self.walk("/v2/_catalog?n=7")
        self.assertEqual(paged, full)

    def test_catalog_n_and_last(self):
        r = self.reg.get("/v2/_catalog?n=2&last=" + urllib.parse.quote(self.repos[0], safe=""))
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["repositories"], self.repos[1:3])
        link = next_link(r)
        self.assertIsNotNone(link, r.describe())
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
        self.assertEqual(q.get("last"), [self.repos[2]])
        self.assertEqual(q.get("n"), ["2"])

    def test_catalog_last_is_exclusive(self):
        r = self.reg.get("/v2/_catalog?n=100&last=" + urllib.parse.quote(self.repos[1], safe=""))
        got = r.json()["repositories"]
        self.assertNotIn(self.repos[1], got)
        self.assertEqual(got[:3], self.repos[2:5])

    def test_catalog_n_zero(self):
        r = self.reg.get("/v2/_catalog?n=0")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"repositories": []})
        self.assertNoHeader(r, "Link")

    def test_catalog_last_after_everything(self):
        r = self.reg.get("/v2/_catalog?last=zzzzzzzz")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"repositories": []})
        self.assertNoHeader(r, "Link")
