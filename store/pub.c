/* pub.c -- the files the web server answers immutable reads from; see
 * pub.h for what is kept and in which order. */
#include "pub.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta.h"
#include "meta_admin.h"
#include "validate.h"

#define PUB_PATH_MAX (PATH_MAX + 512)
/* Every repository holding a blob, for its names to go (pub.h). */
#define HOLDERS_MAX 1000000

static const struct {
	const char *media_type;
	const char *ext;
} exts[] = {
	{ "application/vnd.oci.image.manifest.v1+json", "oim" },
	{ "application/vnd.oci.image.index.v1+json", "oii" },
	{ "application/vnd.docker.distribution.manifest.v2+json", "dm2" },
	{ "application/vnd.docker.distribution.manifest.list.v2+json", "dml" },
};
#define NEXTS (sizeof(exts) / sizeof(exts[0]))

/* In <data_dir>/pub while blob names are made: a later start without
 * them (another handler, another offload mode) removes them all. */
#define BLOBS_MARK ".blobs"

const char *
pub_ext(const char *media_type)
{
	for (size_t i = 0; i < NEXTS; i++)
		if (strcmp(media_type, exts[i].media_type) == 0)
			return exts[i].ext;
	return NULL;
}

/* The hex of a validated sha256 digest, or NULL for another algorithm
 * (no file: nginx's locations match sha256 only). */
static const char *
sha256_hex(const char *digest)
{
	return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : NULL;
}

/* Whether <data_dir>/pub exists.  Removals are made whenever it does,
 * whatever fast_reads says now: a file another process made (a command
 * run with another configuration, a worker of the pool before a
 * restart) must still go with its rows. */
static bool
present(const struct store *st)
{
	char dir[PUB_PATH_MAX];
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s/pub", st->data_dir);
	return lstat(dir, &sb) == 0;
}

/* "<data_dir>/pub/<repo>/<kind>/sha256" into out (PUB_PATH_MAX). */
static int
dir_of(const struct store *st, const char *repo, const char *kind, char *out)
{
	int n = snprintf(out, PUB_PATH_MAX, "%s/pub/%s/%s/sha256", st->data_dir,
	    repo, kind);

	return n > 0 && n < PUB_PATH_MAX ? 0 : -1;
}

static void
complain(const char *what, const char *path)
{
	fprintf(stderr, "berth: pub: %s %s: %s\n", what, path, strerror(errno));
}

static void
remove_name(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		complain("cannot remove", path);
}

/* Put `tmp` in place as `path` (rename: the name appears whole). */
static int
place(const char *tmp, const char *path)
{
	if (rename(tmp, path) == 0)
		return 0;
	complain("cannot rename into", path);
	remove_name(tmp);
	return -1;
}

/* Write len bytes to a new file tmp, synced: after a crash the name
 * renamed over it never shows a file shorter than the bytes. */
static int
write_file(const char *tmp, const unsigned char *body, size_t len)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t done = 0;

	if (fd < 0) {
		complain("cannot create", tmp);
		return -1;
	}
	while (done < len) {
		ssize_t n = write(fd, body + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	/* Readable by the web server's user whatever the umask, as the
	 * blob files are (blob_fs.c). */
	if (done < len || fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		complain("cannot write", tmp);
		close(fd);
		remove_name(tmp);
		return -1;
	}
	close(fd);
	return 0;
}

void
pub_manifest_added(struct store *st, const char *repo, const char *digest,
    const unsigned char *body, size_t len)
{
	char dir[PUB_PATH_MAX], tmp[PUB_PATH_MAX + 32], path[PUB_PATH_MAX + 8];
	const char *hex = sha256_hex(digest), *ext;
	struct meta_manifest m;

	if (!st->fast_reads || hex == NULL)
		return;
	/* The media type the database holds: a push of the same bytes with
	 * another Content-Type keeps the first one's. */
	if (meta_manifest_get(repo, digest, true, false, &m) != META_OK ||
	    (ext = pub_ext(m.media_type)) == NULL)
		return;
	if (dir_of(st, repo, "manifests", dir) != 0 ||
	    store_make_dirs(dir) != 0) {
		complain("cannot make", dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.%s", dir, hex, ext);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dir, hex, (long)getpid());
	if (write_file(tmp, body, len) != 0 || place(tmp, path) != 0)
		return;
	/* Deleted meanwhile (pub.h); or the database cannot say, and a
	 * missing file is the safe side. */
	if (meta_manifest_get(repo, digest, true, false, &m) != META_OK)
		remove_name(path);
}

void
pub_manifest_removed(struct store *st, const char *repo, const char *digest)
{
	char dir[PUB_PATH_MAX], path[PUB_PATH_MAX + 8];
	const char *hex = sha256_hex(digest);

	if (hex == NULL || !present(st) ||
	    dir_of(st, repo, "manifests", dir) != 0)
		return;
	for (size_t i = 0; i < NEXTS; i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", dir, hex, exts[i].ext);
		remove_name(path);
	}
}

void
pub_manifests_removed(struct store *st, json_t *list)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		pub_manifest_removed(st,
		    json_string_value(json_object_get(v, "repository")),
		    json_string_value(json_object_get(v, "digest")));
}

/* Whether st's blobs get names: they are files under <data_dir>/blobs
 * that nginx sends itself (the fs handler in its x-accel mode, the one
 * whose answer the fast locations repeat; blob_fs.c reads the same key,
 * also from [storage] before 0.2). */
bool
pub_blob_names(const struct store *st)
{
	const char *offload = conf_get(st->conf, "blob.fs", "offload");

	if (offload == NULL)
		offload = conf_get(st->conf, "storage", "offload");
	return st->fast_reads && strcmp(st->blob_handler, "fs") == 0 &&
	    (offload == NULL || strcmp(offload, "x-accel") == 0);
}

/* The marker says blob names may exist; made after each name (so that a
 * start that removes them, marker first and names after, misses none). */
static void
mark_blob_names(const struct store *st)
{
	char mark[PUB_PATH_MAX];
	int fd;

	snprintf(mark, sizeof(mark), "%s/pub/%s", st->data_dir, BLOBS_MARK);
	fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		complain("cannot make", mark);
	else
		close(fd);
}

void
pub_blob_added(struct store *st, const char *repo, const char *digest)
{
	char dir[PUB_PATH_MAX], tmp[PUB_PATH_MAX + 32], path[PUB_PATH_MAX + 8];
	char target[PUB_PATH_MAX];
	const char *hex = sha256_hex(digest);
	uint64_t size;

	if (!pub_blob_names(st) || hex == NULL)
		return;
	if (dir_of(st, repo, "blobs", dir) != 0 || store_make_dirs(dir) != 0) {
		complain("cannot make", dir);
		return;
	}
	/* blob_fs.c's layout: blobs/<alg>/<first two hex>/<hex>. */
	snprintf(target, sizeof(target), "%s/blobs/sha256/%.2s/%s",
	    st->data_dir, hex, hex);
	snprintf(path, sizeof(path), "%s/%s", dir, hex);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dir, hex, (long)getpid());
	remove_name(tmp);
	if (symlink(target, tmp) != 0) {
		complain("cannot link", tmp);
		return;
	}
	if (place(tmp, path) != 0)
		return;
	mark_blob_names(st);
	if (meta_blob_linked(repo, digest, &size) != META_OK)
		remove_name(path); /* unlinked meanwhile, or unknown (pub.h) */
}

void
pub_blob_removed(struct store *st, const char *repo, const char *digest)
{
	char dir[PUB_PATH_MAX], path[PUB_PATH_MAX + 8];
	const char *hex = sha256_hex(digest);

	if (hex == NULL || !present(st) || dir_of(st, repo, "blobs", dir) != 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, hex);
	remove_name(path);
}

json_t *
pub_blob_forgetting(struct store *st, const char *digest)
{
	json_t *holders, *v;
	size_t i;

	if (sha256_hex(digest) == NULL || !present(st))
		return NULL;
	holders = json_array();
	if (holders == NULL ||
	    meta_blob_holders(digest, HOLDERS_MAX, holders) != META_OK) {
		fprintf(stderr,
		    "berth: pub: cannot list the repositories of %s; "
		    "berth fsck --repair removes their names\n",
		    digest);
		json_decref(holders);
		return NULL;
	}
	json_array_foreach(holders, i, v)
		pub_blob_removed(st, json_string_value(v), digest);
	return holders;
}

void
pub_blob_forgot(struct store *st, const char *digest, json_t *holders)
{
	json_t *v;
	size_t i;

	json_array_foreach(holders, i, v)
		pub_blob_removed(st, json_string_value(v), digest);
	json_decref(holders);
}

void
pub_blob_restore(struct store *st, json_t *names)
{
	const char *digest;
	json_t *holders, *v;
	size_t i;

	json_object_foreach(names, digest, holders)
		json_array_foreach(holders, i, v)
			pub_blob_added(st, json_string_value(v), digest);
}

/* --- Removing the tree, checking it ----------------------------------
 * nftw(3) passes no argument to its callback: the walk's state is
 * file-scope, one walk at a time (the operator commands and store_open
 * are single-threaded). */

static int
removed_entry(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)f;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0 &&
	    errno != ENOENT)
		complain("cannot remove", path);
	return 0;
}

/* Only the blob names (the one kind of symbolic link under pub). */
static int
removed_link(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)sb;
	(void)f;
	if (type == FTW_SL && unlink(path) != 0 && errno != ENOENT)
		complain("cannot remove", path);
	return 0;
}

void
pub_open(struct store *st)
{
	char dir[PUB_PATH_MAX], mark[PUB_PATH_MAX + 8];
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s/pub", st->data_dir);
	snprintf(mark, sizeof(mark), "%s/%s", dir, BLOBS_MARK);
	if (!st->fast_reads) {
		if (lstat(dir, &sb) == 0 &&
		    nftw(dir, removed_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
			complain("cannot remove", dir);
		return;
	}
	/* Blob names made under another blob handler or offload mode would
	 * answer for bytes this one sends otherwise, or not at all.  The
	 * marker goes first: a worker of the previous pool still making a
	 * name makes it again after (mark_blob_names), for the next start. */
	if (pub_blob_names(st) || lstat(mark, &sb) != 0)
		return;
	remove_name(mark);
	if (nftw(dir, removed_link, 16, FTW_PHYS) != 0)
		complain("cannot remove the blob names in", dir);
}

static struct {
	struct store *st;
	bool repair;
	json_t *problems;
	size_t root_len; /* of "<data_dir>/pub/" */
	int unrepaired;
	bool failed;
} walk;

/* Split rel ("<repo>/<kind>/sha256/<name>") in place into its repository,
 * kind and last component; false when it has no such shape. */
static bool
split(char *rel, char **repo, char **kind, char **name)
{
	char *slash = strrchr(rel, '/');

	if (slash == NULL)
		return false;
	*name = slash + 1;
	*slash = '\0';
	slash = strrchr(rel, '/');
	if (slash == NULL || strcmp(slash + 1, "sha256") != 0)
		return false;
	*slash = '\0';
	slash = strrchr(rel, '/');
	if (slash == NULL)
		return false;
	*kind = slash + 1;
	*slash = '\0';
	*repo = rel;
	return valid_name(rel, strlen(rel));
}

/* Whether manifest file `path` (`size` bytes) holds what repo's row
 * for hex holds, under the right extension; META_ERR in *me stops. */
static bool
manifest_backed(const char *path, const char *repo, const char *name,
    off_t size, enum meta_err *me)
{
	char digest[7 + 65];
	const char *dot = strchr(name, '.'), *ext;
	struct meta_manifest m;
	bool same = false;
	FILE *f;

	if (dot == NULL || dot - name != 64)
		return false;
	snprintf(digest, sizeof(digest), "sha256:%.64s", name);
	if (check_digest(digest, strlen(digest)) != DIGEST_OK)
		return false;
	*me = meta_manifest_get(repo, digest, true, true, &m);
	if (*me != META_OK)
		return false;
	ext = pub_ext(m.media_type);
	if (ext != NULL && strcmp(dot + 1, ext) == 0 && size >= 0 &&
	    (uint64_t)size == m.size && (f = fopen(path, "rb")) != NULL) {
		unsigned char *buf = malloc(m.size > 0 ? m.size : 1);

		same = buf != NULL && fread(buf, 1, m.size, f) == m.size &&
		    memcmp(buf, m.body, m.size) == 0;
		free(buf);
		fclose(f);
	}
	free(m.body);
	return same;
}

/* Whether blob name `path` links to the file of a blob repo links. */
static bool
blob_backed(const char *path, const char *repo, const char *name,
    enum meta_err *me)
{
	char digest[7 + 65], target[PUB_PATH_MAX], want[PUB_PATH_MAX];
	ssize_t n;
	uint64_t size;

	snprintf(digest, sizeof(digest), "sha256:%s", name);
	if (strlen(name) != 64 ||
	    check_digest(digest, strlen(digest)) != DIGEST_OK)
		return false;
	*me = meta_blob_linked(repo, digest, &size);
	if (*me != META_OK)
		return false;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	snprintf(want, sizeof(want), "%s/blobs/sha256/%.2s/%s",
	    walk.st->data_dir, name, name);
	return strcmp(target, want) == 0;
}

static int
checked_entry(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	char rel[PUB_PATH_MAX], detail[256];
	char *repo, *kind, *name;
	enum meta_err me = META_OK;
	bool ok = false;
	json_t *p;

	(void)f;
	if (type == FTW_D || type == FTW_DP || strlen(path) <= walk.root_len)
		return 0;
	snprintf(rel, sizeof(rel), "%s", path + walk.root_len);
	if (strcmp(rel, BLOBS_MARK) == 0)
		return 0;
	if (split(rel, &repo, &kind, &name)) {
		if (strcmp(kind, "manifests") == 0 && type == FTW_F)
			ok = manifest_backed(path, repo, name, sb->st_size,
			    &me);
		else if (strcmp(kind, "blobs") == 0 && type == FTW_SL &&
		    pub_blob_names(walk.st))
			ok = blob_backed(path, repo, name, &me);
	}
	if (me == META_ERR || me == META_UNAVAILABLE) {
		walk.failed = true;
		return 1;
	}
	if (ok)
		return 0;
	snprintf(detail, sizeof(detail), "%s",
	    "a file for the web server that the database does not back: "
	    "it would be served without a worker");
	p = json_pack("{s:s, s:s, s:s, s:b}", "problem", "pub", "path", path,
	    "detail", detail, "repaired", false);
	if (walk.repair) {
		bool gone = unlink(path) == 0 || errno == ENOENT;

		json_object_set_new(p, "repaired", json_boolean(gone));
		json_object_set_new(p, "action",
		    json_string(gone ? "removed it" : strerror(errno)));
		if (!gone)
			walk.unrepaired++;
	} else {
		json_object_set_new(p, "action",
		    json_string("berth fsck --repair removes it"));
		walk.unrepaired++;
	}
	json_array_append_new(walk.problems, p);
	return 0;
}

/* Whether repository repo has its file for `digest` of `kind`. */
static bool
has_file(const struct store *st, const char *repo, const char *digest,
    bool manifest)
{
	char dir[PUB_PATH_MAX], path[PUB_PATH_MAX + 8];
	const char *hex = digest + 7;
	struct stat sb;

	if (dir_of(st, repo, manifest ? "manifests" : "blobs", dir) != 0)
		return true; /* a name too long: never a file */
	if (!manifest) {
		snprintf(path, sizeof(path), "%s/%s", dir, hex);
		return lstat(path, &sb) == 0;
	}
	for (size_t i = 0; i < NEXTS; i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", dir, hex, exts[i].ext);
		if (lstat(path, &sb) == 0)
			return true;
	}
	return false;
}

int
pub_fill(struct store *st, bool make, long *missing, long *made)
{
	json_t *rows = json_array(), *v;
	struct meta_manifest m;
	size_t i;
	int rc = -1;

	*missing = *made = 0;
	if (!st->fast_reads) {
		rc = 0;
		goto out;
	}
	if (rows == NULL || meta_admin_pub_rows(rows) != META_OK)
		goto out;
	json_array_foreach(rows, i, v) {
		const char *repo = json_string_value(
		    json_object_get(v, "repository"));
		const char *digest = json_string_value(
		    json_object_get(v, "digest"));
		bool manifest = strcmp(json_string_value(
					   json_object_get(v, "kind")),
				    "manifest") == 0;

		if (manifest ? false : !pub_blob_names(st))
			continue;
		if (has_file(st, repo, digest, manifest))
			continue;
		if (manifest) {
			if (meta_manifest_get(repo, digest, true, true, &m) !=
			    META_OK)
				continue; /* deleted meanwhile */
			if (pub_ext(m.media_type) == NULL) {
				free(m.body);
				continue; /* a type nginx is not given */
			}
		}
		(*missing)++;
		if (!make) {
			if (manifest)
				free(m.body);
			continue;
		}
		if (manifest) {
			pub_manifest_added(st, repo, digest, m.body,
			    (size_t)m.size);
			free(m.body);
		} else {
			pub_blob_added(st, repo, digest);
		}
		if (has_file(st, repo, digest, manifest))
			(*made)++;
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr,
		    "berth: pub: the database did not list its "
		    "manifests and blob links\n");
	json_decref(rows);
	return rc;
}

int
pub_check(struct store *st, bool repair, json_t *problems)
{
	char dir[PUB_PATH_MAX];
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s/pub", st->data_dir);
	if (lstat(dir, &sb) != 0)
		return 0;
	walk.st = st;
	walk.repair = repair;
	walk.problems = problems;
	walk.root_len = strlen(dir) + 1;
	walk.unrepaired = 0;
	walk.failed = false;
	if (nftw(dir, checked_entry, 16, FTW_PHYS) != 0 || walk.failed) {
		fprintf(stderr, "berth: pub: the check of %s stopped\n", dir);
		return -1;
	}
	return walk.unrepaired;
}
