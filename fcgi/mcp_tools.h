/*
 * The MCP tools (fcgi/mcp.h lists them and their schemas): each runs as
 * one or more in-process subrequests through the HTTP API's own routes
 * (fcgi/routes.c), so validation, quotas, held-request accounting and
 * error objects are exactly the API's.
 */
#ifndef SANDRUN_MCP_TOOLS_H
#define SANDRUN_MCP_TOOLS_H

#include <jansson.h>

#include "mcp.h"

/* An mcp_call_fn: ctx is the POST /mcp struct request. Returns a CallToolResult (new reference). */
json_t *mcp_tools_call(void *ctx, const struct mcp_tool *tool, json_t *args);

#endif
