"""The Cloud Sandbox guide's module name for :class:`sandrun.Sandbox`, so
``from cloud_sandbox import Sandbox`` runs unchanged but for the URL."""
from sandrun.sandbox import ExecResult, FileEntry, Sandbox

__all__ = ["Sandbox", "ExecResult", "FileEntry"]
