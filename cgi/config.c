/* config.c -- load the INI configuration with libinih; see config.h. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct load_state {
	struct config	*cfg;
	const char	*path;
	int		 line;	/* 0 while no error; libinih reports the line */
	char		 problem[256];
};

static bool
parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 ||
	    strcmp(s, "0") == 0)
		*out = false;
	else
		return false;
	return true;
}

bool
parse_duration(const char *s, long *seconds)
{
	char *end;
	long v, mult = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return false;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else if (strcmp(end, "d") == 0)
		mult = 86400;
	else
		return false;
	if (v > 100L * 365 * 86400 / mult)
		return false;
	*seconds = v * mult;
	return true;
}

int
config_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n >= 128 ? 256 : 2 * (int)n;
}

static bool
copy_value(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

/* libinih callback: one key.  Returns 1 to go on, 0 to stop with an error. */
static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct load_state *st = user;
	struct config *c = st->cfg;
	bool ok;
	char *end;

#define IS(s, k) (strcmp(section, (s)) == 0 && strcmp(key, (k)) == 0)
	if (IS("server", "socket")) {
		ok = copy_value(c->socket, sizeof(c->socket), value);
	} else if (IS("server", "workers")) {
		long n = strtol(value, &end, 10);

		ok = *value != '\0' && *end == '\0' && n >= 1 && n <= 256;
		if (ok)
			c->workers = (int)n;
	} else if (IS("storage", "data_dir")) {
		ok = copy_value(c->data_dir, sizeof(c->data_dir), value);
	} else if (IS("storage", "body_dir")) {
		ok = copy_value(c->body_dir, sizeof(c->body_dir), value);
	} else if (IS("storage", "blob_handler")) {
		ok = strcmp(value, "fs") == 0 || strcmp(value, "redirect") == 0 ||
		    strcmp(value, "fault") == 0;	/* fault: test builds */
		if (ok)
			copy_value(c->blob_handler, sizeof(c->blob_handler), value);
	} else if (IS("storage", "offload")) {
		ok = true;
		if (strcmp(value, "x-accel") == 0)
			c->offload = OFFLOAD_X_ACCEL;
		else if (strcmp(value, "x-sendfile") == 0)
			c->offload = OFFLOAD_X_SENDFILE;
		else if (strcmp(value, "stream") == 0)
			c->offload = OFFLOAD_STREAM;
		else
			ok = false;
	} else if (IS("storage", "redirect_url")) {
		ok = (strncmp(value, "http://", 7) == 0 ||
		    strncmp(value, "https://", 8) == 0) &&
		    copy_value(c->redirect_url, sizeof(c->redirect_url), value);
	} else if (IS("storage", "accel_prefix")) {
		ok = value[0] == '/' &&
		    copy_value(c->accel_prefix, sizeof(c->accel_prefix), value);
	} else if (IS("registry", "read_only")) {
		ok = parse_bool(value, &c->read_only);
	} else if (IS("registry", "delete_enabled")) {
		ok = parse_bool(value, &c->delete_enabled);
	} else if (IS("registry", "upload_expiry")) {
		ok = parse_duration(value, &c->upload_expiry);
	} else {
		if (st->line == 0) {	/* report the first problem only */
			snprintf(st->problem, sizeof(st->problem),
			    "[%s] %s: unknown key", section, key);
			st->line = 1;
		}
		return 0;
	}
#undef IS
	if (!ok) {
		if (st->line == 0) {
			snprintf(st->problem, sizeof(st->problem),
			    "[%s] %s: bad value \"%s\"", section, key, value);
			st->line = 1;
		}
		return 0;
	}
	return 1;
}

int
config_load(struct config *cfg, const char *path, const char *data_dir,
    const char *socket)
{
	struct load_state st = { cfg, path, 0, "" };
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = config_default_workers();
	strcpy(cfg->data_dir, "./var");
	strcpy(cfg->blob_handler, "fs");
	cfg->offload = OFFLOAD_X_ACCEL;
	cfg->delete_enabled = true;
	cfg->upload_expiry = 24 * 3600;
	strcpy(cfg->accel_prefix, "/_berth/blobs/");
	if (data_dir != NULL && !copy_value(cfg->data_dir, sizeof(cfg->data_dir),
	    data_dir)) {
		fprintf(stderr, "berth: data directory name too long\n");
		return -1;
	}
	if (socket != NULL && !copy_value(cfg->socket, sizeof(cfg->socket), socket)) {
		fprintf(stderr, "berth: socket path too long\n");
		return -1;
	}
	if (path != NULL && *path != '\0') {
		rc = ini_parse(path, on_key, &st);
		if (rc < 0) {
			fprintf(stderr, "berth: %s: cannot read configuration: %s\n",
			    path, strerror(errno));
			return -1;
		}
		if (rc > 0) {
			if (st.line == 0)
				snprintf(st.problem, sizeof(st.problem),
				    "syntax error");
			fprintf(stderr, "berth: %s:%d: %s\n", path, rc, st.problem);
			return -1;
		}
	}
	if (cfg->socket[0] == '\0' &&
	    snprintf(cfg->socket, sizeof(cfg->socket), "%s/run/berth.sock",
	    cfg->data_dir) >= (int)sizeof(cfg->socket)) {
		fprintf(stderr, "berth: socket path too long\n");
		return -1;
	}
	if (strcmp(cfg->blob_handler, "redirect") == 0 && cfg->redirect_url[0] == '\0') {
		fprintf(stderr, "berth: %s: [storage] blob_handler = redirect "
		    "needs redirect_url\n", path ? path : "(defaults)");
		return -1;
	}
	return 0;
}
