/* store.c -- the store context; see store.h. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta.h"
#include "pub.h"

int
store_make_dirs(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* The absolute name of path, which need not exist, into out (cap
 * bytes): the longest leading part that exists resolved by realpath(),
 * the rest appended as written.  0, or -1 with errno. */
static int
absolute_missing(const char *path, char *out, size_t cap)
{
	char buf[PATH_MAX], head[PATH_MAX];
	char *slash;
	size_t cut;
	int n;

	if (path[0] == '/')
		n = snprintf(buf, sizeof(buf), "%s", path);
	else if (getcwd(head, sizeof(head)) != NULL)
		n = snprintf(buf, sizeof(buf), "%s/%s", head, path);
	else
		return -1;
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	cut = (size_t)n;
	while ((slash = memrchr(buf, '/', cut)) != NULL) {
		cut = (size_t)(slash - buf);
		memcpy(head, buf, cut);
		head[cut] = '\0';
		if (realpath(cut > 0 ? head : "/", out) != NULL) {
			size_t used = strlen(out);

			n = snprintf(out + used, cap - used, "%s%s",
			    strcmp(out, "/") == 0 ? "" : "/", buf + cut + 1);
			if (n < 0 || used + (size_t)n >= cap) {
				errno = ENAMETOOLONG;
				return -1;
			}
			return 0;
		}
		if (errno != ENOENT)
			return -1;
	}
	errno = ENOENT;
	return -1;
}

static int configure(struct store *st, struct conf *conf, bool create);

int
store_configure(struct store *st, struct conf *conf)
{
	return configure(st, conf, true);
}

int
store_configure_nocreate(struct store *st, struct conf *conf)
{
	return configure(st, conf, false);
}

static int
configure(struct store *st, struct conf *conf, bool create)
{
	char dir[PATH_MAX], abs[PATH_MAX];
	struct stat sb;
	bool missing;

	memset(st, 0, sizeof(*st));
	st->conf = conf;
	if (conf_string(conf, "storage", "data_dir", "./var", dir,
		sizeof(dir)) != 0 ||
	    conf_string(conf, "storage", "blob_handler", "fs", st->blob_handler,
		sizeof(st->blob_handler)) != 0 ||
	    conf_duration(conf, "registry", "upload_expiry", 24L * 3600,
		&st->upload_expiry) != 0)
		return -1;
	/* Several PostgreSQL hosts need not share a data directory, and the
	 * files of one would not see the deletes of another (pub.h). */
	if (conf_bool(conf, "server", "fast_reads",
		strcmp(meta_backend(conf), "postgresql") != 0,
		&st->fast_reads) != 0)
		return -1;
	if (blob_find(st->blob_handler) == NULL)
		return conf_bad(conf, "storage", "blob_handler",
		    "no blob handler of that name in this build");
	if (outbox_configure(&st->notify, conf) != 0)
		return -1;
	missing = !create && stat(dir, &sb) != 0 && errno == ENOENT;
	if (missing ? absolute_missing(dir, abs, sizeof(abs)) != 0 :
		      store_make_dirs(dir) != 0 || realpath(dir, abs) == NULL) {
		fprintf(stderr, "berth: data directory %s: %s\n", dir,
		    strerror(errno));
		return -1;
	}
	if (strlen(abs) >= sizeof(st->data_dir)) {
		fprintf(stderr, "berth: data directory %s: name too long\n",
		    abs);
		return -1;
	}
	memcpy(st->data_dir, abs, strlen(abs) + 1);
	/* nginx creates only the last component of its temporary path. */
	if (conf_string(conf, "storage", "body_dir", "", dir, sizeof(dir)) != 0)
		return -1;
	if (dir[0] == '\0')
		snprintf(dir, sizeof(dir), "%s/uploads/body", st->data_dir);
	errno = 0;
	if (missing ? absolute_missing(dir, abs, sizeof(abs)) != 0 :
		      store_make_dirs(dir) != 0 || realpath(dir, abs) == NULL) {
		fprintf(stderr, "berth: body directory %s: %s\n", dir,
		    errno != 0 ? strerror(errno) : "name too long");
		return -1;
	}
	if (strlen(abs) >= sizeof(st->body_dir)) {
		fprintf(stderr, "berth: body directory %s: name too long\n",
		    dir);
		return -1;
	}
	memcpy(st->body_dir, abs, strlen(abs) + 1);
	if (ident_configure(&st->auth, conf) != 0)
		return -1;
	/* Only a worker checks tokens: with access control no file may
	 * answer for it (pub.h). */
	st->fast_reads = st->fast_reads && !st->auth.enabled;
	return missing ? 1 : 0;
}

int
store_open(struct store *st)
{
	if (st->open)
		return 0;
	meta_events(st->notify.nurls > 0);
	if (meta_open(st->conf, st->data_dir) != META_OK)
		return -1;
	if (blob_open(st->blob_handler, st->conf, st->data_dir, &st->blobs) !=
	    BLOB_OK) {
		meta_close();
		return -1;
	}
	pub_open(st);
	st->open = true;
	return 0;
}

void
store_close(struct store *st)
{
	if (!st->open)
		return;
	blob_close(&st->blobs);
	meta_close();
	st->open = false;
}

bool
store_section_unused(void *ctx, const char *section)
{
	const struct store *st = ctx;

	/* Only the sections of handlers and backends in this build: one of
	 * another name ([blob.fss], [metadata.pg] without it) is a typo or
	 * a missing part, reported as unknown. */
	if (strncmp(section, "blob.", 5) == 0)
		return blob_find(section + 5) != NULL &&
		    strcmp(section + 5, st->blob_handler) != 0;
	if (strncmp(section, "metadata.", 9) == 0)
		return meta_find(section + 9) != NULL &&
		    strcmp(section + 9, meta_backend(st->conf)) != 0;
	return false;
}
