"""``sandrun mcp``: the MCP stdio transport, forwarded to the service's ``/mcp``.

An MCP client (an agent) starts ``sandrun mcp`` and writes JSON-RPC
messages to its stdin, one per line; each is POSTed to ``$SANDRUN_URL/mcp``
(Streamable HTTP transport) and every JSON-RPC message of the answer is
written to stdout, one per line, flushed at once. stdout carries nothing
else; diagnostics go to stderr.

- The ``Mcp-Session-Id`` the service answers with is sent on every later
  request, and so is ``MCP-Protocol-Version``: the version the
  ``initialize`` result named (or a header the service sent).
- A notification or response (no ``id`` to answer) gets ``202`` and writes
  nothing.
- An answer that is ``text/event-stream`` is read to its end; each event's
  data is one message.
- An HTTP error, or no answer, becomes a JSON-RPC error reply to the
  request's id (code -32603 ... with the service's error object as
  ``data``), unless the body already is a JSON-RPC message, which is
  passed on; a line that is not JSON is a ``-32700`` parse error.
- A ``404`` to a request carrying a session id means that session is gone:
  the id is forgotten, so the agent's next ``initialize`` starts a new one.
- At the end of stdin the session is ended with ``DELETE /mcp``.
"""
from __future__ import annotations

import http.client
import json
import sys
from typing import IO, Any, Dict, List, Optional

from .errors import APIError, TransportError
from .sse import iter_events
from .transport import Transport

PARSE_ERROR = -32700
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000


class Forwarder:
    """Forwards JSON-RPC messages to ``base_url + "/mcp"``; see the module doc."""

    def __init__(self, base_url: Optional[str] = None, cacert: Optional[str] = None,
                 timeout: float = 330.0) -> None:
        self.http = Transport(base_url, cacert, timeout=timeout)
        self.session_id: Optional[str] = None
        self.protocol_version: Optional[str] = None

    def _headers(self) -> Dict[str, str]:
        h = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if self.session_id:
            h["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            h["MCP-Protocol-Version"] = self.protocol_version
        return h

    def handle_line(self, line: str) -> List[str]:
        """One line of stdin: the lines to write to stdout."""
        try:
            msg = json.loads(line)
        except ValueError as e:
            return [_error_line(None, PARSE_ERROR, f"Parse error: {e}")]
        ids = _request_ids(msg)
        body = json.dumps(msg, separators=(",", ":")).encode("utf-8")
        try:
            resp = self.http.open("POST", "/mcp", body=body, headers=self._headers())
        except APIError as e:
            if e.status == 404 and self.session_id:
                self.session_id = None  # the MCP session expired: the next initialize starts another
            passed = _jsonrpc_lines(e.body) if e.body and "jsonrpc" in e.body else []
            if passed:
                return passed
            code = SERVER_ERROR if e.status < 500 else INTERNAL_ERROR
            data = e.body or {"status": e.status}
            data.setdefault("status", e.status)
            return [_error_line(i, code, f"HTTP {e.status}: {e.error}"
                                + (f": {e.reason}" if e.reason else ""), data) for i in ids]
        except TransportError as e:
            return [_error_line(i, INTERNAL_ERROR, f"the service did not answer: {e}") for i in ids]
        out: List[str] = []
        try:
            sid = resp.headers.get("Mcp-Session-Id")
            if sid:
                self.session_id = sid
            pv = resp.headers.get("MCP-Protocol-Version")
            if pv:
                self.protocol_version = pv
            ctype = (resp.headers.get("Content-Type") or "").lower()
            if resp.status == 202 or resp.status == 204:
                resp.read()
                return []
            if "text/event-stream" in ctype:
                for ev in iter_events(resp):
                    if ev.data.strip():
                        out += self._messages(ev.data)
            else:
                data = resp.read().decode("utf-8", "replace")
                if data.strip():
                    out += self._messages(data)
        except (OSError, ValueError, http.client.HTTPException) as e:
            seen = {json.loads(o).get("id") for o in out}
            out += [_error_line(i, INTERNAL_ERROR, f"the answer broke off: {e}") for i in ids if i not in seen]
        finally:
            resp.close()
        return out

    def _messages(self, text: str) -> List[str]:
        try:
            value = json.loads(text)
        except ValueError:
            return [_error_line(None, INTERNAL_ERROR, "the service answered with something that is not JSON")]
        for m in value if isinstance(value, list) else [value]:
            if isinstance(m, dict):
                result = m.get("result")
                if isinstance(result, dict) and isinstance(result.get("protocolVersion"), str) \
                        and "serverInfo" in result:
                    self.protocol_version = result["protocolVersion"]
        return [json.dumps(value, separators=(",", ":"), ensure_ascii=False)]

    def close(self) -> None:
        if not self.session_id:
            return
        try:
            self.http.request("DELETE", "/mcp", headers=self._headers(), timeout=10)
        except (APIError, TransportError):
            pass


def _request_ids(msg: Any) -> List[Any]:
    """The ids of the requests in a message or batch (what must be answered)."""
    msgs = msg if isinstance(msg, list) else [msg]
    return [m["id"] for m in msgs if isinstance(m, dict) and "method" in m and m.get("id") is not None]


def _jsonrpc_lines(body: Dict[str, Any]) -> List[str]:
    return [json.dumps(body, separators=(",", ":"), ensure_ascii=False)]


def _error_line(req_id: Any, code: int, message: str, data: Any = None) -> str:
    err: Dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return json.dumps({"jsonrpc": "2.0", "id": req_id, "error": err}, separators=(",", ":"),
                      ensure_ascii=False)


def serve(base_url: Optional[str] = None, cacert: Optional[str] = None,
          stdin: Optional[IO[str]] = None, stdout: Optional[IO[str]] = None) -> int:
    """Runs the stdio transport until stdin ends; 0."""
    fin = stdin or sys.stdin
    fout = stdout or sys.stdout
    fwd = Forwarder(base_url, cacert)
    try:
        for line in fin:
            if not line.strip():
                continue
            for out in fwd.handle_line(line):
                fout.write(out + "\n")
                fout.flush()
    finally:
        fwd.close()
    return 0
