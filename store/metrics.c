/* metrics.c -- the counter file; see metrics.h.  Called by the front
 * (cgi/server.c, cgi/h_ops.c, cgi/errors.c) and the operator commands
 * (cli/cli_gc.c, cli/cli_fsck.c). */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const uint64_t metrics_bucket_us[METRICS_BUCKETS - 1] = { 1000, 5000, 10000,
	25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000 };

static struct metrics_file *map; /* NULL: counting nothing */
static char map_dir[PATH_MAX];	 /* the data directory it is of */
static pid_t map_pid;		 /* who mapped it (busy slots) */
/* Set by on_sigbus() when the file was cut short under the map. */
static volatile sig_atomic_t detached;

/* SIGBUS on the map: someone truncated the counter file (its size was
 * allocated when made, so a full disk cannot).  Rather than die, put
 * private zeroed memory in its place, so the access that faulted and
 * all later ones count into this process alone, and say so once
 * (metrics_request).  Any other SIGBUS is the default's: the handler
 * steps aside and the access faults again. */
static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr, *m = (char *)map;

	(void)uc;
	/* MAP_FIXED over the same addresses, which map still names: the
	 * result is the map itself, not memory to keep (for cppcheck). */
	if (m != NULL && a >= m && a < m + sizeof(struct metrics_file) &&
	    /* cppcheck-suppress leakReturnValNotUsed */
	    mmap(m, sizeof(struct metrics_file), PROT_READ | PROT_WRITE,
		MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == (void *)m) {
		detached = 1;
		return;
	}
	signal(sig, SIG_DFL);
}

static void
catch_sigbus(void)
{
	static bool caught;
	struct sigaction sa;

	if (caught)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) == 0)
		caught = true;
}

#define ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)

/* Does the open file fd hold a complete file of our layout? */
static bool
ours(int fd)
{
	struct metrics_file head;
	struct stat sb;

	if (fstat(fd, &sb) != 0 || sb.st_size != sizeof(struct metrics_file))
		return false;
	if (pread(fd, &head, offsetof(struct metrics_file, requests), 0) !=
	    (ssize_t)offsetof(struct metrics_file, requests))
		return false;
	return memcmp(head.magic, METRICS_MAGIC, 8) == 0 &&
	    head.version == METRICS_VERSION &&
	    head.size == sizeof(struct metrics_file);
}

/* Run as root (an operator command before any worker ran), give what
 * we make to the data directory's owner, whom the workers run as: a
 * root-owned counter file would leave them counting nothing. */
static void
give_to_owner(int fd, const char *path, const char *data_dir)
{
	struct stat sb;

	if (geteuid() != 0 || stat(data_dir, &sb) != 0 || sb.st_uid == 0)
		return;
	if (fd >= 0 ? fchown(fd, sb.st_uid, sb.st_gid) != 0 :
		      chown(path, sb.st_uid, sb.st_gid) != 0)
		fprintf(stderr, "berth: metrics: chown %s: %s\n", path,
		    strerror(errno));
}

/* Put a fresh file, header written, at path: a temporary name linked
 * into place (replace: renamed over what is there).  0, or -1 with
 * errno; EEXIST when another process was first. */
static int
create(const char *path, bool replace, const char *data_dir)
{
	char tmp[PATH_MAX + 16];
	struct metrics_file head;
	int fd, rc = -1, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	memset(&head, 0, sizeof(head));
	memcpy(head.magic, METRICS_MAGIC, 8);
	head.version = METRICS_VERSION;
	head.size = sizeof(struct metrics_file);
	head.created = (uint64_t)time(NULL);
	/* The workers, the CGI processes and the operator commands share
	 * it: one user, or one group (README, "Metrics and health"). */
	give_to_owner(fd, tmp, data_dir);
	/* Blocks allocated, not a sparse file: a counter page first
	 * touched through the map on a full disk would be SIGBUS. */
	if (fchmod(fd, 0664) != 0 ||
	    (errno = posix_fallocate(fd, 0, sizeof(struct metrics_file))) !=
		0 ||
	    pwrite(fd, &head, offsetof(struct metrics_file, requests), 0) !=
		(ssize_t)offsetof(struct metrics_file, requests))
		goto out;
	rc = replace ? rename(tmp, path) : link(tmp, path);
out:
	saved = errno;
	close(fd);
	unlink(tmp); /* after link(); after rename() it is gone already */
	errno = saved;
	return rc;
}

/* Open path, making it first if needed; the fd or -1 with errno. */
static int
open_file(const char *path, const char *data_dir)
{
	int fd;

	for (int tries = 0; tries < 3; tries++) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && ours(fd))
			return fd;
		if (fd >= 0) {
			close(fd);
			if (create(path, true, data_dir) != 0)
				return -1;
			continue;
		}
		if (errno != ENOENT)
			return -1;
		if (create(path, false, data_dir) != 0 && errno != EEXIST)
			return -1;
	}
	errno = EPROTO;
	return -1;
}

int
metrics_open(const char *data_dir)
{
	static bool told;
	char path[PATH_MAX];
	void *p;
	int fd;

	if (map != NULL && strcmp(map_dir, data_dir) == 0) {
		map_pid = getpid(); /* a child keeps the parent's map */
		return 0;
	}
	metrics_close();
	if (snprintf(path, sizeof(path), "%s/run", data_dir) >=
	    (int)sizeof(path) - 16) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(path, 0755) == 0)
		give_to_owner(-1, path, data_dir);
	else if (errno != EEXIST)
		goto fail;
	strcat(path, "/metrics");
	fd = open_file(path, data_dir);
	if (fd < 0)
		goto fail;
	p = mmap(NULL, sizeof(struct metrics_file), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		goto fail;
	map = p;
	map_pid = getpid();
	snprintf(map_dir, sizeof(map_dir), "%s", data_dir);
	catch_sigbus();
	return 0;
fail:
	if (!told)
		fprintf(stderr, "berth: metrics off: %s/run/metrics: %s\n",
		    data_dir, strerror(errno));
	told = true;
	return -1;
}

void
metrics_close(void)
{
	if (map != NULL)
		munmap(map, sizeof(struct metrics_file));
	map = NULL;
	map_dir[0] = '\0';
}

const struct metrics_file *
metrics_map(void)
{
	return map;
}

void
metrics_request(unsigned route, unsigned method, int status, uint64_t us,
    uint64_t received, uint64_t sent)
{
	unsigned cls, b;

	if (map == NULL)
		return;
	if (detached == 1) {
		detached = 2;
		fprintf(stderr,
		    "berth: metrics: %s/run/metrics was cut short while in "
		    "use; process %d counts on its own from now on (restart "
		    "the pool to share the counters again)\n",
		    map_dir, (int)getpid());
	}
	if (route >= METRICS_ROUTES)
		route = 0;
	if (method >= METRICS_METHODS)
		method = METRICS_METHODS - 1;
	cls = status >= 100 && status <= 599 ? (unsigned)(status / 100 - 1) : 4;
	for (b = 0; b < METRICS_BUCKETS - 1 && us > metrics_bucket_us[b]; b++)
		;
	ADD(map->requests[route][method][cls], 1);
	ADD(map->duration[route][b], 1);
	ADD(map->duration_us[route], us);
	if (received > 0)
		ADD(map->bytes_received, received);
	if (sent > 0)
		ADD(map->bytes_sent, sent);
}

int
metrics_busy_enter(void)
{
	int64_t free_slot, pid = map_pid;
	unsigned start;

	if (map == NULL)
		return -1;
	start = (unsigned)pid % METRICS_SLOTS;
	for (unsigned i = 0; i < METRICS_SLOTS; i++) {
		unsigned s = (start + i) % METRICS_SLOTS;

		free_slot = 0;
		if (__atomic_compare_exchange_n(&map->busy[s], &free_slot, pid,
			false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return (int)s;
	}
	return -1;
}

void
metrics_busy_leave(int slot)
{
	if (map == NULL || slot < 0 || slot >= METRICS_SLOTS)
		return;
	__atomic_store_n(&map->busy[slot], 0, __ATOMIC_RELAXED);
}

unsigned
metrics_busy_count(void)
{
	unsigned n = 0;
	int64_t pid;

	if (map == NULL)
		return 0;
	for (unsigned s = 0; s < METRICS_SLOTS; s++) {
		pid = __atomic_load_n(&map->busy[s], __ATOMIC_RELAXED);
		if (pid == 0)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno == EPERM)
			n++;
		else /* died inside a request: free its slot */
			__atomic_compare_exchange_n(&map->busy[s], &pid, 0,
			    false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
	return n;
}

void
metrics_store_error(enum metrics_store where, enum metrics_err what)
{
	if (map == NULL || where >= METRICS_STORES || what >= METRICS_ERRS)
		return;
	ADD(map->errors[where][what], 1);
}

void
metrics_job_done(enum metrics_job_kind job, uint64_t end, uint64_t ms, bool ok,
    uint64_t count, uint64_t count2)
{
	struct metrics_job *j;

	if (map == NULL || job >= METRICS_JOBS)
		return;
	j = &map->jobs[job];
	__atomic_store_n(&j->last_ms, ms, __ATOMIC_RELAXED);
	__atomic_store_n(&j->last_ok, ok ? 1 : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&j->last_count, count, __ATOMIC_RELAXED);
	__atomic_store_n(&j->last_count2, count2, __ATOMIC_RELAXED);
	__atomic_store_n(&j->last_end, end, __ATOMIC_RELAXED);
	if (!ok)
		ADD(j->failures, 1);
	ADD(j->runs, 1);
}
