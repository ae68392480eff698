/* cli_notify.c -- `berth notify run|status`: the event deliverer in the
 * foreground (beside a pool, or instead of the one it starts), and each
 * receiver's backlog.  Through store/outbox.h and the metadata's outbox
 * operations (meta.h, "Events"). */
#include "cli.h"

#include <string.h>
#include <time.h>

#include "meta.h"
#include "outbox.h"

/* `berth notify status`: per receiver, the events waiting, the oldest's
 * age, the last error. */
static int
notify_status(struct cli *c)
{
	static const struct cli_col cols[] = {
		{ "URL", "url", CLI_TEXT },
		{ "PENDING", "pending", CLI_INT },
		{ "OLDEST", "oldest_age", CLI_INT },
		{ "FAILURES", "failures", CLI_INT },
		{ "LAST ERROR", "last_error", CLI_TEXT },
		{ "AT", "last_error_at", CLI_TIME },
	};
	json_t *urls = outbox_urls(&c->store->notify), *rows = json_array();
	json_t *row, *oldest;
	bool ok;
	size_t i;

	ok = meta_outbox_status(urls, rows) == META_OK;
	json_decref(urls);
	json_array_foreach(rows, i, row) {
		oldest = json_object_get(row, "oldest_at");
		json_object_set_new(row, "oldest_age",
		    json_is_integer(oldest) ?
			json_integer((json_int_t)time(NULL) -
			    json_integer_value(oldest)) :
			json_null());
	}
	return cli_list(c, ok, rows, cols, sizeof(cols) / sizeof(cols[0]));
}

int
cli_notify(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (strcmp(sub, "run") != 0 && strcmp(sub, "status") != 0)
		return cli_usage_error(argv[0], "run or status");
	if (c->store->notify.nurls == 0) {
		fprintf(stderr, "berth notify: no [notify] url configured\n");
		return 1;
	}
	if ((rc = cli_options(c, argc - 1, argv + 1, 0, 0, NULL)) != 0)
		return rc;
	if (strcmp(sub, "run") == 0)
		return outbox_run(&c->store->notify) == 0 ? 0 : 1;
	return notify_status(c);
}
