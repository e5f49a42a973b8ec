#ifndef SANDRUN_FCGI_AUTH_H
#define SANDRUN_FCGI_AUTH_H

#include "request.h"

#include <stdbool.h>

/* Optional API keys (fcgi/auth.c): true when the request may go on (no
 * keys file, a route that needs no key, or a valid key: req->client_key
 * and req->limits are then the key's); false after answering 401. */
bool auth_admit(struct request *req);

#endif
