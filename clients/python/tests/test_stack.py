"""The SDK against a real Sandrun stack (SANDRUN_URL, SANDRUN_CACERT; run by
tests/integration/t310-python-sdk.sh, which starts one with a signing
runner). Skipped without a stack.

Covers: the Cloud Sandbox guide's SDK example verbatim but the URL, the
FAQ's `requests` example, Client.run with files and with a directory,
outputs and downloads, failing and timed-out jobs, the SSE stream live and
resumed after a dropped connection, cancel, stats, environments, the error
classes, the opt-in retry, signed results, and sessions.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import contextlib

import pytest

from sandrun import (BadRequest, Client, Conflict, Gone, NotFound, RateLimited, Sandbox,
                     VerificationError)
from sandrun.transport import Transport

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)

# The Cloud Sandbox user guide's "Using the Python SDK" example, verbatim
# (docs: /work/shared/seeds/cloud-sandbox-guide.md) but for the URL.
GUIDE_EXAMPLE = '''
from cloud_sandbox import Sandbox

# Create a sandbox with automatic resource management
with Sandbox.create(
    base_url="http://localhost:8080",
    user_id="my-user-id",
) as sandbox:
    # Execute Python code
    result = sandbox.run_code("print('Hello, World!')")
    print(result.stdout)  # Output: Hello, World!

    # Run shell commands
    result = sandbox.run_command("ls -la /workspace")
    print(result.stdout)

    # File operations
    sandbox.write_file("/workspace/test.py", "x = 42")
    files = sandbox.list_files("/workspace")
'''

# Sandrun's FAQ, "Can I use Sandrun from Python?", verbatim but for the URL.
FAQ_EXAMPLE = '''
import requests

# Submit job
response = requests.post('http://localhost:8443/submit',
    files={'files': open('job.tar.gz', 'rb')},
    data={'manifest': '{"entrypoint":"main.py"}'})

job_id = response.json()['job_id']

# Get results
status = requests.get(f'http://localhost:8443/status/{job_id}').json()
'''


@pytest.fixture(scope="module")
def client(stack):
    return Client(stack[0], stack[1] or None)


def session_ended(url, cacert, sid):
    try:
        Transport(url, cacert or None).json("GET", f"/sessions/{sid}")
    except (Gone, NotFound):
        return True
    return False


# --- the seeds' examples
def test_guide_example_verbatim_but_the_url(stack, capsys):
    url, cacert = stack
    os.environ["SANDRUN_CACERT"] = cacert
    code = GUIDE_EXAMPLE.replace("http://localhost:8080", url)
    ns: dict = {}
    exec(compile(code, "guide-example", "exec"), ns)
    out = capsys.readouterr().out
    assert out.startswith("Hello, World!\n")
    assert "total " in out  # ls -la /workspace ran
    assert "test.py" in [f.name for f in ns["files"]]
    assert "test.py" in ns["files"]
    assert session_ended(url, cacert, ns["sandbox"].id), "the session is deleted when the block ends"


def test_faq_requests_example(stack, tmp_path):
    pytest.importorskip("requests")
    url, cacert = stack
    (tmp_path / "main.py").write_text("print('from requests')\n")
    subprocess.run(["tar", "czf", "job.tar.gz", "main.py"], cwd=tmp_path, check=True)
    for base in (url, "https://127.0.0.1:" + urllib.parse.urlsplit(url).port.__str__()):
        script = FAQ_EXAMPLE.replace("http://localhost:8443", base) + \
            "\nprint(response.status_code, job_id, status['status'])\n"
        r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60,
                           env=dict(os.environ, REQUESTS_CA_BUNDLE=cacert))
        assert r.returncode == 0, r.stderr
        code, job_id, st = r.stdout.split()
        assert code in ("200", "202") and job_id.startswith("job-") and st in ("queued", "running", "completed")
        c = Client(url, cacert)
        assert c.wait(job_id, 60)["status"] == "completed"
        assert c.logs(job_id).stdout == "from requests\n"


# --- jobs
def test_run_files(client, tmp_path):
    (tmp_path / "main.py").write_text("from utils import greet\n\ngreet('World')\n")
    (tmp_path / "utils.py").write_text("def greet(name):\n    print(f'Hello, {name}!')\n")
    r = client.run([tmp_path / "main.py", tmp_path / "utils.py"])
    assert (r.status, r.exit_code, r.stdout, r.stderr, r.outputs) == ("completed", 0, "Hello, World!\n", "", {})
    assert r.ok and r.job_id.startswith("job-")


def test_run_directory_with_outputs(client, tmp_path):
    d = tmp_path / "proj"
    (d / "data").mkdir(parents=True)
    (d / "data" / "in.txt").write_text("21")
    (d / "main.py").write_text(
        "import os, sys\nn = int(open('data/in.txt').read())\nos.makedirs('results', exist_ok=True)\n"
        "open('results/out.txt', 'w').write(str(2 * n))\nopen('note.txt', 'w').write('n')\n"
        "print('args', sys.argv[1:])\nprint('warn', file=sys.stderr)\n")
    r = client.run(d, entrypoint="main.py", outputs=["*.txt", "results/"], args=["a", "b c"])
    assert r.status == "completed" and r.stdout == "args ['a', 'b c']\n" and r.stderr == "warn\n"
    assert r.outputs == {"results/out.txt": b"42", "note.txt": b"n"}


def test_outputs_and_download(client, tmp_path):
    job = client.submit({"main.py": "import os\nos.makedirs('r', exist_ok=True)\n"
                                    "open('r/a.bin','wb').write(bytes(range(256)))\nopen('b.txt','w').write('b')\n"},
                        outputs=["r/", "b.txt"])
    assert client.wait(job, 60)["status"] == "completed"
    o = client.outputs(job)
    assert sorted(f["path"] for f in o["files"]) == ["b.txt", "r/a.bin"]
    assert client.download(job, "b.txt") == b"b"
    written = client.download(job, dest=tmp_path / "all")  # the archive, unpacked
    assert sorted(os.path.relpath(p, tmp_path / "all") for p in written) == ["b.txt", "r/a.bin"]
    assert (tmp_path / "all" / "r" / "a.bin").read_bytes() == bytes(range(256))
    with pytest.raises(NotFound):
        client.status(job)  # the archive was downloaded: the job is deleted


def test_download_each_output_deletes_the_job(client, tmp_path):
    job = client.submit({"main.py": "open('x.txt','w').write('x')\n"}, outputs=["x.txt"])
    client.wait(job, 60)
    assert client.download_outputs(job, tmp_path) == [str(tmp_path / "x.txt")]
    assert (tmp_path / "x.txt").read_text() == "x"
    with pytest.raises(NotFound):
        client.outputs(job)


def test_failing_job_exit_code(client):
    r = client.run({"fail.sh": "echo oops >&2\nexit 3\n"})
    assert (r.status, r.exit_code, r.reason, r.stderr) == ("failed", 3, "exit_code", "oops\n")
    assert not r.ok


def test_timeout(client):
    t0 = time.monotonic()
    r = client.run({"main.py": "import time\nprint('start', flush=True)\ntime.sleep(30)\n"}, timeout=2)
    assert (r.status, r.reason, r.exit_code, r.stdout) == ("failed", "timeout", None, "start\n")
    assert time.monotonic() - t0 < 20


def test_wait_returns_after_its_timeout(client):
    job = client.submit({"main.py": "import time\ntime.sleep(4)\n"})
    t0 = time.monotonic()
    st = client.wait(job, timeout=1)
    assert st["status"] in ("queued", "running") and time.monotonic() - t0 < 3.5
    assert client.wait(job)["status"] == "completed"


def test_stream_live(client):
    job = client.submit({"main.py": "import sys, time\nprint('first', flush=True)\ntime.sleep(2)\n"
                                    "print('oops', file=sys.stderr, flush=True)\nprint('second')\n"})
    seen = []
    t0 = time.monotonic()
    for ev in client.stream(job):
        seen.append((ev.event, ev.data if ev.event != "status" else ev.json()["status"], time.monotonic() - t0))
    kinds = [s[0] for s in seen]
    assert kinds[0] == "status" and kinds[-2:] == ["status", "end"]
    joined = {k: "".join(d for kk, d, _ in seen if kk == k) for k in ("stdout", "stderr")}
    assert joined == {"stdout": "first\nsecond\n", "stderr": "oops\n"}  # no order across the two pipes
    t_first = next(t for k, d, t in seen if d == "first\n")
    t_end = seen[-1][2]
    assert t_end - t_first >= 1.5, "the first line came while the job ran"
    assert seen[-2][1] == "completed"


def test_stream_resume_with_last_event_id(client):
    job = client.submit({"main.py": "import time\nfor i in range(3):\n    print('line', i, flush=True)\n"
                                    "    time.sleep(0.5)\n"})
    it = client.stream(job)
    first = next(e for e in it if e.event == "stdout")
    it.close()  # hang up after the first chunk
    assert first.data == "line 0\n" and first.id
    rest = [e for e in client.stream(job, last_event_id=first.id) if e.event == "stdout"]
    assert "".join(e.data for e in rest) == "line 1\nline 2\n"


class CutProxy:
    """A TCP proxy to the stack that cuts its first connection after `cut` seconds."""

    def __init__(self, target_port: int, cut: float) -> None:
        self.target_port, self.cut, self.connections = target_port, cut, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            u = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()
            if self.connections == 1:
                threading.Timer(self.cut, self.kill, (c, u)).start()

    @staticmethod
    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def kill(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
                s.close()


def test_stream_reconnects_after_a_dropped_connection(stack):
    url, cacert = stack
    port = urllib.parse.urlsplit(url).port
    proxy = CutProxy(port, 1.5)
    c = Client(url, cacert)
    job = c.submit({"main.py": "import time\nprint('before', flush=True)\ntime.sleep(3)\nprint('after')\n"})
    via = Client(f"https://localhost:{proxy.port}", cacert)
    evs = list(via.stream(job))
    out = [e.data for e in evs if e.event == "stdout"]
    assert out == ["before\n", "after\n"], "every chunk once, across the reconnection"
    assert evs[-1].event == "end"
    assert proxy.connections == 2, "the first connection was cut and the stream reopened"
    proxy.sock.close()


def test_cancel(client):
    job = client.submit({"main.py": "import time\ntime.sleep(60)\n"})
    time.sleep(0.5)
    o = client.cancel(job)
    assert o["job_id"] == job and o["status"] == "cancelled" and o["previous_status"] in ("queued", "running")
    with pytest.raises(NotFound):
        client.cancel("job-" + "a" * 26)


def test_stats_and_environments(client):
    s = client.stats()
    assert {"used", "limit", "available", "can_submit"} <= set(s["your_quota"])
    assert s["system"]["runners"] >= 1
    envs = client.environments()
    assert "default" in [e["name"] for e in envs]
    assert "python3" in next(e for e in envs if e["name"] == "default")["interpreters"]


# --- errors
def test_bad_request_names_the_field(client):
    with pytest.raises(BadRequest) as ei:
        client.submit({"main.py": "print(1)"}, timeout=0)
    assert ei.value.status == 400 and ei.value.field == "timeout" and ei.value.reason
    with pytest.raises(BadRequest) as ei:
        client.submit({"main.py": "print(1)"}, entrypoint="nope.py")
    assert ei.value.field == "entrypoint"
    with pytest.raises(BadRequest) as ei:
        client.submit({"main.py": "print(1)"}, wiat=1)
    assert ei.value.field == "wiat"


def test_not_found(client):
    with pytest.raises(NotFound) as ei:
        client.status("job-" + "a" * 26)
    assert ei.value.status == 404 and ei.value.error
    with pytest.raises(NotFound):
        client.logs("job-nope")


def test_rate_limited_third_session_and_opt_in_retry(stack):
    url, cacert = stack
    a = Sandbox.create(base_url=url, cacert=cacert)
    b = Sandbox.create(base_url=url, cacert=cacert)
    try:
        with pytest.raises(RateLimited) as ei:
            Sandbox.create(base_url=url, cacert=cacert)
        assert ei.value.status == 429 and ei.value.retry_after and ei.value.retry_after > 0
        assert "sessions" in ei.value.reason
        # with retry: the third waits (retry_after capped at 2 s) until one of the two is gone
        threading.Timer(1.0, a.close).start()
        t0 = time.monotonic()
        with Sandbox.create(base_url=url, cacert=cacert, retry=5, max_retry_wait=2) as c:
            assert c.id.startswith("ses-")
        assert time.monotonic() - t0 >= 1.0
    finally:
        a.close()
        b.close()


# --- signed results
def test_verify_signed_result(client):
    job = client.submit({"main.py": "print('signed')\nopen('o.txt','w').write('o')\n"}, outputs=["o.txt"])
    st = client.wait(job, 60)
    assert st["worker_metadata"]["worker_id"] in [w["worker_id"] for w in client.workers()]
    wid = client.verify(job)  # status, stdout and stderr fetched and checked
    assert wid == st["worker_metadata"]["worker_id"]
    assert client.verify(st, outputs={"o.txt": client.download(job, "o.txt")}) == wid
    tampered = json.loads(json.dumps(st))
    tampered["execution_metadata"]["exit_code"] = 1
    with pytest.raises(VerificationError, match="signature does not match"):
        client.verify(tampered)
    with pytest.raises(VerificationError, match="stdout"):
        from sandrun.verify import verify_result
        verify_result(st, [wid], stdout=b"signeD\n")
    with pytest.raises(VerificationError, match="trusted"):
        client.verify(st, worker_ids=["A" * 43 + "="])


# --- sessions
def test_session_run_code_keeps_variables(stack):
    with Sandbox.create(base_url=stack[0], cacert=stack[1]) as sb:
        assert sb.run_code("x = 40\ndef f(y):\n    return x + y").exit_code == 0
        r = sb.run_code("print(f(2))")
        assert (r.stdout, r.exit_code) == ("42\n", 0)
        r = sb.run_code("raise ValueError('bad')")
        assert r.exit_code != 0 and "ValueError: bad" in r.stderr
        assert sb.run_code("console.log(1 + 1)", language="node").stdout == "2\n"


def test_session_run_command_keeps_cwd_and_env(stack):
    with Sandbox.create(base_url=stack[0], cacert=stack[1]) as sb:
        assert sb.run_command("cd /tmp && export X=1").exit_code == 0
        r = sb.run_command("pwd; echo $X")
        assert (r.stdout, r.cwd) == ("/tmp\nX\n".replace("X\n", "1\n"), "/tmp")
        r = sb.run_command(["ls", "/workspace"])
        assert r.exit_code == 0
        r = sb.run_command("exit 7")
        assert r.exit_code == 7
        r = sb.run_command("sleep 5", timeout=1)
        assert r.timed_out
        events = list(sb.exec_stream("echo a; sleep 1; echo b >&2"))
        assert [e.event for e in events] == ["stdout", "stderr", "exit"]
        assert events[-1].json()["exit_code"] == 0


def test_session_files(stack):
    with Sandbox.create(base_url=stack[0], cacert=stack[1]) as sb:
        sb.write_file("/workspace/dir/a.txt", "alpha")
        sb.write_file("run.sh", "#!/bin/sh\necho ran\n", mode=0o755)
        sb.write_file("/tmp/raw.bin", bytes(range(256)))
        assert sb.read_file("/work/dir/a.txt") == "alpha"
        assert sb.read_file("/tmp/raw.bin", binary=True) == bytes(range(256))
        names = {f.name: f for f in sb.list_files("/workspace")}
        assert set(names) == {"dir", "run.sh"} and names["dir"].is_dir
        assert sb.run_command("./run.sh").stdout == "ran\n"
        assert sb.run_code("print(open('dir/a.txt').read())").stdout == "alpha\n"
        sb.delete_file("dir", recursive=True)
        with pytest.raises(NotFound):
            sb.read_file("dir/a.txt")
        with pytest.raises(BadRequest) as ei:
            sb.read_file("/etc/passwd")
        assert ei.value.field == "path"


def test_session_pause_resume(stack):
    with Sandbox.create(base_url=stack[0], cacert=stack[1]) as sb:
        sb.run_command("export KEPT=yes")
        assert sb.pause()["status"] == "paused"
        assert sb.status()["status"] == "paused"
        with pytest.raises(Conflict):
            sb.run_command("true")
        assert sb.resume()["status"] == "ready"
        assert sb.run_command("echo $KEPT").stdout == "yes\n"


def test_session_snapshot_and_new_session(stack):
    with Sandbox.create(base_url=stack[0], cacert=stack[1]) as sb:
        sb.write_file("keep/me.txt", "snap")
        wsp = sb.snapshot()
        assert wsp.startswith("wsp-")
    with Sandbox.create(base_url=stack[0], cacert=stack[1], workspace_id=wsp) as sb2:
        assert sb2.read_file("/workspace/keep/me.txt") == "snap"
    with pytest.raises(BadRequest) as ei:
        Sandbox.create(base_url=stack[0], cacert=stack[1], workspace_id="wsp-" + "a" * 26)
    assert ei.value.field == "workspace_id"


def test_session_deleted_when_the_block_ends(stack):
    url, cacert = stack
    with pytest.raises(RuntimeError):
        with Sandbox.create(base_url=url, cacert=cacert) as sb:
            sid = sb.id
            raise RuntimeError("the block fails")
    assert session_ended(url, cacert, sid)
    with pytest.raises(Gone) as ei:
        sb.run_command("true") if False else Transport(url, cacert).json("GET", f"/sessions/{sid}")
    assert ei.value.ended_reason == "deleted"
