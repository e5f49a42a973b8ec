#!/usr/bin/python3
"""An agent's loop of 50 steps against a session, as an AI agent drives one:
create, write files, run Python that imports them, cd and export, a
background HTTP server started in one call and fetched in the next over the
session's loopback, read results, snapshot, a second session from the
snapshot, delete. Every request goes through nginx over one kept-alive TLS
connection, as the SDKs do. Prints TAP; run by t295-session-agent-loop.sh.

usage: session_loop.py URL CACERT
"""
import http.client
import io
import json
import ssl
import sys
import tarfile
import time
import urllib.parse

URL, CACERT = sys.argv[1], sys.argv[2]
u = urllib.parse.urlsplit(URL)
ctx = ssl.create_default_context(cafile=CACERT)
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)

n = 0
failed = 0


def ok(cond, name, detail=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok"), n, "-", name, flush=True)
    if not cond:
        failed += 1
        if detail:
            for line in str(detail)[:1500].splitlines():
                print("#  ", line)
    return cond


def call(method, path, body=None, headers=None, raw=False):
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    if raw:
        return r.status, data, r
    try:
        return r.status, json.loads(data) if data else None, r
    except ValueError:
        return r.status, data, r


def sh(sid, command, **kw):
    req = {"command": command}
    req.update(kw)
    st, res, _ = call("POST", "/sessions/%s/exec" % sid, req)
    if st != 200 or not isinstance(res, dict):
        return {"http": st, "body": res, "exit_code": None, "stdout": "", "stderr": ""}
    return res


def py(sid, code):
    st, res, _ = call("POST", "/sessions/%s/exec" % sid, {"code": code, "language": "python3"})
    if st != 200 or not isinstance(res, dict):
        return {"http": st, "body": res, "exit_code": None, "stdout": "", "stderr": ""}
    return res


# 1. create
st, ses, r = call("POST", "/sessions", {"idle_timeout_seconds": 120, "env": {"GREETING": "hello"}})
if not ok(st == 201 and ses and ses.get("status") == "ready", "create: 201 and ready", ses):
    print("Bail out! no session")
    sys.exit(1)
sid = ses["session_id"]
ok(r.getheader("Location") == "/sessions/" + sid, "create: Location names the session")

# 2-6. write the files an agent would write
files = {
    "mylib.py": "def double(x):\n    return 2 * x\nNAME = 'mylib'\n",
    "pkg/__init__.py": "",
    "pkg/stats.py": "def mean(xs):\n    return sum(xs) / len(xs)\n",
    "data/numbers.csv": "n\n" + "".join("%d\n" % i for i in range(1, 101)),
    "site/index.html": "<h1>served from the session</h1>\n",
}
for path, text in files.items():
    st, _, _ = call("PUT", "/sessions/%s/files/%s" % (sid, path), text.encode())
    ok(st in (200, 201, 204), "write %s" % path, st)

# 7-10. python imports them; its state persists
res = py(sid, "import mylib\nfrom pkg.stats import mean\nnums = [int(l) for l in open('data/numbers.csv').read().split()[1:]]\nprint(mylib.double(21), mean(nums))")
ok(res["exit_code"] == 0 and res["stdout"].split() == ["42", "50.5"], "python imports the written modules", res)
res = py(sid, "total = sum(nums)\nprint(total)")
ok(res["stdout"].strip() == "5050", "python keeps its variables between calls", res)
res = py(sid, "raise ValueError('boom')")
ok(res["exit_code"] not in (0, None) and "ValueError: boom" in res["stderr"], "an exception: stderr and non-zero exit", res)
res = py(sid, "print(total + 1)")
ok(res["stdout"].strip() == "5051", "the interpreter lives on after the exception", res)

# 11-18. the persistent shell
res = sh(sid, "pwd")
ok(res["stdout"].strip() == "/work", "the shell starts in /work", res)
res = sh(sid, "echo $GREETING")
ok(res["stdout"].strip() == "hello", "the session's env reaches the shell", res)
res = sh(sid, "cd /tmp")
ok(res["exit_code"] == 0 and res.get("cwd") == "/tmp", "cd /tmp, and the answer says the cwd", res)
res = sh(sid, "pwd")
ok(res["stdout"].strip() == "/tmp", "the next call is still in /tmp", res)
res = sh(sid, "export X=1")
res = sh(sid, "echo $X")
ok(res["stdout"].strip() == "1", "export persists", res)
res = sh(sid, "greet() { echo \"hi $1\"; }")
res = sh(sid, "greet agent")
ok(res["stdout"].strip() == "hi agent", "a function defined in one call works in the next", res)
res = sh(sid, "cd /work && ls")
ok(set(res["stdout"].split()) >= {"mylib.py", "pkg", "data", "site"}, "ls shows the written files", res)
res = sh(sid, "cat > upper.txt; tr a-z A-Z < upper.txt", stdin="from stdin\n")
ok(res["stdout"] == "FROM STDIN\n", "stdin reaches the command, then EOF", res)

# 19-24. a background HTTP server in one call, fetched in the next
res = sh(sid, "python3 -m http.server 8765 --bind 127.0.0.1 --directory /work/site >/tmp/http.log 2>&1 &")
ok(res["exit_code"] == 0, "start a background HTTP server", res)
res = sh(sid, "for i in $(seq 50); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 8765), 1)' 2>/dev/null && break; sleep 0.1; done; echo up")
ok(res["stdout"].strip() == "up", "the server is listening", res)
res = py(sid, "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:8765/index.html').read().decode())")
ok("served from the session" in res["stdout"], "python fetches it over the session's loopback", res)
res = sh(sid, "curl -s http://127.0.0.1:8765/index.html || python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:8765/index.html\").read().decode())'")
ok("served from the session" in res["stdout"], "the shell fetches it too", res)
res = sh(sid, "jobs -l | grep -c http.server")
ok(res["stdout"].strip() == "1", "the server is still a job of the shell", res)
res = sh(sid, "echo quick")
ok(res["stdout"] == "quick\n", "a call's output is its own while the server runs", res)

# 25-30. results, errors, timeouts, argv
res = sh(sid, "python3 -c 'import mylib; print(mylib.NAME)' > result.txt; echo done")
ok(res["stdout"].strip() == "done", "a command writes a result file", res)
st, data, _ = call("GET", "/sessions/%s/files/result.txt" % sid, raw=True)
ok(st == 200 and data == b"mylib\n", "read the result file back", data)
res = sh(sid, "(echo to-stderr >&2; exit 3)")
ok(res["exit_code"] == 3 and res["stderr"] == "to-stderr\n", "exit code and stderr are the call's", res)
res = sh(sid, "sleep 30", timeout=1)
ok(res.get("timed_out") is True, "a timeout ends the command", res)
res = sh(sid, "echo $X; pwd")
ok(res["stdout"].split() == ["1", "/work"], "the shell survives the timeout with its state", res)
res = sh(sid, ["/bin/echo", "argv", "$X"])
ok(res["stdout"] == "argv $X\n", "argv runs without a shell", res)

# 31-36. files routes
st, listing, _ = call("GET", "/sessions/%s/files/data" % sid)
ok(st == 200 and any(e.get("name") == "numbers.csv" for e in (listing or {}).get("entries", [])), "list a directory", listing)
st, _, _ = call("DELETE", "/sessions/%s/files/upper.txt" % sid)
ok(st in (200, 204), "delete a file", st)
res = sh(sid, "test -e upper.txt && echo there || echo gone")
ok(res["stdout"].strip() == "gone", "the shell sees it gone", res)
st, data, _ = call("GET", "/sessions/%s/archive?path=pkg" % sid, raw=True)
names = []
try:
    names = sorted(m.name for m in tarfile.open(fileobj=io.BytesIO(data), mode="r:gz").getmembers())
except Exception as e:
    names = [repr(e)]
ok(st == 200 and any(x.endswith("stats.py") for x in names), "download a directory as .tar.gz", names)
st, _, _ = call("GET", "/sessions/%s/files/../../etc/passwd" % sid, raw=True)
ok(st == 400 or st == 404, "a path with .. is refused", st)
st, info, _ = call("GET", "/sessions/%s" % sid)
ok(st == 200 and info.get("status") == "ready" and "usage" in info, "the session's status and usage", info)

# 37-41. snapshot, and a new session from it
st, snap, _ = call("POST", "/sessions/%s/snapshot" % sid)
ok(st in (200, 201) and str((snap or {}).get("workspace_id", "")).startswith("wsp-")
   and str(snap.get("expires_at", "")).startswith("20") and snap.get("size", 0) > 0,
   "snapshot the workspace: its id, size and expiry (RFC 3339)", snap)
wid = (snap or {}).get("workspace_id")
st, _, _ = call("DELETE", "/sessions/%s" % sid)
ok(st in (200, 204), "delete the session", st)
st, _, _ = call("POST", "/sessions/%s/exec" % sid, {"command": "true"})
ok(st in (404, 410), "the deleted session's routes answer 404/410", st)
st, ses2, _ = call("POST", "/sessions", {"workspace_id": wid})
ok(st == 201, "a new session from the snapshot", ses2)
sid2 = (ses2 or {}).get("session_id", "ses-none")
res = py(sid2, "import mylib\nprint(mylib.double(4), open('result.txt').read().strip())")
ok(res["stdout"].split() == ["8", "mylib"], "the snapshot's files are there and import", res)

# 42-50. the second session is fresh: no state, no server, no processes of the first
res = sh(sid2, "echo \"[$X]\"; type greet >/dev/null 2>&1 && echo has-greet || echo no-greet")
ok(res["stdout"].split() == ["[]", "no-greet"], "no shell state carried over", res)
res = py(sid2, "print('total' in globals())")
ok(res["stdout"].strip() == "False", "no python state carried over", res)
res = sh(sid2, "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 8765), 1)' 2>/dev/null && echo reachable || echo unreachable")
ok(res["stdout"].strip() == "unreachable", "the first session's server is gone", res)
res = sh(sid2, "ps -eo comm= | sort | tr '\\n' ' '")
ok("http.server" not in res["stdout"] and "sleep" not in res["stdout"], "no process of the first session", res)
res = sh(sid2, "test -e /tmp/http.log && echo leaked || echo clean")
ok(res["stdout"].strip() == "clean", "nothing of the first session's /tmp", res)
res = sh(sid2, "seq 1 100000 | wc -l")
ok(res["stdout"].strip() == "100000", "a pipeline with a larger output", res)
res = sh(sid2, "head -c 3000000 /dev/zero | tr '\\0' a")
ok(len(res["stdout"]) <= 1100000 and res.get("truncated") is True, "large output is truncated and says so", {k: (v if k != "stdout" else len(v)) for k, v in res.items()})
# DELETE while a long command runs (on another connection): answered at once,
# and the command's request ends too, not 100 s later
import threading
late = {}


def long_exec():
    c2 = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
    t = time.monotonic()
    c2.request("POST", "/sessions/%s/exec" % sid2, body=json.dumps({"command": "sleep 100"}).encode(),
               headers={"Content-Type": "application/json"})
    r2 = c2.getresponse()
    r2.read()
    late["status"], late["s"] = r2.status, time.monotonic() - t


th = threading.Thread(target=long_exec)
th.start()
time.sleep(1.5)
t0 = time.monotonic()
st, _, _ = call("DELETE", "/sessions/%s" % sid2)
took = time.monotonic() - t0
ok(st in (200, 204) and took < 5, "delete the second session while a command runs: %d in %.1f s" % (st, took), st)
th.join(30)
ok(late.get("status") == 410 and late.get("s", 99) < 10,
   "... and the running command's request ends with 410 (%s)" % late)
st, _, _ = call("GET", "/sessions/%s" % sid2)
ok(st in (404, 410), "it is gone", st)

print("1..%d" % n)
print("# %d steps, %d failed" % (n, failed))
sys.exit(1 if failed else 0)
