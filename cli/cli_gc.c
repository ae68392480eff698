/* cli_gc.c -- the commands that remove things: `berth gc` (store/gc.c
 * does the work and explains its safety) and `berth uploads` (listing,
 * and expiry through upload_expire(), the same sweep the workers run). */
#include "cli.h"

#include <dirent.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gc.h"
#include "meta_admin.h"
#include "upload.h"

enum { OPT_JSON = 256, OPT_DRY_RUN, OPT_GRACE, OPT_UNTAGGED, OPT_EXPIRE };

static const struct option gc_options[] = { { "json", no_argument, NULL,
						OPT_JSON },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "untagged", no_argument, NULL, OPT_UNTAGGED },
	{ "expire", required_argument, NULL, OPT_EXPIRE },
	{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };

/* The line about the orphans (stored bytes with no row, store/gc.c),
 * when there were any. */
static void
print_orphans(json_t *r, bool dry)
{
	json_t *o = json_object_get(r, "orphans");
	json_int_t bytes = json_integer_value(
	    json_object_get(r, "orphan_bytes"));
	char h[32];

	if (json_array_size(o) == 0)
		return;
	cli_bytes((uint64_t)bytes, h, sizeof(h));
	printf("%s %zu orphan blob files (stored, with no metadata row), "
	       "%s (%lld bytes)\n",
	    dry ? "would remove" : "removed", json_array_size(o), h,
	    (long long)bytes);
}

/* What the grace window spared: the blobs no manifest references that
 * are left after the run (or, with --dry-run, that it would not remove)
 * because they were stored or linked within the last `grace` seconds --
 * most likely pushed by a client that has yet to push the manifest.
 * Adds spared: {blobs, bytes} to the report.  A snapshot, like the run's
 * own listing; nothing when the lookup fails. */
static void
add_spared(json_t *report)
{
	json_t *all = json_array(), *gone = json_object_get(report, "blobs"),
	       *v, *w;
	json_int_t count = 0, bytes = 0;
	size_t i, j;

	if (all == NULL ||
	    meta_gc_candidates((int64_t)time(NULL), all) != META_OK) {
		json_decref(all);
		return;
	}
	json_array_foreach(all, i, v) {
		const char *d = json_string_value(json_object_get(v, "digest"));
		bool listed = false;

		json_array_foreach(gone, j, w) {
			const char *g = json_string_value(
			    json_object_get(w, "digest"));

			if (d != NULL && g != NULL && strcmp(d, g) == 0)
				listed = true;
		}
		if (listed)
			continue;
		count++;
		bytes += json_integer_value(json_object_get(v, "size"));
	}
	json_decref(all);
	json_object_set_new(report, "spared",
	    json_pack("{s:I, s:I}", "blobs", count, "bytes", bytes));
}

/* The line about add_spared()'s count, when it is not zero: how many,
 * how big, and how to have them removed too. */
static void
print_spared(json_t *r)
{
	json_t *sp = json_object_get(r, "spared");
	json_int_t n = json_integer_value(json_object_get(sp, "blobs"));
	char h[32];

	if (n <= 0)
		return;
	cli_bytes((uint64_t)json_integer_value(json_object_get(sp, "bytes")), h,
	    sizeof(h));
	printf("spared by the grace window (%llds): %lld unreferenced "
	       "blobs, %s;\n"
	       "  --grace 0s removes them too (a client that pushed them "
	       "and has yet to push\n"
	       "  its manifest then has to push them again)\n",
	    (long long)json_integer_value(json_object_get(r, "grace")),
	    (long long)n, h);
}

static void
print_gc(json_t *r)
{
	static const struct cli_col manifest_cols[] = {
		{ "REPOSITORY", "repository", CLI_TEXT },
		{ "DIGEST", "digest", CLI_TEXT },
		{ "SIZE", "size", CLI_BYTES },
	};
	static const struct cli_col blob_cols[] = {
		{ "DIGEST", "digest", CLI_TEXT },
		{ "SIZE", "size", CLI_BYTES },
	};
	bool dry = json_is_true(json_object_get(r, "dry_run"));
	json_t *m = json_object_get(r, "manifests"),
	       *b = json_object_get(r, "blobs"), *v;
	json_int_t bytes = json_integer_value(
	    json_object_get(r, "bytes_reclaimed"));
	char h[32];
	size_t i;

	if (json_array_size(m) > 0) {
		printf("%s untagged manifests:\n",
		    dry ? "would remove" : "removed");
		cli_table(m, manifest_cols, 3);
		printf("\n");
	}
	if (json_array_size(b) > 0) {
		printf("%s blobs:\n", dry ? "would remove" : "removed");
		cli_table(b, blob_cols, 2);
		printf("\n");
	}
	cli_bytes((uint64_t)bytes, h, sizeof(h));
	printf("%s %zu manifests and %zu blobs, %s %s (%lld bytes)\n",
	    dry ? "dry run: would remove" : "removed", json_array_size(m),
	    json_array_size(b), dry ? "freeing" : "reclaimed", h,
	    (long long)bytes);
	print_orphans(r, dry);
	print_spared(r);
	json_array_foreach(json_object_get(r, "errors"), i, v)
		fprintf(stderr, "berth gc: %s\n", json_string_value(v));
}

int
cli_gc(struct cli *c, int argc, char **argv)
{
	struct gc_options o = { .grace = 3600 };
	json_t *report;
	uint64_t start;
	int ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", gc_options, NULL)) != -1) {
		switch (ch) {
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_DRY_RUN:
			o.dry_run = true;
			break;
		case OPT_UNTAGGED:
			o.untagged = true;
			break;
		case OPT_GRACE:
			if (!cli_duration(optarg, &o.grace))
				return cli_usage_error(argv[0], "bad --grace");
			break;
		default:
			return cli_usage_error(argv[0], NULL);
		}
	}
	if (optind != argc)
		return cli_usage_error(argv[0], "no arguments expected");
	o.progress.fn = cli_progress;
	o.progress.ctx = c;
	report = json_object();
	start = cli_job_start();
	rc = gc_run(c->store, &o, report);
	if (rc == 0)
		add_spared(report);
	if (!o.dry_run)
		cli_job_done(c, METRICS_GC, start,
		    rc == 0 &&
			json_array_size(json_object_get(report, "errors")) == 0,
		    (uint64_t)json_integer_value(
			json_object_get(report, "blobs_removed")),
		    (uint64_t)json_integer_value(
			json_object_get(report, "bytes_reclaimed")));
	if (c->json)
		cli_json(report);
	else
		print_gc(report);
	if (json_array_size(json_object_get(report, "errors")) > 0)
		rc = -1;
	json_decref(report);
	return rc == 0 ? 0 : 1;
}

/* Staging files in uploads/ with no session row: single-request uploads
 * in flight, or leftovers of a crash.  {file, size, modified_at}. */
static void
orphan_staging(const char *data_dir, json_t *sessions, json_t *out)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *de;
	struct stat st;
	json_t *v;
	size_t i;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/uploads", data_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		bool known = false;

		if (de->d_name[0] == '.')
			continue;
		json_array_foreach(sessions, i, v) {
			if (strcmp(json_string_value(
				       json_object_get(v, "uuid")),
				de->d_name) == 0)
				known = true;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* Directories (the body directory, uploads/body) are no
		 * staging files. */
		if (known || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		json_array_append_new(out,
		    json_pack("{s:s, s:I, s:I}", "file", de->d_name, "size",
			(json_int_t)st.st_size, "modified_at",
			(json_int_t)st.st_mtime));
	}
	closedir(d);
}

int
cli_uploads(struct cli *c, int argc, char **argv)
{
	static const struct cli_col cols[] = {
		{ "UUID", "uuid", CLI_TEXT },
		{ "REPOSITORY", "repository", CLI_TEXT },
		{ "SIZE", "size", CLI_BYTES },
		{ "STARTED", "started_at", CLI_TIME },
		{ "UPDATED", "updated_at", CLI_TIME },
	};
	static const struct cli_col file_cols[] = {
		{ "FILE", "file", CLI_TEXT },
		{ "SIZE", "size", CLI_BYTES },
		{ "MODIFIED", "modified_at", CLI_TIME },
	};
	json_t *sessions = json_array(), *files = json_array(), *out, *v;
	long expire = -1, ended = 0;
	int ch, removed = 0, rc = 1;
	size_t i;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", gc_options, NULL)) != -1) {
		switch (ch) {
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_EXPIRE:
			if (!cli_duration(optarg, &expire)) {
				rc = cli_usage_error(argv[0], "bad --expire");
				goto out;
			}
			break;
		default:
			rc = cli_usage_error(argv[0], NULL);
			goto out;
		}
	}
	if (optind != argc) {
		rc = cli_usage_error(argv[0], "no arguments expected");
		goto out;
	}
	if (expire >= 0) {
		int64_t cutoff = (int64_t)time(NULL) - expire;

		/* Count what upload_expire() is about to end: the same rule. */
		if (meta_admin_uploads(sessions) != META_OK)
			goto out;
		json_array_foreach(sessions, i, v) {
			if (json_integer_value(
				json_object_get(v, "updated_at")) < cutoff)
				ended++;
		}
		json_array_clear(sessions);
		removed = upload_expire(c->store, expire);
		if (removed < 0)
			goto out;
	}
	if (meta_admin_uploads(sessions) != META_OK)
		goto out;
	orphan_staging(c->store->data_dir, sessions, files);
	if (c->json) {
		out = json_pack("{s:O, s:O}", "sessions", sessions,
		    "staging_without_session", files);
		if (expire >= 0)
			json_object_set_new(out, "expired",
			    json_pack("{s:I, s:I, s:I}", "older_than",
				(json_int_t)expire, "sessions",
				(json_int_t)ended, "files",
				(json_int_t)removed));
		cli_json(out);
		json_decref(out);
	} else {
		if (expire >= 0)
			printf("expired: %ld sessions ended, %d staging files "
			       "removed\n\n",
			    ended, removed);
		printf("sessions: %zu\n", json_array_size(sessions));
		if (json_array_size(sessions) > 0)
			cli_table(sessions, cols,
			    sizeof(cols) / sizeof(cols[0]));
		if (json_array_size(files) > 0) {
			printf(
			    "\nstaging files without a session (single-request "
			    "uploads in flight, or left by a crash):\n");
			cli_table(files, file_cols, 3);
		}
	}
	rc = 0;
out:
	json_decref(sessions);
	json_decref(files);
	return rc;
}
