/* notify.h -- telling a service manager how the pool is doing, with the
 * plain notify socket protocol of systemd (sd_notify(3), "Notes": one
 * datagram of newline-separated VAR=value lines to the unix socket that
 * NOTIFY_SOCKET names; a leading '@' is the abstract namespace).  No
 * libsystemd: the protocol is one sendto().
 *
 * The pool parent sends (cgi/server.c):
 *   READY=1, STATUS=...      its workers have started on the socket
 *   RELOADING=1, MONOTONIC_USEC=...
 *                            a SIGHUP restart begins; READY=1 follows
 *                            once the new image's workers run, or at once
 *                            when the restart is refused
 *   STOPPING=1               a stop begins
 * Without NOTIFY_SOCKET (not under systemd, or not Type=notify) nothing
 * is sent.  NOTIFY_SOCKET stays in the environment: a restart re-executes
 * the binary, which must find it again.  Workers never send. */
#ifndef BERTH_NOTIFY_H
#define BERTH_NOTIFY_H

/* notify -- send the printf-style message to NOTIFY_SOCKET, if set.
 * Returns 1 when sent, 0 when there is no NOTIFY_SOCKET, -1 when it could
 * not be sent (logged once). */
int notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
