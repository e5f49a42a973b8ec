"""The ``sandrun`` command: jobs, sessions and the MCP bridge from a terminal.

``sandrun run main.py [files or dirs] [--env E] [-o GLOB] [-- args]`` packs,
submits, streams the output live, downloads the outputs into ``./`` and
exits with the job's exit code. The other commands (``status``, ``logs``,
``cancel``, ``outputs``, ``download``, ``envs``, ``stats``, ``verify``,
``shell``, ``mcp``) each do one thing; ``--help`` on each says what.
``SANDRUN_URL`` and ``SANDRUN_CACERT`` (what ``/run/sandrun/client.env``
sets) say where the service is; ``--url`` and ``--cacert`` override them;
``--json`` prints JSON for scripts.

Exit status: the job's own for ``run``; 124 when it timed out, 125 when
the sandbox failed (out of memory, output limit, internal), 130 when it
was cancelled or interrupted; 1 for an error of the service or a check
that failed; 2 for bad usage.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

from . import __version__
from .client import FINAL_STATES, Client
from .errors import APIError, SandrunError, TransportError, VerificationError
from .sandbox import Sandbox
from . import verify as _verify

INTERPRETERS = {"python": "python3", "node": "node", "bash": "bash", "sh": "sh", "ruby": "ruby",
                "rscript": "Rscript", "perl": "perl", "php": "php"}
EXIT_TIMEOUT, EXIT_SANDBOX, EXIT_CANCELLED = 124, 125, 130


def _err(msg: str) -> None:
    sys.stderr.write(f"sandrun: {msg}\n")
    sys.stderr.flush()


def _size(n: Optional[int]) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1000  # type: ignore[assignment]
    return str(n)


class Progress:
    """One line on stderr that rewrites itself (only on a terminal)."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.shown = False

    def show(self, text: str) -> None:
        if not self.tty:
            return
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _client(a: argparse.Namespace) -> Client:
    return Client(a.url, a.cacert, retry=a.retry)


def _print_json(o: Any) -> None:
    sys.stdout.write(json.dumps(o, indent=2, ensure_ascii=False) + "\n")


# --- run
def cmd_run(a: argparse.Namespace) -> int:
    c = _client(a)
    manifest: Dict[str, Any] = {}
    interp = a.interpreter
    for name, value in INTERPRETERS.items():
        if getattr(a, "i_" + name):
            interp = value
    if interp:
        manifest["interpreter"] = interp
    if a.env:
        manifest["environment"] = a.env
    if a.output:
        manifest["outputs"] = a.output
    if a.timeout is not None:
        manifest["timeout"] = a.timeout
    if a.memory is not None:
        manifest["memory_mb"] = a.memory
    if a.args:
        manifest["args"] = a.args
    if a.requirements:
        manifest["requirements"] = a.requirements
    if a.stdin is not None:
        manifest["stdin"] = sys.stdin.read() if a.stdin == "-" else Path(a.stdin).read_text()
    if a.setenv:
        env = {}
        for kv in a.setenv:
            k, sep, v = kv.partition("=")
            if not sep:
                _err(f"--set-env {kv}: expected NAME=VALUE")
                return 2
            env[k] = v
        manifest["env"] = env
    entry = a.entrypoint
    if entry is None:
        first = Path(a.files[0])
        if first.is_dir():
            _err("the first argument is a directory: say which file runs with --entrypoint")
            return 2
        entry = first.name
    prog = Progress()
    show = not a.json

    def packing(done: int, total: int) -> None:
        if show and total >= 50:
            prog.show(f"packing {done}/{total} files")

    def uploading(done: int, total: int) -> None:
        if show and total >= 1 << 20:
            prog.show(f"uploading {_size(done)} of {_size(total)} ({100 * done // total}%)")

    from .client import pack
    try:
        archive = pack(a.files if len(a.files) > 1 else a.files[0], packing)
    except (OSError, ValueError) as e:
        prog.clear()
        _err(str(e))
        return 2
    manifest = {"entrypoint": entry, **manifest}
    answer = c.submit_archive(archive, manifest, upload_progress=uploading)
    job_id = answer["job_id"]
    prog.clear()
    if a.json:
        st = c.wait(job_id)
    else:
        _err(f"{job_id} submitted") if a.verbose else None
        try:
            st = _follow(c, job_id, prog)
        except KeyboardInterrupt:
            prog.clear()
            try:
                c.cancel(job_id)
                _err(f"interrupted: {job_id} cancelled")
            except SandrunError as e:
                _err(f"interrupted; cancelling {job_id} failed: {e}")
            return EXIT_CANCELLED
    code = _exit_code(st, quiet=a.json)
    logs = c.logs(job_id) if a.json else None  # before the downloads, which delete the job
    written: List[str] = []
    if st.get("output_files") and not a.no_download:
        written = c.download_outputs(job_id, a.dir, list(st["output_files"]))
        if not a.json:
            for p in written:
                _err(f"saved {p} ({_size(os.path.getsize(p))})")
    for nk in st.get("outputs_not_kept") or []:
        if not a.json:
            _err(f"output not kept: {nk.get('path')} ({nk.get('kind')})")
    if a.json:
        out = {"job_id": job_id, "status": st.get("status"), "reason": st.get("reason"),
               "error": st.get("error"),
               "exit_code": (st.get("execution_metadata") or {}).get("exit_code"),
               "downloaded": written, "status_object": st}
        if logs is not None:
            out.update(stdout=logs.stdout, stderr=logs.stderr)
        _print_json(out)
    return code


def _follow(c: Client, job_id: str, prog: Progress) -> Dict[str, Any]:
    """Streams the job's output to the terminal; the final status object."""
    q: "queue.Queue[Any]" = queue.Queue()

    def reader() -> None:
        try:
            for ev in c.stream(job_id):
                q.put(ev)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            q.put(e)
        q.put(None)

    threading.Thread(target=reader, daemon=True).start()
    final: Optional[Dict[str, Any]] = None
    state = "queued"
    output_seen = False
    last_poll = 0.0
    while True:
        try:
            item = q.get(timeout=1.0)
        except queue.Empty:
            item = "tick"
        if item is None:
            break
        if isinstance(item, BaseException):
            prog.clear()
            raise item
        if item == "tick" or getattr(item, "event", "") == "status":
            st: Optional[Dict[str, Any]] = None
            if item != "tick":
                try:
                    st = item.json()
                except ValueError:
                    st = None
            elif not output_seen and state == "queued" and time.monotonic() - last_poll >= 1.0:
                last_poll = time.monotonic()
                try:
                    st = c.status(job_id)
                except SandrunError:
                    st = None
            if st:
                state = st.get("status", state)
                if state in FINAL_STATES:
                    final = st
                if state == "queued" and not output_seen:
                    pos = st.get("queue_position")
                    why = st.get("waiting_for")
                    text = f"{job_id}: queued" + (f", position {pos}" if pos else "")
                    prog.show(text + (f" ({why})" if why else ""))
                else:
                    prog.clear()
            continue
        ev = item
        if ev.event in ("stdout", "stderr"):
            prog.clear()
            output_seen = True
            state = "running"
            out = sys.stdout if ev.event == "stdout" else sys.stderr
            out.write(ev.data)
            out.flush()
        elif ev.event == "end":
            break
    prog.clear()
    if final is None or "execution_metadata" not in final:
        final = c.wait(job_id)
    else:
        final = c.status(job_id)  # the exact object (the stream's numbers are rounded)
    return final


def _exit_code(st: Dict[str, Any], quiet: bool = False) -> int:
    status = st.get("status")
    reason = st.get("reason")
    meta = st.get("execution_metadata") or {}
    job = st.get("job_id", "the job")
    say = (lambda m: None) if quiet else _err
    if status == "completed":
        return 0
    if status == "cancelled":
        say(f"{job} was cancelled")
        return EXIT_CANCELLED
    if status == "failed" and reason == "exit_code":
        code = meta.get("exit_code")
        return int(code) if isinstance(code, int) and code != 0 else 1
    if reason == "timeout":
        limit = (meta.get("limits") or {}).get("timeout_seconds")
        say(f"{job} timed out" + (f" after {limit} s" if limit else "") + " and was killed")
        return EXIT_TIMEOUT
    say(f"{job} failed ({reason or status}): {st.get('error') or 'no reason given'}")
    return EXIT_SANDBOX


# --- one-job commands
def cmd_status(a: argparse.Namespace) -> int:
    st = _client(a).status(a.job_id, wait=a.wait)
    if a.json:
        _print_json(st)
        return 0
    meta = st.get("execution_metadata") or {}
    line = f"{st['job_id']}: {st.get('status')}"
    if st.get("queue_position"):
        line += f", queue position {st['queue_position']}"
    if st.get("waiting_for"):
        line += f" ({st['waiting_for']})"
    if st.get("reason"):
        line += f" ({st['reason']}: {st.get('error', '')})"
    if meta:
        line += (f"\n  exit code {meta.get('exit_code')}, signal {meta.get('signal')}, "
                 f"cpu {meta.get('cpu_seconds')} s, wall {meta.get('wall_seconds')} s, "
                 f"memory peak {_size(meta.get('memory_peak_bytes'))}")
    for p, o in (st.get("output_files") or {}).items():
        line += f"\n  output {p} ({_size(o.get('size'))})"
    if st.get("worker_metadata"):
        line += f"\n  signed by {st['worker_metadata'].get('worker_id')}"
    print(line)
    return 0


def cmd_logs(a: argparse.Namespace) -> int:
    c = _client(a)
    if a.follow:
        for ev in c.stream(a.job_id):
            if a.json:
                print(json.dumps({"event": ev.event, "id": ev.id, "data": ev.data}), flush=True)
            elif ev.event in ("stdout", "stderr"):
                out = sys.stdout if ev.event == "stdout" else sys.stderr
                out.write(ev.data)
                out.flush()
        return 0
    logs = c.logs(a.job_id)
    if a.json:
        _print_json({"stdout": logs.stdout, "stderr": logs.stderr, "truncated": logs.truncated})
        return 0
    sys.stdout.write(logs.stdout)
    sys.stdout.flush()
    sys.stderr.write(logs.stderr)
    return 0


def cmd_cancel(a: argparse.Namespace) -> int:
    o = _client(a).cancel(a.job_id)
    if a.json:
        _print_json(o)
    else:
        print(f"{o.get('job_id')}: {o.get('status')} (was {o.get('previous_status')})")
    return 0


def cmd_outputs(a: argparse.Namespace) -> int:
    o = _client(a).outputs(a.job_id)
    if a.json:
        _print_json(o)
        return 0
    for f in o.get("files", []):
        print(f"{f['path']}\t{f.get('size')}\t{f.get('sha256')}")
    for s in o.get("skipped", []):
        print(f"{s.get('path')}\tnot kept: {s.get('kind')}", file=sys.stderr)
    return 0


def cmd_download(a: argparse.Namespace) -> int:
    c = _client(a)
    if a.archive:
        written = c.download(a.job_id, None, a.dir)
    else:
        written = c.download_outputs(a.job_id, a.dir, a.paths or None)
    if a.json:
        _print_json({"downloaded": written})
    else:
        for p in written:  # type: ignore[union-attr]
            print(p)
    return 0


# --- the service
def cmd_envs(a: argparse.Namespace) -> int:
    c = _client(a)
    if a.json:
        _print_json(c.http.json("GET", "/environments"))
        return 0
    for e in c.environments():
        interp = ", ".join(e.get("interpreters") or [])
        print(f"{e.get('name')}\t{e.get('description', '')}" + (f"\t[{interp}]" if interp else ""))
    return 0


def cmd_stats(a: argparse.Namespace) -> int:
    o = _client(a).stats()
    if a.json:
        _print_json(o)
        return 0
    q, s = o.get("your_quota", {}), o.get("system", {})
    print(f"CPU: {q.get('used')} of {q.get('limit')} CPU-seconds used this minute "
          f"({q.get('available')} left); your active jobs: {q.get('active_jobs')}; "
          f"can submit: {'yes' if q.get('can_submit') else 'no'}")
    print(f"storage: {_size(q.get('storage_used_bytes'))} of {_size(q.get('storage_limit_bytes'))}")
    print(f"service: {s.get('queue_length')} queued, {s.get('active_jobs')} running, {s.get('runners')} runners")
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    if a.file:
        with open(a.target, "rb") as f:
            status = json.load(f)
        ids = a.worker_id or None
        if ids is None:
            try:
                ids = [w["worker_id"] for w in _client(a).workers()]
            except SandrunError as e:
                _err(f"cannot fetch the live workers ({e}); give --worker-id")
                return 1
        outputs = {}
        for spec in a.output or []:
            p, sep, fn = spec.rpartition("=")
            if not sep:
                _err(f"--output {spec}: expected PATH=FILE")
                return 2
            outputs[p] = Path(fn).read_bytes()
        wid = _verify.verify_result(status, ids,
                                    stdout=Path(a.stdout).read_bytes() if a.stdout else None,
                                    stderr=Path(a.stderr).read_bytes() if a.stderr else None,
                                    upload=Path(a.upload).read_bytes() if a.upload else None,
                                    outputs=outputs)
        job = status.get("job_id")
    else:
        c = _client(a)
        wid = c.verify(a.target, worker_ids=a.worker_id or None)
        job = a.target
    if a.json:
        _print_json({"ok": True, "job_id": job, "worker_id": wid, "backend": _verify.backend()})
    else:
        print(f"OK: result of {job} signed by {wid}")
    return 0


# --- sessions
def cmd_shell(a: argparse.Namespace) -> int:
    interactive = sys.stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
    sb = Sandbox.create(a.url, cacert=a.cacert, environment=a.env, memory_mb=a.memory,
                        workspace_id=a.workspace)
    cwd = "/work"
    rc = 0
    try:
        if interactive:
            _err(f"session {sb.id}: each line runs in its shell; Ctrl-D ends and deletes it")
        while True:
            try:
                line = input(f"sandrun:{cwd}$ " if interactive else "")
            except EOFError:
                if interactive:
                    sys.stdout.write("\n")
                break
            except KeyboardInterrupt:
                sys.stdout.write("\n")
                continue
            if not line.strip():
                continue
            try:
                rc, cwd = _shell_exec(sb, line, cwd, a.timeout)
            except KeyboardInterrupt:
                sys.stdout.write("\n")
                _err("interrupted: stopped waiting; the command runs on in the session "
                     "(the service has no way to stop it), and the next line waits for it")
            except APIError as e:
                if e.status in (404, 410):
                    _err(f"the session has ended: {e}")
                    return 1
                _err(str(e))
    finally:
        try:
            sb.close()
            if interactive:
                _err(f"session {sb.id} deleted")
        except SandrunError as e:
            _err(f"deleting session {sb.id} failed: {e}")
    return rc


def _shell_exec(sb: Sandbox, line: str, cwd: str, timeout: Optional[int]) -> "tuple[int, str]":
    rc = 0
    tail = ""
    for ev in sb.exec_stream(line, timeout=timeout):
        if ev.event in ("stdout", "stderr"):
            out = sys.stdout if ev.event == "stdout" else sys.stderr
            out.write(ev.data)
            out.flush()
            tail = ev.data[-1:] if ev.data else tail
        elif ev.event == "exit":
            try:
                o = ev.json()
            except ValueError:
                o = {}
            sys.stdout.write(o.get("stdout") or "")
            sys.stderr.write(o.get("stderr") or "")
            cwd = o.get("cwd") or cwd
            if o.get("timed_out"):
                _err("the command timed out and was killed")
            code = o.get("exit_code")
            rc = code if isinstance(code, int) else 1
        elif ev.event == "error":
            _err(f"the sandbox failed: {ev.data}")
            rc = 1
    sys.stdout.flush()
    return rc, cwd


def cmd_mcp(a: argparse.Namespace) -> int:
    from .mcp_stdio import serve
    return serve(a.url, a.cacert)


# --- the parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("service")
    g.add_argument("--url", default=None, help="the service (default $SANDRUN_URL)")
    g.add_argument("--cacert", default=None, help="PEM CA file for its TLS (default $SANDRUN_CACERT)")
    g.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    g.add_argument("--retry", type=int, default=0, metavar="N",
                   help="retry a 429/503 up to N times after its Retry-After")
    p = argparse.ArgumentParser(prog="sandrun", description="Run code in a Sandrun service.",
                                epilog="`sandrun COMMAND --help` for each command. Every command takes --url, --cacert "
                                       "(default $SANDRUN_URL, $SANDRUN_CACERT), --json and --retry N.")
    p.add_argument("--version", action="version", version=f"sandrun {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    r = sub.add_parser("run", parents=[common], help="run files as a job, output live",
                       description="Pack the files, submit them, show the output live, download the "
                                   "outputs into the current directory and exit with the job's exit "
                                   "code (124: timed out, 125: the sandbox failed, 130: cancelled). "
                                   "Arguments after -- go to the program.",
                       usage="sandrun run FILE [FILE|DIR ...] [options] [-- ARGS ...]")
    r.add_argument("files", nargs="+", metavar="FILE", help="the entrypoint first, then more files or directories")
    r.add_argument("--env", "-e", help="environment (sandrun envs lists them)")
    r.add_argument("--entrypoint", help="the file that runs (default: the first FILE)")
    r.add_argument("--interpreter", help="interpreter (default: from the extension)")
    for name, value in INTERPRETERS.items():
        r.add_argument("--" + name, dest="i_" + name, action="store_true", help=f"run with {value}")
    r.add_argument("-o", "--output", action="append", metavar="GLOB", help="keep outputs matching GLOB (repeatable)")
    r.add_argument("--timeout", type=int, help="seconds of wall time (default 300)")
    r.add_argument("--memory", type=int, metavar="MB", help="memory in MB (default 512)")
    r.add_argument("--requirements", metavar="FILE", help="requirements.txt / package.json / Gemfile in the upload")
    r.add_argument("--stdin", metavar="FILE", help="feed FILE (- for this stdin) to the program")
    r.add_argument("--set-env", dest="setenv", action="append", metavar="NAME=VALUE", help="environment variable")
    r.add_argument("-d", "--dir", default=".", help="where outputs go (default .)")
    r.add_argument("--no-download", action="store_true", help="leave the outputs on the service")
    r.add_argument("-v", "--verbose", action="store_true", help="say the job id")
    r.set_defaults(func=cmd_run, args=[])

    s = sub.add_parser("status", parents=[common], help="a job's status", description="Show a job's status.")
    s.add_argument("job_id")
    s.add_argument("--wait", type=int, metavar="N", help="wait up to N s for the job to end")
    s.set_defaults(func=cmd_status)

    lg = sub.add_parser("logs", parents=[common], help="a job's output",
                        description="Print a job's stdout (to stdout) and stderr (to stderr).")
    lg.add_argument("job_id")
    lg.add_argument("-f", "--follow", action="store_true", help="follow the live output until the job ends")
    lg.set_defaults(func=cmd_logs)

    cn = sub.add_parser("cancel", parents=[common], help="cancel (or delete) a job",
                        description="Cancel a queued or running job, or delete a finished one.")
    cn.add_argument("job_id")
    cn.set_defaults(func=cmd_cancel)

    o = sub.add_parser("outputs", parents=[common], help="list a job's outputs",
                       description="List a job's output files: path, size, SHA-256.")
    o.add_argument("job_id")
    o.set_defaults(func=cmd_outputs)

    d = sub.add_parser("download", parents=[common], help="download a job's outputs",
                       description="Download a job's outputs (all, or the PATHs given) under DIR. "
                                   "Once every output was downloaded the job is deleted.")
    d.add_argument("job_id")
    d.add_argument("paths", nargs="*", metavar="PATH")
    d.add_argument("-d", "--dir", default=".", help="destination (default .)")
    d.add_argument("--archive", action="store_true", help="fetch all outputs as one .tar.gz and unpack it")
    d.set_defaults(func=cmd_download)

    e = sub.add_parser("envs", parents=[common], help="list the environments",
                       description="List the environments the live runners offer.")
    e.set_defaults(func=cmd_envs)

    st = sub.add_parser("stats", parents=[common], help="your quota and the service's load",
                        description="Show this address's quota and the service's load.")
    st.set_defaults(func=cmd_stats)

    v = sub.add_parser("verify", parents=[common], help="verify a signed result",
                       description="Verify a job's signed result: the Ed25519 signature over its status "
                                   "object, by one of the live workers (GET /workers) or --worker-id, and "
                                   f"its logs. Signature check: {_verify.backend() or 'unavailable'}.")
    v.add_argument("target", metavar="JOB_ID|STATUS.json")
    v.add_argument("--file", action="store_true", help="TARGET is a saved status object (offline check)")
    v.add_argument("--worker-id", action="append", help="trust this worker id (repeatable)")
    v.add_argument("--stdout", metavar="FILE", help="with --file: check stdout's bytes")
    v.add_argument("--stderr", metavar="FILE", help="with --file: check stderr's bytes")
    v.add_argument("--upload", metavar="FILE", help="with --file: check the uploaded archive")
    v.add_argument("--output", action="append", metavar="PATH=FILE", help="with --file: check an output")
    v.set_defaults(func=cmd_verify)

    sh = sub.add_parser("shell", parents=[common], help="an interactive session",
                        description="Open a session and run each line in its persistent shell "
                                    "(cd, export persist). Ctrl-D ends and deletes the session.")
    sh.add_argument("--env", help="environment")
    sh.add_argument("--memory", type=int, metavar="MB", help="memory of the session in MB")
    sh.add_argument("--workspace", metavar="WSP", help="start from a snapshot (wsp-…)")
    sh.add_argument("--timeout", type=int, help="seconds per command (default 300)")
    sh.set_defaults(func=cmd_shell)

    m = sub.add_parser("mcp", parents=[common], help="MCP over stdio, forwarded to the service's /mcp",
                       description="A Model Context Protocol server on stdin/stdout (newline-delimited "
                                   "JSON-RPC) that forwards every message to $SANDRUN_URL/mcp.")
    m.set_defaults(func=cmd_mcp)
    return p


def _globals_after_command(argv: List[str]) -> List[str]:
    """`sandrun --url U run …` as `sandrun run --url U …`: the service options
    are the subcommands'; given before the command, they are moved after it."""
    moved: List[str] = []
    while argv:
        a = argv[0]
        name = a.split("=", 1)[0]
        if name in ("--url", "--cacert", "--retry"):
            n = 1 if "=" in a else 2
            moved += argv[:n]
            argv = argv[n:]
        elif a == "--json":
            moved.append(a)
            argv = argv[1:]
        else:
            break
    return argv[:1] + moved + argv[1:] if argv else moved


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = _globals_after_command(list(sys.argv[1:] if argv is None else argv))
    extra: List[str] = []
    if argv[:1] == ["run"] and "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    a = build_parser().parse_args(argv)
    if extra:
        a.args = extra
    try:
        return int(a.func(a))
    except VerificationError as e:
        _err(f"FAIL: {e}")
        return 1
    except APIError as e:
        _err(str(e))
        return 1
    except TransportError as e:
        _err(str(e))
        return 1
    except SandrunError as e:
        _err(str(e))
        return 1
    except (OSError, ValueError) as e:
        _err(str(e))
        return 1
    except KeyboardInterrupt:
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
