"""HTTP(S) to one Sandrun service, with the standard library only.

A :class:`Transport` knows the base URL, the TLS trust (``cacert``: a PEM
CA file, e.g. the one ``/run/sandrun/client.env`` names as
``SANDRUN_CACERT``), a default timeout and the retry policy: off by
default; with ``retry=N`` a ``429`` or ``503`` is retried up to N times
after the ``Retry-After`` the service sent (capped by ``max_retry_wait``).
Error answers become the exceptions of :mod:`sandrun.errors`.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from . import __version__
from .errors import APIError, TransportError, error_from_response

Query = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]


class Response:
    """A complete answer: ``status``, ``headers`` (dict, original case), ``data`` (bytes)."""

    def __init__(self, status: int, headers: Dict[str, str], data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.data.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def default_url() -> str:
    url = os.environ.get("SANDRUN_URL")
    if not url:
        raise TransportError("no service URL: pass url=/base_url= or set SANDRUN_URL")
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class Transport:
    """Requests to ``base_url``; see the module documentation."""

    def __init__(self, base_url: Optional[str] = None, cacert: Optional[str] = None,
                 timeout: float = 60.0, retry: Union[bool, int] = False,
                 max_retry_wait: float = 120.0, user_agent: Optional[str] = None) -> None:
        self.base_url = (base_url or default_url()).rstrip("/")
        if cacert is None:
            cacert = os.environ.get("SANDRUN_CACERT") or None
        self.cacert = cacert
        self.timeout = timeout
        self.retries = (3 if retry is True else 0) if isinstance(retry, bool) else int(retry)
        self.max_retry_wait = max_retry_wait
        self.user_agent = user_agent or f"sandrun-python/{__version__}"
        ctx: Optional[ssl.SSLContext] = None
        if self.base_url.startswith("https:"):
            ctx = ssl.create_default_context(cafile=cacert) if cacert else ssl.create_default_context()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx), _NoRedirect())

    def url(self, path: str, query: Query = None) -> str:
        u = self.base_url + path
        if query:
            items = list(query.items()) if isinstance(query, Mapping) else list(query)
            items = [(k, v) for k, v in items if v is not None]
            if items:
                u += "?" + urllib.parse.urlencode(items)
        return u

    def open(self, method: str, path: str, *, query: Query = None, body: Optional[bytes] = None,
             headers: Optional[Mapping[str, str]] = None, json_body: Any = None,
             timeout: Optional[float] = None) -> Any:
        """Sends a request and returns the open ``http.client.HTTPResponse``
        of a 2xx answer (for streaming); raises the API error otherwise."""
        hdrs = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        attempt = 0
        while True:
            if attempt and hasattr(body, "seek"):
                body.seek(0)  # type: ignore[union-attr]
            req = urllib.request.Request(self.url(path, query), data=body, headers=hdrs, method=method)
            try:
                return self._opener.open(req, timeout=self.timeout if timeout is None else timeout)
            except urllib.error.HTTPError as e:
                try:
                    data = e.read()
                except (OSError, ValueError):
                    data = b""
                err = error_from_response(e.code, dict(e.headers.items()) if e.headers else {}, data)
                if e.code in (429, 503) and attempt < self.retries:
                    attempt += 1
                    time.sleep(self._wait_for(err, attempt))
                    continue
                raise err from None
            except (urllib.error.URLError, OSError, socket.timeout, http.client.HTTPException) as e:
                reason = getattr(e, "reason", e)
                raise TransportError(f"{method} {self.url(path)}: {reason}") from e

    def _wait_for(self, err: APIError, attempt: int) -> float:
        wait = err.retry_after if err.retry_after is not None else float(2 ** attempt)
        return max(0.0, min(wait, self.max_retry_wait))

    def request(self, method: str, path: str, **kw: Any) -> Response:
        """Sends a request and reads the whole answer (raises on >= 400)."""
        resp = self.open(method, path, **kw)
        try:
            data = resp.read()
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise TransportError(f"{method} {path}: the answer broke off: {e}") from e
        finally:
            resp.close()
        return Response(resp.status, dict(resp.headers.items()), data)

    def json(self, method: str, path: str, **kw: Any) -> Any:
        """A request whose answer is JSON: the parsed value."""
        return self.request(method, path, **kw).json()


def stream_of(resp: Any) -> IO[bytes]:
    """The response as a readable binary stream (it is one already)."""
    return resp
