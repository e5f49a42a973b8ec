#ifndef SANDRUN_FCGI_KEEPALIVE_H
#define SANDRUN_FCGI_KEEPALIVE_H

#include <fcgiapp.h>
#include <pthread.h>

/* A connection nginx keeps (FCGI_KEEP_CONN) between requests: fcgi/keepalive.c. */

enum keepalive_wait {
	KEEPALIVE_REQUEST,  /* the kept connection has something to read: FCGX_Accept_r reads it */
	KEEPALIVE_YIELDED,  /* given up for a connection waiting to be accepted; the caller holds
			       the accept lock */
	KEEPALIVE_CLOSED,   /* given up (the responder is stopping): the caller stops */
};

/* Waits for the next request on the kept connection of `fcgx` (ipcFd >= 0),
 * giving the connection up when a new one waits on `listen_fd` and no
 * other thread of the process is accepting (`accept_lock` is free). */
enum keepalive_wait keepalive_wait(FCGX_Request *fcgx, int listen_fd, pthread_mutex_t *accept_lock);

/* After a request: keeps its connection only if its body has been read to
 * the end (what is left of a small one is read and dropped here). */
void keepalive_finish(FCGX_Request *fcgx);

#endif
