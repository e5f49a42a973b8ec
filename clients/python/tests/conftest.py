"""Shared by the tests: the package importable without installing it, a tiny
local HTTP server whose answers a test scripts, and the real stack's URL.

Tests marked ``stack`` need a running service: ``SANDRUN_URL`` and
``SANDRUN_CACERT`` (tests/integration/t310-python-sdk.sh sets them); they are
skipped, saying why, without one.
"""
from __future__ import annotations

import http.server
import json
import os
import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


class FakeServer:
    """Answers each request with ``handler(request) -> (status, headers, body)``
    or a callable writing to the raw handler; records every request."""

    def __init__(self, handler: Callable[["Recorded"], Any]) -> None:
        self.handler = handler
        self.requests: List[Recorded] = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _do(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                rec = Recorded(self.command, self.path, dict(self.headers.items()), body)
                outer.requests.append(rec)
                ans = outer.handler(rec)
                if callable(ans):
                    ans(self)
                    return
                status, headers, data = ans
                if isinstance(data, (dict, list)):
                    data = json.dumps(data).encode()
                    headers = {"Content-Type": "application/json", **headers}
                elif isinstance(data, str):
                    data = data.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _do

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Recorded:
    def __init__(self, method: str, path: str, headers: Dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def fake_server():
    servers: List[FakeServer] = []

    def make(handler: Callable[[Recorded], Any]) -> FakeServer:
        s = FakeServer(handler)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


@pytest.fixture(scope="session")
def stack() -> Tuple[str, str]:
    url = os.environ.get("SANDRUN_URL")
    if not url:
        pytest.skip("no stack: SANDRUN_URL is not set (tests/integration/t310-python-sdk.sh sets it)")
    return url, os.environ.get("SANDRUN_CACERT", "")
