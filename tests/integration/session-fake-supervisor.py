#!/usr/bin/python3
"""A stand-in for the runner's session supervisor (runner/session.c), for
tests/integration/t285-session-api.sh: it checks the responder's side of
the conversation in docs/sessions.md before the runner side exists. It
talks to Redis as the admin user over a raw socket (RESP), and does what a
supervisor does, with canned results instead of a sandbox:

- pops create entries off sr:sespool:default, marks the record ready (and
  claimed by runner "fake-supervisor", which beats in sr:runners), pushes
  {"final":true,"ok":true} on sr:{SID}:rep:create;
- pops requests off each session's sr:{SID}:req and pushes reply frames on
  sr:{SID}:rep:RID exactly as docs/sessions.md says: JSON frames, a final
  frame with ok/status/error/reason, "binary": N followed (in the same
  RPUSH) by the N raw bytes, stream events before the final frame;
- keeps written files in memory (GETDEL of the data key).

Canned behaviour: exec of "hang" never answers; exec of "fail" answers a
400 failure frame; snapshot answers 413 (over snapshot_max_bytes).
Usage: session-fake-supervisor.py PORT  (admin password in REDISCLI_AUTH)
"""
import json
import os
import socket
import sys
import time

RUNNER = "fake-supervisor"


class Redis:
    def __init__(self, port, password):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
        self.call("AUTH", "sandrun-admin", password)

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self.read()

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)


def now_ms():
    return int(time.time() * 1000)


def main():
    r = Redis(int(sys.argv[1]), os.environ["REDISCLI_AUTH"])
    sessions = {}  # sid -> {"files": {path: bytes}}
    while True:
        r.call("ZADD", "sr:runners", now_ms(), RUNNER)
        keys = ["sr:sespool:default"] + ["sr:{%s}:req" % s for s in sessions]
        got = r.call("BLPOP", *keys, "1")
        if not got:
            continue
        key, value = got[0].decode(), got[1]
        msg = json.loads(value)
        if key == "sr:sespool:default":
            sid = msg["session_id"]
            rec = "sr:{%s}:ses" % sid
            if r.call("HGET", rec, "status") != b"starting":
                continue  # as the runner does: only a starting record is served
            ttl = int(msg["ttl_seconds"])
            r.call("HSET", rec, "status", "ready", "runner", RUNNER, "created_at", now_ms(),
                   "last_used_at", now_ms(), "expires_at", now_ms() + ttl * 1000)
            sessions[sid] = {"files": {}}
            reply(r, sid, "create", {"final": True, "ok": True})
            continue
        sid = key[len("sr:{"):-len("}:req")]
        serve(r, sid, sessions, msg)


def reply(r, sid, rid, *frames):
    key = "sr:{%s}:rep:%s" % (sid, rid)
    r.call("RPUSH", key, *[f if isinstance(f, bytes) else json.dumps(f) for f in frames])
    r.call("PEXPIRE", key, 120000)


def fail(status, error, reason):
    return {"final": True, "ok": False, "status": status, "error": error, "reason": reason}


def serve(r, sid, sessions, msg):
    rid, op = msg["rid"], msg["op"]
    files = sessions[sid]["files"]
    rec = "sr:{%s}:ses" % sid
    if op == "exec":
        command = msg.get("command") or msg.get("code")
        if command == "hang":
            return
        if command == "fail":
            reply(r, sid, rid, fail(400, "Bad request", "no such directory: /work/nope"))
            return
        text = command if isinstance(command, str) else " ".join(command)
        result = {"final": True, "ok": True, "exit_code": 0, "signal": None, "stdout": "ran: %s\n" % text,
                  "stderr": "", "truncated": False, "duration_ms": 3, "timed_out": False, "cwd": "/work"}
        if msg.get("stream"):
            result["stdout"] = ""
            reply(r, sid, rid, {"event": "stdout", "data": "line one\nline two\n"},
                  {"event": "stderr", "data": "warning\n"}, result)
        else:
            reply(r, sid, rid, result)
    elif op == "write":
        data = r.call("GETDEL", "sr:{%s}:data:%s" % (sid, rid))
        if data is None:
            reply(r, sid, rid, fail(500, "Internal error", "the request's bytes are missing"))
            return
        files[msg["path"]] = (data, msg.get("mode"))
        reply(r, sid, rid, {"final": True, "ok": True, "path": msg["path"], "size": len(data)})
    elif op == "read":
        path = msg["path"]
        if path in files:
            data = files[path][0]
            reply(r, sid, rid, {"final": True, "ok": True, "binary": len(data)}, data)
        elif path == "/work":
            entries = [{"name": p, "type": "file", "size": len(d), "mode": m or 0o644, "mtime": 0}
                       for p, (d, m) in sorted(files.items())]
            reply(r, sid, rid, {"final": True, "ok": True, "path": "/work", "entries": entries})
        else:
            reply(r, sid, rid, fail(404, "Not found", "no such file: %s" % path))
    elif op == "delete":
        if files.pop(msg["path"], None) is None:
            reply(r, sid, rid, fail(404, "Not found", "no such file: %s" % msg["path"]))
        else:
            reply(r, sid, rid, {"final": True, "ok": True})
    elif op == "unpack":
        data = r.call("GETDEL", "sr:{%s}:data:%s" % (sid, rid))
        files["unpacked.tar"] = (data or b"", 0o644)
        reply(r, sid, rid, {"final": True, "ok": True, "path": msg["path"], "bytes": len(data or b"")})
    elif op == "archive":
        data = b"\x1f\x8b\x08\x08fake-archive-bytes"
        reply(r, sid, rid, {"final": True, "ok": True, "binary": len(data)}, data)
    elif op in ("pause", "resume"):
        r.call("HSET", rec, "status", "paused" if op == "pause" else "ready")
        reply(r, sid, rid, {"final": True, "ok": True, "status": "paused" if op == "pause" else "ready"})
    elif op == "snapshot":
        reply(r, sid, rid, fail(413, "Payload too large",
                                "the workspace packs to more than snapshot_max_bytes (67108864)"))
    elif op == "end":
        client = r.call("HGET", rec, "client") or b""
        r.call("HSET", rec, "status", "ended", "reason", "deleted", "ended_at", now_ms())
        r.call("EXPIRE", rec, 300)
        r.call("ZREM", b"sr:sessions:{" + client + b"}", __import__("hashlib").sha1(sid.encode()).hexdigest())
        r.call("DEL", "sr:{%s}:req" % sid)
        del sessions[sid]
        reply(r, sid, rid, {"final": True, "ok": True})
    else:
        reply(r, sid, rid, fail(400, "Bad request", "unknown op %s" % op))


if __name__ == "__main__":
    main()
