/*
 * POST /mcp: the Model Context Protocol's Streamable HTTP transport, JSON
 * answers only (SPEC §8, docs/api.md "MCP"). This is the HTTP front: the
 * method, Accept, Content-Type, the body's size and the protocol headers;
 * fcgi/mcp.c does JSON-RPC and fcgi/mcp_tools.c the tools. Origin (the MCP
 * spec's DNS-rebinding warning) is checked for every route before any
 * handler runs (fcgi/cors.c): a POST from a page of neither this service
 * nor an origin in cors_origins is a 403 naming Origin.
 *
 * Stateless, like every responder: an initialize gets a fresh random
 * Mcp-Session-Id (the protocol's session, nothing to do with /sessions),
 * nothing is stored, and any later request is accepted with a well-formed
 * id or none. GET (the server-to-client SSE stream) and DELETE (ending the
 * MCP session) are 405: there is no stream to open and nothing to end.
 */
#include "config.h"
#include "jobid.h"
#include "log.h"
#include "mcp.h"
#include "mcp_tools.h"
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest POST /mcp body: nginx's client_max_body_size for /mcp says
 * the same. Inline files obey POST /submit's limits on top of it. */
#define MCP_BODY_MAX (16 * 1024 * 1024)
/* The longest Mcp-Session-Id we accept (ours are 30 characters). */
#define MCP_SESSION_ID_MAX 128

/* Visible ASCII (0x21 to 0x7E), as the spec says a session id is. */
static bool session_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MCP_SESSION_ID_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static bool accept_ok(const char *accept)
{
	return !*accept || strstr(accept, "application/json") || strstr(accept, "*/*") ||
	       strstr(accept, "application/*");
}

void handle_mcp(struct request *req, const char *unused)
{
	static const char not_allowed[] = "{\"error\":\"Method not allowed\",\"reason\":\"this MCP endpoint answers "
					  "POST only: no server-sent stream, no session to end\"}\n";
	const char *sid = request_param(req, "HTTP_MCP_SESSION_ID");
	struct mcp_exchange x = { 0 };
	struct buf body = { 0 };
	char chunk[65536], headers[128] = "", newsid[JOBID_LEN + 1];
	size_t n;

	(void)unused;
	if (strcmp(req->method, "POST") != 0) {
		request_drain(req);
		respond_bytes(req, 405, "application/json", not_allowed, sizeof not_allowed - 1, "Allow: POST\r\n");
		return;
	}
	if (!accept_ok(req->accept)) {
		request_drain(req);
		respond_error(req, 406, NULL, "Accept", "this endpoint answers application/json; say so in Accept");
		return;
	}
	if (strncasecmp(req->content_type, "application/json", 16) != 0) {
		request_drain(req);
		respond_error(req, 415, NULL, "Content-Type", "send one JSON-RPC message as application/json");
		return;
	}
	if (sid && !session_id_valid(sid)) {
		request_drain(req);
		respond_error(req, 400, NULL, "Mcp-Session-Id", "Mcp-Session-Id must be 1 to %d visible ASCII characters",
			      MCP_SESSION_ID_MAX);
		return;
	}
	if (req->content_length > MCP_BODY_MAX) {
		request_drain(req);
		respond_error(req, 413, NULL, NULL, "the body is larger than %d bytes", MCP_BODY_MAX);
		return;
	}
	while ((n = request_read(req, chunk, sizeof chunk)) > 0) {
		if (body.len + n > MCP_BODY_MAX) {
			request_drain(req);
			free(body.data);
			respond_error(req, 413, NULL, NULL, "the body is larger than %d bytes", MCP_BODY_MAX);
			return;
		}
		buf_append(&body, chunk, n);
	}
	x.version_header = request_param(req, "HTTP_MCP_PROTOCOL_VERSION");
	if (x.version_header && !*x.version_header)
		x.version_header = NULL;
	x.call = mcp_tools_call;
	x.ctx = req;
	mcp_process(&x, body.data ? body.data : "", body.len);
	free(body.data);
	if (x.initialized && prefixed_id_generate("mcp-", newsid) == 0)
		snprintf(headers, sizeof headers, "Mcp-Session-Id: %s\r\n", newsid);
	if (!x.reply) {
		respond_bytes(req, x.http_status, "application/json", "", 0, headers);
		return;
	}
	respond_json(req, x.http_status, x.reply, headers);
}
