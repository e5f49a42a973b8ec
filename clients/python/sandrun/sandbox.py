"""Sessions: a sandbox that lives across requests (docs/api.md §6).

Named as the Cloud Sandbox guide's SDK names them, so its example runs
with only the URL changed::

    with Sandbox.create(base_url=URL, user_id="me") as sandbox:
        print(sandbox.run_code("print('Hello, World!')").stdout)
        print(sandbox.run_command("ls -la /workspace").stdout)
        sandbox.write_file("/workspace/test.py", "x = 42")
        files = sandbox.list_files("/workspace")

``user_id`` is accepted and ignored (there are no accounts); ``cacert=``
or ``$SANDRUN_CACERT`` names the CA of the service's TLS certificate. The
session is deleted when the ``with`` block ends (or on :meth:`close`).
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from .errors import Gone, NotFound
from .sse import Event, iter_events
from .transport import Transport

LANGUAGE_ALIASES = {"python": "python3", "py": "python3", "javascript": "node", "js": "node",
                    "r": "Rscript", "R": "Rscript", "shell": "bash"}


@dataclass
class ExecResult:
    """The result of a command or code run in a session."""

    exit_code: Optional[int]
    stdout: str
    stderr: str
    signal: Optional[int] = None
    timed_out: bool = False
    duration_ms: Optional[int] = None
    cwd: Optional[str] = None
    truncated: Any = False

    @classmethod
    def from_json(cls, o: Mapping[str, Any]) -> "ExecResult":
        return cls(o.get("exit_code"), o.get("stdout") or "", o.get("stderr") or "", o.get("signal"),
                   bool(o.get("timed_out")), o.get("duration_ms"), o.get("cwd"), _trunc(o.get("truncated")))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(eq=False)
class FileEntry:
    """One entry of a directory listing. Compares equal to its name, so
    ``"test.py" in sandbox.list_files()`` works."""

    name: str
    type: str
    size: int = 0
    mode: Optional[str] = None
    mtime: Optional[str] = None
    path: str = ""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other == self.name
        if isinstance(other, FileEntry):
            return (self.path, self.name) == (other.path, other.name)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __str__(self) -> str:
        return self.name

    @property
    def is_dir(self) -> bool:
        return self.type in ("dir", "directory")


def _q(path: str) -> str:
    return urllib.parse.quote(path, safe="")


class Sandbox:
    """A live session. Make one with :meth:`Sandbox.create`."""

    def __init__(self, http: Transport, info: Mapping[str, Any]) -> None:
        self.http = http
        self.info: Dict[str, Any] = dict(info)
        self.id: str = str(info["session_id"])
        self.closed = False

    @property
    def session_id(self) -> str:
        return self.id

    @classmethod
    def create(cls, base_url: Optional[str] = None, user_id: Optional[str] = None, *,
               cacert: Optional[str] = None, environment: Optional[str] = None,
               memory_mb: Optional[int] = None, ttl_seconds: Optional[int] = None,
               idle_timeout_seconds: Optional[int] = None, env: Optional[Mapping[str, str]] = None,
               workspace_id: Optional[str] = None, timeout: float = 60.0,
               retry: Union[bool, int] = False, max_retry_wait: float = 120.0,
               **fields: Any) -> "Sandbox":
        """Starts a session (``POST /sessions``) and returns it.

        ``base_url`` defaults to ``$SANDRUN_URL``; ``user_id`` means
        nothing (no accounts). ``workspace_id``: a :meth:`snapshot` to start
        from. Other keyword arguments are sent as fields of the request (the
        service refuses unknown ones with a 400 naming them).
        """
        del user_id
        http = Transport(base_url, cacert, timeout=timeout, retry=retry, max_retry_wait=max_retry_wait)
        body: Dict[str, Any] = {"environment": environment, "memory_mb": memory_mb,
                                "ttl_seconds": ttl_seconds, "idle_timeout_seconds": idle_timeout_seconds,
                                "env": dict(env) if env is not None else None,
                                "workspace_id": workspace_id}
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        info = http.json("POST", "/sessions", json_body=body, timeout=max(timeout, 40.0))
        return cls(http, info)

    @classmethod
    def connect(cls, session_id: str, base_url: Optional[str] = None, *, cacert: Optional[str] = None,
                timeout: float = 60.0) -> "Sandbox":
        """An existing session, by id."""
        http = Transport(base_url, cacert, timeout=timeout)
        return cls(http, http.json("GET", f"/sessions/{session_id}"))

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Sandbox {self.id}{' closed' if self.closed else ''}>"

    # --- running
    def _exec_body(self, command: Union[str, Sequence[str], None] = None, code: Optional[str] = None,
                   language: Optional[str] = None, stdin: Optional[str] = None,
                   env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
                   timeout: Optional[int] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {}
        if code is not None:
            body["code"] = code
            body["language"] = LANGUAGE_ALIASES.get(language or "python3", language or "python3")
        else:
            body["command"] = command if isinstance(command, str) else list(command or [])
        for k, v in (("stdin", stdin), ("env", dict(env) if env is not None else None),
                     ("cwd", cwd), ("timeout", timeout)):
            if v is not None:
                body[k] = v
        return body

    def _exec_timeout(self, timeout: Optional[int]) -> float:
        return float(timeout if timeout is not None else 300) + 30.0

    def exec(self, command: Union[str, Sequence[str], None] = None, *, code: Optional[str] = None,
             language: Optional[str] = None, stdin: Optional[str] = None,
             env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
             timeout: Optional[int] = None) -> ExecResult:
        """``POST /sessions/{id}/exec``: a command (shell text or an argv list) or code."""
        body = self._exec_body(command, code, language, stdin, env, cwd, timeout)
        o = self.http.json("POST", f"/sessions/{self.id}/exec", json_body=body,
                           timeout=self._exec_timeout(timeout))
        return ExecResult.from_json(o)

    def run_code(self, code: str, language: str = "python3", **kw: Any) -> ExecResult:
        """Runs code; ``python3`` code runs in the session's persistent
        interpreter (variables stay), other languages as a file."""
        return self.exec(code=code, language=language, **kw)

    def run_command(self, command: Union[str, Sequence[str]], **kw: Any) -> ExecResult:
        """Runs a command: shell text in the session's persistent shell
        (``cd`` and ``export`` stay), or an argv list run directly."""
        return self.exec(command, **kw)

    def exec_stream(self, command: Union[str, Sequence[str], None] = None, *, code: Optional[str] = None,
                    language: Optional[str] = None, stdin: Optional[str] = None,
                    env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
                    timeout: Optional[int] = None) -> Iterator[Event]:
        """The exec's Server-Sent Events as the output comes: ``stdout`` and
        ``stderr`` events, then ``exit`` (data: the result JSON) or ``error``."""
        body = self._exec_body(command, code, language, stdin, env, cwd, timeout)
        resp = self.http.open("POST", f"/sessions/{self.id}/exec", json_body=body,
                              headers={"Accept": "text/event-stream"},
                              timeout=self._exec_timeout(timeout))
        try:
            ctype = resp.headers.get("Content-Type", "")
            if "text/event-stream" not in ctype:
                yield Event("exit", resp.read().decode("utf-8", "replace"))
                return
            for ev in iter_events(resp):
                yield ev
                if ev.event in ("exit", "error"):
                    return
        finally:
            resp.close()

    # --- files
    def write_file(self, path: str, content: Union[str, bytes], mode: Optional[int] = None) -> Dict[str, Any]:
        """Writes a file (parents made); ``mode``: permission bits, e.g. 0o755."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        q = {"mode": "%04o" % mode} if mode is not None else None
        return self.http.json("PUT", f"/sessions/{self.id}/files/{_q(path)}", query=q, body=data,
                              headers={"Content-Type": "application/octet-stream"})

    def read_file(self, path: str, binary: bool = False) -> Union[str, bytes]:
        """A file's content: text (UTF-8), or bytes with ``binary=True``."""
        data = self.http.request("GET", f"/sessions/{self.id}/files/{_q(path)}",
                                 headers={"Accept": "*/*"}).data
        return data if binary else data.decode("utf-8", "replace")

    def list_files(self, path: str = "/workspace") -> List[FileEntry]:
        """A directory's entries."""
        o = self.http.json("GET", f"/sessions/{self.id}/files/{_q(path)}")
        if "entries" not in o:
            raise NotFound(400, {"error": "Not a directory", "reason": f"{path} is not a directory"})
        return [FileEntry(e.get("name", ""), e.get("type", ""), e.get("size") or 0, e.get("mode"),
                          e.get("mtime"), o.get("path", path)) for e in o["entries"]]

    def delete_file(self, path: str, recursive: bool = False) -> Dict[str, Any]:
        """Removes a file or an empty directory (a tree with ``recursive``)."""
        return self.http.json("DELETE", f"/sessions/{self.id}/files/{_q(path)}",
                              query={"recursive": "1"} if recursive else None)

    def upload_archive(self, archive: bytes, path: str = "/work") -> Dict[str, Any]:
        """Unpacks an archive (tar.gz, zip, …) into a directory of the session."""
        from .client import multipart
        body, ctype = multipart([("files", "upload.tar.gz", archive, "application/octet-stream")])
        r = self.http.request("POST", f"/sessions/{self.id}/files", query={"path": path}, body=body,
                              headers={"Content-Type": ctype})
        return r.json() if r.data else {}

    def download_archive(self, path: str = "/work") -> bytes:
        """A directory as ``.tar.gz``."""
        return self.http.request("GET", f"/sessions/{self.id}/archive", query={"path": path},
                                 headers={"Accept": "*/*"}).data

    # --- lifecycle
    def status(self) -> Dict[str, Any]:
        """``GET /sessions/{id}``: status, usage, expiry."""
        self.info = self.http.json("GET", f"/sessions/{self.id}")
        return self.info

    def pause(self) -> Dict[str, Any]:
        """Freezes every process of the session (no CPU used while paused)."""
        return self.http.json("POST", f"/sessions/{self.id}/pause", json_body={})

    def resume(self) -> Dict[str, Any]:
        return self.http.json("POST", f"/sessions/{self.id}/resume", json_body={})

    def snapshot(self) -> str:
        """Saves the workspace in the service; returns its ``workspace_id``
        (``Sandbox.create(workspace_id=…)`` starts from it)."""
        return str(self.http.json("POST", f"/sessions/{self.id}/snapshot", json_body={},
                                  timeout=140.0)["workspace_id"])

    def close(self) -> None:
        """Deletes the session (everything in it). Idempotent."""
        if self.closed:
            return
        try:
            self.http.json("DELETE", f"/sessions/{self.id}", timeout=75.0)
        except (Gone, NotFound):
            pass
        self.closed = True

    delete = close
    kill = close


__all__ = ["Sandbox", "ExecResult", "FileEntry"]


def _trunc(v: Any) -> Any:
    return v if isinstance(v, dict) else bool(v)
