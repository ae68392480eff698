/* cli_inspect.c -- the read-only commands: `berth repos`, `tags`, `show`,
 * `du` and `audit`.  They read through meta_admin.h and meta.h and change
 * nothing, so they are safe beside a serving registry at any time. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "meta_admin.h"
#include "validate.h"

int
cli_repos(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "REPOSITORY", "repository", CLI_TEXT },
		{ "TAGS", "tags", CLI_INT },
		{ "MANIFESTS", "manifests", CLI_INT },
		{ "BLOBS", "blobs", CLI_INT },
		{ "SIZE", "blob_bytes", CLI_BYTES },
	};
	json_t *rows;
	int rc = cli_options(c, argc, argv, 0, 0, NULL);

	if (rc != 0)
		return rc;
	rows = json_array();
	return cli_list(c, meta_admin_repos(rows) == META_OK, rows, cols,
	    sizeof(cols) / sizeof(cols[0]));
}

int
cli_tags(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "TAG", "tag", CLI_TEXT },
		{ "DIGEST", "digest", CLI_TEXT },
		{ "SIZE", "size", CLI_BYTES },
		{ "PUSHED", "pushed_at", CLI_TIME },
		{ "TAGGED", "updated_at", CLI_TIME },
		{ "MEDIA TYPE", "media_type", CLI_TEXT },
	};
	enum meta_err e;
	const char *repo;
	json_t *rows;
	int rc = cli_options(c, argc, argv, 1, 1, NULL);

	if (rc != 0)
		return rc;
	repo = argv[optind];
	if (!valid_name(repo, strlen(repo)))
		return cli_usage_error(argv[0], "not a repository name");
	rows = json_array();
	e = meta_admin_tags(repo, rows);
	if (e == META_NOTFOUND)
		fprintf(stderr, "berth tags: no repository %s\n", repo);
	return cli_list(c, e == META_OK, rows, cols,
	    sizeof(cols) / sizeof(cols[0]));
}

/* Split "<repo>:<tag>" or "<repo>@<digest>" (validated) into repo and
 * reference; *by_digest says which.  false when malformed. */
static bool
parse_reference(char *arg, const char **repo, const char **ref, bool *by_digest)
{
	char *at = strchr(arg, '@'), *colon, *slash;

	if (at != NULL) {
		*at = '\0';
		*by_digest = true;
		*ref = at + 1;
		if (check_digest(*ref, strlen(*ref)) != DIGEST_OK)
			return false;
	} else {
		slash = strrchr(arg, '/');
		colon = strrchr(slash != NULL ? slash : arg, ':');
		if (colon == NULL)
			return false;
		*colon = '\0';
		*by_digest = false;
		*ref = colon + 1;
		if (!valid_tag(*ref, strlen(*ref)))
			return false;
	}
	*repo = arg;
	return valid_name(arg, strlen(arg));
}

/* "os/architecture[/variant]" of an index entry's platform. */
static json_t *
platform_string(json_t *platform)
{
	const char *os = json_string_value(json_object_get(platform, "os"));
	const char *arch = json_string_value(
	    json_object_get(platform, "architecture"));
	const char *variant = json_string_value(
	    json_object_get(platform, "variant"));
	char buf[256];

	if (os == NULL && arch == NULL)
		return json_null();
	snprintf(buf, sizeof(buf), "%s/%s%s%s", os ? os : "?",
	    arch ? arch : "?", variant ? "/" : "", variant ? variant : "");
	return json_string(buf);
}

/* Descriptor rows {digest, media_type, size, stored, platform} from a
 * manifest's list (layers or manifests). */
static json_t *
descriptors(json_t *list, json_t *stored, bool platforms)
{
	json_t *out = json_array(), *d;
	size_t i;

	json_array_foreach(list, i, d) {
		const char *dg = json_string_value(
		    json_object_get(d, "digest"));
		json_t *row = json_pack("{s:O, s:O, s:O}", "digest",
		    json_object_get(d, "digest"), "media_type",
		    json_object_get(d, "mediaType"), "size",
		    json_object_get(d, "size"));

		if (row == NULL) /* a descriptor without those fields */
			row = json_pack("{s:n, s:n, s:n}", "digest",
			    "media_type", "size");
		if (platforms)
			json_object_set_new(row, "platform",
			    platform_string(json_object_get(d, "platform")));
		else
			json_object_set_new(row, "stored",
			    json_boolean(dg != NULL &&
				json_object_get(stored, dg) != NULL));
		json_array_append_new(out, row);
	}
	return out;
}

/* Is t the config media type of an image (OCI or Docker schema 2)? */
static bool
image_config_type(const char *t)
{
	return strcmp(t, "application/vnd.oci.image.config.v1+json") == 0 ||
	    strcmp(t, "application/vnd.docker.container.image.v1+json") == 0;
}

/* "1 blob", "2 blobs" into buf; buf. */
static const char *
blobs(json_int_t n, char *buf, size_t cap)
{
	snprintf(buf, cap, "%lld blob%s", (long long)n, n == 1 ? "" : "s");
	return buf;
}

static void
print_show(json_t *m)
{
	static const struct cli_col layer_cols[] = {
		{ "DIGEST", "digest", CLI_TEXT },
		{ "SIZE", "size", CLI_BYTES },
		{ "STORED", "stored_text", CLI_TEXT },
		{ "MEDIA TYPE", "media_type", CLI_TEXT },
	};
	static const struct cli_col platform_cols[] = {
		{ "PLATFORM", "platform", CLI_TEXT },
		{ "DIGEST", "digest", CLI_TEXT },
		{ "SIZE", "size", CLI_BYTES },
		{ "MEDIA TYPE", "media_type", CLI_TEXT },
	};
	static const struct cli_col referrer_cols[] = {
		{ "ARTIFACT TYPE", "artifactType", CLI_TEXT },
		{ "DIGEST", "digest", CLI_TEXT },
		{ "SIZE", "size", CLI_BYTES },
	};
	json_t *tags = json_object_get(m, "tags"), *v, *layers;
	char buf[64];
	size_t i;

	printf("repository  %s\n",
	    json_string_value(json_object_get(m, "repository")));
	printf("digest      %s\n",
	    json_string_value(json_object_get(m, "digest")));
	printf("media type  %s\n",
	    json_string_value(json_object_get(m, "media_type")));
	printf("size        %lld bytes\n",
	    (long long)json_integer_value(json_object_get(m, "size")));
	cli_time(json_integer_value(json_object_get(m, "pushed_at")), buf,
	    sizeof(buf));
	printf("pushed      %s\n", buf);
	printf("tags        ");
	json_array_foreach(tags, i, v)
		printf("%s%s", i ? ", " : "", json_string_value(v));
	printf("%s\n", json_array_size(tags) ? "" : "-");
	/* An image's config media type stands in for its artifact type
	 * (image-spec, "artifactType"): that is no artifact. */
	v = json_object_get(m, "artifact_type");
	if (json_is_string(v) && !image_config_type(json_string_value(v)))
		printf("artifact    %s\n", json_string_value(v));
	if (json_is_string(json_object_get(m, "subject")))
		printf("subject     %s\n",
		    json_string_value(json_object_get(m, "subject")));
	v = json_object_get(m, "config");
	if (json_is_object(v))
		printf("config      %s (%lld bytes%s)\n",
		    json_string_value(json_object_get(v, "digest")),
		    (long long)json_integer_value(json_object_get(v, "size")),
		    json_is_true(json_object_get(v, "stored")) ?
			"" :
			", not stored");
	layers = json_object_get(m, "layers");
	if (json_is_array(layers)) {
		json_array_foreach(layers, i, v)
			json_object_set_new(v, "stored_text",
			    json_string(
				json_is_true(json_object_get(v, "stored")) ?
				    "yes" :
				    "no"));
		printf("\nlayers: %zu, %lld bytes\n", json_array_size(layers),
		    (long long)json_integer_value(
			json_object_get(m, "layer_bytes")));
		cli_table(layers, layer_cols, 4);
		json_array_foreach(layers, i, v)
			json_object_del(v, "stored_text");
	}
	v = json_object_get(m, "manifests");
	if (json_is_array(v)) {
		printf("\nmanifests: %zu\n", json_array_size(v));
		cli_table(v, platform_cols, 4);
	}
	v = json_object_get(m, "referrers");
	printf("\nreferrers: %zu\n", json_array_size(v));
	if (json_array_size(v) > 0)
		cli_table(v, referrer_cols, 3);
}

/* The referrers of manifest `digest` in repo as `show` reports them: an
 * array of {mediaType, digest, size, artifactType, annotations} (the last
 * two when the referrer has them), in push order.  A new array; NULL on
 * error (logged). */
static json_t *
referrers(const char *repo, const char *digest)
{
	struct meta_referrer *rows;
	json_t *out, *d;
	size_t n;

	if (meta_referrers(repo, digest, NULL, &rows, &n) != META_OK)
		return NULL;
	out = json_array();
	for (size_t i = 0; i < n; i++) {
		d = json_pack("{s:s, s:s, s:I}", "mediaType",
		    rows[i].media_type, "digest", rows[i].digest, "size",
		    (json_int_t)rows[i].size);
		if (rows[i].artifact_type != NULL)
			json_object_set_new(d, "artifactType",
			    json_string(rows[i].artifact_type));
		if (rows[i].annotations != NULL)
			json_object_set_new(d, "annotations",
			    json_loads(rows[i].annotations, 0, NULL));
		json_array_append_new(out, d);
	}
	meta_referrers_free(rows, n);
	return out;
}

int
cli_show(struct cli *c, int argc, char **argv)
{
	struct meta_manifest body = { .body = NULL };
	json_t *m = NULL, *doc = NULL, *v, *refs;
	const char *repo, *ref;
	bool by_digest;
	enum meta_err e;
	json_int_t total = 0;
	size_t i;
	int rc = cli_options(c, argc, argv, 1, 1, NULL);

	if (rc != 0)
		return rc;
	if (!parse_reference(argv[optind], &repo, &ref, &by_digest))
		return cli_usage_error(argv[0],
		    "expected <repository>:<tag> or "
		    "<repository>@<digest>");
	rc = 1;
	e = meta_admin_manifest(repo, ref, by_digest, &m);
	if (e == META_NOTFOUND)
		fprintf(stderr, "berth show: no manifest %s%s%s\n", repo,
		    by_digest ? "@" : ":", ref);
	if (e != META_OK)
		goto out;
	if (meta_manifest_get(repo,
		json_string_value(json_object_get(m, "digest")), true, true,
		&body) != META_OK)
		goto out;
	doc = json_loadb((const char *)body.body, body.size, 0, NULL);
	v = json_object_get(doc, "config");
	if (json_is_object(v)) {
		const char *dg = json_string_value(
		    json_object_get(v, "digest"));

		json_object_set_new(m, "config",
		    json_pack("{s:O, s:O, s:O, s:b}", "digest",
			json_object_get(v, "digest"), "media_type",
			json_object_get(v, "mediaType"), "size",
			json_object_get(v, "size"), "stored",
			dg != NULL &&
			    json_object_get(json_object_get(m, "stored"), dg) !=
				NULL));
	}
	v = json_object_get(doc, "layers");
	if (json_is_array(v)) {
		json_object_set_new(m, "layers",
		    descriptors(v, json_object_get(m, "stored"), false));
		json_array_foreach(v, i, refs)
			total += json_integer_value(
			    json_object_get(refs, "size"));
		json_object_set_new(m, "layer_bytes", json_integer(total));
	}
	v = json_object_get(doc, "manifests");
	if (json_is_array(v))
		json_object_set_new(m, "manifests", descriptors(v, NULL, true));
	json_object_del(m, "stored");
	if ((refs = referrers(repo,
		 json_string_value(json_object_get(m, "digest")))) == NULL)
		goto out;
	json_object_set_new(m, "referrers", refs);
	if (doc != NULL)
		json_object_set(m, "manifest", doc);
	if (c->json)
		cli_json(m);
	else
		print_show(m);
	rc = 0;
out:
	free(body.body);
	json_decref(doc);
	json_decref(m);
	return rc;
}

int
cli_du(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "REPOSITORY", "repository", CLI_TEXT },
		{ "BLOBS", "blobs", CLI_INT },
		{ "SIZE", "blob_bytes", CLI_BYTES },
		{ "SHARED", "shared_bytes", CLI_BYTES },
		{ "UNIQUE", "unique_bytes", CLI_BYTES },
		{ "MANIFESTS", "manifest_bytes", CLI_BYTES },
	};
	json_t *rows = json_array(), *total = NULL, *out;
	char a[32], b[32], s[32], n1[32];
	json_int_t stored, linked;
	int rc = cli_options(c, argc, argv, 0, 0, NULL);

	if (rc != 0 || meta_admin_repos(rows) != META_OK ||
	    meta_admin_du(&total) != META_OK) {
		json_decref(rows);
		return rc != 0 ? rc : 1;
	}
	if (c->json) {
		out = json_pack("{s:o, s:o}", "repositories", rows, "total",
		    total);
		cli_json(out);
		json_decref(out);
		return 0;
	}
	cli_table(rows, cols, sizeof(cols) / sizeof(cols[0]));
	stored = json_integer_value(json_object_get(total, "blob_bytes"));
	linked = json_integer_value(json_object_get(total, "linked_bytes"));
	cli_bytes((uint64_t)stored, a, sizeof(a));
	printf("\nstored:       %s in %s (%lld bytes), each blob once\n", a,
	    blobs(json_integer_value(json_object_get(total, "blobs")), n1,
		sizeof(n1)),
	    (long long)stored);
	cli_bytes((uint64_t)json_integer_value(
		      json_object_get(total, "shared_bytes")),
	    s, sizeof(s));
	cli_bytes((uint64_t)(linked - stored > 0 ? linked - stored : 0), b,
	    sizeof(b));
	printf("shared:       %s in %s linked by more than one "
	       "repository (saves %s)\n",
	    s,
	    blobs(json_integer_value(json_object_get(total, "shared_blobs")),
		n1, sizeof(n1)),
	    b);
	cli_bytes((uint64_t)json_integer_value(
		      json_object_get(total, "unreferenced_bytes")),
	    a, sizeof(a));
	printf("unreferenced: %s in %s no manifest references "
	       "(berth gc)\n",
	    a,
	    blobs(json_integer_value(
		      json_object_get(total, "unreferenced_blobs")),
		n1, sizeof(n1)));
	cli_bytes((uint64_t)json_integer_value(
		      json_object_get(total, "manifest_bytes")),
	    a, sizeof(a));
	printf("manifests:    %s in %lld manifests (in the database)\n", a,
	    (long long)json_integer_value(json_object_get(total, "manifests")));
	json_decref(rows);
	json_decref(total);
	return 0;
}

int
cli_audit(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "TIME", "at", CLI_TIME },
		{ "ACTION", "action", CLI_TEXT },
		{ "REPOSITORY", "repository", CLI_TEXT },
		{ "TAG", "tag", CLI_TEXT },
		{ "DIGEST", "digest", CLI_TEXT },
		{ "BEFORE", "old_digest", CLI_TEXT },
		{ "USER", "user", CLI_TEXT },
	};
	const char *repo = NULL;
	long limit = 50;
	json_t *rows;
	int rc = cli_options(c, argc, argv, 0, 1, &limit);

	if (rc != 0)
		return rc;
	if (optind < argc) {
		repo = argv[optind];
		if (!valid_name(repo, strlen(repo)))
			return cli_usage_error(argv[0],
			    "not a repository name");
	}
	rows = json_array();
	return cli_list(c, meta_admin_audit(repo, limit, rows) == META_OK, rows,
	    cols, sizeof(cols) / sizeof(cols[0]));
}
