/*
 * libFuzzer target for the session routes' input (fcgi/session_body.c).
 * The first byte picks the parser, the rest is its input: the create
 * body, the exec body (streamed or not), a file route's raw path, the
 * mode and flag query values. Each must answer 0 or 400 (never crash),
 * and what it accepts must hold: a create within the limits, an exec
 * request object with op "exec" and a timeout in range, a decoded path
 * that passes the path check again, under the size bound, NUL-free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "session_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sandrun_limits limits;
static int limits_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_body_error err;
	const char *in;
	size_t len;

	if (!limits_ready) {
		/* sandrun.conf's defaults (common/config.c) for the limits these parsers read */
		limits.memory_mb_min = 16;
		limits.memory_mb_max = 4096;
		limits.memory_mb_default = 512;
		limits.timeout_default = 300;
		limits.timeout_max = 3600;
		limits.session_ttl_default = 1800;
		limits.session_ttl_max = 3600;
		limits.session_idle_default = 300;
		limits.session_idle_max = 3600;
		limits_ready = 1;
	}
	if (size == 0)
		return 0;
	in = (const char *)data + 1;
	len = size - 1;
	switch (data[0] % 5) {
	case 0: {
		struct session_create_req c;
		int rc = session_create_parse(in, len, &limits, &c, &err);

		if (rc == 0) {
			if (c.memory_mb < limits.memory_mb_min || c.memory_mb > limits.memory_mb_max ||
			    c.ttl_seconds < 1 || c.ttl_seconds > limits.session_ttl_max ||
			    c.idle_timeout_seconds < 1 || c.idle_timeout_seconds > limits.session_idle_max ||
			    !json_is_object(c.env) || !*c.environment)
				abort();
			session_create_req_free(&c);
		} else if (rc != 400 || c.env != NULL) {
			abort();
		}
		break;
	}
	case 1:
	case 2: {
		json_t *req = NULL;
		int64_t t = 0;
		int rc = session_exec_parse(in, len, &limits, data[0] % 5 == 2, &req, &t, &err);

		if (rc == 0) {
			const char *op = json_string_value(json_object_get(req, "op"));

			if (!op || strcmp(op, "exec") != 0 || t < 1 || t > limits.timeout_max ||
			    json_integer_value(json_object_get(req, "timeout")) != t ||
			    (!json_object_get(req, "command") && !json_object_get(req, "code")))
				abort();
			free(json_dumps(req, JSON_COMPACT));
			json_decref(req);
		} else if (rc != 400 || req != NULL) {
			abort();
		}
		break;
	}
	case 3: {
		char *out = malloc(SESSION_PATH_MAX_BYTES + 1);
		int rc;

		if (!out)
			abort();
		rc = session_path_from_uri(in, len, out, SESSION_PATH_MAX_BYTES + 1, &err);
		if (rc == 0) {
			size_t olen = strlen(out);

			if (olen > SESSION_PATH_MAX_BYTES || session_path_check(out, olen, "path", &err) != 0)
				abort();
		} else if (rc != 400 || out[0] != '\0') {
			abort();
		}
		free(out);
		break;
	}
	default: {
		char *text = malloc(len + 1);
		int mode = -1;
		bool v;

		if (!text)
			abort();
		memcpy(text, in, len);
		text[len] = '\0';
		if (session_mode_parse(text, &mode, &err) == 0 && (mode < 0 || mode > 0777))
			abort();
		session_flag_parse(text, "recursive", &v, &err);
		free(text);
		break;
	}
	}
	return 0;
}
