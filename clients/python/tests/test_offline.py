"""The SDK's parts that need no Sandrun service: packing, SSE parsing, the
error classes, retry after Retry-After, stream resumption with
Last-Event-ID, signature checks (both Ed25519 back ends) and the MCP stdio
forwarder, against a local fake HTTP server."""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

import pytest

from sandrun import BadRequest, Client, NotFound, RateLimited, ServiceUnavailable, VerificationError
from sandrun import verify as sv
from sandrun.client import pack
from sandrun.errors import error_from_response
from sandrun.mcp_stdio import Forwarder, serve
from sandrun.sse import iter_events

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)


def names(archive: bytes):
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        return sorted(m.name for m in t.getmembers() if m.isfile())


def test_pack_directory_list_and_mapping(tmp_path):
    (tmp_path / "proj" / "lib").mkdir(parents=True)
    (tmp_path / "proj" / "main.py").write_text("print(1)")
    (tmp_path / "proj" / "lib" / "u.py").write_text("x = 1")
    (tmp_path / "extra.txt").write_text("e")
    assert names(pack(tmp_path / "proj")) == ["lib/u.py", "main.py"]
    assert names(pack([tmp_path / "extra.txt", tmp_path / "proj"])) == \
        ["extra.txt", "proj/lib/u.py", "proj/main.py"]
    assert names(pack({"a.py": "print(2)", "b.bin": b"\0"})) == ["a.py", "b.bin"]
    with pytest.raises(FileNotFoundError):
        pack(tmp_path / "missing")


def test_sse_parser():
    raw = (b": keep-alive\n\nevent: stdout\nid: 1-0\ndata: a\ndata: \n\n"
           b"event: status\r\ndata: {\"s\":1}\r\n\r\ndata: plain\n\nevent: stdout\nid: 2-0\ndata: cut")
    evs = list(iter_events(io.BytesIO(raw)))
    assert [(e.event, e.id, e.data) for e in evs] == \
        [("stdout", "1-0", "a\n"), ("status", None, '{"s":1}'), ("message", None, "plain")]
    assert evs[1].json() == {"s": 1}


def test_error_classes():
    e = error_from_response(400, {}, b'{"error":"Bad manifest","reason":"timeout out of range","field":"timeout"}')
    assert isinstance(e, BadRequest) and e.field == "timeout" and e.reason == "timeout out of range"
    e = error_from_response(429, {"Retry-After": "7"}, b'{"error":"Too many","reason":"x"}')
    assert isinstance(e, RateLimited) and e.retry_after == 7.0
    e = error_from_response(404, {}, b"<html>nope</html>")
    assert isinstance(e, NotFound) and e.status == 404 and "nope" in e.reason


def test_retry_honours_retry_after(fake_server):
    calls = []

    def handler(req):
        calls.append(time.monotonic())
        if len(calls) == 1:
            return 429, {"Retry-After": "1"}, {"error": "Too Many Requests", "reason": "slow down", "retry_after": 1}
        return 200, {}, {"your_quota": {}, "system": {}}

    srv = fake_server(handler)
    with pytest.raises(RateLimited) as ei:
        Client(srv.url).stats()
    assert ei.value.retry_after == 1.0 and ei.value.reason == "slow down"
    calls.clear()
    assert Client(srv.url, retry=2).stats() == {"your_quota": {}, "system": {}}
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.95


def test_retry_gives_up(fake_server):
    srv = fake_server(lambda r: (503, {"Retry-After": "0"}, {"error": "Service Unavailable", "reason": "full"}))
    with pytest.raises(ServiceUnavailable):
        Client(srv.url, retry=2).stats()
    assert len(srv.requests) == 3


def test_stream_resumes_with_last_event_id(fake_server):
    def handler(req):
        def first(h):
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(b'event: status\ndata: {"status":"running"}\n\nevent: stdout\nid: 5-0\ndata: one\ndata: \n\n'
                          b"event: stdout\nid: 6-0\ndata: hal")  # the connection drops mid-event
            h.wfile.flush()
            h.close_connection = True

        def second(h):
            body = (b"event: stdout\nid: 6-0\ndata: half\ndata: \n\nevent: stdout\nid: 7-0\ndata: two\ndata: \n\n"
                    b'event: end\ndata: {"status":"completed"}\n\n')
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        return first if len(srv.requests) == 1 else second

    srv = fake_server(handler)
    evs = list(Client(srv.url).stream("job-x"))
    assert [(e.event, e.data) for e in evs] == [("status", '{"status":"running"}'), ("stdout", "one\n"),
                                               ("stdout", "half\n"), ("stdout", "two\n"),
                                               ("end", '{"status":"completed"}')]
    assert srv.requests[0].header("Last-Event-ID") is None
    assert srv.requests[1].header("Last-Event-ID") == "5-0"
    assert srv.requests[1].path == "/logs/job-x/stream"


def _signed_status(sign):
    st = {"job_id": "job-abc", "status": "completed", "started_at": "2026-01-01T00:00:00.000Z",
          "finished_at": "2026-01-01T00:00:01.500Z",
          "execution_metadata": {"cpu_seconds": 0.0125, "wall_seconds": 1.5, "memory_peak_bytes": 1234,
                                 "exit_code": 0, "signal": None, "environment": "default",
                                 "limits": {"timeout_seconds": 300, "memory_mb": 512, "cpu_cores": 1,
                                            "pids_max": 64, "log_max_bytes": 1048576}},
          "output_files": {"b b.txt": {"size": 1, "sha256": sv._sha(b"b")},
                           "a.txt": {"size": 1, "sha256": sv._sha(b"a")}},
          "result_hashes": {"upload_sha256": "0" * 64, "manifest_sha256": "1" * 64,
                            "stdout_sha256": sv._sha(b"hi\n"), "stderr_sha256": sv._sha(b"")}}
    wid, sig = sign(None)
    st["worker_metadata"] = {"worker_id": wid, "signature": ""}
    st["worker_metadata"]["signature"] = sign(sv.canonical_message(st))[1]
    return st


def _key_signer(tmp_path):
    """(worker_id, signature) of a fresh Ed25519 key, with the openssl command."""
    key = tmp_path / "k.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, stdout=subprocess.PIPE).stdout
    wid = base64.b64encode(der[-32:]).decode()

    def sign(msg):
        if msg is None:
            return wid, None
        (tmp_path / "m").write_bytes(msg)
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in",
                              str(tmp_path / "m")], check=True, stdout=subprocess.PIPE).stdout
        return wid, base64.b64encode(sig).decode()
    return sign


def test_canonical_message_format(tmp_path):
    st = _signed_status(lambda m: ("W" * 43 + "=", "sig"))
    msg = sv.canonical_message(st).decode()
    assert msg.startswith("sandrun-result-v1\njob_id=job-abc\nworker_id=" + "W" * 43 + "=\n")
    assert "\nreason=\nexit_code=0\nsignal=\ncpu_seconds=0.013\nwall_seconds=1.500\n" in msg or \
        "\nreason=\nexit_code=0\nsignal=\ncpu_seconds=0.012\nwall_seconds=1.500\n" in msg
    assert msg.endswith("output=a.txt 1 %s\noutput=b\\x20b.txt 1 %s\n" % (sv._sha(b"a"), sv._sha(b"b")))


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl command")
@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
def test_verify_good_and_tampered(tmp_path, monkeypatch, backend):
    if backend == "cryptography":
        pytest.importorskip("cryptography")
    monkeypatch.setattr(sv, "backend", lambda: backend)
    st = _signed_status(_key_signer(tmp_path))
    wid = st["worker_metadata"]["worker_id"]
    assert sv.verify_result(st, [wid], stdout=b"hi\n", outputs={"a.txt": b"a"}) == wid
    bad = json.loads(json.dumps(st))
    bad["execution_metadata"]["exit_code"] = 1
    with pytest.raises(VerificationError, match="signature does not match"):
        sv.verify_result(bad, [wid])
    with pytest.raises(VerificationError, match="stdout"):
        sv.verify_result(st, [wid], stdout=b"hI\n")
    with pytest.raises(VerificationError, match="output a.txt"):
        sv.verify_result(st, [wid], outputs={"a.txt": b"A"})
    with pytest.raises(VerificationError, match="not by a trusted worker"):
        sv.verify_result(st, ["A" * 43 + "="])
    unsigned = dict(st)
    del unsigned["worker_metadata"]
    with pytest.raises(VerificationError, match="not signed"):
        sv.verify_result(unsigned)


# --- the MCP stdio forwarder
def _mcp_handler(srv_box):
    def handler(req):
        if req.method == "DELETE":
            return 200, {}, b""
        msg = req.json()
        if isinstance(msg, dict) and msg.get("method") == "initialize":
            return 200, {"Mcp-Session-Id": "sess-1"}, {
                "jsonrpc": "2.0", "id": msg["id"],
                "result": {"protocolVersion": "2025-06-18", "serverInfo": {"name": "fake"}, "capabilities": {}}}
        if isinstance(msg, dict) and "id" not in msg:
            return 202, {}, b""
        if msg.get("method") == "tools/call":
            body = ('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}\n\n'
                    'event: message\ndata: {"jsonrpc":"2.0","id":%s,"result":{"content":[]}}\n\n' % json.dumps(msg["id"]))
            return 200, {"Content-Type": "text/event-stream"}, body
        if msg.get("method") == "boom":
            return 503, {"Retry-After": "3"}, {"error": "Service Unavailable", "reason": "full", "retry_after": 3}
        if msg.get("method") == "bad":
            return 400, {}, {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "Method not found"}}
        return 200, {}, {"jsonrpc": "2.0", "id": msg["id"], "result": {"echo": msg.get("method")}}
    return handler


def test_mcp_forwarder(fake_server):
    srv = fake_server(_mcp_handler(None))
    lines = [
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        "",
        json.dumps({"jsonrpc": "2.0", "id": "t", "method": "tools/list"}),
        json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x"}}),
        json.dumps({"jsonrpc": "2.0", "id": 3, "method": "boom"}),
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "bad"}),
        "{not json",
    ]
    out = io.StringIO()
    assert serve(srv.url, None, io.StringIO("\n".join(lines) + "\n"), out) == 0
    got = [json.loads(x) for x in out.getvalue().splitlines()]
    assert got[0]["id"] == 1 and got[0]["result"]["protocolVersion"] == "2025-06-18"
    assert got[1] == {"jsonrpc": "2.0", "id": "t", "result": {"echo": "tools/list"}}  # nothing for the notification
    assert got[2]["method"] == "notifications/progress" and got[3]["id"] == 2
    assert got[4]["id"] == 3 and got[4]["error"]["code"] == -32603 and got[4]["error"]["data"]["retry_after"] == 3
    assert got[5] == {"jsonrpc": "2.0", "id": 4, "error": {"code": -32601, "message": "Method not found"}}
    assert got[6]["id"] is None and got[6]["error"]["code"] == -32700
    assert len(got) == 7
    reqs = srv.requests
    assert reqs[0].header("Mcp-Session-Id") is None
    for r in reqs[1:]:
        assert r.header("Mcp-Session-Id") == "sess-1"
        assert r.header("MCP-Protocol-Version") == "2025-06-18"
    assert all(r.path == "/mcp" for r in reqs)
    assert "text/event-stream" in reqs[0].header("Accept") and "application/json" in reqs[0].header("Accept")
    assert reqs[-1].method == "DELETE"


def test_mcp_command_over_stdio(fake_server):
    """`sandrun mcp` as an agent runs it: a pipe in, a pipe out, only JSON lines on stdout."""
    srv = fake_server(_mcp_handler(None))
    env = dict(os.environ, SANDRUN_URL=srv.url, PYTHONPATH=PKG)
    p = subprocess.Popen([sys.executable, "-m", "sandrun", "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env=env, text=True)
    p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}) + "\n")
    p.stdin.flush()
    first = json.loads(p.stdout.readline())  # answered before stdin ends: no buffering
    assert first["id"] == 1
    p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "ping"}) + "\n")
    p.stdin.close()
    rest = p.stdout.read().splitlines()
    assert p.wait(10) == 0
    assert [json.loads(x)["id"] for x in rest] == [9]


def test_mcp_unreachable_service():
    fwd = Forwarder("http://127.0.0.1:9", None, timeout=5)
    got = [json.loads(x) for x in fwd.handle_line(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "ping"}))]
    assert got[0]["id"] == 5 and got[0]["error"]["code"] == -32603
    assert fwd.handle_line(json.dumps({"jsonrpc": "2.0", "method": "notifications/x"})) == []


def test_mcp_expired_session_is_forgotten(fake_server):
    def handler(req):
        msg = req.json()
        if msg.get("method") == "initialize":
            return 200, {"Mcp-Session-Id": "s%d" % len(srv.requests)}, {
                "jsonrpc": "2.0", "id": msg["id"], "result": {"protocolVersion": "2025-06-18", "serverInfo": {}}}
        return 404, {}, {"error": "Not found", "reason": "no such MCP session"}

    srv = fake_server(handler)
    fwd = Forwarder(srv.url, None)
    fwd.handle_line(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
    got = json.loads(fwd.handle_line(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))[0])
    assert got["id"] == 2 and got["error"]["data"]["status"] == 404
    fwd.handle_line(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {}}))
    assert [r.header("Mcp-Session-Id") for r in srv.requests] == [None, "s1", None]
    assert fwd.session_id == "s3"
