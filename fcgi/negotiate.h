/*
 * Pure decisions about who is asking, kept apart from the request plumbing
 * so unit tests can drive them: the format of GET /logs/{id} (SPEC §2) and
 * whether a browser's Origin is this service's own or an allowed one (CORS,
 * fcgi/cors.c).
 */
#ifndef SANDRUN_NEGOTIATE_H
#define SANDRUN_NEGOTIATE_H

#include <stdbool.h>

/*
 * Does a GET /logs/{id} without ?format want JSON? By Accept where it says:
 * application/json named (with q > 0) and not after text/plain or
 * text/html → JSON; text/plain or text/html named → text. Otherwise (no
 * Accept, * / *, anything else) by the client: terminal tools (curl,
 * Wget, HTTPie, PowerShell, fetch, xh, lynx, w3m) → text; every other
 * program (python-requests, aiohttp, httpx, node, a browser) → JSON.
 */
bool logs_want_json(const char *accept, const char *user_agent);

/* Is `origin` one of the space-separated origins of `list` (exactly, ASCII case aside)? */
bool origin_listed(const char *list, const char *origin);

/* Is `origin` this service itself: `scheme`://`host` (host as the Host header has it, port included)? */
bool origin_is_self(const char *origin, const char *scheme, const char *host);

#endif
