/* notify.c -- the notify socket protocol; see notify.h.  Called by the
 * pool parent in server.c. */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
notify(const char *fmt, ...)
{
	static bool told;
	const char *where = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	char msg[512];
	socklen_t len;
	size_t n;
	va_list ap;
	int fd, rc;

	if (where == NULL || where[0] == '\0')
		return 0;
	n = strlen(where);
	if ((where[0] != '/' && where[0] != '@') || n >= sizeof(sa.sun_path)) {
		errno = EAFNOSUPPORT; /* vsock and the like: not ours */
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, where, n);
	if (where[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: no NUL terminator */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (where[0] == '@' ? 0 : 1));
	va_start(ap, fmt);
	rc = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= sizeof(msg)) {
		errno = EMSGSIZE;
		goto fail;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	rc = (int)sendto(fd, msg, (size_t)rc, MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, len);
	close(fd);
	if (rc < 0)
		goto fail;
	return 1;
fail:
	if (!told)
		fprintf(stderr, "berth: NOTIFY_SOCKET=%s: %s\n", where,
		    strerror(errno));
	told = true;
	return -1;
}
