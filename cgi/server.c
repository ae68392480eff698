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
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "dispatch.h"
#include "metrics.h"
#include "notify.h"
#include "observe.h"
#include "request.h"
#include "store.h"
#include "upload.h"

#define MAX_WORKERS    256
#define SWEEP_INTERVAL 3600 /* seconds between stale-upload sweeps */

static volatile sig_atomic_t stopping; /* a worker's SIGTERM came */

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

/* FCGX_GetParam(), with the first byte compared before the call to
 * strncmp: a request looks up about a dozen names among as many params,
 * and most differ there (the lookups were a tenth of a manifest GET's
 * instructions, bench/callgrind.sh). */
static const char *
fcgi_param(void *priv, const char *name)
{
	FCGX_Request *fr = priv;
	size_t len = strlen(name);

	for (char **p = fr->envp; p != NULL && *p != NULL; p++)
		if ((*p)[0] == name[0] && strncmp(*p, name, len) == 0 &&
		    (*p)[len] == '=')
			return *p + len + 1;
	return NULL;
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
	static struct req r; /* large: kept off the stack */
	struct obs o;

	obs_begin(&o);
	/* A request req_init() cannot read is answered by dispatch() too. */
	(void)req_init(&r, io, cfg, st);
	dispatch(&r);
	if (drain)
		req_drain(&r);
	obs_end(&o, &r);
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

/* SIGTERM in a worker: leave after the request in flight.  It is let in
 * only while the worker waits for a request (fcgi_loop), so this runs
 * between requests, never inside one. */
static void
on_worker_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The connections of the web server one worker holds at once: the one it
 * answers on, and those the web server keeps open between requests
 * (FCGI_KEEP_CONN) that wait for their next request. */
#define MAX_CONNS 16

struct fcgi_conns {
	FCGX_Request fr[MAX_CONNS]; /* ipcFd < 0: the slot is free */
	int listen_fd;
};

/* End the request on fr.  A connection the web server asked to keep
 * (FCGI_KEEP_CONN: nginx's fastcgi_keep_conn) stays open for its next
 * request, and the response ends with no close at all; libfcgi closes it
 * on an error.  Any other is closed by libfcgi with its lingering close
 * (shutdown, then read until the web server closes): a plain close was
 * tried and is not safe -- Apache's mod_proxy_fcgi may still be writing
 * the request's last records when the response is complete, and a close
 * with bytes unread resets the connection under the response (Apache
 * answered 503 to one request in fifteen of tests/e2e under load). */
static void
fcgi_end(FCGX_Request *fr)
{
	FCGX_Finish_r(fr);
}

/* Which requests to answer next: fills ready[] (room for MAX_CONNS + 1)
 * with the slots that have a request waiting -- kept connections the web
 * server wrote to, then a free slot when the listening socket has a
 * connection waiting -- and returns their number; 0 when nothing waits
 * within timeout_ms (-1: until a signal in `unblocked` comes, 0: now);
 * -1 on a poll error other than EINTR.  Kept connections are polled
 * beside the listening socket, so that an idle one never pins the worker
 * while new connections queue (DESIGN.md, pitfalls).  The caller answers
 * every one of them before it waits again: taking only the first would
 * starve the later slots and the listening socket while nginx keeps the
 * first ones busy (a p99 of 430 ms for a tags list in make bench). */
static int
fcgi_wait(struct fcgi_conns *c, int timeout_ms, const sigset_t *unblocked,
    int *ready)
{
	struct pollfd pfd[MAX_CONNS + 1];
	int slot[MAX_CONNS + 1], n = 0, free_slot = -1, rc, got = 0;
	struct timespec ts, *tsp = NULL;

	for (int i = 0; i < MAX_CONNS; i++) {
		if (c->fr[i].ipcFd >= 0) {
			pfd[n].fd = c->fr[i].ipcFd;
			pfd[n].events = POLLIN | POLLRDHUP;
			pfd[n].revents = 0;
			slot[n++] = i;
		} else if (free_slot < 0)
			free_slot = i;
	}
	/* Every slot holds a connection: leave new ones to other workers. */
	if (free_slot >= 0) {
		pfd[n].fd = c->listen_fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		slot[n++] = free_slot;
	}
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	rc = ppoll(pfd, (nfds_t)n, tsp, unblocked);
	if (rc < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		/* The web server closed a kept connection (it keeps only so
		 * many idle): close ours, plainly -- there is nothing to
		 * read, so no lingering close (fcgi_end). */
		if (pfd[i].fd != c->listen_fd &&
		    (pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
			(void)FCGX_Detach(&c->fr[slot[i]]);
			FCGX_Free(&c->fr[slot[i]], 1);
			continue;
		}
		ready[got++] = slot[i];
	}
	return got;
}

/* The FastCGI accept loop of one process, until SIGTERM or an accept
 * error; the exit status.  SIGTERM stays blocked while a request is read,
 * handled and answered, so a stop never breaks a body read or a response
 * write with EINTR (DESIGN.md, pitfalls) and waits for the request in
 * flight; it is unblocked only inside ppoll(), while the process waits
 * for a request, so an idle worker leaves at once -- after answering
 * the requests already waiting on its kept connections, which it then
 * closes: nginx sends a request that meets a kept connection closing
 * under it again on a new connection, except a POST or PATCH, and those
 * (uploads) never come on a kept one (berth-locations.conf.in).  The listening socket is made
 * non-blocking: when several idle workers wake for one connection, the
 * others' accept() fails with EAGAIN (libfcgi's FCGX_Accept_r returns
 * -EAGAIN) and they wait again; so does FCGX_Accept_r on a kept
 * connection the web server closed (libfcgi then tries the listening
 * socket).  Accepted connections do not inherit O_NONBLOCK (Linux
 * accept(2)). */
static int
fcgi_loop(const struct config *cfg, struct store *st, int listen_fd)
{
	static struct fcgi_conns c;
	struct io io = { NULL, fcgi_read, fcgi_write, fcgi_param };
	struct sigaction sa;
	sigset_t term, idle;
	time_t last_sweep = 0; /* sweep after the first request */
	int ready[MAX_CONNS + 1];
	int fl, rc, nready, pick, status = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_worker_stop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &idle);
	sigdelset(&idle, SIGTERM);

	fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		fprintf(stderr, "berth: listening socket: %s\n",
		    strerror(errno));
		return 1;
	}
	if (store_open(st) != 0)
		return 1;
	metrics_open(st->data_dir); /* best effort: off when it fails */
	c.listen_fd = listen_fd;
	for (int i = 0; i < MAX_CONNS; i++)
		if (FCGX_InitRequest(&c.fr[i], listen_fd, 0) != 0)
			return 1;
	while (status == 0) {
		/* Stopping: what already waits on a kept connection is
		 * answered, then the loop ends. */
		nready = fcgi_wait(&c, stopping ? 0 : -1, &idle, ready);
		if (nready < 0) {
			fprintf(stderr, "berth: poll: %s\n", strerror(errno));
			break;
		}
		if (nready == 0 && stopping)
			break;
		for (int i = 0; i < nready && status == 0; i++) {
			pick = ready[i];
			if (stopping && c.fr[pick].ipcFd < 0)
				continue; /* no new connection once stopping */
			rc = FCGX_Accept_r(&c.fr[pick]);
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR)
				continue; /* another worker took it, or the
					   * web server closed a kept one */
			if (rc < 0) {
				fprintf(stderr, "berth: accept: %s\n",
				    rc < -1 && rc > -4096 ? strerror(-rc) :
							    "libfcgi error");
				status = 1;
				break;
			}
			io.priv = &c.fr[pick];
			handle(&io, cfg, st, false);
			fcgi_end(&c.fr[pick]);
			maybe_sweep(st, &last_sweep);
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (c.fr[i].ipcFd >= 0)
			FCGX_Free(&c.fr[i], 1);
	store_close(st);
	return status;
}

/* --- The pool ---------------------------------------------------------- *
 *
 * The parent forks cfg->workers workers on one listening socket (and,
 * with [notify] url, one event deliverer: store/outbox.h, supervised and
 * stopped like a worker) and then only waits for signals (sigtimedwait,
 * every signal below blocked):
 *   SIGCHLD          a worker died: log its cause and start another, after
 *                    a back-off while workers die young (pool_reap);
 *   SIGTERM, SIGINT  stop: the workers finish their requests, at most
 *                    drain_seconds(); a second one stops them at once;
 *   SIGHUP, SIGUSR2  restart: re-execute the (possibly new) binary with
 *                    the same arguments and pid, handing it the listening
 *                    socket; the new pool starts its workers and then
 *                    tells the old ones to drain (pool_reexec).
 * Under a service manager it reports READY=1, RELOADING=1 and STOPPING=1
 * (notify.h), and serves on a socket the manager passes (LISTEN_FDS,
 * pool_activated) instead of making its own.  Every request is timed,
 * counted and logged around dispatch() (observe.h).
 */

#define MAX_DRAINING	(4 * MAX_WORKERS)
#define BACKOFF_MIN	100   /* ms: the first delay after a young death */
#define BACKOFF_MAX	10000 /* ms: the back-off doubles up to this */
#define DIED_YOUNG	1000  /* ms: a worker dying sooner doubles it */
#define HEALTHY		10000 /* ms: one living this long resets it */
#define DRAIN_SECONDS	30    /* a stop's wait for requests in flight */
#define ENV_LISTEN_FD	"BERTH_LISTEN_FD"   /* restart: the socket */
#define ENV_LISTEN_PATH "BERTH_LISTEN_PATH" /* and where it is bound */
#define ENV_DRAIN_PIDS	"BERTH_DRAIN_PIDS"  /* restart: old workers */
/* restart: the socket is the service manager's (pool_activated) */
#define ENV_ACTIVATED "BERTH_LISTEN_ACTIVATED"
#define MAX_ARGS      64

struct slot {
	bool deliverer; /* runs the event deliverer, not a worker */
	pid_t pid;	/* its worker, 0 while none runs */
	long long born; /* ms (monotonic) the worker started */
	long long due;	/* pid == 0: ms to start the next */
	long backoff;	/* ms to wait after the next death */
};

struct pool {
	const struct config *cfg;
	struct store *st;
	int listen_fd;
	char path[PATH_MAX]; /* where it is bound */
	bool activated;	     /* the socket came from the service manager
			      * (LISTEN_FDS), which owns its name */
	int n;		     /* slots in use */
	struct slot slot[MAX_WORKERS + 1]; /* the workers, then the
					    * deliverer when [notify] url */
	pid_t draining[MAX_DRAINING];	   /* told to stop */
	int ndraining;
	sigset_t sigs; /* what the parent waits for */
};

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How a process ended, for the log: "exited with status 1", "killed by
 * signal 11 (SIGSEGV)".  Into buf (cap bytes). */
static void
describe_exit(int status, char *buf, size_t cap)
{
	const char *abbrev;

	if (WIFSIGNALED(status)) {
		abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(buf, cap, "was killed by signal %d (SIG%s%s)",
		    WTERMSIG(status), abbrev != NULL ? abbrev : "?",
		    WCOREDUMP(status) ? ", core dumped" : "");
	} else
		snprintf(buf, cap, "exited with status %d",
		    WEXITSTATUS(status));
}

/* Seconds a stop waits for requests in flight: BERTH_DRAIN_SECONDS
 * (0..86400) or DRAIN_SECONDS. */
static long
drain_seconds(void)
{
	const char *v = getenv("BERTH_DRAIN_SECONDS");
	char *end;
	long s;

	if (v == NULL || *v == '\0')
		return DRAIN_SECONDS;
	s = strtol(v, &end, 10);
	return *end != '\0' || s < 0 || s > 86400 ? DRAIN_SECONDS : s;
}

/* The event deliverer child (store/outbox.h): its own metadata
 * connection, until SIGTERM.  The exit status. */
static int
deliverer(struct store *st)
{
	int rc;

	if (store_open(st) != 0)
		return 1;
	rc = outbox_run(&st->notify);
	store_close(st);
	return rc;
}

/* Fork one worker on the pool's socket (or, for slot s's deliverer, the
 * event deliverer); its pid, or -1. */
static pid_t
spawn(const struct pool *p, const struct slot *s)
{
	sigset_t term;
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* Leave with the parent, even one killed with SIGKILL (after the
	 * request in flight: SIGTERM waits for it, see fcgi_loop). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	signal(SIGINT, SIG_IGN); /* the parent decides on Ctrl-C */
	signal(SIGHUP, SIG_IGN); /* and on restarts */
	signal(SIGUSR2, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_SETMASK, &term, NULL);
	if (s->deliverer) {
		close(p->listen_fd);
		_exit(deliverer(p->st));
	}
	_exit(fcgi_loop(p->cfg, p->st, p->listen_fd));
}

/* Workers still to be reaped: in slots and draining. */
static int
pool_alive(const struct pool *p)
{
	int alive = p->ndraining;

	for (int i = 0; i < p->n; i++)
		if (p->slot[i].pid > 0)
			alive++;
	return alive;
}

/* Send sig to every worker, current and draining. */
static void
pool_kill(const struct pool *p, int sig)
{
	for (int i = 0; i < p->n; i++)
		if (p->slot[i].pid > 0)
			kill(p->slot[i].pid, sig);
	for (int i = 0; i < p->ndraining; i++)
		kill(p->draining[i], sig);
}

/* Reap every worker that has died; with respawn, log each death with its
 * cause and schedule the slot's next worker: at once, or after a back-off
 * that doubles from BACKOFF_MIN to BACKOFF_MAX while workers die within
 * DIED_YOUNG of starting and is reset by one that lived HEALTHY.  So a
 * worker that crashes on every request cannot spin. */
static void
pool_reap(struct pool *p, bool respawn)
{
	struct slot *s;
	char why[80];
	long long now, lived;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		describe_exit(status, why, sizeof(why));
		s = NULL;
		for (int i = 0; i < p->n; i++)
			if (p->slot[i].pid == pid)
				s = &p->slot[i];
		if (s == NULL) {
			for (int i = 0; i < p->ndraining; i++) {
				if (p->draining[i] != pid)
					continue;
				p->draining[i] = p->draining[--p->ndraining];
				if (!WIFEXITED(status) ||
				    WEXITSTATUS(status) != 0)
					fprintf(stderr,
					    "berth: draining worker %d "
					    "%s\n",
					    (int)pid, why);
				if (p->ndraining == 0 && respawn)
					fprintf(stderr,
					    "berth: the previous pool "
					    "has drained\n");
				break;
			}
			continue;
		}
		s->pid = 0;
		if (!respawn) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				fprintf(stderr,
				    "berth: worker %d %s while "
				    "stopping\n",
				    (int)pid, why);
			continue;
		}
		now = now_ms();
		lived = now - s->born;
		if (lived < DIED_YOUNG)
			s->backoff = s->backoff == 0	 ? BACKOFF_MIN :
			    s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
							   s->backoff * 2;
		else if (lived >= HEALTHY)
			s->backoff = 0;
		s->due = now + (lived < DIED_YOUNG ? s->backoff : 0);
		if (s->due > now)
			fprintf(stderr,
			    "berth: worker %d %s after %.1f s; "
			    "starting another in %.1f s\n",
			    (int)pid, why, lived / 1000.0,
			    (s->due - now) / 1000.0);
		else
			fprintf(stderr,
			    "berth: worker %d %s after %.1f s; "
			    "starting another\n",
			    (int)pid, why, lived / 1000.0);
	}
}

/* Start the workers whose slot is due; the ms until the next slot is
 * due, or -1 when every slot has its worker. */
static long long
pool_start_due(struct pool *p)
{
	long long now = now_ms(), next = -1;
	struct slot *s;

	for (int i = 0; i < p->n; i++) {
		s = &p->slot[i];
		if (s->pid == 0 && s->due <= now) {
			s->pid = spawn(p, s);
			s->born = now;
			if (s->pid < 0) {
				fprintf(stderr,
				    "berth: fork: %s; trying again in "
				    "%d s\n",
				    strerror(errno), BACKOFF_MAX / 1000);
				s->pid = 0;
				s->due = now + BACKOFF_MAX;
			}
		}
		if (s->pid == 0 && (next < 0 || s->due - now < next))
			next = s->due - now;
	}
	return next;
}

/* Wait up to ms milliseconds (forever when negative) for one of the
 * pool's signals; the signal, or 0 when none came. */
static int
pool_wait(const struct pool *p, long long ms)
{
	struct timespec ts;
	int sig;

	if (ms < 0)
		sig = sigwaitinfo(&p->sigs, NULL);
	else {
		ts.tv_sec = (time_t)(ms / 1000);
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		sig = sigtimedwait(&p->sigs, NULL, &ts);
	}
	return sig < 0 ? 0 : sig;
}

/* Stop on signal sig: no new connections (the socket's name goes first,
 * so nginx answers 503 at once), every worker finishes its request in
 * flight, for at most drain_seconds(); a second SIGTERM or SIGINT, or the
 * deadline, kills those still busy (behind nginx their clients get its
 * 503 UNAVAILABLE, which clients retry).  The exit status. */
static int
pool_stop(struct pool *p, int sig)
{
	long drain = drain_seconds();
	long long deadline = now_ms() + drain * 1000;
	const char *why = "after the deadline";

	/* A socket the service manager passed us stays its own: it keeps
	 * listening (connections wait in its backlog for the next start). */
	if (!p->activated)
		unlink(p->path);
	close(p->listen_fd);
	pool_kill(p, SIGTERM);
	pool_reap(p, false);
	if (pool_alive(p) > 0)
		fprintf(stderr,
		    "berth: stopping on SIG%s: the workers finish "
		    "their requests in flight (at most %ld s; SIGTERM or "
		    "Ctrl-C again stops them now)\n",
		    sigabbrev_np(sig), drain);
	while (pool_alive(p) > 0) {
		long long left = deadline - now_ms();

		if (left > 0) {
			sig = pool_wait(p, left);
			pool_reap(p, false);
			if (sig != SIGTERM && sig != SIGINT)
				continue;
			why = "on a second signal";
		}
		if (pool_alive(p) == 0)
			break;
		fprintf(stderr,
		    "berth: %d workers still busy %s: killing them "
		    "(behind nginx their clients get 503)\n",
		    pool_alive(p), why);
		pool_kill(p, SIGKILL);
		while (pool_alive(p) > 0) {
			pool_wait(p, 100);
			pool_reap(p, false);
		}
	}
	fprintf(stderr, "berth: stopped\n");
	return 0;
}

/* The pool's own command line from /proc/self/cmdline, split into argv
 * (at most MAX_ARGS - 1 entries, NULL-terminated) over buf (cap bytes);
 * the count, or -1. */
static int
own_argv(char *buf, size_t cap, char **argv)
{
	size_t len = 0;
	ssize_t n;
	int fd, argc = 0;

	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len == 0 || len >= cap - 1)
		return -1;
	buf[len] = '\0';
	for (size_t off = 0; off < len; off += strlen(buf + off) + 1) {
		if (argc == MAX_ARGS - 1)
			return -1;
		argv[argc++] = buf + off;
	}
	argv[argc] = NULL;
	return argc;
}

/* Does the binary argv[0] accept the configuration argv names?  Runs
 * `argv[0] -t argv[1..]` (which prints the effective settings, to
 * /dev/null here, or its complaint, to our stderr) and waits for it. */
static bool
config_loads(char **argv, int argc)
{
	char *targv[MAX_ARGS + 1];
	int status, fd;
	pid_t pid;

	targv[0] = argv[0];
	targv[1] = "-t";
	for (int i = 1; i <= argc; i++)
		targv[i + 1] = argv[i]; /* and the NULL */
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		/* What a start would refuse too (main.c). */
		setenv("BERTH_CHECK_START", "1", 1);
		execvp(targv[0], targv);
		fprintf(stderr, "berth: %s: %s\n", targv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Restart: re-execute the binary the pool was started as (a new one if
 * it was replaced) with the same arguments, so it re-reads the
 * configuration and keeps the pid (pid files stay right).  The listening
 * socket stays open across the exec (BERTH_LISTEN_FD names it), so no
 * connection is refused; the workers keep serving and the new image tells
 * them to drain once its own have started (BERTH_DRAIN_PIDS).  A binary
 * or configuration that `berth -t` refuses is not executed: the pool goes
 * on as it was.  Returns only then, or when exec fails. */
static void
pool_reexec(struct pool *p)
{
	static char buf[16384],
	    pids[MAX_DRAINING * 12 + (MAX_WORKERS + 1) * 12];
	char *argv[MAX_ARGS], fd[16];
	size_t len = 0;
	int argc;

	argc = own_argv(buf, sizeof(buf), argv);
	if (argc < 1) {
		fprintf(stderr,
		    "berth: restart refused: cannot read "
		    "/proc/self/cmdline\n");
		return;
	}
	if (!config_loads(argv, argc)) {
		fprintf(stderr,
		    "berth: restart refused: `%s -t` fails (see "
		    "above); the running pool goes on\n",
		    argv[0]);
		return;
	}
	pids[0] = '\0';
	for (int i = 0; i < p->n; i++)
		if (p->slot[i].pid > 0)
			len += (size_t)snprintf(pids + len, sizeof(pids) - len,
			    "%s%d", len ? "," : "", (int)p->slot[i].pid);
	for (int i = 0; i < p->ndraining; i++)
		len += (size_t)snprintf(pids + len, sizeof(pids) - len, "%s%d",
		    len ? "," : "", (int)p->draining[i]);
	snprintf(fd, sizeof(fd), "%d", p->listen_fd);
	if (fcntl(p->listen_fd, F_SETFD, 0) != 0 ||
	    setenv(ENV_LISTEN_FD, fd, 1) != 0 ||
	    setenv(ENV_LISTEN_PATH, p->path, 1) != 0 ||
	    setenv(ENV_DRAIN_PIDS, pids, 1) != 0 ||
	    (p->activated && setenv(ENV_ACTIVATED, "1", 1) != 0)) {
		fprintf(stderr, "berth: restart refused: %s\n",
		    strerror(errno));
		return;
	}
	fprintf(stderr,
	    "berth: restarting as %s; the running workers serve "
	    "until the new ones start\n",
	    argv[0]);
	fflush(stderr);
	execvp(argv[0], argv); /* the signal mask stays: none is lost */
	fprintf(stderr,
	    "berth: restart failed: %s: %s; the running pool "
	    "goes on\n",
	    argv[0], strerror(errno));
	unsetenv(ENV_LISTEN_FD);
	unsetenv(ENV_LISTEN_PATH);
	unsetenv(ENV_DRAIN_PIDS);
	unsetenv(ENV_ACTIVATED);
}

/* After a restart: take the listening socket the previous image left in
 * BERTH_LISTEN_FD.  1 when there was one, 0 when not, -1 when it is not
 * a listening socket. */
static int
pool_inherit(struct pool *p)
{
	const char *v = getenv(ENV_LISTEN_FD), *path = getenv(ENV_LISTEN_PATH);
	int fd, on = 0;
	socklen_t len = sizeof(on);
	char *end;

	if (v == NULL)
		return 0;
	fd = (int)strtol(v, &end, 10);
	if (*end != '\0' || fd < 3 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on) {
		fprintf(stderr, "berth: %s=%s is not a listening socket\n",
		    ENV_LISTEN_FD, v);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC); /* no other program gets it */
	p->listen_fd = fd;
	p->activated = getenv(ENV_ACTIVATED) != NULL;
	unsetenv(ENV_ACTIVATED);
	snprintf(p->path, sizeof(p->path), "%s",
	    path != NULL ? path : p->cfg->socket);
	if (strcmp(p->path, p->cfg->socket) != 0)
		fprintf(stderr,
		    "berth: the configured socket is now %s; a restart "
		    "keeps %s (stop and start to move it)\n",
		    p->cfg->socket, p->path);
	/* Who may connect follows the configuration read now. */
	if (!p->activated &&
	    ((p->cfg->socket_group >= 0 &&
		 chown(p->path, (uid_t)-1, (gid_t)p->cfg->socket_group) != 0) ||
		chmod(p->path, (mode_t)p->cfg->socket_mode) != 0))
		fprintf(stderr,
		    "berth: cannot give %s [server] socket_mode %04o, "
		    "socket_group %ld: %s; it keeps its mode\n",
		    p->path, p->cfg->socket_mode, p->cfg->socket_group,
		    strerror(errno));
	unsetenv(ENV_LISTEN_FD);
	unsetenv(ENV_LISTEN_PATH);
	return 1;
}

/* After a restart, once the new workers run: tell the previous image's
 * workers (BERTH_DRAIN_PIDS, our children still) to finish their requests
 * and leave, and keep them to reap.  Their number. */
static int
pool_adopt(struct pool *p)
{
	const char *v = getenv(ENV_DRAIN_PIDS);
	char *end;
	long pid;
	int n = 0;

	while (v != NULL && *v != '\0') {
		pid = strtol(v, &end, 10);
		if (end == v || pid <= 1)
			break;
		if (p->ndraining < MAX_DRAINING &&
		    kill((pid_t)pid, SIGTERM) == 0) {
			p->draining[p->ndraining++] = (pid_t)pid;
			n++;
		}
		v = *end == ',' ? end + 1 : end;
	}
	unsetenv(ENV_DRAIN_PIDS);
	return n;
}

/* Socket activation (sd_listen_fds(3), without libsystemd): when
 * LISTEN_PID is our pid, the service manager passed LISTEN_FDS sockets
 * from fd 3 on (berth.socket: one unix stream socket).  Take fd 3 as the
 * pool's socket; its name is the manager's, which keeps it across our
 * stops (pool_stop leaves it).  1 when taken, 0 when none was passed, -1
 * when what was passed is not one listening unix socket.  The LISTEN_*
 * variables are removed so that no child takes them for its own. */
static int
pool_activated(struct pool *p)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int on = 0;
	socklen_t olen = sizeof(on);

	if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != getpid())
		return 0;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	memset(&sa, 0, sizeof(sa));
	if (strcmp(fds, "1") != 0 ||
	    getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) != 0 || !on ||
	    getsockname(3, (struct sockaddr *)&sa, &len) != 0 ||
	    sa.sun_family != AF_UNIX || sa.sun_path[0] == '\0') {
		fprintf(stderr,
		    "berth: the service manager passed LISTEN_FDS=%s; "
		    "expected one listening unix socket with a path\n",
		    fds);
		return -1;
	}
	fcntl(3, F_SETFD, FD_CLOEXEC);
	p->listen_fd = 3;
	p->activated = true;
	snprintf(p->path, sizeof(p->path), "%s", sa.sun_path);
	if (strcmp(p->path, p->cfg->socket) != 0)
		fprintf(stderr,
		    "berth: serving on %s, the socket the service manager "
		    "passed ([server] socket %s is not used)\n",
		    p->path, p->cfg->socket);
	return 1;
}

/* A fresh listening socket at cfg->socket (its directory made, a stale
 * socket file replaced), with [server] socket_mode and socket_group so
 * that the web server's user may connect; 0 or -1 after logging. */
static int
pool_listen(struct pool *p)
{
	const char *sock = p->cfg->socket;
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", sock);
	if (strrchr(dir, '/') != NULL && strrchr(dir, '/') != dir) {
		*strrchr(dir, '/') = '\0';
		mkdir(dir, 0755); /* e.g. <data_dir>/run; may exist */
	}
	unlink(sock);
	p->listen_fd = FCGX_OpenSocket(sock, 128);
	if (p->listen_fd < 0) {
		fprintf(stderr, "berth: cannot listen on %s: %s\n", sock,
		    strerror(errno));
		return -1;
	}
	fcntl(p->listen_fd, F_SETFD, FD_CLOEXEC);
	/* The web server's user must be able to connect: by default
	 * anyone (0666); socket_mode 0660 with socket_group keeps other
	 * local users from going around the web server. */
	if ((p->cfg->socket_group >= 0 &&
		chown(sock, (uid_t)-1, (gid_t)p->cfg->socket_group) != 0) ||
	    chmod(sock, (mode_t)p->cfg->socket_mode) != 0) {
		fprintf(stderr,
		    "berth: cannot give %s [server] socket_mode %04o, "
		    "socket_group %ld: %s\n",
		    sock, p->cfg->socket_mode, p->cfg->socket_group,
		    strerror(errno));
		close(p->listen_fd);
		p->listen_fd = -1;
		unlink(sock);
		return -1;
	}
	snprintf(p->path, sizeof(p->path), "%s", sock);
	return 0;
}

int
serve_pool(const struct config *cfg, struct store *st)
{
	static struct pool p;
	int inherited, activated, adopted, sig;
	long long next;

	p.cfg = cfg;
	p.st = st;
	p.n = cfg->workers;
	/* One more child delivers the events (outbox.h), restarted like a
	 * worker and stopped with them. */
	if (st->notify.nurls > 0)
		p.slot[p.n++].deliverer = true;
	/* Every signal the parent acts on is taken by sigtimedwait (after a
	 * restart they are blocked already: the mask survives exec). */
	sigemptyset(&p.sigs);
	sigaddset(&p.sigs, SIGTERM);
	sigaddset(&p.sigs, SIGINT);
	sigaddset(&p.sigs, SIGHUP);
	sigaddset(&p.sigs, SIGUSR2);
	sigaddset(&p.sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &p.sigs, NULL);
	signal(SIGCHLD, SIG_DFL); /* never auto-reaped */

	/* main.c opened the store (and so migrated it) once; each worker
	 * opens its own after fork (fcgi_loop). */
	store_close(st);

	if (FCGX_Init() != 0)
		return 1;
	inherited = pool_inherit(&p);
	activated = inherited == 0 ? pool_activated(&p) : 0;
	if (inherited < 0 || activated < 0 ||
	    (inherited == 0 && activated == 0 && pool_listen(&p) != 0))
		return 1;
	pool_start_due(&p);
	if (inherited) {
		adopted = pool_adopt(&p);
		fprintf(stderr,
		    "berth: restarted: %d workers on %s, data in %s; "
		    "%d workers of the previous pool drain\n",
		    cfg->workers, p.path, st->data_dir, adopted);
	} else
		fprintf(stderr, "berth: %d workers on %s%s, data in %s%s\n",
		    cfg->workers, p.path,
		    activated ? " (from the service manager)" : "",
		    st->data_dir,
		    st->notify.nurls > 0 ? "; events delivered" : "");
	/* Serving: the socket listens (connections queue in its backlog
	 * until a worker accepts) and the workers are forked. */
	notify("READY=1\nMAINPID=%d\nSTATUS=%d workers on %s", (int)getpid(),
	    cfg->workers, p.path);
	for (;;) {
		next = pool_start_due(&p);
		sig = pool_wait(&p, next);
		pool_reap(&p, true);
		if (sig == SIGTERM || sig == SIGINT) {
			notify("STOPPING=1\nSTATUS=stopping on SIG%s",
			    sigabbrev_np(sig));
			return pool_stop(&p, sig);
		}
		if (sig == SIGHUP || sig == SIGUSR2) {
			notify("RELOADING=1\nMONOTONIC_USEC=%lld\n"
			       "STATUS=restarting",
			    now_ms() * 1000);
			pool_reexec(&p);
			/* Still here: refused or failed (logged); the pool
			 * goes on as it was. */
			notify("READY=1\nSTATUS=%d workers on %s (restart "
			       "refused: see the log)",
			    cfg->workers, p.path);
		}
	}
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
	if (stat(marker, &sb) == 0 &&
	    time(NULL) - sb.st_mtime < sweep_every(st))
		return;
	fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return; /* no uploads/ yet: nothing to sweep */
	close(fd);
	upload_expire(st, st->upload_expiry);
}

int
serve_cgi(const struct config *cfg, struct store *st)
{
	struct io io = { NULL, cgi_read, cgi_write, cgi_param };

	metrics_open(st->data_dir);
	handle(&io, cfg, st, true);
	cgi_maybe_sweep(st);
	store_close(st);
	return 0;
}
