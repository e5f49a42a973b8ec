#!/usr/bin/python3
"""A stand-in for the runner's side of the terminal (docs/sessions.md
"Terminal"), for t330-websocket.sh: it checks the gateway's side of the Redis
contract before the runner's exists on this branch. It talks to Redis as the
admin user over a raw socket (RESP), for the sessions named on its command
line:

- pops "pty" requests off sr:{SID}:req, answers on sr:{SID}:rep:RID with
  {"final":true,"ok":true,"started":bool,"since":ID}: a new terminal writes
  {t: s} to sr:{SID}:pty (its id is since) and a greeting {t: o}; a terminal
  already running (a re-attach) answers started false with its old since;
- pops input entries off sr:{SID}:pty:in and echoes each keystroke entry as
  output ({t: o}); "r" entries answer "resized C R"; the keystrokes "exit\\r"
  end the shell ({t: x, d: 0}), "bye\\r" end the session ({t: e, d: deleted});
- appends every request and entry it took, as JSON lines, to LOG.

Usage: pty-fake-runner.py PORT LOG SID...  (admin password in REDISCLI_AUTH)
"""
import json
import os
import socket
import sys


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
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)


def main():
    port, log_path, sids = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    r = Redis(port, os.environ["REDISCLI_AUTH"])
    log = open(log_path, "a", buffering=1)
    since = {}                   # SID -> the running terminal's "s" id
    keys = []
    for sid in sids:
        keys += ["sr:{%s}:req" % sid, "sr:{%s}:pty:in" % sid]

    def out(sid, **fields):
        args = ["XADD", "sr:{%s}:pty" % sid, "MAXLEN", "~", "1024", "*"]
        for k, v in fields.items():
            args += [k, v]
        return r.call(*args)

    while True:
        got = r.call("BLPOP", *keys, "1")
        if not got:
            continue
        key, value = got[0].decode(), got[1]
        sid = key.split("{", 1)[1].split("}", 1)[0]
        if key.endswith(":req"):
            req = json.loads(value)
            log.write(json.dumps({"sid": sid, "request": req}) + "\n")
            if req.get("op") != "pty":
                reply = {"final": True, "ok": False, "status": 400, "error": "Bad request",
                         "reason": "the fake knows only pty"}
            elif sid in since:
                reply = {"final": True, "ok": True, "started": False, "since": since[sid]}
            else:
                since[sid] = out(sid, t="s").decode()
                out(sid, t="o", d="welcome %dx%d\r\n$ " % (req["cols"], req["rows"]))
                reply = {"final": True, "ok": True, "started": True, "since": since[sid]}
            r.call("RPUSH", "sr:{%s}:rep:%s" % (sid, req["rid"]), json.dumps(reply))
            r.call("PEXPIRE", "sr:{%s}:rep:%s" % (sid, req["rid"]), "120000")
            continue
        kind, payload = value[:1], value[1:]
        log.write(json.dumps({"sid": sid, "entry": kind.decode(), "hex": payload.hex()}) + "\n")
        if kind == b"r":
            out(sid, t="o", d="resized " + payload.decode())
        elif payload == b"exit\r":
            out(sid, t="o", d=payload)
            out(sid, t="x", d="0")
            since.pop(sid, None)
        elif payload == b"bye\r":
            out(sid, t="e", d="deleted")
            since.pop(sid, None)
        else:
            out(sid, t="o", d=payload)


if __name__ == "__main__":
    main()
