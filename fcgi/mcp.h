/*
 * The Model Context Protocol's JSON-RPC side (SPEC §8, docs/api.md "MCP"),
 * as pure functions: a POST /mcp body in, the HTTP status and the JSON-RPC
 * answer out. No Redis, no FastCGI, no logging: tests/fuzz/fuzz_mcp.c runs
 * it with a tool caller of its own. fcgi/mcp_route.c is the HTTP front
 * (method, Origin, Accept, body size), fcgi/mcp_tools.c runs the tools.
 */
#ifndef SANDRUN_MCP_H
#define SANDRUN_MCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The newest revision we speak: the answer to an initialize asking for one we do not know. */
#define MCP_PROTOCOL_LATEST "2025-11-25"
/* At most this many messages in one batch (2025-03-26 and older only). */
#define MCP_BATCH_MAX 32

struct mcp_tool {
	const char *name;
	const char *description;     /* one line an LLM can act on */
	const char *input_schema;    /* JSON Schema text (an object schema) */
};

/* The tools, in tools/list order; mcp_tool_count of them. */
extern const struct mcp_tool mcp_tools[];
extern const size_t mcp_tool_count;

const struct mcp_tool *mcp_tool_find(const char *name);

/*
 * Checks a tool's arguments against its input schema (the subset our
 * schemas use: type, properties, required, additionalProperties, items,
 * enum, minimum, maximum, maxLength, maxItems, maxProperties). 0, or -1 with the field
 * at fault ("" for the whole object) and a sentence in field/reason.
 */
int mcp_args_check(const struct mcp_tool *tool, json_t *args, char *field, size_t fieldlen, char *reason,
		   size_t reasonlen);

/* Is `version` a protocol revision we speak? */
bool mcp_version_supported(const char *version);

/*
 * Runs one tool whose arguments passed mcp_args_check: returns a
 * CallToolResult ({"content": [...], "isError"?, "structuredContent"?}),
 * a new reference, never NULL.
 */
typedef json_t *(*mcp_call_fn)(void *ctx, const struct mcp_tool *tool, json_t *args);

struct mcp_exchange {
	/* in */
	const char *version_header;  /* the MCP-Protocol-Version header, or NULL */
	mcp_call_fn call;
	void *ctx;
	/* out */
	int http_status;             /* 200 with reply, 202 without, 400 with reply */
	json_t *reply;               /* NULL for 202; the caller frees it */
	bool initialized;            /* an initialize was answered (a session id goes with it) */
};

/* Processes one POST body (a message or, for older clients, a batch). */
void mcp_process(struct mcp_exchange *x, const char *body, size_t len);

/* A CallToolResult for an error: text is `error` (our {"error", "reason", ...} object, stolen). */
json_t *mcp_tool_error(json_t *error);
/* A CallToolResult for a success: the structured result (stolen) also as JSON text. */
json_t *mcp_tool_result(json_t *structured, bool is_error);

#endif
