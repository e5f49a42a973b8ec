#!/usr/bin/python3
"""Session rows of make bench (tests/bench/run.sh), against a running stack:

  exec          POST /sessions/{id}/exec {"command": "true"}: the round trip
                through nginx, the responder, Redis, the session's supervisor
                and its agent's persistent shell, on one kept-alive TLS
                connection
  create_warm   POST /sessions when the runner's warm pool has a sandbox
                (the session is deleted, then the pool gets time to refill)
  create_empty  POST /sessions right after the pool's sandboxes were taken
                by two creates in a row: it waits for a sandbox to be built

Prints one line per row: "session kind=K n=N failures=F median_us=X p90_us=X",
and on stderr how long each part took ("# sessions: ...").
usage: session_bench.py URL CACERT N
"""
import http.client
import json
import ssl
import sys
import time
import urllib.parse

URL, CACERT, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlsplit(URL)
conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=60,
                                   context=ssl.create_default_context(cafile=CACERT))


def call(method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    t0 = time.perf_counter()
    conn.request(method, path, body=None if body is None else json.dumps(body).encode(), headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data, (time.perf_counter() - t0) * 1e6


def report(kind, samples, failures):
    samples.sort()
    if samples:
        med = samples[len(samples) // 2]
        p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
        print("session kind=%s n=%d failures=%d median_us=%d p90_us=%d" % (kind, len(samples), failures, med, p90))
    else:
        print("session kind=%s n=0 failures=%d median_us=NA p90_us=NA" % (kind, failures))
    sys.stdout.flush()


def create():
    st, data, us = call("POST", "/sessions", {})
    if st != 201:
        return None, us
    return json.loads(data)["session_id"], us


def delete(sid):
    call("DELETE", "/sessions/" + sid)


REFILL_S = 1.0   # time the pool gets to build its sandboxes again

# exec of true in one session
t_begin = time.monotonic()
sid, _ = create()
execs, fails = [], 0
if sid:
    for _ in range(5):
        call("POST", "/sessions/%s/exec" % sid, {"command": "true"})
    for _ in range(N):
        st, data, us = call("POST", "/sessions/%s/exec" % sid, {"command": "true"})
        if st == 200 and json.loads(data).get("exit_code") == 0:
            execs.append(us)
        else:
            fails += 1
    delete(sid)
else:
    fails = N
report("exec", execs, fails)
t_execs = time.monotonic()

# creates: from the warm pool, and with it just emptied
warm, empty, wfail, efail = [], [], 0, 0
rounds = max(3, N // 4)
for _ in range(rounds):
    time.sleep(REFILL_S)
    a, us = create()
    (warm.append(us) if a else None)
    wfail += a is None
    b, _ = create()            # takes the pool's second sandbox
    c, us = create()           # none left: one is built for it
    (empty.append(us) if c else None)
    efail += c is None
    for s in (a, b, c):
        if s:
            delete(s)
report("create_warm", warm, wfail)
report("create_empty", empty, efail)
print("# sessions: %d execs in %.1f s, %d create rounds in %.1f s" % (
    N, t_execs - t_begin, rounds, time.monotonic() - t_execs), file=sys.stderr)
