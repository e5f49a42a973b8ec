#!/usr/bin/python3
"""FastCGI client for tests: requests on one kept connection (FCGI_KEEP_CONN).
usage: fcgi-keep-client.py HOST:PORT PATH[:BODYBYTES] ...  -> prints one status per request,
or 'closed' when the responder closed the connection instead of answering."""
import socket, struct, sys

def record(rtype, content, rid=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack('!BBHHBx', 1, rtype, rid, len(content), pad) + content + b'\0' * pad

def params(pairs):
    out = b''
    for k, v in pairs.items():
        k, v = k.encode(), v.encode()
        for x in (k, v):
            out += bytes([len(x)]) if len(x) < 128 else struct.pack('!I', len(x) | 0x80000000)
        out += k + v
    return out

def request(sock, path, body):
    p = {'REQUEST_METHOD': 'GET', 'DOCUMENT_URI': path, 'SCRIPT_NAME': path, 'REQUEST_URI': path,
         'QUERY_STRING': '', 'REMOTE_ADDR': '127.0.0.1', 'SERVER_PROTOCOL': 'HTTP/1.1',
         'CONTENT_LENGTH': str(len(body)), 'CONTENT_TYPE': 'application/octet-stream' if body else ''}
    msg = record(1, struct.pack('!HB5x', 1, 1))  # BEGIN_REQUEST, RESPONDER, KEEP_CONN
    msg += record(4, params(p)) + record(4, b'')
    for i in range(0, len(body), 32768):
        msg += record(5, body[i:i + 32768])
    msg += record(5, b'')
    sock.sendall(msg)
    out = b''
    buf = b''
    while True:
        while len(buf) < 8:
            chunk = sock.recv(65536)
            if not chunk:
                return 'closed'
            buf += chunk
        _, rtype, _, clen, plen = struct.unpack('!BBHHBx', buf[:8])
        while len(buf) < 8 + clen + plen:
            chunk = sock.recv(65536)
            if not chunk:
                return 'closed'
            buf += chunk
        content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
        if rtype == 6:
            out += content
        elif rtype == 3:
            break
    head = out.split(b'\r\n\r\n', 1)[0].decode(errors='replace')
    for line in head.split('\r\n'):
        if line.lower().startswith('status:'):
            return line.split()[1]
    return '200'

host, port = sys.argv[1].rsplit(':', 1)
s = socket.create_connection((host, int(port)), timeout=10)
for arg in sys.argv[2:]:
    path, _, n = arg.partition(':')
    try:
        print(request(s, path, b'x' * int(n or 0)))
    except (OSError, socket.timeout) as e:
        print('closed')
        s = socket.create_connection((host, int(port)), timeout=10)
