/* /logs/{id}/stream over WebSocket (ws/logs.c). */
#ifndef SANDRUN_WS_LOGS_H
#define SANDRUN_WS_LOGS_H

#include "conn.h"
#include "rconn.h"

/* The connection's worker: streams the job's log into c, then queues the close. */
void ws_logs_run(struct ws_conn *c, struct rconn *redis);

#endif
