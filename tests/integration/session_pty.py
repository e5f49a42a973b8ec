#!/usr/bin/python3
"""The runner's side of a session's terminal (docs/sessions.md, "Terminal"),
driven through Redis as the WebSocket gateway drives it: the open goes
through session_request.lua (the same script, by EVALSHA of the same text
the runner loaded) and its reply list; keystrokes are pushed on
sr:{SID}:pty:in; the screen is read from the sr:{SID}:pty stream. The
session itself is made and checked through the HTTP API. Prints TAP; run
by t337-session-pty.sh.

usage: session_pty.py URL CACERT REDIS_PORT TOP_SRCDIR STACK_DIR RATE
(the admin password in SANDRUN_REDIS_ADMIN_PASSWORD)
"""
import hashlib
import http.client
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse

URL, CACERT, RPORT, TOP, STACK, RATE = sys.argv[1:7]
RATE = int(RATE)
u = urllib.parse.urlsplit(URL)
ctx = ssl.create_default_context(cafile=CACERT)
n = 0
failed = 0


def ok(cond, name, detail=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok"), n, "-", name, flush=True)
    if not cond:
        failed += 1
        for line in str(detail)[-1500:].splitlines():
            print("#  ", line)
    return cond


def api(method, path, body=None):
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw


class Redis:
    """Just enough RESP for the test: commands out, replies in (bytes, int, list, None; errors raise)."""

    def __init__(self, port, user, password):
        self.s = socket.create_connection(("127.0.0.1", int(port)))
        self.f = self.s.makefile("rb")
        self.cmd("AUTH", user, password)

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            ln = int(rest)
            if ln < 0:
                return None
            data = self.f.read(ln + 2)[:-2]
            return data
        if t == b"*":
            ln = int(rest)
            return None if ln < 0 else [self.read() for _ in range(ln)]
        raise RuntimeError("unexpected reply %r" % line)


def script_text(name):
    """A script as build-aux/embed-lua.sh embeds it (its includes inlined): the runner loaded this text."""
    out = []
    d = os.path.join(TOP, "redis")
    with open(os.path.join(d, name)) as f:
        for line in f.read().splitlines():
            if line.startswith("--#include "):
                with open(os.path.join(d, line.split()[1])) as inc:
                    out.extend(inc.read().splitlines())
            else:
                out.append(line)
    return "\n".join(out) + "\n"


R = Redis(RPORT, "sandrun-admin", os.environ["SANDRUN_REDIS_ADMIN_PASSWORD"])
REQUEST = script_text("session_request.lua")
REQUEST_SHA = hashlib.sha1(REQUEST.encode()).hexdigest()


def request(sid, client, body, cpu_limit=1000000):
    """session_request.lua as the responder calls it (fcgi/sessions.c): KEYS and ARGV in its order."""
    rid = secrets.token_hex(8)
    body = dict(body, rid=rid)
    now = int(time.time() * 1000)
    keys = ["sr:{%s}:ses" % sid, "sr:{%s}:req" % sid, "sr:{%s}:data:%s" % (sid, rid), "sr:cpu:{%s}" % client,
            "sr:store:{%s}" % client, "sr:sessions:{%s}" % client]
    argv = [rid, json.dumps(body), now, body["op"], "", cpu_limit, 3600000, 1 << 30, 90, 120000, 256, sid]
    try:
        got = R.cmd("EVALSHA", REQUEST_SHA, len(keys), *keys, *argv)
    except RuntimeError as e:
        if "NOSCRIPT" not in str(e):
            raise
        got = R.cmd("EVAL", REQUEST, len(keys), *keys, *argv)
    return rid, [g.decode() if isinstance(g, bytes) else g for g in got]


def reply(sid, rid, wait=20):
    got = R.cmd("BLPOP", "sr:{%s}:rep:%s" % (sid, rid), wait)
    return json.loads(got[1]) if got else None


def pty_open(sid, client, cols=80, rows=24):
    rid, verdict = request(sid, client, {"op": "pty", "cols": cols, "rows": rows})
    return verdict, reply(sid, rid) if verdict == ["ok"] else None


class Screen:
    """The terminal's stream, read from an entry id on."""

    def __init__(self, sid, since):
        self.key = "sr:{%s}:pty" % sid
        self.last = since
        self.buf = b""
        self.entries = []        # (id, t, d)

    def poll(self, block_ms=200):
        got = R.cmd("XREAD", "COUNT", 1000, "BLOCK", block_ms, "STREAMS", self.key, self.last)
        new = []
        for _key, entries in got or []:
            for eid, fields in entries:
                f = dict(zip(fields[::2], fields[1::2]))
                self.last = eid
                e = (eid.decode(), f.get(b"t", b"").decode(), f.get(b"d", b""))
                self.entries.append(e)
                new.append(e)
                if e[1] == "o":
                    self.buf += e[2]
        return new

    def wait(self, pattern, timeout=10):
        """Until the output since the last match, without CR and control sequences (bash's
        bracketed-paste switches), matches pattern (bytes regex); the match or None."""
        until = time.time() + timeout
        while True:
            self.buf = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", self.buf).replace(b"\r", b"")
            m = re.search(pattern, self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if time.time() >= until:
                return None
            self.poll()

    def wait_type(self, t, timeout=10):
        until = time.time() + timeout
        while time.time() < until:
            for e in [e for e in self.entries if e[1] == t] or []:
                return e
            self.poll()
        return None


def keys_in(sid, data):
    R.cmd("RPUSH", "sr:{%s}:pty:in" % sid, data)


def type_line(sid, text):
    keys_in(sid, b"d" + text.encode() + b"\r")


PROMPT = rb"\$ $"

# --- a session, and what its exec API says
st, body = api("POST", "/sessions", {})
ok(st == 201, "a session", body)
SID = body["session_id"]
CLIENT = R.cmd("HGET", "sr:{%s}:ses" % SID, "client").decode()
st, body = api("POST", "/sessions/%s/exec" % SID, {"command": "echo fromexec > /work/fromexec.txt; id -u; cd /tmp"})
EXEC_UID = body.get("stdout", "").strip() if isinstance(body, dict) else ""
ok(st == 200 and EXEC_UID.isdigit(), "the exec API runs as uid %s, and cd /tmp" % EXEC_UID, body)

# --- open: started, the `s` entry, the prompt
verdict, rep = pty_open(SID, CLIENT, 100, 30)
ok(verdict == ["ok"] and rep and rep.get("final") and rep.get("ok") and rep.get("started") is True
   and re.match(r"^\d+-\d+$", rep.get("since", "")), "the open through session_request.lua: started, since", rep)
SINCE = rep["since"] if rep else "0-0"
first = R.cmd("XRANGE", "sr:{%s}:pty" % SID, SINCE, SINCE)
ok(first and dict(zip(first[0][1][::2], first[0][1][1::2])).get(b"t") == b"s", "since is the terminal's t=s entry", first)
scr = Screen(SID, SINCE)
m = scr.wait(rb"/tmp\$ ", 15)
ok(m is not None, "the prompt comes, in the exec shell's cwd (/tmp$ )", scr.buf)
ttl = R.cmd("PTTL", "sr:{%s}:pty" % SID)
rttl = R.cmd("PTTL", "sr:{%s}:ses" % SID)
ok(ttl > 0 and abs(ttl - rttl) < 5000, "the stream expires with the record (%d ms, record %d ms)" % (ttl, rttl))

# --- keystrokes in, screen out
type_line(SID, "cd /work; pwd")
ok(scr.wait(rb"\n/work\n", 10) is not None, "cd /work; pwd -> /work", scr.buf)
scr.wait(PROMPT, 5)
keys_in(SID, b"r120 40")
type_line(SID, "stty size")
ok(scr.wait(rb"\n40 120\n", 10) is not None, "a resize ('r120 40'): stty size says 40 120", scr.buf)
type_line(SID, "echo $TERM")
ok(scr.wait(rb"\nxterm-256color\n", 10) is not None, "TERM is xterm-256color", scr.buf)

# --- Ctrl-C reaches the foreground process
type_line(SID, "sleep 100")
time.sleep(1)
t0 = time.time()
keys_in(SID, b"d\x03")
m = scr.wait(rb"\^C\n~\$ ", 10)
ok(m is not None and time.time() - t0 < 5, "Ctrl-C ends sleep 100: the prompt is back in %.1f s" % (time.time() - t0), scr.buf)

# --- the terminal and the exec API share the session
type_line(SID, "cat /work/fromexec.txt; echo fromterm > /work/fromterm.txt; id -u")
m = scr.wait(rb"\nfromexec\n(\d+)\n", 10)
ok(m is not None, "a file the exec API wrote is read in the terminal", scr.buf)
ok(m is not None and m.group(1).decode() == EXEC_UID, "the terminal's uid is the exec's (%s)" % (m.group(1).decode() if m else "?"))
time.sleep(0.5)
st, body = api("POST", "/sessions/%s/exec" % SID, {"command": "cat /work/fromterm.txt"})
ok(st == 200 and body.get("stdout") == "fromterm\n", "a file written in the terminal is seen by exec", body)
type_line(SID, "export FROMTERM=1; (exec 3<>/dev/tcp/1.1.1.1/80) 2>/dev/null && echo NET-OPEN || echo NET-CLOSED")
m = scr.wait(rb"\nNET-(OPEN|CLOSED)\n", 15)
ok(m is not None and m.group(1) == b"CLOSED",
   "no network from the terminal", scr.buf)

# the terminal's processes: in the session's cgroup, as the session's uid (seen from the host)
type_line(SID, "sleep 31337 &")
time.sleep(1)
pids = subprocess.run(["pgrep", "-f", "^sleep 31337$"], capture_output=True, text=True).stdout.split()
cg = open("/proc/%s/cgroup" % pids[0]).read() if pids else ""
uid = os.stat("/proc/%s" % pids[0]).st_uid if pids else -1
ok(len(pids) == 1 and "session-" in cg, "a process started in the terminal is in the session's cgroup", cg)
ok(str(uid) == EXEC_UID, "... and runs as the session's uid (%s)" % uid)
type_line(SID, "kill %1; wait")
scr.wait(rb"Terminated[^\n]*\n[^\n]*\$ $", 5)

# --- a second open while it runs: the same terminal
verdict, rep = pty_open(SID, CLIENT, 90, 20)
ok(verdict == ["ok"] and rep and rep.get("started") is False and rep.get("since") == SINCE,
   "a second open attaches: started false, the same since", rep)
type_line(SID, "stty size; echo $FROMTERM")
ok(scr.wait(rb"\n20 90\n1\n", 10) is not None, "... its size is set, the shell's state kept", scr.buf)

# --- malformed input is dropped; the terminal lives on
for junk in [b"zgarbage", b"r0 0", b"r 80 24", b"r80 24 ", b"r1001 5", b"r080 24", b"d", b"", b"d" + b"x" * 4097]:
    keys_in(SID, junk)
type_line(SID, "echo still-$((40+2))")
ok(scr.wait(rb"\nstill-42\n", 10) is not None, "nine malformed messages dropped, the terminal still answers", scr.buf)
st, body = api("GET", "/sessions/%s" % SID)
ok(st == 200 and body.get("status") == "ready", "... and the session is ready", body)
log = open(os.path.join(STACK, "runner.log"), errors="replace").read() if os.path.exists(os.path.join(STACK, "runner.log")) else ""
ok(log.count("terminal input dropped") >= 9 or not log, "... each logged (%d)" % log.count("terminal input dropped"))

# --- exec keeps working while the terminal is busy
type_line(SID, "sleep 3; echo slept")
t0 = time.time()
st, body = api("POST", "/sessions/%s/exec" % SID, {"command": "echo exec-meanwhile"})
ok(st == 200 and body.get("stdout") == "exec-meanwhile\n" and time.time() - t0 < 2.5,
   "an exec is served while the terminal runs a command (%.1f s)" % (time.time() - t0), body)
scr.wait(rb"slept\n", 10)

# --- output is bounded per second; the stream stays bounded
scr.poll(0)
scr.buf = b""
type_line(SID, "yes")
time.sleep(1.5)
scr.poll(0)
t0, b0 = time.time(), sum(len(e[2]) for e in scr.entries if e[1] == "o")
while time.time() - t0 < 4:
    scr.poll(200)
dt = time.time() - t0
got = sum(len(e[2]) for e in scr.entries if e[1] == "o") - b0
ok(got / dt <= RATE * 1.25 + 16384 and got / dt >= RATE * 0.4,
   "yes: %.0f bytes/s in the stream, pty_output_bytes_per_second %d" % (got / dt, RATE))
t0 = time.time()
keys_in(SID, b"d\x03")
scr.buf = b""
m = scr.wait(rb"~\$ $", 15)
ok(m is not None, "Ctrl-C stops the flood: the prompt is back in %.1f s" % (time.time() - t0), scr.buf[-300:])
type_line(SID, "for i in $(seq 1 1500); do echo line-$i; sleep 0.001; done")
m = scr.wait(rb"line-1500\n", 60)
xlen = R.cmd("XLEN", "sr:{%s}:pty" % SID)
ok(m is not None and len(scr.entries) > 400 and xlen <= 256 + 150,
   "the stream keeps about 256 entries (trimmed by whole nodes of 100): %d read, XLEN %d" % (len(scr.entries), xlen))
scr.wait(PROMPT, 5)

# --- what the terminal burns is the session's CPU (0.5 s of 2 at least: the test machine is shared)
st, body = api("GET", "/sessions/%s" % SID)
cpu0 = body.get("usage", {}).get("cpu_seconds", 0) if isinstance(body, dict) else 0
type_line(SID, "timeout 2 sh -c 'while :; do :; done'; echo burnt")
scr.wait(rb"\nburnt\n", 15)
time.sleep(2)
st, body = api("GET", "/sessions/%s" % SID)
cpu = body.get("usage", {}).get("cpu_seconds", 0) if isinstance(body, dict) else 0
ok(st == 200 and cpu - cpu0 >= 0.5, "2 s of a busy loop in the terminal: %.2f s more on the session's CPU" % (cpu - cpu0), body)

# --- paused: no open
st, _ = api("POST", "/sessions/%s/pause" % SID, {})
verdict, rep = pty_open(SID, CLIENT)
ok(verdict == ["paused"], "an open on a paused session: paused (409)", verdict)
api("POST", "/sessions/%s/resume" % SID, {})
rid, verdict = request(SID, CLIENT, {"op": "pty", "cols": 80, "rows": 24}, cpu_limit=0)
ok(verdict[0] == "cpu", "an open over the CPU window: cpu (429), as an exec", verdict)

# --- exit: t=x, then a new terminal
type_line(SID, "exit 3")
e = scr.wait_type("x", 10)
ok(e is not None and e[2] == b"3", "exit 3: a t=x entry, d=3", e)
time.sleep(0.3)
ok(R.cmd("EXISTS", "sr:{%s}:pty:in" % SID) == 0, "... and the input list is gone")
verdict, rep = pty_open(SID, CLIENT)
ok(rep and rep.get("started") is True and rep.get("since") != SINCE, "the next open starts a new terminal", rep)
scr2 = Screen(SID, rep["since"] if rep else "0-0")
type_line(SID, "echo again")
ok(scr2.wait(rb"\nagain\n", 15) is not None, "... which answers", scr2.buf)

# --- kill -9 -1 in the terminal: the relay is out of the session's reach
type_line(SID, "sleep 200 & kill -9 -1; echo after-kill")
ok(scr2.wait(rb"\nafter-kill\n", 10) is not None, "kill -9 -1 in the terminal", scr2.buf)
type_line(SID, "echo relay-$((6*7))")
ok(scr2.wait(rb"\nrelay-42\n", 10) is not None, "... the terminal still answers: its relay was out of reach", scr2.buf)
st, body = api("POST", "/sessions/%s/exec" % SID, {"command": "echo exec-alive"})
ok(st == 200 and body.get("stdout") == "exec-alive\n", "... and so does the exec API", body)

# --- bad opens
rid, verdict = request(SID, CLIENT, {"op": "pty", "cols": 0, "rows": 24})
r = reply(SID, rid)
ok(r and r.get("ok") is False and r.get("status") == 400 and r.get("field") == "cols", "cols 0: 400 naming cols", r)
rid, verdict = request(SID, CLIENT, {"op": "pty", "cols": 80, "rows": 24, "shell": "zsh"})
r = reply(SID, rid)
ok(r and r.get("status") == 400, "an unknown field: 400", r)

# --- the end: t=e with the reason
st, _ = api("DELETE", "/sessions/%s" % SID)
e = scr2.wait_type("e", 15)
ok(st in (200, 204) and e is not None and e[2] == b"deleted", "DELETE: a t=e entry, d=deleted", e)
ttl = R.cmd("TTL", "sr:{%s}:pty" % SID)
ok(0 < ttl <= 300, "... and the stream expires with the ended record (%d s)" % ttl)

print("1..%d" % n)
sys.exit(1 if failed else 0)
