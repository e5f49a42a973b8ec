"""Exceptions of the Sandrun client.

Every error answer of the service is ``{"error", "reason"}`` plus ``field``
(400s about one field) and ``retry_after`` (429, 503); :func:`error_from_response`
turns it into the exception class for its status, carrying the whole object.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Type


class SandrunError(Exception):
    """Base of every error raised by this package."""


class TransportError(SandrunError):
    """The service could not be reached, or the connection broke."""


class VerificationError(SandrunError):
    """A signed result does not verify (or cannot be checked)."""


class APIError(SandrunError):
    """An error answer of the service (HTTP status >= 400).

    Attributes: ``status`` (HTTP status), ``error`` (short text), ``reason``
    (a sentence), ``field`` (the field at fault, or None), ``retry_after``
    (seconds, or None), ``body`` (the whole error object as a dict) and
    ``headers``.
    """

    def __init__(self, status: int, body: Optional[Mapping[str, Any]] = None,
                 headers: Optional[Mapping[str, str]] = None, text: str = "") -> None:
        self.status = status
        self.body: Dict[str, Any] = dict(body or {})
        self.headers: Dict[str, str] = dict(headers or {})
        self.error: str = str(self.body.get("error") or f"HTTP {status}")
        self.reason: str = str(self.body.get("reason") or text.strip()[:500])
        self.field: Optional[str] = self.body.get("field")
        ra = self.body.get("retry_after")
        if ra is None:
            ra = _header(self.headers, "Retry-After")
        try:
            self.retry_after: Optional[float] = float(ra) if ra is not None else None
        except (TypeError, ValueError):
            self.retry_after = None
        msg = f"{status} {self.error}"
        if self.reason:
            msg += f": {self.reason}"
        if self.field:
            msg += f" (field {self.field})"
        super().__init__(msg)


class BadRequest(APIError):
    """400: the request is wrong; ``field`` names what is at fault."""


class NotFound(APIError):
    """404: no such job, session, file or route (or it expired)."""


class Conflict(APIError):
    """409: e.g. an exec on a paused session."""


class Gone(NotFound):
    """410: the session has ended (``ended_reason`` says why)."""

    @property
    def ended_reason(self) -> Optional[str]:
        return self.body.get("ended_reason")


class PayloadTooLarge(APIError):
    """413: an upload, a file or a snapshot over its limit."""


class UnsupportedMediaType(APIError):
    """415."""


class RateLimited(APIError):
    """429: a quota or rate limit; ``retry_after`` says when to come back."""


class ServiceUnavailable(APIError):
    """503: the service is full or its store is down; ``retry_after``."""


class GatewayTimeout(APIError):
    """504: the sandbox did not answer in time."""


_BY_STATUS: Dict[int, Type[APIError]] = {
    400: BadRequest, 404: NotFound, 409: Conflict, 410: Gone, 413: PayloadTooLarge,
    415: UnsupportedMediaType, 429: RateLimited, 503: ServiceUnavailable, 504: GatewayTimeout,
}


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def error_from_response(status: int, headers: Mapping[str, str], data: bytes) -> APIError:
    """The exception for an error answer (its body parsed when it is JSON)."""
    text = data.decode("utf-8", "replace")
    body: Optional[Dict[str, Any]] = None
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    cls = _BY_STATUS.get(status, APIError)
    return cls(status, body, headers, "" if body else text)
