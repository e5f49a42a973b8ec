/*
 * Kept FastCGI connections (FCGI_KEEP_CONN): nginx's "keepalive" cache of
 * the upstream sandrun_fcgi_kept with "fastcgi_keep_conn on", used by the
 * short GET routes (nginx/sandrun.conf.in). A kept connection spares nginx
 * and the responder a connect, an accept and libfcgi's close (a shutdown,
 * then a wait for nginx's side to close) per request: about half of what a
 * GET /status costs the responder (issue 14, measured).
 *
 * libfcgi serves one connection per thread: after FCGX_Finish_r a kept
 * connection stays open in its FCGX_Request, and the next FCGX_Accept_r
 * reads the next request from it instead of accepting. So a thread waits
 * on its kept connection for as long as nginx leaves it idle, and idle
 * kept connections (up to nginx's keepalive count per nginx worker) hold
 * threads. They must never starve a connection waiting to be accepted
 * (a request of another route, another nginx worker, a kept connection
 * nginx could not reuse): a thread waiting on an idle kept connection
 * watches the listening socket too, and when a connection waits there and
 * no other thread of this process is accepting (the accept lock is free),
 * it gives its kept connection up (nginx notices the close and drops it
 * from its cache; a GET it raced onto it is tried again by nginx, as for
 * any cached connection) and accepts. When another thread is accepting,
 * that one takes the new connection: the waiting threads look again a
 * moment later, not at once (the listening socket stays readable until
 * the accept, and many threads may be waiting).
 *
 * A request whose body the route did not read to the end would leave its
 * records ahead of the next request on the connection: what is left of a
 * small body is read and dropped; after a larger one the connection is
 * closed, as without keep-alive.
 */
#include "keepalive.h"
#include "request.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>

/* Left over of a body, read and dropped to keep the connection (more: close). */
#define KEEPALIVE_DRAIN_MAX (64 * 1024)
/* Another thread is accepting: look at the listening socket again after this. */
#define KEEPALIVE_YIELD_PAUSE_MS 10

enum keepalive_wait keepalive_wait(FCGX_Request *fcgx, int listen_fd, pthread_mutex_t *accept_lock)
{
	bool other_accepting = false;

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = fcgx->ipcFd, .events = POLLIN },
			{ .fd = listen_fd, .events = POLLIN },
		};
		int n;

		if (responder_stopping()) {
			/* Stopping: take no new request here (nginx sees the close). */
			FCGX_Free(fcgx, 1);
			return KEEPALIVE_CLOSED;
		}
		n = poll(fds, other_accepting ? 1 : 2, other_accepting ? KEEPALIVE_YIELD_PAUSE_MS : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return KEEPALIVE_REQUEST;   /* FCGX_Accept_r finds out what is wrong */
		}
		/* A request, or nginx closed it (FCGX_Accept_r then closes it and accepts). */
		if (fds[0].revents)
			return KEEPALIVE_REQUEST;
		if (other_accepting || !(fds[1].revents & POLLIN)) {
			other_accepting = false;
			continue;
		}
		if (pthread_mutex_trylock(accept_lock) != 0) {
			other_accepting = true;
			continue;
		}
		FCGX_Free(fcgx, 1);
		return KEEPALIVE_YIELDED;
	}
}

void keepalive_finish(FCGX_Request *fcgx)
{
	char buf[4096];
	long drained = 0;

	if (!fcgx->keepConnection || !fcgx->in)
		return;
	while (drained <= KEEPALIVE_DRAIN_MAX) {
		int n = FCGX_GetStr(buf, (int)sizeof buf, fcgx->in);

		if (n <= 0)
			break;
		drained += n;
	}
	if (!FCGX_HasSeenEOF(fcgx->in) || FCGX_GetError(fcgx->in) != 0)
		fcgx->keepConnection = 0;
}
