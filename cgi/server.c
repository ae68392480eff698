/* server.c -- the accept loops: a pre-forked pool of FastCGI workers
 * (libfcgi) on a unix socket, FastCGI on an inherited socket, and plain
 * CGI.  Each turns the transport into a struct io, builds a struct req
 * (request.c) and calls dispatch().  Process-lifetime state -- the
 * database connection with its prepared statements and the blob handler
 * -- is opened once per process, after fork. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "dispatch.h"
#include "request.h"
#include "store.h"
#include "upload.h"

#define MAX_WORKERS 256
#define SWEEP_INTERVAL 3600	/* seconds between stale-upload sweeps */

static volatile sig_atomic_t stopping;
static volatile sig_atomic_t in_request;

/* --- Transports ------------------------------------------------------ */

static ssize_t
fcgi_read(void *priv, void *buf, size_t n)
{
	FCGX_Request *fr = priv;
	int got = FCGX_GetStr(buf, n > INT32_MAX ? INT32_MAX : (int)n, fr->in);

	if (got == 0 && FCGX_GetError(fr->in) != 0)
		return -1;
	return got;
}

static int
fcgi_write(void *priv, const void *buf, size_t n)
{
	FCGX_Request *fr = priv;

	while (n > 0) {
		int chunk = n > (1 << 30) ? (1 << 30) : (int)n;

		if (FCGX_PutStr(buf, chunk, fr->out) != chunk)
			return -1;
		buf = (const char *)buf + chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

static const char *
fcgi_param(void *priv, const char *name)
{
	FCGX_Request *fr = priv;

	return FCGX_GetParam(name, fr->envp);
}

static ssize_t
cgi_read(void *priv, void *buf, size_t n)
{
	ssize_t got;

	(void)priv;
	do
		got = read(STDIN_FILENO, buf, n);
	while (got < 0 && errno == EINTR);
	return got;
}

static int
cgi_write(void *priv, const void *buf, size_t n)
{
	(void)priv;
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf = (const char *)buf + w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *
cgi_param(void *priv, const char *name)
{
	(void)priv;
	return getenv(name);
}

/* --- One request ------------------------------------------------------ */

/* Answer one request.  With drain, read what the handler left of the
 * body before returning: under Apache's mod_cgid stdin and stdout are one
 * socket, and a CGI exiting with request bytes unread resets it, losing
 * the response to an upload refused early (bad digest, read-only,
 * manifest too large).  Stdin ends at the body's end (RFC 3875 4.2).
 * FastCGI needs no drain: nginx copes with an unread body. */
static void
handle(struct io *io, const struct config *cfg, struct store *st, bool drain)
{
	static struct req r;	/* large: kept off the stack */

	/* A request req_init() cannot read is answered by dispatch() too. */
	(void)req_init(&r, io, cfg, st);
	dispatch(&r);
	if (drain)
		req_drain(&r);
}

/* Seconds between sweeps of stale upload sessions: a quarter of the
 * expiry, at least 1 and at most SWEEP_INTERVAL. */
static long
sweep_every(const struct store *st)
{
	long every = st->upload_expiry / 4;

	if (every > SWEEP_INTERVAL)
		every = SWEEP_INTERVAL;
	return every < 1 ? 1 : every;
}

/* Sweep stale upload sessions every sweep_every() seconds, from whichever
 * worker notices first after a request. */
static void
maybe_sweep(struct store *st, time_t *last)
{
	time_t now = time(NULL);

	if (now - *last < sweep_every(st))
		return;
	*last = now;
	upload_expire(st, st->upload_expiry);
}

/* The FastCGI accept loop of one process. */
static int
fcgi_loop(const struct config *cfg, struct store *st, int listen_fd)
{
	FCGX_Request fr;
	struct io io = { &fr, fcgi_read, fcgi_write, fcgi_param };
	time_t last_sweep = 0;	/* sweep after the first request */

	if (store_open(st) != 0)
		return 1;
	if (FCGX_InitRequest(&fr, listen_fd, 0) != 0)
		return 1;
	while (!stopping && FCGX_Accept_r(&fr) >= 0) {
		in_request = 1;
		handle(&io, cfg, st, false);
		FCGX_Finish_r(&fr);
		in_request = 0;
		maybe_sweep(st, &last_sweep);
	}
	store_close(st);
	return 0;
}

/* --- The pool ---------------------------------------------------------- */

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* In a worker: leave now when idle, else after the request in flight. */
static void
on_worker_stop(int sig)
{
	(void)sig;
	stopping = 1;
	if (!in_request)
		_exit(0);
}

static pid_t
spawn(const struct config *cfg, struct store *st, int listen_fd)
{
	struct sigaction sa;
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* Leave with the parent, even one killed with SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_worker_stop;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);	/* the parent decides on Ctrl-C */
	_exit(fcgi_loop(cfg, st, listen_fd));
}

int
serve_pool(const struct config *cfg, struct store *st)
{
	pid_t pids[MAX_WORKERS] = { 0 };
	time_t born[MAX_WORKERS] = { 0 };
	struct sigaction sa;
	int listen_fd, status, n = cfg->workers;
	char dir[PATH_MAX];
	pid_t pid;

	/* Migrate once here, before the workers open the database. */
	if (store_open(st) != 0)
		return 1;
	store_close(st);

	if (FCGX_Init() != 0)
		return 1;
	snprintf(dir, sizeof(dir), "%s", cfg->socket);
	if (strrchr(dir, '/') != NULL && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		mkdir(dir, 0755);	/* e.g. <data_dir>/run; may exist */
	}
	unlink(cfg->socket);
	listen_fd = FCGX_OpenSocket(cfg->socket, 128);
	if (listen_fd < 0) {
		fprintf(stderr, "berth: cannot listen on %s: %s\n", cfg->socket,
		    strerror(errno));
		return 1;
	}
	/* The web server's user must be able to connect. */
	chmod(cfg->socket, 0666);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;	/* no SA_RESTART: waitpid returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (int i = 0; i < n; i++) {
		pids[i] = spawn(cfg, st, listen_fd);
		born[i] = time(NULL);
	}
	fprintf(stderr, "berth: %d workers on %s, data in %s\n", n, cfg->socket,
	    st->data_dir);
	while (!stopping) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			if (WIFSIGNALED(status))
				fprintf(stderr, "berth: worker %d killed by signal "
				    "%d; restarting it\n", (int)pid, WTERMSIG(status));
			else
				fprintf(stderr, "berth: worker %d exited with %d; "
				    "restarting it\n", (int)pid, WEXITSTATUS(status));
			if (time(NULL) - born[i] < 1)
				sleep(1);	/* dying at once: don't spin */
			if (stopping)
				break;
			pids[i] = spawn(cfg, st, listen_fd);
			born[i] = time(NULL);
		}
	}
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	unlink(cfg->socket);
	fprintf(stderr, "berth: stopped\n");
	return 0;
}

int
serve_inherited(const struct config *cfg, struct store *st)
{
	if (FCGX_Init() != 0)
		return 1;
	return fcgi_loop(cfg, st, 0);
}

/* A CGI process lives for one request, so stale upload sessions are
 * swept on a clock kept in the file system: the first request after a
 * sweep_every() seconds since the mtime of
 * <data_dir>/uploads/.swept renews it and sweeps.  Costs one stat(). */
static void
cgi_maybe_sweep(struct store *st)
{
	char marker[PATH_MAX];
	struct stat sb;
	int fd;

	if (snprintf(marker, sizeof(marker), "%s/uploads/.swept",
	    st->data_dir) >= (int)sizeof(marker))
		return;
	if (stat(marker, &sb) == 0 && time(NULL) - sb.st_mtime < sweep_every(st))
		return;
	fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;		/* no uploads/ yet: nothing to sweep */
	close(fd);
	upload_expire(st, st->upload_expiry);
}

int
serve_cgi(const struct config *cfg, struct store *st)
{
	struct io io = { NULL, cgi_read, cgi_write, cgi_param };

	if (store_open(st) != 0) {
		fputs("Status: 500 Internal Server Error\r\n"
		    "Content-Type: text/plain\r\n\r\nberth: cannot open storage\n",
		    stdout);
		return 1;
	}
	handle(&io, cfg, st, true);
	cgi_maybe_sweep(st);
	store_close(st);
	return 0;
}
