#!/usr/bin/python3
"""WebSocket and SSE clients for t330-websocket.sh, on Debian's
python3-websockets (a client nobody here wrote). Each mode prints one JSON
object on stdout for the test to read with jq.

  logs URL CA [--json]         the messages of a log stream, the close, timings
  sse URL CA                   the data of an SSE stream's stdout/stderr events
  slow URL CA                  a reader that waits 3 s before reading, then reads slowly
  vanish URL CA                reads one message, then drops the TCP connection
  many URL CA N FIRST-ADDR     N viewers at once, 4 per source address from FIRST-ADDR up
  limit URL CA N               N streams at once from 127.0.0.1: which were refused (HTTP status)
  cap URL CA N                 N streams at once: the last one's first message and close code
  raw HOST PORT PATH CA CASE   one malformed frame (CASE: opcode, unmasked, utf8), the close code
  deadpeer HOST PORT PATH      plain, to the gateway: a client that never answers pings
  big URL CA BYTES [binary]    one message of BYTES bytes: the close code
  pty URL CA SCRIPT            a terminal: SCRIPT is a JSON list of steps (send/expect), see t330
"""
import asyncio
import base64
import json
import os
import socket
import ssl
import struct
import sys
import time

import websockets


def ctx_for(ca):
    return ssl.create_default_context(cafile=ca)


def out(obj):
    print(json.dumps(obj))


async def read_all(ws, t0, res):
    try:
        async for m in ws:
            if "first_ms" not in res:
                res["first_ms"] = int((time.monotonic() - t0) * 1000)
            if isinstance(m, bytes):
                res["messages"].append({"binary": base64.b64encode(m).decode()})
            else:
                res["messages"].append(m)
    except websockets.ConnectionClosed:
        pass
    res["code"] = ws.close_code
    res["reason"] = ws.close_reason
    res["end_ms"] = int((time.monotonic() - t0) * 1000)


async def mode_logs(url, ca, *rest):
    t0 = time.monotonic()
    res = {"messages": []}
    async with websockets.connect(url, ssl=ctx_for(ca), max_size=None) as ws:
        await read_all(ws, t0, res)
    out(res)


def mode_sse(url, ca):
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx_for(ca), timeout=120)
    conn.request("GET", u.path, headers={"Accept": "text/event-stream"})
    r = conn.getresponse()
    chunks, event, data = [], None, []
    for raw in r:
        line = raw.decode("utf-8").rstrip("\n")
        if line.endswith("\r"):
            line = line[:-1]
        if line == "":
            if event in ("stdout", "stderr"):
                chunks.append("\n".join(data))
            if event == "end":
                break
            event, data = None, []
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "data:":
            data.append("")
    out({"status": r.status, "chunks": chunks})


async def mode_slow(url, ca):
    t0 = time.monotonic()
    res = {"messages": []}
    # a small read buffer and queue: the bytes wait in TCP, nginx and the gateway
    async with websockets.connect(url, ssl=ctx_for(ca), max_size=None, max_queue=1, read_limit=4096) as ws:
        await asyncio.sleep(3)
        try:
            while True:
                m = await ws.recv()
                res["messages"].append(m)
                if len(res["messages"]) % 50 == 0:
                    await asyncio.sleep(0.1)
        except websockets.ConnectionClosed:
            pass
        res["code"], res["reason"] = ws.close_code, ws.close_reason
    res["end_ms"] = int((time.monotonic() - t0) * 1000)
    out(res)


async def mode_vanish(url, ca):
    ws = await websockets.connect(url, ssl=ctx_for(ca), max_size=None)
    first = await ws.recv()
    ws.transport.abort()      # no close frame, no FIN handshake: the client is simply gone
    out({"first": first})


async def one_viewer(url, ca, addr, res, i):
    t0 = time.monotonic()
    r = {"messages": []}
    try:
        async with websockets.connect(url, ssl=ctx_for(ca), max_size=None, local_addr=(addr, 0),
                                      open_timeout=60) as ws:
            await read_all(ws, t0, r)
    except Exception as e:                       # noqa: BLE001 - reported, not hidden
        r["error"] = repr(e)
    res[i] = r


async def mode_many(url, ca, n, first_addr):
    n = int(n)
    base = first_addr.rsplit(".", 1)
    res = [None] * n
    t0 = time.monotonic()
    await asyncio.gather(*(one_viewer(url, ca, "%s.%d" % (base[0], int(base[1]) + i // 4), res, i)
                           for i in range(n)))
    texts = ["".join(m for m in r["messages"] if isinstance(m, str)) for r in res]
    out({"n": n, "errors": [r["error"] for r in res if "error" in r],
         "codes": sorted(set(r.get("code") for r in res), key=str),
         "distinct": len(set(texts)), "text": texts[0],
         "messages": len(res[0]["messages"]),
         "total_ms": int((time.monotonic() - t0) * 1000),
         "first_ms": sorted(r.get("first_ms", -1) for r in res)[::25],
         "max_end_ms": max(r.get("end_ms", 0) for r in res)})


async def mode_limit(url, ca, n):
    held, refused = [], []
    for _ in range(int(n)):
        try:
            held.append(await websockets.connect(url, ssl=ctx_for(ca), max_size=None))
        except websockets.InvalidStatusCode as e:
            refused.append(e.status_code)
    await asyncio.sleep(0.5)
    for ws in held:
        await ws.close()
    out({"held": len(held), "refused": refused})


async def mode_cap(url, ca, n):
    """N connections held at once; what the last one got (its first message, its close)."""
    held = [await websockets.connect(url, ssl=ctx_for(ca), max_size=None) for _ in range(int(n))]
    last, res = held[-1], {}
    try:
        res["first"] = await asyncio.wait_for(last.recv(), 10)
        await asyncio.wait_for(last.recv(), 10)
    except (websockets.ConnectionClosed, asyncio.TimeoutError):
        pass
    res["code"] = last.close_code
    for ws in held:
        await ws.close()
    out(res)


def frame(opcode, payload, mask=True, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def mode_raw(host, port, path, ca, case):
    s = socket.create_connection((host, int(port)), timeout=10)
    s = ctx_for(ca).wrap_socket(s, server_hostname=host)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    status = buf.split(b"\r\n", 1)[0].decode(errors="replace")
    rest = buf.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in buf else b""
    if case == "opcode":
        s.sendall(frame(0x3, b"reserved opcode"))
    elif case == "unmasked":
        s.sendall(frame(0x1, b"not masked", mask=False))
    elif case == "utf8":
        s.sendall(frame(0x1, b"bad \xc3\x28 utf-8"))
    code = None
    deadline = time.monotonic() + 10
    data = rest
    while time.monotonic() < deadline and code is None:
        # frames from the server: unmasked
        while len(data) >= 2:
            op, ln = data[0] & 0x0f, data[1] & 0x7f
            off = 2
            if ln == 126:
                if len(data) < 4:
                    break
                ln, off = struct.unpack("!H", data[2:4])[0], 4
            elif ln == 127:
                if len(data) < 10:
                    break
                ln, off = struct.unpack("!Q", data[2:10])[0], 10
            if len(data) < off + ln:
                break
            payload = data[off:off + ln]
            data = data[off + ln:]
            if op == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                break
        if code is not None:
            break
        try:
            chunk = s.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        data += chunk
    out({"handshake": status, "code": code})


async def mode_big(url, ca, nbytes, kind="text"):
    n = int(nbytes)
    async with websockets.connect(url, ssl=ctx_for(ca), max_size=None) as ws:
        try:
            await ws.send(b"a" * n if kind == "binary" else "a" * n)
            while True:
                await ws.recv()
        except websockets.ConnectionClosed:
            pass
        out({"code": ws.close_code, "reason": ws.close_reason})


async def mode_pty(url, ca, script):
    """Steps: ["send_text", str] ["send_binary", b64] ["expect", count] (messages) ["sleep", s] ["close"]"""
    steps = json.loads(script)
    res = {"messages": [], "code": None}
    try:
        async with websockets.connect(url, ssl=ctx_for(ca), max_size=None) as ws:
            closed = False
            for step in steps:
                if step[0] == "close":
                    await ws.close()
                    res["code"], closed = ws.close_code, True
                    break
                if step[0] == "send_text":
                    await ws.send(step[1])
                elif step[0] == "send_binary":
                    await ws.send(base64.b64decode(step[1]))
                elif step[0] == "sleep":
                    await asyncio.sleep(step[1])
                elif step[0] == "expect":
                    for _ in range(step[1]):
                        m = await asyncio.wait_for(ws.recv(), 20)
                        res["messages"].append({"binary": base64.b64encode(m).decode()}
                                               if isinstance(m, bytes) else m)
            if not closed:
                await read_all(ws, time.monotonic(), res)
    except websockets.InvalidStatusCode as e:
        res["http_status"] = e.status_code
    except (asyncio.TimeoutError, websockets.ConnectionClosed) as e:
        res["error"] = repr(e)
        res["code"] = getattr(e, "code", None)
    out(res)


def mode_deadpeer(host, port, path):
    """A client that never answers a ping (plain, straight to the gateway): when the ping came, when it was dropped."""
    s = socket.create_connection((host, int(port)), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, key)).encode())
    t0, res, data = time.monotonic(), {}, b""
    while True:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data and "handshake" not in res:
            res["handshake"] = data.split(b"\r\n", 1)[0].decode(errors="replace")
            data = data.split(b"\r\n\r\n", 1)[1]
        while "handshake" in res and len(data) >= 2 and len(data) >= 2 + (data[1] & 0x7f):
            op, ln = data[0] & 0x0f, data[1] & 0x7f     # the gateway's frames here are small
            if op == 0x9 and "ping_s" not in res:
                res["ping_s"] = round(time.monotonic() - t0, 1)
            data = data[2 + ln:]
    res["closed_s"] = round(time.monotonic() - t0, 1)
    out(res)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "sse":
        mode_sse(*args)
    elif mode == "deadpeer":
        mode_deadpeer(*args)
    elif mode == "raw":
        mode_raw(*args)
    else:
        asyncio.run({"logs": mode_logs, "slow": mode_slow, "vanish": mode_vanish, "many": mode_many,
                     "limit": mode_limit, "cap": mode_cap, "big": mode_big, "pty": mode_pty}[mode](*args))


if __name__ == "__main__":
    main()
