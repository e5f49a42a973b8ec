/*
 * Browsers on other origins (CORS) and what they may do here: see cors.c.
 */
#ifndef SANDRUN_CORS_H
#define SANDRUN_CORS_H

#include <stdbool.h>

#include "request.h"

/*
 * Runs before any route. Sets req->cors for an allowed origin; answers a
 * preflight (OPTIONS) itself; refuses (403 origin_not_allowed) a request
 * that changes state (any method but GET, HEAD, OPTIONS) sent by a page
 * of a foreign origin. Returns true when the route may run, false when
 * the request was answered here.
 */
bool cors_admit(struct request *req);

#endif
