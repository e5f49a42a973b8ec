#!/usr/bin/env python3
# Slow and idle HTTPS clients for the abuse tests (t210): what an attacker
# does to hold a server's workers with few bytes. Loopback only; every mode
# ends by itself after --duration seconds.
#
#   slow-client.py body PORT CAFILE SRC [--length N] [--interval S] [--duration D]
#       POST /submit promising N body bytes, then one byte every S seconds
#       (S = 0: none at all, an idle body). Prints "STATUS ELAPSED" when an
#       answer comes, "open ELAPSED" when D passed without one.
#   slow-client.py loris PORT CAFILE --first 127.0.2.1 --count 200 [--duration D]
#       from each of COUNT addresses: one TLS connection trickling a header
#       line every 2 s, one trickling a body byte every 2 s, and one plain
#       TCP connection that never starts TLS. Prints "ready N" once they are
#       open, then how many were opened and how many the server had closed
#       by the end.
import argparse
import ipaddress
import socket
import ssl
import sys
import time

HEADERS = ("POST /submit HTTP/1.1\r\nHost: localhost\r\n"
           "Content-Type: multipart/form-data; boundary=XyZ\r\n"
           "Content-Length: {n}\r\n\r\n")


def connect(port, cafile, src, tls=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
    if not tls:
        return s
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx.wrap_socket(s, server_hostname="localhost")


def mode_body(a):
    start = time.monotonic()
    s = connect(a.port, a.cafile, a.src)
    s.sendall(HEADERS.format(n=a.length).encode())
    sent = 0
    while time.monotonic() - start < a.duration:
        s.settimeout(a.interval if a.interval > 0 else 1.0)
        try:
            data = s.recv(4096)
        except (socket.timeout, TimeoutError):
            if a.interval > 0 and sent < a.length - 1:
                s.sendall(b"-")
                sent += 1
            continue
        except OSError:
            data = b""
        elapsed = time.monotonic() - start
        if not data:
            print("closed %.1f" % elapsed)
            return
        line = data.split(b"\r\n", 1)[0].decode(errors="replace").split()
        print("%s %.1f" % (line[1] if len(line) > 1 else "?", elapsed))
        return
    print("open %.1f" % (time.monotonic() - start))


def mode_loris(a):
    first = ipaddress.ip_address(a.first)
    conns = []      # (socket, kind)
    failed = 0
    for i in range(a.count):
        src = str(first + i)
        for kind in ("header", "body", "tcp"):
            try:
                s = connect(a.port, a.cafile, src, tls=kind != "tcp")
                if kind == "header":
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
                elif kind == "body":
                    s.sendall(HEADERS.format(n=100000).encode())
                s.setblocking(False)
                conns.append((s, kind))
            except OSError:
                failed += 1
    opened = len(conns)
    print("ready %d" % opened, flush=True)
    start = time.monotonic()
    closed = 0
    while time.monotonic() - start < a.duration and conns:
        time.sleep(2)
        alive = []
        for s, kind in conns:
            try:
                if kind == "header":
                    s.send(b"X-Slow: 1\r\n")
                elif kind == "body":
                    s.send(b"-")
                else:
                    # a closed peer shows as readable with no data
                    try:
                        if s.recv(1) == b"":
                            raise OSError("closed")
                    except BlockingIOError:
                        pass
                alive.append((s, kind))
            except (OSError, ssl.SSLError):
                closed += 1
                s.close()
        conns = alive
    for s, _ in conns:
        s.close()
    print("opened %d failed %d closed-by-server %d" % (opened, failed, closed))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("body", "loris"))
    p.add_argument("port", type=int)
    p.add_argument("cafile")
    p.add_argument("src", nargs="?", default="127.0.0.1")
    p.add_argument("--length", type=int, default=1000)
    p.add_argument("--interval", type=float, default=3.0)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--first", default="127.0.2.1")
    p.add_argument("--count", type=int, default=200)
    a = p.parse_args()
    try:
        (mode_body if a.mode == "body" else mode_loris)(a)
    except OSError as e:
        print("error %s" % e)
        sys.exit(1)


if __name__ == "__main__":
    main()
