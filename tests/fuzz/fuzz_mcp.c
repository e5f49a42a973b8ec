/*
 * libFuzzer target for the MCP front (fcgi/mcp.c): JSON-RPC parsing,
 * message-shape checks, the dispatcher and the tools' argument checker,
 * with a tool caller that only echoes (no Redis). The first byte picks
 * the MCP-Protocol-Version header (none, 2025-06-18, 2025-03-26, an
 * unknown one) or, with its top bit set, the argument checker alone on
 * one tool; the rest is the POST body (or the arguments). What must hold:
 * the status is 200 with an answer, 202 without one, or 400 with a
 * JSON-RPC error; every answer is JSON-RPC 2.0; a tool is only called
 * with arguments its schema accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *echo_tool(void *ctx, const struct mcp_tool *tool, json_t *args)
{
	char field[256], reason[512];

	(void)ctx;
	/* The dispatcher checked them: checking again must pass. */
	if (mcp_args_check(tool, args, field, sizeof field, reason, sizeof reason) != 0)
		abort();
	return mcp_tool_result(json_deep_copy(args), false);
}

static void answer_check(const json_t *a)
{
	const json_t *v = json_object_get(a, "jsonrpc");

	if (!json_is_object(a) || !json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
		abort();
	if (!json_object_get(a, "id") || (!json_object_get(a, "result") == !json_object_get(a, "error")))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const headers[] = { NULL, "2025-06-18", "2025-03-26", "2099-01-01" };
	struct mcp_exchange x = { 0 };
	size_t i;
	json_t *a;

	if (size == 0)
		return 0;
	if (data[0] & 0x80) {
		const struct mcp_tool *tool = &mcp_tools[(data[0] & 0x7f) % mcp_tool_count];
		json_t *args = json_loadb((const char *)data + 1, size - 1, 0, NULL);
		char field[256], reason[512];

		if (args) {
			if (mcp_args_check(tool, args, field, sizeof field, reason, sizeof reason) != 0 && !*reason)
				abort();
			json_decref(args);
		}
		return 0;
	}
	x.version_header = headers[data[0] % 4];
	x.call = echo_tool;
	mcp_process(&x, (const char *)data + 1, size - 1);
	switch (x.http_status) {
	case 202:
		if (x.reply)
			abort();
		break;
	case 200:
	case 400:
		if (!x.reply)
			abort();
		if (json_is_array(x.reply)) {
			if (x.http_status != 200 || json_array_size(x.reply) == 0)
				abort();
			json_array_foreach(x.reply, i, a)
				answer_check(a);
		} else {
			answer_check(x.reply);
			if (x.http_status == 400 && !json_object_get(x.reply, "error"))
				abort();
		}
		break;
	default:
		abort();
	}
	json_decref(x.reply);
	return 0;
}
