/* meta.c -- the metadata backend suite: one set of tests run against
 * every metadata backend (store/meta.h) through the core's wrappers, as
 * tests/backend runs one against every blob handler.  Each backend in
 * backends[] is opened from the configuration an operator would write.
 *
 * What every backend must show: blob commit, link, mount and unlink
 * with linked_at refreshed (gc's grace window); a manifest PUT with
 * missing references writes nothing; tags move, and go with their
 * manifest; tags and the catalog page in byte order; referrers come
 * back as rows, filtered by artifact type; upload sessions are created,
 * advanced once per old size, expired; gc's candidates are a snapshot
 * that meta_gc_blob_delete() checks again; the admin listings; and the
 * points of the concurrency contract (meta.h, C1-C5) that one machine
 * can show, with a second process holding its own connection. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "meta.h"
#include "meta_admin.h"
#include "meta_auth.h"

struct backend {
	const char *label;
	const char *ini;  /* the configuration file's text; with
					 * env, @DSN@ is replaced by its value,
					 * @DIR@ by BERTH_TEST_PG_DIR's and
					 * @SCHEMA@ by a schema name fresh for
					 * each test */
	const char *file; /* a file open must create in the data
					 * directory, or NULL */
	const char *env;  /* a server's backend: the environment
					 * variable giving its dsn; the rows
					 * run only when it is set
					 * (tests/run.sh starts PostgreSQL) */
};

static const struct backend backends[] = {
	{ "sqlite", "", "berth.db", NULL },
	{ "sqlite/path",
	    "[metadata]\nbackend = sqlite\n"
	    "[metadata.sqlite]\npath = meta/registry.db\n",
	    "meta/registry.db", NULL },
	{ "postgresql",
	    "[metadata]\nbackend = postgresql\n"
	    "[metadata.postgresql]\ndsn = @DSN@\nschema = @SCHEMA@\n",
	    NULL, "BERTH_TEST_PG_DSN" },
	{ "postgresql/timeouts",
	    "[metadata]\nbackend = postgresql\n"
	    "[metadata.postgresql]\ndsn = @DSN@\nschema = @SCHEMA@\n"
	    "connect_timeout = 2\nlock_timeout = 5s\nstatement_timeout = 1m\n",
	    NULL, "BERTH_TEST_PG_DSN" },
	/* A role that must give its password (hosting/pg-local.sh): from
	 * password_file, the dsn without it. */
	{ "postgresql/password_file",
	    "[metadata]\nbackend = postgresql\n"
	    "[metadata.postgresql]\ndsn = host=@DIR@ user=berth_pw "
	    "dbname=berth\npassword_file = @DIR@/password\nschema = @SCHEMA@\n",
	    NULL, "BERTH_TEST_PG_DIR" },
};

struct fixture {
	const struct backend *b;
	struct conf *conf;
	char dir[64];
};

/* A distinct, well-formed sha256 digest for n. */
static const char *
dg(char *buf, unsigned n)
{
	snprintf(buf, DIGEST_STR_MAX, "sha256:%064x", n);
	return buf;
}

static struct conf *
load(struct fixture *f, const char *text)
{
	char ini[PATH_MAX];
	struct conf *c;
	FILE *fp;

	snprintf(ini, sizeof(ini), "%s/berth.ini", f->dir);
	fp = fopen(ini, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	c = conf_load(ini);
	assert_non_null(c);
	return c;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char sub[PATH_MAX];

	assert_non_null(f);
	f->b = *state;
	strcpy(f->dir, "/tmp/berth-meta-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(sub, sizeof(sub), "%s/meta", f->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	if (f->b->env != NULL) {
		/* A schema of its own (t_<the directory's suffix>): each test
		 * starts from an empty store, as with a new SQLite file. */
		char schema[32], ini[1024];
		const char *sfx = strrchr(f->dir, '-') + 1, *t;
		size_t i, n = 0;

		snprintf(schema, sizeof(schema), "t_%s", sfx);
		for (i = 0; schema[i] != '\0'; i++)
			if (schema[i] >= 'A' && schema[i] <= 'Z')
				schema[i] = (char)(schema[i] - 'A' + 'a');
			else if (!(schema[i] >= 'a' && schema[i] <= 'z') &&
			    !(schema[i] >= '0' && schema[i] <= '9'))
				schema[i] = '_';
		for (t = f->b->ini; *t != '\0' && n < sizeof(ini) - 256;) {
			const char *with = NULL;

			if (strncmp(t, "@DSN@", 5) == 0)
				with = getenv(f->b->env), t += 5;
			else if (strncmp(t, "@DIR@", 5) == 0)
				with = getenv("BERTH_TEST_PG_DIR"), t += 5;
			else if (strncmp(t, "@SCHEMA@", 8) == 0)
				with = schema, t += 8;
			else
				ini[n++] = *t++;
			if (with != NULL)
				n += (size_t)snprintf(ini + n, sizeof(ini) - n,
				    "%s", with);
		}
		ini[n] = '\0';
		f->conf = load(f, ini);
	} else
		f->conf = load(f, f->b->ini);
	assert_int_equal(meta_open(f->conf, f->dir), META_OK);
	assert_int_equal(conf_check_unread(f->conf, NULL, NULL), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	meta_close();
	meta_events(false); /* test_outbox turns them on */
	conf_free(f->conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Wait until time(NULL) has moved past t. */
static void
next_second(time_t t)
{
	while (time(NULL) <= t)
		usleep(20000);
}

/* Store a manifest whose body is `body`, with digest dgst, tag (may be
 * NULL), subject and artifact type (may be NULL), referencing refs. */
static enum meta_err
put(const char *repo, const char *tag, const char *dgst, const char *body,
    const char *subject, const char *artifact_type, const char *annotations,
    const struct meta_ref *refs, size_t nrefs, json_t **missing)
{
	struct meta_manifest_put p = {
		.repo = repo,
		.tag = tag,
		.digest = dgst,
		.media_type = "application/vnd.oci.image.manifest.v1+json",
		.body = (const unsigned char *)body,
		.size = strlen(body),
		.subject = subject,
		.artifact_type = artifact_type,
		.annotations = annotations,
		.refs = refs,
		.nrefs = nrefs,
	};

	return meta_manifest_put(&p, missing);
}

/* Put a manifest with no references and no subject; must succeed. */
static void
put_plain(const char *repo, const char *tag, const char *dgst, const char *body)
{
	json_t *missing;

	assert_int_equal(put(repo, tag, dgst, body, NULL, NULL, NULL, NULL, 0,
			     &missing),
	    META_OK);
	assert_null(missing);
}

/* Does the jansson array `list` hold string s? */
static bool
has_string(json_t *list, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* Does `list` of objects hold one whose `key` is the string s? */
static json_t *
find_row(json_t *list, const char *key, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) {
		const char *x = json_string_value(json_object_get(v, key));

		if (x != NULL && strcmp(x, s) == 0)
			return v;
	}
	return NULL;
}

/* --- Opening ---------------------------------------------------------- */

static void
test_open(void **state)
{
	struct fixture *f = *state;
	char where[PATH_MAX + 64], want[PATH_MAX + 64], fresh[PATH_MAX];
	struct conf *bad;
	struct stat st;
	uint64_t size;
	json_t *out;
	bool more;

	/* The store open created is where the configuration says. */
	if (f->b->file != NULL) {
		snprintf(want, sizeof(want), "%s/%s", f->dir, f->b->file);
		assert_int_equal(stat(want, &st), 0);
		assert_int_equal(meta_exists(f->conf, f->dir, where,
				     sizeof(where)),
		    META_OK);
		assert_string_equal(where, want);
	}
	/* Elsewhere there is none yet, and asking creates none. */
	snprintf(fresh, sizeof(fresh), "%s/fresh", f->dir);
	assert_int_equal(mkdir(fresh, 0755), 0);
	if (f->b->file != NULL && f->b->file[0] != '/' &&
	    strchr(f->b->file, '/') == NULL) {
		assert_int_equal(meta_exists(f->conf, fresh, where,
				     sizeof(where)),
		    META_NOTFOUND);
		snprintf(want, sizeof(want), "%s/%s", fresh, f->b->file);
		assert_string_equal(where, want);
		assert_int_equal(stat(want, &st), -1);
	}

	/* No backend open: every wrapper answers META_UNAVAILABLE. */
	meta_close();
	assert_int_equal(meta_blob_linked("r", "sha256:x", &size),
	    META_UNAVAILABLE);
	out = json_array();
	assert_int_equal(meta_catalog(NULL, 10, out, &more), META_UNAVAILABLE);
	assert_int_equal(meta_admin_begin(), META_UNAVAILABLE);
	assert_int_equal(meta_admin_integrity(out), META_UNAVAILABLE);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);

	/* An unknown backend is refused by name, before anything opens. */
	bad = load(f, "[metadata]\nbackend = nosuch\n");
	assert_string_equal(meta_backend(bad), "nosuch");
	assert_int_equal(meta_open(bad, f->dir), META_ERR);
	assert_int_equal(meta_exists(bad, f->dir, where, sizeof(where)),
	    META_ERR);
	conf_free(bad);

	/* Reopening finds what was written (and migrates nothing twice). */
	assert_int_equal(meta_open(f->conf, f->dir), META_OK);
	assert_int_equal(meta_blob_commit("r", "sha256:0", 1, NULL), META_OK);
	meta_close();
	assert_int_equal(meta_open(f->conf, f->dir), META_OK);
	assert_int_equal(meta_blob_linked("r", "sha256:0", &size), META_OK);
	assert_int_equal(size, 1);
}

/* --- Blobs ------------------------------------------------------------ */

static void
test_blobs(void **state)
{
	char a[DIGEST_STR_MAX], b[DIGEST_STR_MAX], c[DIGEST_STR_MAX];
	struct meta_upload u = { .uuid = "u-blobs",
		.repo = "lib/app",
		.alg = DIGEST_SHA256 };
	uint64_t size = 0;

	(void)state;
	dg(a, 1);
	dg(b, 2);
	dg(c, 3);
	assert_int_equal(meta_blob_linked("lib/app", a, &size), META_NOTFOUND);
	assert_int_equal(meta_blob_commit("lib/app", a, 1234, NULL), META_OK);
	assert_int_equal(meta_blob_linked("lib/app", a, &size), META_OK);
	assert_int_equal(size, 1234);
	/* Linked into lib/app only. */
	assert_int_equal(meta_blob_linked("lib/other", a, &size),
	    META_NOTFOUND);
	/* Idempotent. */
	assert_int_equal(meta_blob_commit("lib/app", a, 1234, NULL), META_OK);

	/* Commit ends the upload session in the same transaction. */
	assert_int_equal(meta_upload_create(&u), META_OK);
	assert_int_equal(meta_blob_commit("lib/app", b, 7, "u-blobs"), META_OK);
	assert_int_equal(meta_upload_get("lib/app", "u-blobs", 3600, &u),
	    META_NOTFOUND);

	/* Mount: from a repository that links it, not from one that does
	 * not. */
	size = 0;
	assert_int_equal(meta_blob_mount("lib/other", "lib/app", a, &size),
	    META_OK);
	assert_int_equal(size, 1234);
	assert_int_equal(meta_blob_linked("lib/other", a, &size), META_OK);
	assert_int_equal(meta_blob_mount("lib/third", "lib/app", c, &size),
	    META_NOTFOUND);
	assert_int_equal(meta_blob_linked("lib/third", c, &size),
	    META_NOTFOUND);
	assert_int_equal(meta_blob_mount("lib/third", "nowhere", a, &size),
	    META_NOTFOUND);

	/* Unlink drops one repository's link; the blob stays for gc. */
	assert_int_equal(meta_blob_unlink("lib/app", a), META_OK);
	assert_int_equal(meta_blob_unlink("lib/app", a), META_NOTFOUND);
	assert_int_equal(meta_blob_linked("lib/app", a, &size), META_NOTFOUND);
	assert_int_equal(meta_blob_linked("lib/other", a, &size), META_OK);
	assert_int_equal(meta_admin_blob(a, &size), META_OK);
	assert_int_equal(size, 1234);
	assert_int_equal(meta_admin_blob(c, &size), META_NOTFOUND);
}

/* C4: commit and mount restart the grace window (gc's cutoff). */
static void
test_linked_at(void **state)
{
	char a[DIGEST_STR_MAX], b[DIGEST_STR_MAX], c[DIGEST_STR_MAX];
	json_t *cand;
	time_t t0;

	(void)state;
	dg(a, 11);
	dg(b, 12);
	dg(c, 13);
	t0 = time(NULL);
	assert_int_equal(meta_blob_commit("r", a, 1, NULL), META_OK);
	assert_int_equal(meta_blob_commit("r", b, 2, NULL), META_OK);
	assert_int_equal(meta_blob_commit("r", c, 3, NULL), META_OK);
	t0 = time(NULL) > t0 ? time(NULL) : t0; /* all stored at or before */
	next_second(t0);
	assert_int_equal(meta_blob_commit("r", a, 1, NULL), META_OK);
	assert_int_equal(meta_blob_mount("s", "r", b, &(uint64_t){ 0 }),
	    META_OK);
	/* With the cutoff at the first commits, only c is still garbage. */
	cand = json_array();
	assert_int_equal(meta_gc_candidates((int64_t)t0, cand), META_OK);
	assert_int_equal(json_array_size(cand), 1);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(cand, 0),
				    "digest")),
	    c);
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(cand, 0), "size")),
	    3);
	json_decref(cand);
}

/* --- Manifests and tags ---------------------------------------------- */

static void
test_manifest_missing(void **state)
{
	char l1[DIGEST_STR_MAX], l2[DIGEST_STR_MAX], child[DIGEST_STR_MAX];
	char m[DIGEST_STR_MAX];
	struct meta_ref refs[3];
	struct meta_manifest got;
	json_t *missing, *out;
	bool more;

	(void)state;
	refs[0] = (struct meta_ref){ dg(l1, 21), false };
	refs[1] = (struct meta_ref){ dg(l2, 22), false };
	refs[2] = (struct meta_ref){ dg(child, 23), true };
	dg(m, 24);
	/* l1 is linked elsewhere only: that does not count. */
	assert_int_equal(meta_blob_commit("other", l1, 5, NULL), META_OK);
	assert_int_equal(meta_blob_commit("app", l2, 6, NULL), META_OK);
	assert_int_equal(put("app", "v1", m, "{\"m\":1}", NULL, NULL, NULL,
			     refs, 3, &missing),
	    META_MISSING);
	assert_non_null(missing);
	assert_int_equal(json_array_size(missing), 2);
	assert_string_equal(json_string_value(json_array_get(missing, 0)), l1);
	assert_string_equal(json_string_value(json_array_get(missing, 1)),
	    child);
	json_decref(missing);
	/* Nothing was written: no manifest, no tag. */
	assert_int_equal(meta_manifest_get("app", m, true, false, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_manifest_get("app", "v1", false, false, &got),
	    META_NOTFOUND);
	out = json_array();
	assert_int_equal(meta_tags_list("app", NULL, 10, out, &more), META_OK);
	assert_int_equal(json_array_size(out), 0);

	/* With everything present it is stored byte for byte. */
	assert_int_equal(meta_blob_commit("app", l1, 5, NULL), META_OK);
	put_plain("app", NULL, child, "{\"child\":1}");
	assert_int_equal(put("app", "v1", m, "{\"m\":1}", NULL, NULL, NULL,
			     refs, 3, &missing),
	    META_OK);
	assert_null(missing);
	assert_int_equal(meta_manifest_get("app", "v1", false, true, &got),
	    META_OK);
	assert_string_equal(got.digest, m);
	assert_string_equal(got.media_type,
	    "application/vnd.oci.image.manifest.v1+json");
	assert_int_equal(got.size, 7);
	assert_memory_equal(got.body, "{\"m\":1}", 7);
	free(got.body);
	assert_int_equal(meta_manifest_get("app", m, true, false, &got),
	    META_OK);
	assert_null(got.body);
	assert_int_equal(meta_manifest_get("other", m, true, false, &got),
	    META_NOTFOUND);
	json_decref(out);
}

static void
test_tag_move(void **state)
{
	char m1[DIGEST_STR_MAX], m2[DIGEST_STR_MAX];
	struct meta_manifest got;
	json_t *audit;

	(void)state;
	dg(m1, 31);
	dg(m2, 32);
	put_plain("app", "latest", m1, "{\"v\":1}");
	put_plain("app", "latest", m2, "{\"v\":2}");
	assert_int_equal(meta_manifest_get("app", "latest", false, false, &got),
	    META_OK);
	assert_string_equal(got.digest, m2);
	assert_int_equal(meta_manifest_get("app", m1, true, false, &got),
	    META_OK);
	/* The same bytes again only move the tag. */
	put_plain("app", "latest", m1, "{\"v\":1}");
	assert_int_equal(meta_manifest_get("app", "latest", false, false, &got),
	    META_OK);
	assert_string_equal(got.digest, m1);
	audit = json_array();
	assert_int_equal(meta_admin_audit("app", 100, audit), META_OK);
	assert_non_null(find_row(audit, "action", "tag.move"));
	json_decref(audit);

	assert_int_equal(meta_tag_delete("app", "latest"), META_OK);
	assert_int_equal(meta_tag_delete("app", "latest"), META_NOTFOUND);
	assert_int_equal(meta_tag_delete("nosuch", "latest"), META_NOTFOUND);
	assert_int_equal(meta_manifest_get("app", "latest", false, false, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_manifest_get("app", m1, true, false, &got),
	    META_OK);
}

/* end-7b: the list of tags lands with the manifest, all or none. */
static void
test_tag_list(void **state)
{
	static const char *const tags[] = { "v1", "v1.0", "stable", "v1" };
	char m1[DIGEST_STR_MAX], m2[DIGEST_STR_MAX], blob[DIGEST_STR_MAX];
	struct meta_ref ref = { .digest = blob, .manifest = false };
	struct meta_manifest_put p = {
		.repo = "app",
		.tag = "latest",
		.digest = m1,
		.media_type = "application/vnd.oci.image.manifest.v1+json",
		.body = (const unsigned char *)"{\"v\":1}",
		.size = 7,
		.tags = tags,
		.ntags = 4,
	};
	struct meta_manifest got;
	json_t *missing, *list;
	bool more;

	(void)state;
	dg(m1, 41);
	dg(m2, 42);
	dg(blob, 43);
	assert_int_equal(meta_manifest_put(&p, &missing), META_OK);
	assert_null(missing);
	list = json_array();
	assert_int_equal(meta_tags_list("app", NULL, 100, list, &more),
	    META_OK);
	assert_int_equal(json_array_size(list), 4); /* the repeat once */
	assert_true(has_string(list, "latest"));
	assert_true(has_string(list, "v1"));
	assert_true(has_string(list, "v1.0"));
	assert_true(has_string(list, "stable"));
	json_decref(list);
	assert_int_equal(meta_manifest_get("app", "v1.0", false, false, &got),
	    META_OK);
	assert_string_equal(got.digest, m1);

	/* A second manifest that references a missing blob: nothing moves,
	 * not even the tags that already exist. */
	p.digest = m2;
	p.body = (const unsigned char *)"{\"v\":2}";
	p.tag = NULL;
	p.refs = &ref;
	p.nrefs = 1;
	assert_int_equal(meta_manifest_put(&p, &missing), META_MISSING);
	assert_true(has_string(missing, blob));
	json_decref(missing);
	assert_int_equal(meta_manifest_get("app", "stable", false, false, &got),
	    META_OK);
	assert_string_equal(got.digest, m1);
	assert_int_equal(meta_manifest_get("app", m2, true, false, &got),
	    META_NOTFOUND);

	/* With the blob there, every tag moves to m2 at once; `latest`,
	 * not in the list, stays. */
	assert_int_equal(meta_blob_commit("app", blob, 3, NULL), META_OK);
	assert_int_equal(meta_manifest_put(&p, &missing), META_OK);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(meta_manifest_get("app", tags[i], false, false,
				     &got),
		    META_OK);
		assert_string_equal(got.digest, m2);
	}
	assert_int_equal(meta_manifest_get("app", "latest", false, false, &got),
	    META_OK);
	assert_string_equal(got.digest, m1);
}

/* The candidates of a mount without `from`: who links a blob. */
static void
test_blob_holders(void **state)
{
	char a[DIGEST_STR_MAX], b[DIGEST_STR_MAX];
	json_t *out = json_array();

	(void)state;
	dg(a, 51);
	dg(b, 52);
	assert_int_equal(meta_blob_holders(a, 10, out), META_OK);
	assert_int_equal(json_array_size(out), 0);
	assert_int_equal(meta_blob_commit("zeta", a, 5, NULL), META_OK);
	assert_int_equal(meta_blob_commit("alpha", a, 5, NULL), META_OK);
	assert_int_equal(meta_blob_commit("mid/x", a, 5, NULL), META_OK);
	assert_int_equal(meta_blob_commit("other", b, 5, NULL), META_OK);
	assert_int_equal(meta_blob_holders(a, 10, out), META_OK);
	assert_int_equal(json_array_size(out), 3); /* in byte order */
	assert_string_equal(json_string_value(json_array_get(out, 0)), "alpha");
	assert_string_equal(json_string_value(json_array_get(out, 1)), "mid/x");
	assert_string_equal(json_string_value(json_array_get(out, 2)), "zeta");
	json_array_clear(out);
	assert_int_equal(meta_blob_holders(a, 2, out), META_OK);
	assert_int_equal(json_array_size(out), 2);
	json_array_clear(out);
	/* An unlinked repository is no candidate. */
	assert_int_equal(meta_blob_unlink("alpha", a), META_OK);
	assert_int_equal(meta_blob_holders(a, 10, out), META_OK);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(json_string_value(json_array_get(out, 0)), "mid/x");
	json_decref(out);
}

/* What the web server's files may name (store/pub.h): every sha256
 * manifest and blob link, by repository then digest; sha512 never. */
static void
test_pub_rows(void **state)
{
	char m[DIGEST_STR_MAX], b[DIGEST_STR_MAX], c[DIGEST_STR_MAX];
	char big[DIGEST_STR_MAX];
	json_t *out = json_array(), *v;

	(void)state;
	dg(m, 71);
	dg(b, 72);
	dg(c, 73);
	snprintf(big, sizeof(big), "sha512:%0128x", 74);
	assert_int_equal(meta_admin_pub_rows(out), META_OK);
	assert_int_equal(json_array_size(out), 0);
	assert_int_equal(meta_blob_commit("zeta", b, 5, NULL), META_OK);
	assert_int_equal(meta_blob_commit("app", c, 5, NULL), META_OK);
	assert_int_equal(meta_blob_commit("app", big, 5, NULL), META_OK);
	put_plain("app", "v1", m, "{\"p\":1}");
	assert_int_equal(meta_admin_pub_rows(out), META_OK);
	assert_int_equal(json_array_size(out), 3);
	v = json_array_get(out, 0);
	assert_string_equal(json_string_value(json_object_get(v, "repository")),
	    "app");
	assert_string_equal(json_string_value(json_object_get(v, "digest")), m);
	assert_string_equal(json_string_value(json_object_get(v, "kind")),
	    "manifest");
	v = json_array_get(out, 1);
	assert_string_equal(json_string_value(json_object_get(v, "digest")), c);
	assert_string_equal(json_string_value(json_object_get(v, "kind")),
	    "blob");
	v = json_array_get(out, 2);
	assert_string_equal(json_string_value(json_object_get(v, "repository")),
	    "zeta");
	assert_string_equal(json_string_value(json_object_get(v, "digest")), b);
	json_array_clear(out);
	/* A row gone is a name gone. */
	assert_int_equal(meta_manifest_delete("app", m), META_OK);
	assert_int_equal(meta_blob_unlink("zeta", b), META_OK);
	assert_int_equal(meta_admin_pub_rows(out), META_OK);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(out, 0),
				    "digest")),
	    c);
	json_decref(out);
}

/* A repository emptied by deletes leaves the catalog and the listing. */
static void
test_empty_repository(void **state)
{
	char m[DIGEST_STR_MAX], b[DIGEST_STR_MAX];
	json_t *out = json_array();
	bool more;

	(void)state;
	dg(m, 61);
	dg(b, 62);
	assert_int_equal(meta_blob_commit("blobonly", b, 4, NULL), META_OK);
	put_plain("withmanifest", NULL, m, "{\"e\":1}");
	assert_int_equal(meta_catalog(NULL, 10, out, &more), META_OK);
	assert_int_equal(json_array_size(out), 2);
	json_array_clear(out);
	assert_int_equal(meta_blob_unlink("blobonly", b), META_OK);
	assert_int_equal(meta_catalog(NULL, 10, out, &more), META_OK);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(json_string_value(json_array_get(out, 0)),
	    "withmanifest");
	json_array_clear(out);
	assert_int_equal(meta_admin_repos(out), META_OK);
	assert_null(find_row(out, "repository", "blobonly"));
	assert_non_null(find_row(out, "repository", "withmanifest"));
	json_array_clear(out);
	assert_int_equal(meta_manifest_delete("withmanifest", m), META_OK);
	assert_int_equal(meta_catalog(NULL, 10, out, &more), META_OK);
	assert_int_equal(json_array_size(out), 0);
	assert_false(more);
	assert_int_equal(meta_admin_repos(out), META_OK);
	assert_int_equal(json_array_size(out), 0);
	/* The next push brings it back. */
	assert_int_equal(meta_blob_commit("blobonly", b, 4, NULL), META_OK);
	assert_int_equal(meta_catalog(NULL, 10, out, &more), META_OK);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
}

static void
test_manifest_delete(void **state)
{
	char m1[DIGEST_STR_MAX], m2[DIGEST_STR_MAX];
	struct meta_manifest got;
	json_t *tags;
	bool more;

	(void)state;
	dg(m1, 41);
	dg(m2, 42);
	put_plain("app", "a", m1, "{\"v\":1}");
	put_plain("app", "b", m1, "{\"v\":1}");
	put_plain("app", "c", m2, "{\"v\":2}");
	assert_int_equal(meta_manifest_delete("app", m1), META_OK);
	assert_int_equal(meta_manifest_delete("app", m1), META_NOTFOUND);
	assert_int_equal(meta_manifest_get("app", m1, true, false, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_manifest_get("app", "a", false, false, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_manifest_get("app", "b", false, false, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_manifest_get("app", "c", false, false, &got),
	    META_OK);
	tags = json_array();
	assert_int_equal(meta_tags_list("app", NULL, 10, tags, &more), META_OK);
	assert_int_equal(json_array_size(tags), 1);
	assert_string_equal(json_string_value(json_array_get(tags, 0)), "c");
	assert_false(more);
	json_decref(tags);
}

/* Collect one page of tags (repo != NULL) or repositories as a string
 * "x,y,z" and whether more remain. */
static enum meta_err
page(const char *repo, const char *last, unsigned long n, char *buf, size_t cap,
    bool *more)
{
	json_t *out = json_array(), *v;
	enum meta_err e;
	size_t i;

	e = repo != NULL ? meta_tags_list(repo, last, n, out, more) :
			   meta_catalog(last, n, out, more);
	buf[0] = '\0';
	json_array_foreach(out, i, v)
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s",
		    i ? "," : "", json_string_value(v));
	json_decref(out);
	return e;
}

static void
test_pagination(void **state)
{
	static const char *const tags[] = { "b", "a", "c", "a1", "B", "a-0" };
	char m[DIGEST_STR_MAX], buf[256];
	bool more;

	(void)state;
	dg(m, 51);
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		put_plain("app", tags[i], m, "{}");
	/* Byte order: "B" < "a" < "a-0" < "a1" < "b" < "c". */
	assert_int_equal(page("app", NULL, 2, buf, sizeof(buf), &more),
	    META_OK);
	assert_string_equal(buf, "B,a");
	assert_true(more);
	assert_int_equal(page("app", "a", 2, buf, sizeof(buf), &more), META_OK);
	assert_string_equal(buf, "a-0,a1");
	assert_true(more);
	assert_int_equal(page("app", "a1", 2, buf, sizeof(buf), &more),
	    META_OK);
	assert_string_equal(buf, "b,c");
	assert_false(more);
	assert_int_equal(page("app", "c", 2, buf, sizeof(buf), &more), META_OK);
	assert_string_equal(buf, "");
	assert_false(more);
	/* `last` need not be a tag that exists. */
	assert_int_equal(page("app", "a00", 10, buf, sizeof(buf), &more),
	    META_OK);
	assert_string_equal(buf, "a1,b,c");
	assert_int_equal(page("nosuch", NULL, 2, buf, sizeof(buf), &more),
	    META_NOTFOUND);

	put_plain("zeta", NULL, m, "{}");
	put_plain("alpha/x", NULL, m, "{}");
	put_plain("alpha", NULL, m, "{}");
	assert_int_equal(page(NULL, NULL, 2, buf, sizeof(buf), &more), META_OK);
	assert_string_equal(buf, "alpha,alpha/x");
	assert_true(more);
	assert_int_equal(page(NULL, "alpha/x", 2, buf, sizeof(buf), &more),
	    META_OK);
	assert_string_equal(buf, "app,zeta");
	assert_false(more);
}

static void
test_referrers(void **state)
{
	char subj[DIGEST_STR_MAX], r1[DIGEST_STR_MAX], r2[DIGEST_STR_MAX];
	char r3[DIGEST_STR_MAX];
	struct meta_referrer *rows;
	json_t *missing;
	size_t n;

	(void)state;
	dg(subj, 61);
	dg(r1, 62);
	dg(r2, 63);
	dg(r3, 64);
	put_plain("app", "v1", subj, "{\"s\":1}");
	assert_int_equal(put("app", NULL, r1, "{\"r\":1}", subj,
			     "application/vnd.example.sig", "{\"k\":\"v\"}",
			     NULL, 0, &missing),
	    META_OK);
	assert_int_equal(put("app", NULL, r2, "{\"r\":22}", subj, NULL, NULL,
			     NULL, 0, &missing),
	    META_OK);
	assert_int_equal(put("app", NULL, r3, "{\"r\":333}", subj,
			     "application/vnd.example.sbom", NULL, NULL, 0,
			     &missing),
	    META_OK);
	/* The same subject in another repository is not a referrer here. */
	assert_int_equal(put("other", NULL, r1, "{\"r\":1}", subj,
			     "application/vnd.example.sig", NULL, NULL, 0,
			     &missing),
	    META_OK);

	assert_int_equal(meta_referrers("app", subj, NULL, &rows, &n), META_OK);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].digest, r1);
	assert_string_equal(rows[0].media_type,
	    "application/vnd.oci.image.manifest.v1+json");
	assert_int_equal(rows[0].size, 7);
	assert_string_equal(rows[0].artifact_type,
	    "application/vnd.example.sig");
	assert_string_equal(rows[0].annotations, "{\"k\":\"v\"}");
	assert_string_equal(rows[1].digest, r2);
	assert_int_equal(rows[1].size, 8);
	assert_null(rows[1].artifact_type);
	assert_null(rows[1].annotations);
	assert_string_equal(rows[2].digest, r3);
	assert_int_equal(rows[2].size, 9);
	assert_null(rows[2].annotations);
	meta_referrers_free(rows, n);

	assert_int_equal(meta_referrers("app", subj,
			     "application/vnd.example.sbom", &rows, &n),
	    META_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].digest, r3);
	meta_referrers_free(rows, n);

	assert_int_equal(meta_referrers("app", subj, "application/none", &rows,
			     &n),
	    META_OK);
	assert_int_equal(n, 0);
	assert_null(rows);
	assert_int_equal(meta_referrers("app", r1, NULL, &rows, &n), META_OK);
	assert_int_equal(n, 0);
	assert_int_equal(meta_referrers("nosuch", subj, NULL, &rows, &n),
	    META_OK);
	assert_int_equal(n, 0);
	assert_int_equal(meta_referrers("other", subj, NULL, &rows, &n),
	    META_OK);
	assert_int_equal(n, 1);
	assert_null(rows[0].annotations);
	meta_referrers_free(rows, n);
}

/* --- Upload sessions ------------------------------------------------- */

static void
test_uploads(void **state)
{
	struct meta_upload u = { .uuid = "u-1",
		.repo = "lib/app",
		.alg = DIGEST_SHA512,
		.size = 0,
		.state = { 1, 2, 3 },
		.state_len = 3 },
			   got, v;
	json_t *ids, *rows;
	time_t t0;

	(void)state;
	t0 = time(NULL);
	assert_int_equal(meta_upload_create(&u), META_OK);
	assert_int_equal(meta_upload_get("lib/app", "u-1", 3600, &got),
	    META_OK);
	assert_string_equal(got.uuid, "u-1");
	assert_string_equal(got.repo, "lib/app");
	assert_int_equal(got.alg, DIGEST_SHA512);
	assert_int_equal(got.size, 0);
	assert_int_equal(got.state_len, 3);
	assert_memory_equal(got.state, "\1\2\3", 3);
	assert_true(got.started_at >= t0 && got.started_at <= time(NULL));
	/* Another repository's session is not found. */
	assert_int_equal(meta_upload_get("lib/other", "u-1", 3600, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_upload_get("lib/app", "u-2", 3600, &got),
	    META_NOTFOUND);

	/* Advance once per old size: the second writer loses (C3). */
	v = u;
	v.size = 10;
	v.state[0] = 9;
	assert_int_equal(meta_upload_advance(&v, 0), META_OK);
	v.size = 20;
	assert_int_equal(meta_upload_advance(&v, 0), META_CONFLICT);
	assert_int_equal(meta_upload_get("lib/app", "u-1", 3600, &got),
	    META_OK);
	assert_int_equal(got.size, 10);
	assert_int_equal(got.state[0], 9);
	v.size = 20;
	assert_int_equal(meta_upload_advance(&v, 10), META_OK);

	rows = json_array();
	assert_int_equal(meta_admin_uploads(rows), META_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "uuid")),
	    "u-1");
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "algorithm")),
	    "sha512");
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(rows, 0), "size")),
	    20);
	json_decref(rows);

	/* Expiry: idle for longer than `expiry` seconds. */
	ids = json_array();
	assert_int_equal(meta_upload_expired(3600, ids), META_OK);
	assert_int_equal(json_array_size(ids), 0);
	next_second(time(NULL));
	assert_int_equal(meta_upload_expired(0, ids), META_OK);
	assert_int_equal(json_array_size(ids), 1);
	assert_true(has_string(ids, "u-1"));
	json_decref(ids);
	assert_int_equal(meta_upload_get("lib/app", "u-1", 0, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_upload_get("lib/app", "u-1", 3600, &got),
	    META_OK);
	assert_int_equal(meta_upload_delete("u-1"), META_OK);
	assert_int_equal(meta_upload_get("lib/app", "u-1", 3600, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_upload_delete("u-1"), META_OK);
}

/* --- Garbage collection ---------------------------------------------- */

/* The health probe and the metrics' numbers: sessions in flight, the
 * store's size (both backends have the operation: bytes is known). */
static void
test_stats(void **state)
{
	struct meta_upload u = { .uuid = "s-1", .repo = "lib/app" };
	struct meta_stats st;

	(void)state;
	assert_int_equal(meta_stats(&st), META_OK);
	assert_int_equal(st.uploads, 0);
	assert_true(st.bytes > 0);
	assert_int_equal(meta_upload_create(&u), META_OK);
	snprintf(u.uuid, sizeof(u.uuid), "s-2");
	assert_int_equal(meta_upload_create(&u), META_OK);
	assert_int_equal(meta_stats(&st), META_OK);
	assert_int_equal(st.uploads, 2);
	assert_int_equal(meta_upload_delete("s-1"), META_OK);
	assert_int_equal(meta_stats(&st), META_OK);
	assert_int_equal(st.uploads, 1);
}

static void
test_gc(void **state)
{
	char used[DIGEST_STR_MAX], loose[DIGEST_STR_MAX], late[DIGEST_STR_MAX];
	char m[DIGEST_STR_MAX], m2[DIGEST_STR_MAX];
	struct meta_ref ref;
	json_t *cand, *missing;
	uint64_t size = 0;
	bool deleted = true;
	int64_t cutoff = (int64_t)time(NULL) + 60; /* no grace */

	(void)state;
	dg(used, 71);
	dg(loose, 72);
	dg(late, 73);
	dg(m, 74);
	dg(m2, 75);
	assert_int_equal(meta_blob_commit("app", used, 100, NULL), META_OK);
	assert_int_equal(meta_blob_commit("app", loose, 200, NULL), META_OK);
	assert_int_equal(meta_blob_commit("app", late, 300, NULL), META_OK);
	ref = (struct meta_ref){ used, false };
	assert_int_equal(put("app", "v1", m, "{}", NULL, NULL, NULL, &ref, 1,
			     &missing),
	    META_OK);

	cand = json_array();
	assert_int_equal(meta_gc_candidates(cutoff, cand), META_OK);
	assert_int_equal(json_array_size(cand), 2);
	/* By digest. */
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(cand, 0),
				    "digest")),
	    loose);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(cand, 1),
				    "digest")),
	    late);
	json_decref(cand);
	/* A grace window covering them keeps everything. */
	cand = json_array();
	assert_int_equal(meta_gc_candidates((int64_t)time(NULL) - 60, cand),
	    META_OK);
	assert_int_equal(json_array_size(cand), 0);
	json_decref(cand);

	/* After the snapshot, a manifest comes to reference `late`: the
	 * re-check keeps it (C5). */
	ref = (struct meta_ref){ late, false };
	assert_int_equal(put("app", "v2", m2, "{\"b\":2}", NULL, NULL, NULL,
			     &ref, 1, &missing),
	    META_OK);

	/* Rolled back, a deletion leaves everything as it was (C1). */
	assert_int_equal(meta_admin_begin(), META_OK);
	assert_int_equal(meta_gc_blob_delete(loose, cutoff, &deleted, &size),
	    META_OK);
	assert_true(deleted);
	assert_int_equal(meta_admin_end(false), META_OK);
	assert_int_equal(meta_blob_linked("app", loose, &size), META_OK);

	assert_int_equal(meta_admin_begin(), META_OK);
	size = 0;
	assert_int_equal(meta_gc_blob_delete(loose, cutoff, &deleted, &size),
	    META_OK);
	assert_true(deleted);
	assert_int_equal(size, 200);
	assert_int_equal(meta_gc_blob_delete(late, cutoff, &deleted, &size),
	    META_OK);
	assert_false(deleted);
	assert_int_equal(meta_gc_blob_delete(used, cutoff, &deleted, &size),
	    META_OK);
	assert_false(deleted);
	assert_int_equal(meta_admin_end(true), META_OK);
	assert_int_equal(meta_admin_blob(loose, &size), META_NOTFOUND);
	assert_int_equal(meta_blob_linked("app", loose, &size), META_NOTFOUND);
	assert_int_equal(meta_blob_linked("app", late, &size), META_OK);
	/* Ending with no transaction: commit is an error, rollback not. */
	assert_int_equal(meta_admin_end(true), META_ERR);
	assert_int_equal(meta_admin_end(false), META_OK);
}

static void
test_gc_untagged(void **state)
{
	char tagged[DIGEST_STR_MAX], loose[DIGEST_STR_MAX], idx[DIGEST_STR_MAX];
	char child[DIGEST_STR_MAX], sig[DIGEST_STR_MAX];
	struct meta_ref ref;
	json_t *gone, *missing;
	struct meta_manifest got;
	int64_t cutoff = (int64_t)time(NULL) + 60;

	(void)state;
	dg(tagged, 81);
	dg(loose, 82);
	dg(idx, 83);
	dg(child, 84);
	dg(sig, 85);
	put_plain("app", "v1", tagged, "{\"t\":1}");
	put_plain("app", NULL, loose, "{\"l\":1}");
	put_plain("app", NULL, child, "{\"c\":1}");
	ref = (struct meta_ref){ child, true };
	assert_int_equal(put("app", "idx", idx, "{\"i\":1}", NULL, NULL, NULL,
			     &ref, 1, &missing),
	    META_OK);
	assert_int_equal(put("app", NULL, sig, "{\"s\":1}", tagged,
			     "application/vnd.example.sig", NULL, NULL, 0,
			     &missing),
	    META_OK);

	gone = json_array();
	assert_int_equal(meta_admin_begin(), META_OK);
	assert_int_equal(meta_gc_untagged(cutoff, gone), META_OK);
	assert_int_equal(meta_admin_end(true), META_OK);
	assert_int_equal(json_array_size(gone), 1);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(gone, 0),
				    "digest")),
	    loose);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(gone, 0),
				    "repository")),
	    "app");
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(gone, 0), "size")),
	    7);
	json_decref(gone);
	assert_int_equal(meta_manifest_get("app", loose, true, false, &got),
	    META_NOTFOUND);
	assert_int_equal(meta_manifest_get("app", child, true, false, &got),
	    META_OK);
	assert_int_equal(meta_manifest_get("app", sig, true, false, &got),
	    META_OK);

	/* Untagging the index frees it and then its child. */
	assert_int_equal(meta_tag_delete("app", "idx"), META_OK);
	gone = json_array();
	assert_int_equal(meta_admin_begin(), META_OK);
	assert_int_equal(meta_gc_untagged(cutoff, gone), META_OK);
	assert_int_equal(meta_admin_end(true), META_OK);
	assert_int_equal(json_array_size(gone), 2);
	assert_non_null(find_row(gone, "digest", idx));
	assert_non_null(find_row(gone, "digest", child));
	json_decref(gone);
}

/* --- The operator's listings ---------------------------------------- */

static void
test_admin(void **state)
{
	char a[DIGEST_STR_MAX], b[DIGEST_STR_MAX], m[DIGEST_STR_MAX];
	char after[DIGEST_STR_MAX], want[DIGEST_STR_MAX + 8];
	struct meta_ref refs[2];
	json_t *rows, *row, *obj, *missing;
	uint64_t size;

	(void)state;
	dg(a, 91);
	dg(b, 92);
	dg(m, 93);
	assert_int_equal(meta_blob_commit("app", a, 1000, NULL), META_OK);
	assert_int_equal(meta_blob_commit("app", b, 24, NULL), META_OK);
	assert_int_equal(meta_blob_mount("base", "app", a, &size), META_OK);
	refs[0] = (struct meta_ref){ a, false };
	refs[1] = (struct meta_ref){ b, false };
	assert_int_equal(put("app", "v1", m, "{\"x\":0}", NULL, NULL, NULL,
			     refs, 2, &missing),
	    META_OK);
	assert_int_equal(meta_tag_delete("app", "v1"), META_OK);
	assert_int_equal(put("app", "v2", m, "{\"x\":0}", NULL, NULL, NULL,
			     refs, 2, &missing),
	    META_OK);
	assert_int_equal(put("app", "v3", m, "{\"x\":0}", NULL, NULL, NULL,
			     refs, 2, &missing),
	    META_OK);

	rows = json_array();
	assert_int_equal(meta_admin_repos(rows), META_OK);
	assert_int_equal(json_array_size(rows), 2);
	row = json_array_get(rows, 0);
	assert_string_equal(json_string_value(
				json_object_get(row, "repository")),
	    "app");
	assert_int_equal(json_integer_value(json_object_get(row, "tags")), 2);
	assert_int_equal(json_integer_value(json_object_get(row, "manifests")),
	    1);
	assert_int_equal(json_integer_value(json_object_get(row, "blobs")), 2);
	assert_int_equal(json_integer_value(json_object_get(row, "blob_bytes")),
	    1024);
	assert_int_equal(json_integer_value(
			     json_object_get(row, "shared_bytes")),
	    1000);
	assert_int_equal(json_integer_value(
			     json_object_get(row, "unique_bytes")),
	    24);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 1),
				    "repository")),
	    "base");
	json_array_clear(rows);

	assert_int_equal(meta_admin_tags("app", rows), META_OK);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "tag")),
	    "v2");
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "digest")),
	    m);
	assert_int_equal(meta_admin_tags("nosuch", rows), META_NOTFOUND);
	json_array_clear(rows);

	assert_int_equal(meta_admin_manifest("app", "v3", false, &obj),
	    META_OK);
	assert_string_equal(json_string_value(json_object_get(obj, "digest")),
	    m);
	assert_int_equal(json_integer_value(json_object_get(obj, "size")), 7);
	assert_int_equal(json_array_size(json_object_get(obj, "tags")), 2);
	assert_string_equal(json_string_value(
				json_array_get(json_object_get(obj, "tags"),
				    0)),
	    "v2");
	assert_int_equal(json_integer_value(
			     json_object_get(json_object_get(obj, "stored"),
				 a)),
	    1000);
	assert_null(json_object_get(obj, "id"));
	json_decref(obj);
	assert_int_equal(meta_admin_manifest("app", "v1", false, &obj),
	    META_NOTFOUND);
	assert_null(obj);

	assert_int_equal(meta_admin_du(&obj), META_OK);
	assert_int_equal(json_integer_value(
			     json_object_get(obj, "repositories")),
	    2);
	assert_int_equal(json_integer_value(json_object_get(obj, "blobs")), 2);
	assert_int_equal(json_integer_value(json_object_get(obj, "blob_bytes")),
	    1024);
	assert_int_equal(json_integer_value(
			     json_object_get(obj, "linked_bytes")),
	    2024);
	assert_int_equal(json_integer_value(
			     json_object_get(obj, "shared_blobs")),
	    1);
	assert_int_equal(json_integer_value(
			     json_object_get(obj, "unreferenced_blobs")),
	    0);
	json_decref(obj);

	/* The audit trail, oldest first, of one repository. */
	assert_int_equal(meta_admin_audit("app", 100, rows), META_OK);
	assert_non_null(find_row(rows, "action", "manifest.push"));
	assert_non_null(find_row(rows, "action", "tag.delete"));
	assert_non_null(find_row(rows, "action", "blob.link"));
	assert_null(find_row(rows, "repository", "base"));
	json_array_clear(rows);
	assert_int_equal(meta_admin_audit(NULL, 1, rows), META_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "tag")),
	    "v3");
	json_array_clear(rows);

	/* Blob pages by digest. */
	assert_int_equal(meta_admin_blob_page("", 1, rows), META_OK);
	assert_int_equal(json_array_size(rows), 1);
	snprintf(after, sizeof(after), "%s",
	    json_string_value(
		json_object_get(json_array_get(rows, 0), "digest")));
	assert_string_equal(after, a);
	json_array_clear(rows);
	assert_int_equal(meta_admin_blob_page(after, 10, rows), META_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "digest")),
	    b);
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(rows, 0), "size")),
	    24);
	json_array_clear(rows);

	assert_int_equal(meta_admin_referencing(a, rows), META_OK);
	assert_int_equal(json_array_size(rows), 1);
	snprintf(want, sizeof(want), "app@%s", m);
	assert_string_equal(json_string_value(json_array_get(rows, 0)), want);
	json_array_clear(rows);

	/* Forget: links and row go, the manifest stays. */
	assert_int_equal(meta_admin_begin(), META_OK);
	assert_int_equal(meta_admin_blob_forget(a), META_OK);
	assert_int_equal(meta_admin_blob_forget(a), META_NOTFOUND);
	assert_int_equal(meta_admin_end(true), META_OK);
	assert_int_equal(meta_blob_linked("base", a, &size), META_NOTFOUND);
	assert_int_equal(meta_admin_manifest("app", m, true, &obj), META_OK);
	assert_null(json_object_get(json_object_get(obj, "stored"), a));
	json_decref(obj);

	assert_int_equal(meta_admin_integrity(rows), META_OK);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
}

/* --- Concurrency: a second process with its own connection ---------- */

/* Run `child` in a new process that opens the metadata itself (after
 * the fork, as the workers do) once the parent writes a byte to go[1];
 * the child answers on ready[0] with a byte just before it calls
 * child().  Returns its pid.  The parent's own connection is closed
 * across the fork and reopened after it. */
static pid_t
spawn(struct fixture *f, int (*child)(struct fixture *), int go[2],
    int ready[2])
{
	pid_t pid;
	char c;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	meta_close();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(ready[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(90);
		if (meta_open(f->conf, f->dir) != META_OK)
			_exit(91);
		if (write(ready[1], "r", 1) != 1)
			_exit(92);
		_exit(child(f));
	}
	close(go[0]);
	close(ready[1]);
	assert_int_equal(meta_open(f->conf, f->dir), META_OK);
	return pid;
}

/* Let the child go, and wait until it is about to start. */
static void
release(int go[2], int ready[2])
{
	char c;

	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
}

static int
wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define HOLD_USEC 400000 /* how long the parent holds the write lock */

/* A manifest PUT referencing blob 101 in "app": 0 when it answers
 * META_MISSING with the blob named, 1 when stored, more on surprises.
 * It must have waited for the parent's transaction (C2): 2 if not. */
static int
child_put(struct fixture *f)
{
	char blob[DIGEST_STR_MAX], m[DIGEST_STR_MAX];
	struct meta_ref ref = { dg(blob, 101), false };
	json_t *missing = NULL;
	double t0 = seconds();
	enum meta_err e;
	int rc;

	(void)f;
	e = put("app", "v1", dg(m, 102), "{}", NULL, NULL, NULL, &ref, 1,
	    &missing);
	if (seconds() - t0 < HOLD_USEC / 1e6 / 2)
		rc = 2;
	else if (e == META_MISSING && json_array_size(missing) == 1 &&
	    strcmp(json_string_value(json_array_get(missing, 0)), blob) == 0)
		rc = 0;
	else if (e == META_OK)
		rc = 1;
	else
		rc = 3;
	json_decref(missing);
	meta_close();
	return rc;
}

/* gc deletes a blob while a manifest PUT referencing it runs in another
 * process: the PUT waits for gc's transaction and then sees the blob
 * gone (C2, C3, C5).  Rolled back instead, the PUT stores the manifest. */
static void
test_put_against_gc(void **state)
{
	struct fixture *f = *state;
	char blob[DIGEST_STR_MAX], m[DIGEST_STR_MAX];
	struct meta_manifest got;
	int64_t cutoff = (int64_t)time(NULL) + 60;
	bool deleted;
	uint64_t size;
	int go[2], ready[2];
	pid_t pid;

	dg(blob, 101);
	dg(m, 102);
	for (int round = 0; round < 2; round++) {
		bool commit = round == 0;

		assert_int_equal(meta_blob_commit("app", blob, 5, NULL),
		    META_OK);
		pid = spawn(f, child_put, go, ready);
		assert_int_equal(meta_admin_begin(), META_OK);
		assert_int_equal(meta_gc_blob_delete(blob, cutoff, &deleted,
				     &size),
		    META_OK);
		assert_true(deleted);
		release(go, ready);
		usleep(HOLD_USEC);
		assert_int_equal(meta_admin_end(commit), META_OK);
		assert_int_equal(wait_child(pid), commit ? 0 : 1);
		assert_int_equal(meta_manifest_get("app", m, true, false, &got),
		    commit ? META_NOTFOUND : META_OK);
	}
	/* The second PUT left the blob referenced: gc keeps it now. */
	assert_int_equal(meta_admin_begin(), META_OK);
	assert_int_equal(meta_gc_blob_delete(blob, cutoff, &deleted, &size),
	    META_OK);
	assert_false(deleted);
	assert_int_equal(meta_admin_end(true), META_OK);
}

/* Advance upload "u-c" from 0 to 5 bytes in the child: 0 on
 * META_CONFLICT (the parent got there first), 1 on META_OK. */
static int
child_advance(struct fixture *f)
{
	struct meta_upload u;
	int rc = 3;

	(void)f;
	memset(&u, 0, sizeof(u));
	snprintf(u.uuid, sizeof(u.uuid), "u-c");
	snprintf(u.repo, sizeof(u.repo), "app");
	u.size = 5;
	switch (meta_upload_advance(&u, 0)) {
	case META_CONFLICT:
		rc = 0;
		break;
	case META_OK:
		rc = 1;
		break;
	default:
		break;
	}
	meta_close();
	return rc;
}

/* Two writers advancing one upload session from the same size: one
 * wins, the other learns of it (C3), across connections. */
static void
test_advance_race(void **state)
{
	struct fixture *f = *state;
	struct meta_upload u = { .uuid = "u-c",
		.repo = "app",
		.alg = DIGEST_SHA256 },
			   got;
	int go[2], ready[2];
	pid_t pid;

	assert_int_equal(meta_upload_create(&u), META_OK);
	pid = spawn(f, child_advance, go, ready);
	u.size = 7;
	assert_int_equal(meta_upload_advance(&u, 0), META_OK);
	release(go, ready);
	assert_int_equal(wait_child(pid), 0);
	assert_int_equal(meta_upload_get("app", "u-c", 3600, &got), META_OK);
	assert_int_equal(got.size, 7);
}

/* A server's backend: a server that cannot be reached still opens (a
 * worker started during an outage must answer), but every operation
 * answers META_UNAVAILABLE (the front's 503) within connect_timeout, and
 * meta_exists() too (an operator command stops); a missing dsn and a
 * bad schema name are refused. */
static void
test_unreachable(void **state)
{
	struct fixture *f = *state;
	struct conf *c;
	double t0;
	char ini[512];

	if (f->b->env == NULL)
		skip(); /* a file store is always there */
	snprintf(ini, sizeof(ini),
	    "[metadata]\nbackend = postgresql\n"
	    "[metadata.postgresql]\ndsn = host=%s/nosuch user=berth "
	    "dbname=berth password=sekret\nconnect_timeout = 2\n",
	    f->dir);
	c = load(f, ini);
	t0 = seconds();
	assert_int_equal(meta_open(c, f->dir), META_OK);
	assert_int_equal(meta_blob_linked("r", "sha256:x", &(uint64_t){ 0 }),
	    META_UNAVAILABLE);
	assert_true(meta_unavailable_seen(true));
	assert_int_equal(meta_blob_commit("r", "sha256:x", 1, NULL),
	    META_UNAVAILABLE);
	assert_int_equal(meta_admin_begin(), META_UNAVAILABLE);
	assert_true(seconds() - t0 < 3.0 * 4);
	/* The optional operations are seen by meta_unavailable_seen() too. */
	(void)meta_unavailable_seen(true);
	{
		json_t *holders = json_array();
		struct meta_stats st;

		assert_int_equal(meta_blob_holders("sha256:x", 4, holders),
		    META_UNAVAILABLE);
		json_decref(holders);
		assert_true(meta_unavailable_seen(true));
		assert_int_equal(meta_stats(&st), META_UNAVAILABLE);
		assert_true(meta_unavailable_seen(true));
	}
	{
		char where[256];

		assert_int_equal(meta_exists(c, f->dir, where, sizeof(where)),
		    META_UNAVAILABLE);
	}
	meta_close();
	conf_free(c);
	c = load(f, "[metadata]\nbackend = postgresql\n");
	assert_int_equal(meta_open(c, f->dir), META_ERR);
	conf_free(c);
	c = load(f,
	    "[metadata]\nbackend = postgresql\n"
	    "[metadata.postgresql]\ndsn = host=/tmp\nschema = Bad-Name\n");
	assert_int_equal(meta_open(c, f->dir), META_ERR);
	conf_free(c);
	/* What was open before is open again. */
	assert_int_equal(meta_open(f->conf, f->dir), META_OK);
}

/* Cut every berth connection to the test's server (psql, as the
 * superuser of BERTH_TEST_PG_DSN), as a server restart would. */
static void
cut_connections(void)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
	    "psql -X -q -A -t '%s' -c \"SELECT "
	    "count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
	    "application_name = 'berth'\" > /dev/null",
	    getenv("BERTH_TEST_PG_DSN"));
	assert_int_equal(system(cmd), 0);
	usleep(300000); /* the backends' goodbye arrives */
}

/* A server's backend: a connection the server cut is made anew by the
 * next operation, which succeeds (nothing was in flight); but a blob
 * lock taken on the lost connection is gone with it, so the commit it
 * was to cover is refused (C6; META_UNAVAILABLE) and writes nothing,
 * and the next upload, under a new lock, commits. */
static void
test_reconnect(void **state)
{
	struct fixture *f = *state;
	char a[DIGEST_STR_MAX], b[DIGEST_STR_MAX];
	uint64_t size = 0;

	if (f->b->env == NULL || getenv("BERTH_TEST_PG_DSN") == NULL)
		skip();
	dg(a, 301);
	dg(b, 302);
	assert_int_equal(meta_blob_commit("r", a, 5, NULL), META_OK);
	cut_connections();
	assert_int_equal(meta_blob_linked("r", a, &size), META_OK);
	assert_int_equal(size, 5);

	assert_int_equal(meta_blob_lock(false), META_OK);
	cut_connections();
	assert_int_equal(meta_blob_commit("r", b, 6, NULL), META_UNAVAILABLE);
	assert_true(meta_unavailable_seen(true));
	assert_int_equal(meta_blob_unlock(), META_OK);
	assert_int_equal(meta_blob_linked("r", b, &size), META_NOTFOUND);
	assert_int_equal(meta_admin_blob(b, &size), META_NOTFOUND);
	assert_int_equal(meta_blob_lock(false), META_OK);
	assert_int_equal(meta_blob_commit("r", b, 6, NULL), META_OK);
	assert_int_equal(meta_blob_unlock(), META_OK);
	assert_int_equal(meta_blob_linked("r", b, &size), META_OK);
	assert_false(meta_unavailable_seen(true));
}

/* The blob lock through the seam: PostgreSQL's is exclusive against a
 * second process; SQLite has none (the flock is the whole lock). */
static int
child_lock(struct fixture *f)
{
	double t0 = seconds();

	(void)f;
	/* Must wait for the parent's exclusive lock, then get it. */
	if (meta_blob_lock(false) != META_OK)
		return 1;
	meta_blob_unlock();
	return seconds() - t0 >= HOLD_USEC / 1e6 / 2 ? 0 : 2;
}

static void
test_blob_lock(void **state)
{
	struct fixture *f = *state;
	int go[2], ready[2];
	pid_t pid;

	if (f->b->env == NULL) {
		assert_int_equal(meta_blob_lock(true), META_NOTFOUND);
		return;
	}
	pid = spawn(f, child_lock, go, ready);
	assert_int_equal(meta_blob_lock(true), META_OK);
	release(go, ready);
	usleep(HOLD_USEC);
	assert_int_equal(meta_blob_unlock(), META_OK);
	assert_int_equal(wait_child(pid), 0);
}

/* Users: add refuses a taken name (user or CI token), passwd and get,
 * delete takes the user's grants with it; the identities count. */
static void
test_users(void **state)
{
	char hash[META_HASH_MAX];
	json_t *rows;
	long n = -1;

	(void)state;
	rows = json_array();

	assert_int_equal(meta_identities_count(&n), META_OK);
	assert_int_equal(n, 0);
	assert_int_equal(meta_user_add("alice", "$y$j9T$a$b"), META_OK);
	assert_int_equal(meta_user_add("alice", "$y$j9T$c$d"), META_CONFLICT);
	assert_int_equal(meta_user_get("alice", hash), META_OK);
	assert_string_equal(hash, "$y$j9T$a$b");
	assert_int_equal(meta_user_passwd("alice", "$y$j9T$e$f"), META_OK);
	assert_int_equal(meta_user_get("alice", hash), META_OK);
	assert_string_equal(hash, "$y$j9T$e$f");
	assert_int_equal(meta_user_passwd("bob", "$y$x"), META_NOTFOUND);
	assert_int_equal(meta_user_get("bob", hash), META_NOTFOUND);
	assert_int_equal(meta_user_add("bob", "$y$j9T$g$h"), META_OK);
	assert_int_equal(meta_users_list(rows), META_OK);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "name")),
	    "alice");
	assert_int_equal(meta_grant_put("bob", "team/**", "pull"), META_OK);
	assert_int_equal(meta_grant_put("alice", "team/**", "pull,push"),
	    META_OK);
	assert_int_equal(meta_user_delete("bob"), META_OK);
	assert_int_equal(meta_user_delete("bob"), META_NOTFOUND);
	json_array_clear(rows);
	assert_int_equal(meta_grants_list(rows), META_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "who")),
	    "alice");
	assert_int_equal(meta_identities_count(&n), META_OK);
	assert_int_equal(n, 1);
	json_decref(rows);
}

/* CI tokens: by id, a name shared with a user refused, revoke once,
 * revoked tokens no longer counted. */
static void
test_ci_tokens(void **state)
{
	struct meta_ci_token t = { .id = "0123456789abcdef",
		.name = "ci",
		.secret_hash = "aa",
		.scope = "team/**:pull,push",
		.created_at = 1000,
		.expires_at = 0 },
			     got;
	json_t *rows;
	long n = -1;

	(void)state;
	rows = json_array();

	assert_int_equal(meta_ci_token_add(&t), META_OK);
	assert_int_equal(meta_ci_token_add(&t), META_CONFLICT);
	assert_int_equal(meta_user_add("ci", "$y$x"), META_CONFLICT);
	assert_int_equal(meta_ci_token_get("0123456789abcdef", &got), META_OK);
	assert_string_equal(got.name, "ci");
	assert_string_equal(got.scope, "team/**:pull,push");
	assert_int_equal(got.expires_at, 0);
	assert_false(got.revoked);
	assert_int_equal(meta_ci_token_get("fedcba9876543210", &got),
	    META_NOTFOUND);
	assert_int_equal(meta_identities_count(&n), META_OK);
	assert_int_equal(n, 1);
	assert_int_equal(meta_ci_token_revoke("ci"), META_OK);
	assert_int_equal(meta_ci_token_revoke("ci"), META_NOTFOUND);
	assert_int_equal(meta_ci_token_get("0123456789abcdef", &got), META_OK);
	assert_true(got.revoked);
	assert_int_equal(meta_identities_count(&n), META_OK);
	assert_int_equal(n, 0);
	assert_int_equal(meta_ci_tokens_list(rows), META_OK);
	assert_int_equal(json_array_size(rows), 1);
	assert_true(json_is_null(
	    json_object_get(json_array_get(rows, 0), "expires_at")));
	json_decref(rows);
}

/* Grants replace on (who, pattern); delete reports absence. */
static void
test_grants(void **state)
{
	json_t *rows;

	(void)state;
	rows = json_array();

	assert_int_equal(meta_grant_put("*", "**", "pull"), META_OK);
	assert_int_equal(meta_grant_put("*", "**", "pull,push"), META_OK);
	assert_int_equal(meta_grant_put("anonymous", "pub/*", ""), META_OK);
	assert_int_equal(meta_grants_list(rows), META_OK);
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 0),
				    "actions")),
	    "pull,push");
	assert_string_equal(json_string_value(
				json_object_get(json_array_get(rows, 1),
				    "actions")),
	    "");
	assert_int_equal(meta_grant_delete("*", "**"), META_OK);
	assert_int_equal(meta_grant_delete("*", "**"), META_NOTFOUND);
	json_decref(rows);
}

/* The audit rows of writes after meta_set_actor() name the actor, and
 * none after it is cleared; a change of actor is seen by the next write
 * (a backend that keeps the name per connection must send it anew), and
 * a server's backend names it again on a connection made after the old
 * one was cut. */
static void
test_audit_actor(void **state)
{
	static const char *const want[] = { "alice", NULL, "bob", "alice",
		"alice" };
	struct fixture *f = *state;
	char d[DIGEST_STR_MAX];
	json_t *rows;
	size_t i;

	rows = json_array();
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(meta_set_actor(want[i]), META_OK);
		if (i == 4 && f->b->env != NULL)
			cut_connections();
		assert_int_equal(meta_blob_commit("app",
				     dg(d, 400 + (unsigned)i), 5, NULL),
		    META_OK);
	}
	assert_int_equal(meta_admin_audit("app", 10, rows), META_OK);
	assert_int_equal(json_array_size(rows), 5);
	/* Oldest first. */
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		json_t *u = json_object_get(json_array_get(rows, i), "user");

		if (want[i] == NULL)
			assert_true(json_is_null(u));
		else
			assert_string_equal(json_string_value(u), want[i]);
	}
	assert_int_equal(meta_set_actor(NULL), META_OK);
	json_decref(rows);
}

/* --- Events: the outbox (meta.h, "Events") -------------------------- */

/* The outbox rows url has not acknowledged, at most max. */
static json_t *
pending(const char *url, size_t max)
{
	json_t *rows = json_array();

	assert_int_equal(meta_outbox_next(url, max, rows), META_OK);
	return rows;
}

/* Row i of rows has action, tag (NULL: null) and digest. */
static void
assert_event(json_t *rows, size_t i, const char *action, const char *tag,
    const char *digest)
{
	json_t *r = json_array_get(rows, i), *t;

	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "action")),
	    action);
	assert_string_equal(json_string_value(json_object_get(r, "digest")),
	    digest);
	t = json_object_get(r, "tag");
	if (tag == NULL)
		assert_true(json_is_null(t));
	else
		assert_string_equal(json_string_value(t), tag);
}

static void
test_outbox(void **state)
{
	static const char *const tags[] = { "a", "v1", "a" };
	struct fixture *f = *state;
	char m1[DIGEST_STR_MAX], m2[DIGEST_STR_MAX], blob[DIGEST_STR_MAX];
	char other[DIGEST_STR_MAX];
	struct meta_ref ref = { .digest = other, .manifest = false };
	struct meta_manifest_put p = {
		.repo = "app",
		.tag = "v1",
		.media_type = "application/vnd.oci.image.manifest.v1+json",
		.body = (const unsigned char *)"{\"v\":2}",
		.size = 7,
		.tags = tags,
		.ntags = 3,
	};
	const char *const A = "http://a/", *const B = "http://b/";
	json_t *rows, *urls, *st, *missing, *r;
	uint64_t size;
	int64_t seq3, last, gone;

	/* Events on, as store_open() does with a [notify] url. */
	meta_close();
	meta_events(true);
	assert_int_equal(meta_open(f->conf, f->dir), META_OK);
	meta_event_request("{\"method\":\"PUT\"}", "https://reg.example");
	meta_set_actor("alice");
	dg(m1, 801);
	dg(m2, 802);
	dg(blob, 803);
	dg(other, 804);
	p.digest = m2;

	/* A write that fails writes no event (C1). */
	assert_int_equal(put("app", "v0", m1, "{\"v\":1}", NULL, NULL, NULL,
			     &ref, 1, &missing),
	    META_MISSING);
	json_decref(missing);
	assert_int_equal(meta_tag_delete("app", "nosuch"), META_NOTFOUND);
	assert_int_equal(meta_manifest_delete("app", m2), META_NOTFOUND);
	assert_int_equal(meta_blob_mount("other", "app", blob, &size),
	    META_NOTFOUND);
	rows = pending(A, 100);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);

	/* A blob commit is no event; a push, each tag, a mount, the
	 * deletes are, in commit order. */
	assert_int_equal(meta_blob_commit("app", blob, 9, NULL), META_OK);
	put_plain("app", "v1", m1, "{\"v\":1}");
	assert_int_equal(meta_manifest_put(&p, &missing), META_OK);
	assert_int_equal(meta_blob_mount("other", "app", blob, &size), META_OK);
	assert_int_equal(meta_tag_delete("app", "a"), META_OK);
	assert_int_equal(meta_manifest_delete("app", m1), META_OK);
	rows = pending(A, 100);
	assert_int_equal(json_array_size(rows), 6);
	assert_event(rows, 0, "push", "v1", m1);
	assert_event(rows, 1, "push", "v1", m2); /* the move */
	assert_event(rows, 2, "push", "a", m2);	 /* "a" once */
	assert_event(rows, 3, "mount", NULL, blob);
	assert_event(rows, 4, "delete", "a", m2);
	assert_event(rows, 5, "delete", NULL, m1);
	r = json_array_get(rows, 1);
	assert_string_equal(json_string_value(json_object_get(r, "repository")),
	    "app");
	assert_string_equal(json_string_value(json_object_get(r, "media_type")),
	    "application/vnd.oci.image.manifest.v1+json");
	assert_int_equal(json_integer_value(json_object_get(r, "size")), 7);
	assert_string_equal(json_string_value(json_object_get(r, "actor")),
	    "alice");
	assert_string_equal(json_string_value(json_object_get(r, "request")),
	    "{\"method\":\"PUT\"}");
	assert_string_equal(json_string_value(json_object_get(r, "base_url")),
	    "https://reg.example");
	r = json_array_get(rows, 3);
	assert_string_equal(json_string_value(
				json_object_get(r, "from_repository")),
	    "app");
	assert_string_equal(json_string_value(json_object_get(r, "repository")),
	    "other");
	assert_int_equal(json_integer_value(json_object_get(r, "size")), 9);
	assert_true(
	    json_is_null(json_object_get(json_array_get(rows, 5), "size")));
	for (size_t i = 0; i < 6; i++) {
		const char *id = json_string_value(
		    json_object_get(json_array_get(rows, i), "id"));

		assert_int_equal(strlen(id), 36);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(id,
			    json_string_value(
				json_object_get(json_array_get(rows, j),
				    "id")));
	}
	seq3 = json_integer_value(
	    json_object_get(json_array_get(rows, 2), "seq"));
	last = json_integer_value(
	    json_object_get(json_array_get(rows, 5), "seq"));
	json_decref(rows);
	rows = pending(A, 2);
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);

	/* Each receiver's cursor on its own; a row goes once all have it. */
	assert_int_equal(meta_outbox_mark(A, seq3, NULL), META_OK);
	assert_int_equal(meta_outbox_mark(B, 0, "HTTP 500"), META_OK);
	rows = pending(A, 100);
	assert_int_equal(json_array_size(rows), 3);
	assert_event(rows, 0, "mount", NULL, blob);
	json_decref(rows);
	urls = json_pack("[ss]", A, B);
	st = json_array();
	assert_int_equal(meta_outbox_status(urls, st), META_OK);
	assert_int_equal(json_array_size(st), 2);
	r = find_row(st, "url", A);
	assert_int_equal(json_integer_value(json_object_get(r, "pending")), 3);
	assert_int_equal(json_integer_value(json_object_get(r, "failures")), 0);
	r = find_row(st, "url", B);
	assert_int_equal(json_integer_value(json_object_get(r, "pending")), 6);
	assert_int_equal(json_integer_value(json_object_get(r, "failures")), 1);
	assert_string_equal(json_string_value(json_object_get(r, "last_error")),
	    "HTTP 500");
	assert_true(json_is_integer(json_object_get(r, "oldest_at")));
	json_decref(st);
	assert_int_equal(meta_outbox_prune(urls, &gone), META_OK);
	assert_int_equal(gone, 0); /* B has none */
	assert_int_equal(meta_outbox_mark(B, last, NULL), META_OK);
	assert_int_equal(meta_outbox_prune(urls, &gone), META_OK);
	assert_int_equal(gone, 3); /* what A has too */
	assert_int_equal(meta_outbox_mark(A, last, NULL), META_OK);
	assert_int_equal(meta_outbox_prune(urls, &gone), META_OK);
	assert_int_equal(gone, 3);
	rows = pending(B, 100);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);

	/* After everything went, numbers go on (a cursor never skips). */
	put_plain("app", "v9", m1, "{\"v\":1}");
	rows = pending(A, 100);
	assert_int_equal(json_array_size(rows), 1);
	assert_true(json_integer_value(json_object_get(json_array_get(rows, 0),
			"seq")) > last);
	json_decref(rows);

	/* Events off: the same writes leave the outbox alone. */
	meta_events(false);
	put_plain("app", "v10", m1, "{\"v\":1}");
	assert_int_equal(meta_tag_delete("app", "v9"), META_OK);
	rows = pending(B, 100);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	json_decref(urls);
	meta_event_request(NULL, NULL);
	meta_set_actor(NULL);
}

int
main(void)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
	} cases[] = {
		{ "open, exists, unavailable", test_open },
		{ "blob commit, link, mount, unlink", test_blobs },
		{ "commit and mount refresh linked_at", test_linked_at },
		{ "manifest put with missing refs writes nothing",
		    test_manifest_missing },
		{ "tag move and delete", test_tag_move },
		{ "a list of tags with the manifest, all or none",
		    test_tag_list },
		{ "the repositories that link a blob", test_blob_holders },
		{ "the rows the web server's files may name", test_pub_rows },
		{ "an emptied repository leaves the catalog",
		    test_empty_repository },
		{ "manifest delete removes its tags", test_manifest_delete },
		{ "tags and catalog pages in byte order", test_pagination },
		{ "referrers as rows, filtered", test_referrers },
		{ "upload create, get, advance, expire", test_uploads },
		{ "stats: sessions in flight, the store's size", test_stats },
		{ "gc candidates and the re-check", test_gc },
		{ "gc of untagged manifests", test_gc_untagged },
		{ "admin listings", test_admin },
		{ "manifest put against gc, two processes",
		    test_put_against_gc },
		{ "upload advance race, two processes", test_advance_race },
		{ "server unreachable: unavailable, bounded",
		    test_unreachable },
		{ "connection cut: reconnects; a lost blob lock refuses commit",
		    test_reconnect },
		{ "blob lock across processes", test_blob_lock },
		{ "users: add, passwd, get, delete with grants", test_users },
		{ "CI tokens: add, get, revoke", test_ci_tokens },
		{ "grants: put replaces, delete", test_grants },
		{ "audit rows name the actor", test_audit_actor },
		{ "the outbox: events with their change, cursors, prune",
		    test_outbox },
	};
	enum {
		NB = sizeof(backends) / sizeof(backends[0]),
		NC = sizeof(cases) / sizeof(cases[0])
	};
	static char names[NB * NC][96];
	struct CMUnitTest tests[NB * NC];
	size_t n = 0;

	for (size_t i = 0; i < NB; i++)
		for (size_t j = 0; j < NC; j++) {
			if (backends[i].env != NULL &&
			    getenv(backends[i].env) == NULL) {
				if (j == 0)
					printf("%s: %s not set, not run\n",
					    backends[i].label, backends[i].env);
				continue;
			}
			snprintf(names[n], sizeof(names[n]), "%s: %s",
			    backends[i].label, cases[j].name);
			tests[n] = (struct CMUnitTest){ names[n], cases[j].fn,
				setup, teardown, (void *)&backends[i] };
			n++;
		}
	/* Only the n tests filled in: the macro would count the whole array. */
	return _cmocka_run_group_tests("metadata backends", tests, n, NULL,
	    NULL);
}
