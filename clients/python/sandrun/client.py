"""Jobs: pack files, submit, wait, read logs and outputs, stream, cancel, verify.

``Client(url, cacert=…)`` talks to one service (docs/api.md §1–5). Job
uploads are ``multipart/form-data`` with a ``.tar.gz`` of the files (packed
in memory by :func:`pack`) and the manifest. :meth:`Client.wait` holds
``GET /status/{id}?wait=N`` (no polling); :meth:`Client.stream` follows
``GET /logs/{id}/stream`` and resumes with ``Last-Event-ID`` when the
connection drops.
"""
from __future__ import annotations

import http.client
import io
import json
import os
import tarfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

from .errors import BadRequest, NotFound, SandrunError, TransportError
from .sse import Event, iter_events
from .transport import Transport
from . import verify as _verify

PathLike = Union[str, "os.PathLike[str]"]
Sources = Union[PathLike, Sequence[PathLike], Mapping[str, Union[str, bytes]]]
Progress = Callable[[int, int], None]

MANIFEST_FIELDS = ("entrypoint", "interpreter", "args", "stdin", "env", "environment",
                   "requirements", "outputs", "timeout", "memory_mb", "gpu")
FINAL_STATES = ("completed", "failed", "cancelled")


def _entries(sources: Sources) -> List[Tuple[str, Union[Path, bytes]]]:
    """(name in the archive, a path or bytes) for what pack() is given."""
    if isinstance(sources, Mapping):
        return [(str(k), v.encode("utf-8") if isinstance(v, str) else bytes(v))
                for k, v in sources.items()]
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths = [Path(s) for s in sources]
    if not paths:
        raise ValueError("nothing to pack: give files or a directory")
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
    if len(paths) == 1 and paths[0].is_dir():
        root = paths[0]
        return [(str(c.relative_to(root)), c) for c in sorted(root.iterdir())]
    return [(p.resolve().name if p.is_dir() else p.name, p) for p in paths]


def pack(sources: Sources, progress: Optional[Progress] = None) -> bytes:
    """A ``.tar.gz`` of ``sources``, in memory.

    ``sources``: a directory (its contents become the job's top level), a
    file, a list of files and directories (each under its own name), or a
    mapping ``{name: str | bytes}`` of in-memory files. ``progress(done,
    total)`` is called with file counts while packing.
    """
    entries = _entries(sources)
    files: List[Tuple[str, Path]] = []
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, src in entries:
            if isinstance(src, bytes):
                info = tarfile.TarInfo(name)
                info.size = len(src)
                info.mode = 0o644
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(src))
            elif src.is_dir() and not src.is_symlink():
                for dirpath, dirnames, filenames in os.walk(src):
                    dirnames.sort()
                    rel = Path(dirpath).relative_to(src)
                    base = name if str(rel) == "." else f"{name}/{rel.as_posix()}"
                    files.append((base, Path(dirpath)))
                    for fn in sorted(filenames):
                        files.append((f"{base}/{fn}", Path(dirpath) / fn))
                    for dn in dirnames:
                        dp = Path(dirpath) / dn
                        if dp.is_symlink():
                            files.append((f"{base}/{dn}", dp))
            else:
                files.append((name, src))
        total = len(files)
        for i, (name, p) in enumerate(files, 1):
            tar.add(str(p), arcname=name, recursive=False)
            if progress and (i % 50 == 0 or i == total):
                progress(i, total)
    return buf.getvalue()


class _Body(io.RawIOBase):
    """A request body read in blocks, reporting progress (bytes sent, total)."""

    def __init__(self, data: bytes, progress: Optional[Progress]) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._progress = progress

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        end = len(self._data) if n is None or n < 0 else min(len(self._data), self._pos + n)
        chunk = bytes(self._data[self._pos:end])
        self._pos = end
        if self._progress and chunk:
            self._progress(self._pos, len(self._data))
        return chunk

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos
        return pos


def multipart(parts: Sequence[Tuple[str, Optional[str], bytes, str]]) -> Tuple[bytes, str]:
    """A multipart/form-data body of (name, filename or None, data, content type) parts."""
    boundary = "sandrun-" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, filename, data, ctype in parts:
        out.write(f"--{boundary}\r\n".encode())
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out.write(disp.encode() + b"\r\n")
        out.write(f"Content-Type: {ctype}\r\n\r\n".encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Logs:
    """A job's logs: ``stdout``, ``stderr`` (text) and ``truncated`` flags."""

    stdout: str
    stderr: str
    truncated: Dict[str, bool] = field(default_factory=dict)


@dataclass
class JobResult:
    """What :meth:`Client.run` returns.

    ``status`` (completed, failed, cancelled), ``exit_code`` (None when the
    job did not exit: killed, timed out), ``reason`` and ``error`` for
    failed jobs, ``stdout``/``stderr`` text, ``outputs`` ``{path: bytes}``
    (when fetched), and ``status_object``: the whole ``GET /status`` answer.
    """

    job_id: str
    status: str
    exit_code: Optional[int]
    stdout: str
    stderr: str
    outputs: Dict[str, bytes]
    status_object: Dict[str, Any]
    reason: Optional[str] = None
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    @property
    def signal(self) -> Optional[int]:
        return (self.status_object.get("execution_metadata") or {}).get("signal")


def _quote_path(path: str) -> str:
    return urllib.parse.quote(path, safe="/")


class Client:
    """A Sandrun service's job API.

    ``url``: the service (default ``$SANDRUN_URL``); ``cacert``: a PEM CA
    file for its TLS certificate (default ``$SANDRUN_CACERT``, else the
    system's); ``timeout``: seconds per request; ``retry``: retry 429/503
    after ``Retry-After`` (True: 3 times, or a number of times).
    """

    def __init__(self, url: Optional[str] = None, cacert: Optional[str] = None, *,
                 timeout: float = 60.0, retry: Union[bool, int] = False,
                 max_retry_wait: float = 120.0) -> None:
        self.http = Transport(url, cacert, timeout=timeout, retry=retry, max_retry_wait=max_retry_wait)

    @property
    def url(self) -> str:
        return self.http.base_url

    # --- submitting
    def submit(self, files: Sources, entrypoint: Optional[str] = None, *,
               progress: Optional[Progress] = None, upload_progress: Optional[Progress] = None,
               **manifest: Any) -> str:
        """Packs ``files`` (see :func:`pack`), submits them with the manifest
        (``entrypoint`` plus any field of docs/api.md §3: ``interpreter``,
        ``args``, ``stdin``, ``env``, ``environment``, ``requirements``,
        ``outputs``, ``timeout``, ``memory_mb``, ``gpu``) and returns the job id.

        ``entrypoint`` defaults to the first file given.
        """
        if entrypoint is None:
            entrypoint = _default_entrypoint(files)
        m = {"entrypoint": entrypoint}
        m.update({k: v for k, v in manifest.items() if v is not None})
        archive = pack(files, progress)
        return self.submit_archive(archive, m, upload_progress=upload_progress)["job_id"]

    def submit_archive(self, archive: bytes, manifest: Mapping[str, Any], *,
                       wait: Optional[int] = None,
                       upload_progress: Optional[Progress] = None) -> Dict[str, Any]:
        """Submits an archive (tar, tar.gz, …, zip) and a manifest; the answer object."""
        body, ctype = multipart([("files", "job.tar.gz", archive, "application/gzip"),
                                 ("manifest", None, json.dumps(dict(manifest)).encode(),
                                  "application/json")])
        data: Any = _Body(body, upload_progress) if upload_progress else body
        return self.http.json("POST", "/submit", query={"wait": wait}, body=data,
                              headers={"Content-Type": ctype, "Content-Length": str(len(body))})

    # --- following
    def status(self, job_id: str, wait: Optional[int] = None) -> Dict[str, Any]:
        """``GET /status/{id}`` (``wait``: hold up to that many seconds for the end)."""
        t = None if wait is None else self.http.timeout + wait
        return self.http.json("GET", f"/status/{job_id}", query={"wait": wait}, timeout=t)

    def wait(self, job_id: str, timeout: Optional[float] = None, *, hold: int = 60) -> Dict[str, Any]:
        """Waits for the job to end (held ``?wait`` requests, no polling) and
        returns its status object; after ``timeout`` seconds, the status as it is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = hold if deadline is None else max(0, min(hold, int(deadline - time.monotonic() + 0.999)))
            try:
                st = self.status(job_id, wait=left)
            except BadRequest as e:
                if e.field != "wait" or hold <= 5:
                    raise
                hold = 5  # the operator's maximum is lower: hold shorter requests
                continue
            if st.get("status") in FINAL_STATES or left == 0:
                return st
            if deadline is not None and time.monotonic() >= deadline:
                return st

    def logs(self, job_id: str) -> Logs:
        """The job's stdout and stderr so far (``GET /logs/{id}?format=json``)."""
        o = self.http.json("GET", f"/logs/{job_id}", query={"format": "json"})
        return Logs(o.get("stdout") or "", o.get("stderr") or "", o.get("truncated") or {})

    def log_bytes(self, job_id: str, stream: str = "stdout") -> bytes:
        """One log stream's bytes exactly as kept (what the signed hash covers)."""
        return self.http.request("GET", f"/logs/{job_id}", query={"format": "text", "stream": stream},
                                 headers={"Accept": "text/plain"}).data

    def stream(self, job_id: str, last_event_id: Optional[str] = None, *,
               reconnect: int = 5, read_timeout: float = 60.0) -> Iterator[Event]:
        """The job's Server-Sent Events as they come: ``status``, ``stdout``,
        ``stderr``, the final ``status``, then ``end`` (the iterator ends).

        A dropped connection is reopened (up to ``reconnect`` times in a
        row) with ``Last-Event-ID``: the last id seen, so no chunk comes twice.
        """
        last = last_event_id
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            if last:
                headers["Last-Event-ID"] = last
            try:
                resp = self.http.open("GET", f"/logs/{job_id}/stream", headers=headers,
                                      timeout=read_timeout)
            except TransportError:
                failures += 1
                if failures > reconnect:
                    raise
                time.sleep(min(0.2 * failures, 2))
                continue
            try:
                for ev in iter_events(resp):
                    failures = 0
                    if ev.id:
                        last = ev.id
                    yield ev
                    if ev.event == "end":
                        return
            except (OSError, ValueError, http.client.HTTPException):
                pass  # the connection broke: reopened below
            finally:
                resp.close()
            failures += 1
            if failures > reconnect:
                raise TransportError(f"the event stream of {job_id} broke off {failures} times")
            time.sleep(min(0.2 * failures, 2))

    # --- results
    def outputs(self, job_id: str) -> Dict[str, Any]:
        """``GET /outputs/{id}``: ``{"job_id", "files": [{"path", "size", "sha256"}], "skipped"}``."""
        return self.http.json("GET", f"/outputs/{job_id}")

    def download(self, job_id: str, path: Optional[str] = None,
                 dest: Optional[PathLike] = None) -> Union[bytes, List[str]]:
        """One output's bytes (``path``; written to ``dest`` when given), or,
        without ``path``, every output unpacked into ``dest`` (default the
        current directory): the list of paths written. Downloading every
        output deletes the job."""
        if path is not None:
            data = self.http.request("GET", f"/download/{job_id}/{_quote_path(path)}",
                                     headers={"Accept": "*/*"}).data
            if dest is not None:
                Path(dest).parent.mkdir(parents=True, exist_ok=True)
                Path(dest).write_bytes(data)
            return data
        archive = self.http.request("GET", f"/download/{job_id}", headers={"Accept": "*/*"}).data
        return extract_archive(archive, Path(dest) if dest is not None else Path("."))

    def download_outputs(self, job_id: str, dest: Optional[PathLike] = None,
                         files: Optional[Iterable[str]] = None) -> List[str]:
        """Each output file downloaded under ``dest`` (default ``.``) at its
        relative path; the list of paths written."""
        root = Path(dest) if dest is not None else Path(".")
        if files is None:
            files = [f["path"] for f in self.outputs(job_id).get("files", [])]
        written = []
        for p in files:
            target = _safe_join(root, p)
            self.download(job_id, p, target)
            written.append(str(target))
        return written

    def cancel(self, job_id: str) -> Dict[str, Any]:
        """``DELETE /jobs/{id}``: cancels (or deletes) the job."""
        return self.http.json("DELETE", f"/jobs/{job_id}")

    # --- the service
    def stats(self) -> Dict[str, Any]:
        """``GET /stats``: this address's quota and the system's load."""
        return self.http.json("GET", "/stats")

    def environments(self) -> List[Dict[str, Any]]:
        """The environments the live runners offer (``GET /environments``)."""
        return list(self.http.json("GET", "/environments").get("environments", []))

    def workers(self) -> List[Dict[str, Any]]:
        """``GET /workers``: the live signing runners ``{"worker_id", "runner", "last_seen"}``."""
        return list(self.http.json("GET", "/workers").get("workers", []))

    def health(self) -> Dict[str, Any]:
        return self.http.json("GET", "/health")

    def info(self) -> Dict[str, Any]:
        """``GET /``: the service's name, version and limits."""
        return self.http.json("GET", "/")

    # --- all in one
    def run(self, files: Sources, entrypoint: Optional[str] = None, *,
            wait_timeout: Optional[float] = None, fetch_outputs: bool = True,
            **manifest: Any) -> JobResult:
        """Submits, waits for the end, and gathers the result (logs, outputs).

        Keyword arguments are manifest fields (see :meth:`submit`).
        ``fetch_outputs``: download the outputs into ``JobResult.outputs``
        (which deletes the job on the service).
        """
        job_id = self.submit(files, entrypoint, **manifest)
        st = self.wait(job_id, wait_timeout)
        if st.get("status") not in FINAL_STATES:
            raise SandrunError(f"{job_id} is still {st.get('status')} after {wait_timeout} s")
        logs = self.logs(job_id)
        outs: Dict[str, bytes] = {}
        if fetch_outputs:
            for p in (st.get("output_files") or {}):
                outs[p] = self.download(job_id, p)  # type: ignore[assignment]
        meta = st.get("execution_metadata") or {}
        return JobResult(job_id, st["status"], meta.get("exit_code"), logs.stdout, logs.stderr,
                         outs, st, st.get("reason"), st.get("error"))

    def verify(self, status: Union[str, Mapping[str, Any]], *, worker_ids: Optional[Iterable[str]] = None,
               check_logs: bool = True, outputs: Optional[Mapping[str, bytes]] = None) -> str:
        """Verifies a signed result; returns the worker id that signed it.

        ``status``: a job id (its status and, with ``check_logs``, its logs
        are fetched) or a status object. The signer must be one of
        ``worker_ids`` (default: the live workers of ``GET /workers``).
        Raises :class:`~sandrun.errors.VerificationError`.
        """
        stdout = stderr = None
        if isinstance(status, str):
            job_id = status
            status = self.status(job_id)
            if check_logs:
                try:
                    stdout = self.log_bytes(job_id, "stdout")
                    stderr = self.log_bytes(job_id, "stderr")
                except NotFound:
                    pass
        if worker_ids is None:
            worker_ids = [w["worker_id"] for w in self.workers() if w.get("worker_id")]
        return _verify.verify_result(status, worker_ids, stdout=stdout, stderr=stderr, outputs=outputs)


def _default_entrypoint(files: Sources) -> str:
    if isinstance(files, Mapping):
        if len(files) == 1:
            return str(next(iter(files)))
    else:
        first = files if isinstance(files, (str, os.PathLike)) else (files[0] if files else None)
        if first is not None and Path(first).is_file():
            return Path(first).name
    raise ValueError("give entrypoint=: which file the job runs")


def _safe_join(root: Path, rel: str) -> Path:
    parts = Path(rel).parts
    if not rel or Path(rel).is_absolute() or ".." in parts:
        raise SandrunError(f"refusing output path {rel!r}")
    return root.joinpath(*parts)


def extract_archive(archive: bytes, dest: Path) -> List[str]:
    """Unpacks a ``.tar.gz`` of outputs under ``dest``: regular files and
    directories only, no absolute or ``..`` names. The paths written."""
    written: List[str] = []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
        for m in tar:
            if m.isdir():
                _safe_join(dest, m.name).mkdir(parents=True, exist_ok=True)
                continue
            if not m.isfile():
                continue
            target = _safe_join(dest, m.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            if src is None:
                continue
            with open(target, "wb") as f:
                while True:
                    chunk = src.read(1 << 16)
                    if not chunk:
                        break
                    f.write(chunk)
            written.append(str(target))
    return written


__all__ = ["Client", "JobResult", "Logs", "Event", "pack", "multipart", "extract_archive"]
