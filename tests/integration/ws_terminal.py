#!/usr/bin/python3
"""A session's terminal end to end: Debian's python3-websockets (a client
nobody here wrote) on wss://…/sessions/{id}/pty through nginx, sandrun-ws,
Redis and the runner, to bash on a PTY inside the session's sandbox. Prints
TAP; run by t338-ws-terminal.sh.

usage: ws_terminal.py URL CACERT
"""
import asyncio
import http.client
import json
import re
import ssl
import sys
import time
import urllib.parse

import websockets

URL, CACERT = sys.argv[1:3]
u = urllib.parse.urlsplit(URL)
WSS = "wss://%s:%d" % (u.hostname, u.port)
ctx = ssl.create_default_context(cafile=CACERT)
n = 0
failed = 0
PROMPT = re.compile(rb"\$ $")


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


class Term:
    """One WebSocket on the terminal: the screen's bytes so far, the JSON messages."""

    def __init__(self, ws):
        self.ws, self.screen, self.events = ws, b"", []

    async def until(self, pattern, timeout=15):
        """Reads until the bytes since the last call match pattern (a bytes regex). The match, or None."""
        start = len(self.screen)
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.screen[start:])
            if m:
                return m
            if not await self._receive(deadline):
                return None

    async def _receive(self, deadline):
        """One message before deadline: bytes onto the screen, JSON into events. False on timeout or close."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            msg = await asyncio.wait_for(self.ws.recv(), left)
        except (asyncio.TimeoutError, websockets.ConnectionClosed):
            return False
        if isinstance(msg, bytes):
            self.screen += msg
        else:
            self.events.append(json.loads(msg))
        return True

    async def event(self, timeout=15):
        """The next JSON message (screen bytes meanwhile kept)."""
        deadline = time.monotonic() + timeout
        while not self.events:
            if not await self._receive(deadline):
                return None
        return self.events.pop(0)

    async def type(self, text):
        await self.ws.send(text.encode())


async def main():
    st, ses = api("POST", "/sessions", {})
    if not ok(st == 201, "a session (POST /sessions 201)", ses):
        return
    sid = ses["session_id"]
    url = "%s/sessions/%s/pty?cols=100&rows=30" % (WSS, sid)

    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        t = Term(ws)
        ev = await t.event()
        ok(ev == {"type": "ready", "session_id": sid, "started": True}, "ready first, a new terminal", ev)
        ok(await t.until(PROMPT) is not None, "the prompt comes as binary messages", t.screen)
        await t.type("stty size; echo $TERM\r")
        ok(await t.until(rb"30 100\r?\nxterm-256color") is not None,
           "the size asked in the query, TERM xterm-256color", t.screen[-300:])
        await t.until(PROMPT)
        await ws.send(json.dumps({"type": "resize", "cols": 132, "rows": 43}))
        await asyncio.sleep(0.3)
        await t.type("stty size\r")
        ok(await t.until(rb"43 132") is not None, "a resize message reaches the terminal", t.screen[-300:])
        await t.until(PROMPT)
        await t.type("cd /tmp; pwd\r")
        ok(await t.until(rb"[\r\n]/tmp\r\n") is not None, "cd /tmp; pwd: /tmp", t.screen[-300:])
        await t.until(PROMPT)
        await t.type("cd /work; echo typed > from-terminal.txt; id -u\r")
        m = await t.until(rb"[\r\n](\d+)\r\n")
        term_uid = m.group(1).decode() if m else None
        await t.until(PROMPT)
        st, r = api("POST", "/sessions/%s/exec" % sid, {"command": "cat /work/from-terminal.txt; id -u"})
        ok(st == 200 and isinstance(r, dict) and r.get("stdout") == "typed\n%s\n" % term_uid,
           "the exec API sees the terminal's file, as the same uid (%s)" % term_uid, r)
        await t.type("sleep 100\r")
        await t.until(rb"sleep 100\r\n")
        await asyncio.sleep(1)
        t0 = time.monotonic()
        await t.type("\x03")
        ok(await t.until(rb"(?s)\^C.*\$ $", 10) is not None,
           "Ctrl-C ends the foreground sleep: the prompt in %.2f s" % (time.monotonic() - t0), t.screen[-300:])
        await ws.send(json.dumps({"type": "input", "data": "echo caf\u00e9-$((6*7))\r"}))
        ok(await t.until("café-42".encode()) is not None, "a text input message, UTF-8 included", t.screen[-300:])
        await t.until(PROMPT)
        st, _ = api("POST", "/sessions/%s/pause" % sid, {})
        await ws.send(json.dumps({"type": "resize", "cols": 120, "rows": 40}))
        ev = await t.event(10)
        ok(st == 200 and ev is not None and ev.get("type") == "paused",
           "paused: a resize is answered {type: paused}, not sent on", ev)
        await t.type("x")
        ev = await t.event(10)
        ok(ev is not None and ev.get("type") == "paused", "... a key too", ev)
        st, _ = api("POST", "/sessions/%s/resume" % sid, {})
        await t.type("\x15echo after-resume\r")
        ok(st == 200 and await t.until(rb"[\r\n]after-resume\r\n") is not None,
           "... and the terminal stays: after resume it takes keys again", t.screen[-300:])
        await t.until(PROMPT)
        await t.type("echo still-here > /tmp/mark\r")
        await t.until(PROMPT)
        # the client goes; the terminal stays
    await asyncio.sleep(0.5)

    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        t = Term(ws)
        ev = await t.event()
        ok(ev == {"type": "ready", "session_id": sid, "started": False}, "a re-attach: started false", ev)
        ok(await t.until(rb"caf\xc3\xa9-42") is not None, "... what the terminal showed is replayed", t.screen[-300:])
        await t.type("cat /tmp/mark; pwd\r")
        ok(await t.until(rb"still-here\r?\n/work") is not None, "... and the same shell goes on (its cwd kept)",
           t.screen[-300:])
        await t.type("exit 7\r")
        ev = await t.event()
        ok(ev == {"type": "exit", "code": 7}, "exit 7: an exit message", ev)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed:
            pass
        except asyncio.TimeoutError:
            pass
        ok(ws.close_code == 1000, "... then close 1000", ws.close_code)

    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        t = Term(ws)
        ev = await t.event()
        ok(ev is not None and ev.get("started") is True, "after an exit, the next open starts a new terminal", ev)
        await t.until(PROMPT)
        st, _ = api("DELETE", "/sessions/%s" % sid)
        ev = await t.event(15)
        ok(ev is not None and ev.get("type") == "ended" and ev.get("reason") == "deleted",
           "DELETE /sessions/{id}: an ended message (deleted)", ev)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass
        ok(ws.close_code == 1000, "... then close 1000", ws.close_code)

    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        t = Term(ws)
        ev = await t.event()
        ok(ev is not None and ev.get("type") == "error" and ev.get("status") in (404, 410),
           "the ended session: an error message (404/410)", ev)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass
        ok(ws.close_code == 1008, "... then close 1008", ws.close_code)


asyncio.run(main())
print("1..%d" % n)
sys.exit(1 if failed else 0)
