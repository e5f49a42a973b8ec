/*
 * The session routes (SPEC §7, docs/api.md "Sessions"): POST /sessions,
 * and everything under /sessions/{id}. fcgi/sessions.c; the pure parsing
 * of their input is fcgi/session_body.c.
 */
#ifndef SANDRUN_SESSIONS_H
#define SANDRUN_SESSIONS_H

#include "request.h"

/* POST /sessions */
void handle_session_create(struct request *req, const char *unused);
/* /sessions/{id}[/exec|/files[/{path}]|/archive|/pause|/resume|/snapshot], any method: sid is checked */
void handle_session(struct request *req, const char *sid);

/* The query parameters any /sessions/{id} route may take; each sub-route checks its own. */
extern const char *const session_route_params[];

#endif
