"""Sandrun client: jobs (:class:`Client`), sessions (:class:`Sandbox`) and errors.

Standard library only. ``Client(url, cacert=…)`` runs jobs;
``Sandbox.create(base_url=…)`` opens a session; the ``sandrun`` command
(:mod:`sandrun.cli`) uses both.
"""
__version__ = "0.1.0"

from .errors import (APIError, BadRequest, Conflict, GatewayTimeout, Gone, NotFound,  # noqa: E402
                     PayloadTooLarge, RateLimited, SandrunError, ServiceUnavailable,
                     TransportError, UnsupportedMediaType, VerificationError)
from .client import Client, JobResult, Logs  # noqa: E402
from .sandbox import ExecResult, FileEntry, Sandbox  # noqa: E402

__all__ = [
    "Client", "JobResult", "Logs", "Sandbox", "ExecResult", "FileEntry",
    "SandrunError", "APIError", "TransportError", "VerificationError", "BadRequest",
    "NotFound", "Gone", "Conflict", "PayloadTooLarge", "UnsupportedMediaType",
    "RateLimited", "ServiceUnavailable", "GatewayTimeout", "__version__",
]
