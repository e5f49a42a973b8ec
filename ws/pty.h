/* /sessions/{id}/pty: a terminal into a session (ws/pty.c). */
#ifndef SANDRUN_WS_PTY_H
#define SANDRUN_WS_PTY_H

#include "conn.h"
#include "rconn.h"

/* The connection's worker: opens the terminal, relays its output into c and c's input to Redis. */
void ws_pty_run(struct ws_conn *c, struct rconn *redis);

#endif
