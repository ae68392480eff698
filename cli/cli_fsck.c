/* cli_fsck.c -- `berth fsck [--repair]`: store/fsck.c checks, this file
 * parses options and prints the findings.  Exit status 1 when a problem
 * remains unrepaired. */
#include "cli.h"

#include <getopt.h>

#include "fsck.h"

enum { OPT_JSON = 256, OPT_REPAIR };

static const struct option fsck_options[] = { { "json", no_argument, NULL,
						  OPT_JSON },
	{ "repair", no_argument, NULL, OPT_REPAIR },
	{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };

static void
print_fsck(json_t *r, bool repair)
{
	json_t *problems = json_object_get(r, "problems"), *p, *refs, *v;
	json_int_t missing, made;
	char h[32];
	size_t i, j;

	json_array_foreach(problems, i, p) {
		const char *what = json_string_value(
		    json_object_get(p, "digest"));

		if (what == NULL)
			what = json_string_value(json_object_get(p, "path"));
		printf("%-8s %s\n         %s\n",
		    json_string_value(json_object_get(p, "problem")),
		    what != NULL ? what : "(database)",
		    json_string_value(json_object_get(p, "detail")));
		refs = json_object_get(p, "referenced_by");
		json_array_foreach(refs, j, v)
			printf("         referenced by %s\n",
			    json_string_value(v));
		if (json_object_get(p, "action") != NULL)
			printf("         repair: %s\n",
			    json_string_value(json_object_get(p, "action")));
	}
	cli_bytes((uint64_t)json_integer_value(
		      json_object_get(r, "bytes_hashed")),
	    h, sizeof(h));
	printf("%s%lld files, %lld blob rows, %s hashed: %zu problem%s, "
	       "%lld unrepaired\n",
	    json_array_size(problems) ? "\n" : "",
	    (long long)json_integer_value(json_object_get(r, "files")),
	    (long long)json_integer_value(json_object_get(r, "blobs")), h,
	    json_array_size(problems),
	    json_array_size(problems) == 1 ? "" : "s",
	    (long long)json_integer_value(json_object_get(r, "unrepaired")));
	/* Not problems: their reads go through a worker (store/pub.h). */
	missing = json_integer_value(json_object_get(r, "pub_missing"));
	made = json_integer_value(json_object_get(r, "pub_made"));
	if (missing > 0 && !repair)
		printf("%lld manifests and blob links without their file for "
		       "the web server (reads through a worker); berth fsck "
		       "--repair makes them\n",
		    (long long)missing);
	else if (missing > 0)
		printf("%lld manifests and blob links without their file for "
		       "the web server: %lld made%s\n",
		    (long long)missing, (long long)made,
		    made < missing ? "; the others cannot be (their paths "
				     "collide with another repository's "
				     "files, or see the log), and read "
				     "through a worker" :
				     "");
}

int
cli_fsck(struct cli *c, int argc, char **argv)
{
	struct fsck_options o = { .files = true };
	json_t *report;
	uint64_t start;
	int ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", fsck_options, NULL)) != -1) {
		switch (ch) {
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_REPAIR:
			o.repair = true;
			break;
		default:
			return cli_usage_error(argv[0], NULL);
		}
	}
	if (optind != argc)
		return cli_usage_error(argv[0], "no arguments expected");
	if (!blob_can(&c->store->blobs, BLOB_CAN_WALK)) {
		fprintf(stderr,
		    "berth fsck: blob handler %s cannot list its "
		    "blobs: checking the database only\n",
		    c->store->blobs.ops->name);
		o.files = false;
	} else if (!blob_can(&c->store->blobs, BLOB_CAN_READ))
		fprintf(stderr,
		    "berth fsck: blob handler %s cannot read its "
		    "blobs back: comparing sizes, not digests\n",
		    c->store->blobs.ops->name);
	o.progress.fn = cli_progress;
	o.progress.ctx = c;
	report = json_object();
	start = cli_job_start();
	rc = fsck_run(c->store, &o, report);
	cli_job_done(c, METRICS_FSCK, start, rc == 0,
	    json_array_size(json_object_get(report, "problems")),
	    (uint64_t)json_integer_value(json_object_get(report, "blobs")));
	if (c->json)
		cli_json(report);
	else
		print_fsck(report, o.repair);
	json_decref(report);
	return rc == 0 ? 0 : 1;
}
