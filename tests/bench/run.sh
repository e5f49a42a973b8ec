#!/usr/bin/env bash
# tests/bench/run.sh: what a sandbox costs, side by side with the baselines,
# in one run on one machine (`make bench`). A benchmark, not a test: it
# prints figures and the targets met or missed, and exits 0 whatever they
# are (2 only for a usage error). See tests/bench/README.md.
#
#   1. start-up cost of /bin/true and `python3 -S -c pass`: bare fork+exec,
#      our sandbox, bubblewrap and firejail (when installed), all timed by
#      the same driver (sandbox_bench), interleaved, as medians and p90
#   2. runner throughput: a real stack (sandrun-stack) with one slot per
#      CPU, M trivial jobs queued straight into Redis with redis/submit.lua
#      (the responder's own script), jobs per second until all are done;
#      beside it, half before and half after, its bare reference: the same
#      job file run by `seq M | xargs -P$(nproc) -n1 sh true.sh` (and under
#      bwrap when installed)
#   3. end to end: N submissions through nginx and the responder with one
#      curl in parallel mode, submissions and completed jobs per second
#   4. GET /status/{id} of a finished job against a static copy of its body
#      served by the same nginx server block, same TLS: wrk, alternating
#   5. sessions (session_bench.py): exec of true, creates
# The report (report.awk) gives every row as a ratio to its reference of
# the same run and ends with one "ratio NAME=VALUE" line per row.
#
# Environment (all optional):
#   BENCH_ROUNDS (8) BENCH_ITERATIONS (20) BENCH_WARMUP (3)  start-up runs:
#       ROUNDS x ITERATIONS per row (python: half the iterations), interleaved
#   BENCH_JOBS (500)        jobs for the runner throughput and its bare
#                           reference (bwrap's: half as many)
#   BENCH_HTTP_JOBS (200)   submissions through nginx; 0 skips part 3
#   BENCH_HTTP_PARALLEL (8) transfers curl keeps in flight
#   BENCH_WRK_ROUNDS (3) BENCH_WRK_SECONDS (3) BENCH_WRK_CONNECTIONS (32)
#                           part 4: rounds of (status, static), each this long
#   BENCH_SESSION_N (60)    session execs (and a quarter as many create rounds)
#   BENCH_SLOTS (nproc)     runner slots
#   BENCH_KEEP=1            keep the stack directory (its logs) afterwards
#
# Everything runs on loopback, in a temporary directory that is removed at
# the end, and each part is bounded in time (the whole run takes 2-3 min).

set -u
: "${top_srcdir:?run through make bench, or set top_srcdir (and top_builddir)}"
: "${top_builddir:=$top_srcdir}"
export LC_ALL=C

PY=/usr/bin/python3                 # not a pyenv shim on PATH: Debian's own
BENCH=$top_builddir/tests/bench/sandbox_bench
STACK=$top_srcdir/contrib/sandrun-stack
ROUNDS=${BENCH_ROUNDS:-8}
ITERATIONS=${BENCH_ITERATIONS:-20}
WARMUP=${BENCH_WARMUP:-3}
JOBS=${BENCH_JOBS:-500}
HTTP_JOBS=${BENCH_HTTP_JOBS:-200}
SESSION_N=${BENCH_SESSION_N:-60}
HTTP_PARALLEL=${BENCH_HTTP_PARALLEL:-8}
WRK_ROUNDS=${BENCH_WRK_ROUNDS:-3}
WRK_SECONDS=${BENCH_WRK_SECONDS:-3}
WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-32}
SLOTS=${BENCH_SLOTS:-$(nproc)}
# The targets of the issue (14), as ratios to the bare reference of the
# same run: printed PASS or MISS, never the exit status.
TARGET_START_VS_BARE=2.0        # at most: sandbox /bin/true median / bare's
TARGET_THROUGHPUT_VS_BARE=0.5   # at least: runner jobs/s / bare xargs jobs/s
TARGET_E2E_VS_BARE=0.45         # at least: jobs/s through nginx / bare xargs jobs/s
TARGET_STATUS_VS_STATIC=0.3     # at least: GET /status req/s / a static file's
TARGET_STATUS_P99_VS_STATIC=1.5 # at most: GET /status p99 / a static file's
# Time bounds: each start-up comparison stops after the round that spends
# this much; a phase waiting for jobs gives up after this.
STARTUP_BUDGET_S=45
JOBS_TIMEOUT_S=60

for v in ROUNDS ITERATIONS WARMUP JOBS HTTP_JOBS HTTP_PARALLEL SLOTS SESSION_N WRK_ROUNDS WRK_SECONDS WRK_CONNECTIONS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: BENCH_$v must be a number" >&2; exit 2; }
done

note() { printf '# [%3ds] %s\n' "$SECONDS" "$*"; }
skip() { printf '# SKIP %s\n' "$*"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-bench.XXXXXX") || exit 0
STACK_DIR=$WORK/stack
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	if [[ -f $STACK_DIR/stack.env ]]; then
		"$STACK" stop "$STACK_DIR" >/dev/null 2>&1 || true
	fi
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		note "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

RESULTS=$WORK/results     # "result ..." and "throughput ..." lines
: >"$RESULTS"

note "sandrun bench $(date -u +%FT%TZ) on $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
if ((EUID != 0)); then
	skip "needs root (the sandbox makes namespaces and mounts, like the runner)"
	exit 0
fi
if [[ ! -x $BENCH ]]; then
	skip "$BENCH is not built (make bench builds it)"
	exit 0
fi
[[ -x $PY ]] || { skip "$PY is needed (the Redis client of parts 2 and 3)"; PY=; }

# --------------------------------------------------------- 1. start-up cost

# The wrappers, each an equivalent of our sandbox as near as its options go:
# every namespace, /usr and the merged-/usr links read-only, the linker's
# cache, fresh /proc, a minimal /dev, tmpfs /tmp and /work, an unprivileged
# uid, a clean environment. Split at spaces by the driver.
BWRAP=$(command -v bwrap || true)
FIREJAIL=$(command -v firejail || true)
BWRAP_ARGS=(--unshare-all --die-with-parent --new-session
	--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib
	--symlink usr/lib64 /lib64 --symlink usr/sbin /sbin
	--ro-bind /etc/ld.so.cache /etc/ld.so.cache --proc /proc --dev /dev
	--tmpfs /tmp --tmpfs /work --chdir /work --hostname sandrun
	--uid 1900999 --gid 1900999 --clearenv --setenv PATH /usr/bin:/bin
	--setenv HOME /work --setenv LANG C.UTF-8)
MODES=(bare sandbox)
if [[ -n $BWRAP ]]; then
	MODES+=("exec:bwrap=$BWRAP ${BWRAP_ARGS[*]}")
else
	skip "bubblewrap is not installed (apt-get install bubblewrap): no bwrap rows"
fi
if [[ -n $FIREJAIL ]]; then
	MODES+=("exec:firejail=$FIREJAIL --quiet --noprofile --net=none --private")
else
	note "firejail is not installed: no firejail rows"
fi
# the driver splits at single spaces: fold the lines above into one
for i in "${!MODES[@]}"; do
	MODES[i]=$(printf '%s' "${MODES[i]}" | tr -s ' \t\n' '   ')
done

startup() { # startup LABEL ITERATIONS EXTRA-MODE... -- COMMAND...
	local label=$1 iterations=$2
	shift 2
	local modes=("${MODES[@]}")
	while [[ $1 != -- ]]; do modes+=("$1"); shift; done
	note "start-up: $label ($ROUNDS rounds x $iterations runs per row, interleaved)"
	TMPDIR=$WORK timeout -k 5 $((STARTUP_BUDGET_S * 2)) "$BENCH" -l "$label" -r "$ROUNDS" -n "$iterations" \
		-w "$WARMUP" -t "$STARTUP_BUDGET_S" "${modes[@]}" "$@" >>"$RESULTS" ||
		note "the driver failed for $label (see above); its rows are missing"
}
# sandbox-prepared: built ahead and waiting, as the runner keeps each idle
# slot's next sandbox (runner/job.h); the time runs from the job's arrival
startup true "$ITERATIONS" sandbox-empty sandbox-prepared -- /bin/true
# informational rows (no target): half as many runs, for the time
startup python $(((ITERATIONS + 1) / 2)) sandbox-prepared -- /usr/bin/python3 -S -c pass

# ------------------------------------------------------ 2, 3. throughput

# A small Redis client (RESP over a socket, pipelined) for watching the
# jobs' records; prints "throughput ..." lines.
cat >"$WORK/jobs.py" <<'EOF'
import socket, sys, time

class Redis:
    def __init__(self, port, user, password):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.call("AUTH", user, password)

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += [b"$%d\r\n" % len(a), a, b"\r\n"]
        self.sock.sendall(b"".join(out))

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self.file.read(int(rest) + 2)[:-2]
        if kind == b"*":
            return None if int(rest) < 0 else [self.read() for _ in range(int(rest))]
        raise RuntimeError("bad reply from Redis: %r" % line)

    def call(self, *args):
        self.send(*args)
        reply = self.read()
        if isinstance(reply, Exception):
            raise reply
        return reply

    def pipeline(self, commands, batch=200):
        replies = []
        for i in range(0, len(commands), batch):
            for c in commands[i:i + batch]:
                self.send(*c)
            replies += [self.read() for _ in commands[i:i + batch]]
        return replies

def wait(r, ids, timeout):
    """Waits until every job has ended; returns their records' fields.

    First until the queue stream is empty, which takes one cheap XLEN a
    poll: start.lua and finish.lua delete each entry they end, so an empty
    queue means every job ended (or never ran). Only then the records, all
    of them, until each shows its end. Reading the 500 records every 50 ms
    from the start took this client and Redis about a tenth of the two CPUs
    the runner was being measured on."""
    deadline = time.time() + timeout
    while r.call("XLEN", "sr:queue") > 0 and time.time() < deadline:
        time.sleep(0.02)
    while True:
        rows = r.pipeline([("HMGET", "sr:{%s}:job" % i, "status", "submitted_at", "started_at",
                            "finished_at", "error") for i in ids])
        ended = [row for row in rows if isinstance(row, list) and row[0] in (b"completed", b"failed", b"cancelled")]
        if len(ended) == len(ids) or time.time() > deadline:
            return rows
        time.sleep(0.05)

def cpu_ticks():
    """(busy, total) jiffies of every CPU: the whole machine, whoever runs"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)

def report(kind, rows, t_begin_ms, slots, cpu0, extra=""):
    def field(row, k):
        return int(row[k]) if isinstance(row, list) and row[k] else None
    done = [row for row in rows if isinstance(row, list) and row[0] == b"completed"]
    failed = [row for row in rows if isinstance(row, list) and row[0] == b"failed"]
    starts = [field(row, 2) for row in rows if field(row, 2)]
    finishes = [field(row, 3) for row in rows if field(row, 3)]
    line = "throughput kind=%s jobs=%d completed=%d failed=%d unfinished=%d" % (
        kind, len(rows), len(done), len(failed), len(rows) - len(done) - len(failed))
    if starts and finishes:
        busy = (max(finishes) - min(starts)) / 1000.0
        total = (max(finishes) - t_begin_ms) / 1000.0
        line += " busy_s=%.3f jobs_per_s=%.1f total_s=%.3f end_to_end_jobs_per_s=%.1f" % (
            busy, len(done) / busy if busy > 0 else 0, total, len(done) / total if total > 0 else 0)
        # share of the slots' time spent between a job's claim and its result
        # (the rest: the runner's own loop, the supervisor's fork and connect)
        held = sum(field(row, 3) - field(row, 2) for row in rows if field(row, 2) and field(row, 3))
        if busy > 0:
            line += " slot_use=%.2f" % (held / 1000.0 / (busy * slots))
    cpu1 = cpu_ticks()
    if cpu1[1] > cpu0[1]:
        line += " machine_cpu_busy=%.2f" % ((cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1]))
    print(line + extra, flush=True)
    if failed:
        print("# first failure: %s" % (failed[0][4] or b"?").decode(errors="replace"), file=sys.stderr)

def main():
    cmd, port, password, slots = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    del sys.argv[4]
    r = Redis(port, "sandrun-admin", password)
    if cmd == "queue":
        # the ids bench_queue queued (through the job store's submit, as a responder does)
        ids_path, t0, timeout, queue_s = sys.argv[4], int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
        ids = [l.strip() for l in open(ids_path) if l.strip()]
        cpu0 = cpu_ticks()
        rows = wait(r, ids, timeout)
        report("redis", rows, t0, slots, cpu0, " queue_s=%.3f" % queue_s)
    elif cmd == "wait":
        # the ids of jobs already submitted (through HTTP), one per line
        ids_path, t0, timeout, submit_s = sys.argv[4], int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
        ids = [l.strip() for l in open(ids_path) if l.strip()]
        if not ids:
            print("throughput kind=http jobs=0 completed=0 failed=0 unfinished=0", flush=True)
            return
        cpu0 = cpu_ticks()     # from here: the submissions are in already
        rows = wait(r, ids, timeout)
        report("http", rows, t0, slots, cpu0,
               " submit_s=%.3f submits_per_s=%.1f" % (submit_s, len(ids) / submit_s))

main()
EOF

stack_up() {
	note "starting a stack: $SLOTS runner slots ($STACK_DIR)"
	# the per-address quotas off (every submission comes from 127.0.0.1), nginx's request rate too
	if ! timeout -k 5 90 "$STACK" start "$STACK_DIR" --bin-dir "$top_builddir" --runner-slots "$SLOTS" \
		--fcgi-workers 4 --set quota_jobs_max=100000 --set quota_cpu_seconds=1000000 --set quota_running_max=100000 --set quota_storage_bytes=1099511627776 --set sessions_per_client=1000 \
		>"$WORK/stack-start.out" 2>&1; then
		skip "the stack did not start; its last words:"
		sed 's/^/#   /' "$WORK/stack-start.out" | tail -n 20
		return 1
	fi
	# shellcheck disable=SC1091
	. "$STACK_DIR/client.env"
	# nginx's per-address request rate (20/s, burst 100) and its caps on connections
	# and uploads in flight (64, 4) would be what the HTTP row measures: lifted for
	# the benchmark, nginx reloaded
	# the benchmark, nginx reloaded. Beside GET /status/{id}, in the same server
	# block (same TLS, same server-level headers and log), one static file for
	# the /status row's reference: a copy of a /status body, written later
	# (nginx opens the file at each request).
	mkdir -p "$WORK/static" && chmod 0711 "$WORK" && chmod 0755 "$WORK/static"
	sed -i 's/rate=20r\/s/rate=100000r\/s/; s/limit_conn sandrun_conn 64;/limit_conn sandrun_conn 4096;/g; s/limit_conn sandrun_bodies 4;/limit_conn sandrun_bodies 4096;/g' \
		"$STACK_DIR"/nginx*.conf
	sed -i "/^ *location \/status\/ /i\\location = /bench-static.json { alias $WORK/static/status.json; default_type application/json; }" \
		"$STACK_DIR/nginx-sandrun-server.conf"
	grep -q 'location = /bench-static.json' "$STACK_DIR/nginx-sandrun-server.conf" ||
		note "could not add the static file's location to nginx-sandrun-server.conf: no /status row"
	kill -HUP "$(cat "$STACK_DIR/nginx-master.pid")" && sleep 0.5
}

now_ms() { date +%s%3N; }

http_submit() {
	local tgz=$WORK/true.tgz cfg=$WORK/curl.cfg i t0 t1 manifest
	mkdir -p "$WORK/tgz" "$WORK/responses"
	printf 'exit 0\n' >"$WORK/tgz/true.sh"
	tar czf "$tgz" -C "$WORK/tgz" true.sh
	manifest='{"entrypoint": "true.sh", "interpreter": "sh", "timeout": 10}'
	: >"$cfg"
	for ((i = 0; i < HTTP_JOBS; i++)); do
		((i == 0)) || echo next >>"$cfg"
		{
			printf 'url = "%s/submit"\n' "$SANDRUN_URL"
			printf 'cacert = "%s"\n' "$SANDRUN_CACERT"
			printf 'form = "files=@%s"\n' "$tgz"
			printf 'form-string = "manifest=%s"\n' "${manifest//\"/\\\"}"
			printf 'output = "%s/responses/%d.json"\n' "$WORK" "$i"
			echo 'max-time = 30'
			echo 'silent'
			echo 'show-error'
		} >>"$cfg"
	done
	note "end to end: $HTTP_JOBS submissions through nginx, curl --parallel --parallel-max $HTTP_PARALLEL"
	t0=$(now_ms)
	timeout -k 5 60 curl --silent --show-error --no-progress-meter --parallel \
		--parallel-max "$HTTP_PARALLEL" -K "$cfg" 2>"$WORK/curl.err" ||
		note "curl reported errors: $(head -n 1 "$WORK/curl.err")"
	t1=$(now_ms)
	cat "$WORK"/responses/*.json 2>/dev/null | grep -o '"job_id": *"job-[a-z2-7]*"' |
		grep -o 'job-[a-z2-7]*' >"$WORK/http-ids" || true
	note "accepted $(wc -l <"$WORK/http-ids") of $HTTP_JOBS submissions"
	timeout -k 5 $((JOBS_TIMEOUT_S + 10)) "$PY" "$WORK/jobs.py" wait "$SANDRUN_REDIS_PORT" \
		"$SANDRUN_REDIS_ADMIN_PASSWORD" "$SLOTS" "$WORK/http-ids" "$t0" "$JOBS_TIMEOUT_S" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')" >>"$RESULTS"
}

# BENCH_JOBS trivial jobs queued straight into Redis by bench_queue (the job
# store's submit, as a responder records them), then watched to the end
queue_jobs() {
	local t0 t1 manifest
	printf 'exit 0\n' >"$WORK/true.sh" && chmod 755 "$WORK/true.sh" &&
		tar czf "$WORK/true.tar.gz" -C "$WORK" true.sh || return 1
	manifest='{"args":[],"entrypoint":"true.sh","env":{},"environment":"default","gpu":null,"interpreter":"sh","memory_mb":512,"outputs":[],"requirements":null,"stdin":"","timeout":10}'
	t0=$(now_ms)
	SANDRUN_REDIS_ADMIN_PASSWORD=$SANDRUN_REDIS_ADMIN_PASSWORD timeout -k 5 60 \
		"$top_builddir/tests/bench/bench_queue" "127.0.0.1:$SANDRUN_REDIS_PORT" "$JOBS" \
		"$WORK/true.tar.gz" "$manifest" >"$WORK/queue-ids" 2>"$WORK/queue.err" ||
		note "bench_queue: $(grep -v '^queue_ms=' "$WORK/queue.err" | head -n 1)"
	t1=$(now_ms)
	timeout -k 5 $((JOBS_TIMEOUT_S + 30)) "$PY" "$WORK/jobs.py" queue "$SANDRUN_REDIS_PORT" \
		"$SANDRUN_REDIS_ADMIN_PASSWORD" "$SLOTS" "$WORK/queue-ids" "$t0" "$JOBS_TIMEOUT_S" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')" >>"$RESULTS"
}

# The bare reference of the throughput rows: COUNT runs of the same job file
# (true.sh: "exit 0") by `sh`, SLOTS at once (xargs -P), as fast as they go;
# with "bwrap", each inside the start rows' bubblewrap with true.sh bound in.
# xargs -n 1: one run per number (without it, xargs would pass all of them
# to one sh); the number is an ignored argument of the script.
xargs_ref() { # xargs_ref bare|bwrap COUNT: prints "reference kind=K jobs=N ns=NS rc=RC"
	local kind=$1 count=$2 t0 t1 rc cmd=(sh true.sh)
	[[ $kind == bwrap ]] && cmd=("$BWRAP" "${BWRAP_ARGS[@]}" --ro-bind "$WORK/ref/true.sh" /work/true.sh sh true.sh)
	mkdir -p "$WORK/ref" && printf 'exit 0\n' >"$WORK/ref/true.sh" && chmod 0644 "$WORK/ref/true.sh" || return 1
	t0=$(date +%s%N)
	(cd "$WORK/ref" && seq "$count" | timeout -k 5 60 xargs -P "$SLOTS" -n 1 "${cmd[@]}") 2>>"$WORK/ref-$kind.err"
	rc=$?
	t1=$(date +%s%N)
	echo "reference kind=$kind jobs=$count ns=$((t1 - t0)) rc=$rc" >>"$RESULTS"
	((rc == 0)) || note "the $kind xargs reference failed (exit $rc): $(head -n 1 "$WORK/ref-$kind.err")"
}

# wrk's figures: "wrk kind=K round=R rps=X p99_us=X requests=N non2xx=N socket_errors=N"
wrk_row() { # wrk_row KIND ROUND URL
	local out=$WORK/wrk-$1-$2.out
	timeout -k 5 $((WRK_SECONDS + 30)) wrk -t 2 -c "$WRK_CONNECTIONS" -d "${WRK_SECONDS}s" --latency "$3" >"$out" 2>&1 ||
		note "wrk failed for $1: $(tail -n 1 "$out")"
	awk -v kind="$1" -v round="$2" '
	function us(v) {
		if (v ~ /us$/) return v + 0
		if (v ~ /ms$/) return v * 1000
		if (v ~ /m$/) return v * 60e6
		if (v ~ /s$/) return v * 1e6
		return "NA"
	}
	/Requests\/sec:/ { rps = $2 }
	/^ +99%/ { p99 = us($2) }
	/ requests in / { requests = $1 }
	/Non-2xx or 3xx responses:/ { non2xx = $NF }
	/Socket errors:/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
	END {
		printf "wrk kind=%s round=%s rps=%s p99_us=%s requests=%s non2xx=%d socket_errors=%d\n",
			kind, round, (rps == "" ? "NA" : rps), (p99 == "" ? "NA" : p99), (requests == "" ? 0 : requests),
			non2xx, errors
	}' "$out" >>"$RESULTS"
}

# GET /status/{id} of a finished job against the static copy of its body,
# served by the same nginx server block over the same TLS, alternating
# (status, static, status, static, ...) WRK_ROUNDS times WRK_SECONDS each.
status_vs_static() {
	local id code base=https://127.0.0.1:$SANDRUN_HTTPS_PORT r
	if ! command -v wrk >/dev/null; then
		echo "reason status_vs_static: wrk is not installed (apt-get install wrk)" >>"$RESULTS"
		return 0
	fi
	id=$(head -n 1 "$WORK/queue-ids" 2>/dev/null)
	if [[ -z $id ]]; then
		echo "reason status_vs_static: no job id to ask for (the throughput run queued none)" >>"$RESULTS"
		return 0
	fi
	code=$(curl -sS --cacert "$SANDRUN_CACERT" -o "$WORK/static/status.json" -w '%{http_code}' \
		"$SANDRUN_URL/status/$id" 2>"$WORK/status-curl.err")
	chmod 0644 "$WORK/static/status.json" 2>/dev/null
	if [[ $code != 200 ]]; then
		echo "reason status_vs_static: GET /status/$id answered ${code:-nothing} ($(head -c 200 "$WORK/static/status.json" "$WORK/status-curl.err" 2>/dev/null | tr '\n' ' '))" >>"$RESULTS"
		return 0
	fi
	code=$(curl -sS --cacert "$SANDRUN_CACERT" -o /dev/null -w '%{http_code}' "$SANDRUN_URL/bench-static.json" 2>&1)
	if [[ $code != 200 ]]; then
		echo "reason status_vs_static: the static file answered ${code:-nothing}" >>"$RESULTS"
		return 0
	fi
	note "GET /status vs a static file ($(wc -c <"$WORK/static/status.json") bytes, a copy of that /status body): wrk -t2 -c$WRK_CONNECTIONS -d${WRK_SECONDS}s, $WRK_ROUNDS rounds alternating"
	# the quota read of every /status covers the jobs this address submitted
	# (the end-to-end row's): the case of a client that has been submitting
	note "    127.0.0.1 has submitted $(wc -l <"$WORK/http-ids" 2>/dev/null || echo 0) jobs through nginx before this row"
	for ((r = 1; r <= WRK_ROUNDS; r++)); do
		wrk_row status "$r" "$base/status/$id"
		wrk_row static "$r" "$base/bench-static.json"
	done
}

# The floor under the /status row: the pool's responders replaced, on their
# port, by bench_fcgi_floor (tests/bench/bench_fcgi_floor.c), which answers
# the same body with no work (kind floor_fastcgi: the FastCGI hop alone) or
# after one round trip reading what /status reads from Redis (floor_redis),
# alternating with the static file (static_floor) WRK_ROUNDS times. Run
# last: the pool does not come back.
status_floor() {
	local id base=https://127.0.0.1:$SANDRUN_HTTPS_PORT conf=$STACK_DIR/sandrun-1.conf listen redis user pass r m pid
	id=$(head -n 1 "$WORK/queue-ids" 2>/dev/null)
	if ! command -v wrk >/dev/null || [[ -z $id || ! -s $WORK/static/status.json || ! -f $conf ]]; then
		echo "reason status_floor: the /status row did not run, or no pool config at $conf" >>"$RESULTS"
		return 0
	fi
	cfg() { sed -n "s/^$1 *= *//p" "$conf" | head -n 1; }
	listen=$(cfg fcgi_listen) redis=$(cfg redis_address) user=$(cfg redis_responder_user) pass=$(cfg redis_responder_password)
	if [[ $listen == unix:* || $redis == unix:* || -z $listen || -z $redis ]]; then
		echo "reason status_floor: the pool listens on ${listen:-nothing} and reaches Redis at ${redis:-nothing}; the floor takes TCP ports" >>"$RESULTS"
		return 0
	fi
	note "the floor under /status: the pool replaced on $listen by bench_fcgi_floor (fastcgi: no work; redis: one round trip), wrk $WRK_ROUNDS rounds alternating with the static file"
	"$STACK" kill fcgi "$STACK_DIR" >/dev/null 2>&1
	for r in 1 2 3 4 5 6 7 8 9 10; do
		ss -Hltn "sport = :${listen##*:}" | grep -q . || break
		sleep 0.2
	done
	for m in fastcgi redis; do
		BENCH_REDIS_PASSWORD=$pass "$top_builddir/tests/bench/bench_fcgi_floor" -l "$listen" -b "$WORK/static/status.json" \
			-m "$m" -r "$redis" -u "$user" -j "sr:{$id}:job" -c "sr:cpu:{127.0.0.1}" 2>>"$WORK/floor.err" &
		pid=$!
		sleep 0.3
		for ((r = 1; r <= WRK_ROUNDS; r++)); do
			wrk_row "floor_$m" "$r" "$base/status/$id"
			wrk_row static_floor "$r" "$base/bench-static.json"
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	[[ ! -s $WORK/floor.err ]] || note "bench_fcgi_floor said: $(head -n 1 "$WORK/floor.err")"
}

# the sessions' baseline: a bare fork+exec of sh -c true (what a session's
# exec is compared with), timed right before the session rows, on the same
# machine as they see
shtrue_baseline() {
	note "start-up: sh -c true, bare only ($ROUNDS rounds x $ITERATIONS runs), the sessions' baseline"
	TMPDIR=$WORK timeout -k 5 $((STARTUP_BUDGET_S * 2)) "$BENCH" -l shtrue -r "$ROUNDS" -n "$ITERATIONS" \
		-w "$WARMUP" -t "$STARTUP_BUDGET_S" bare -- /bin/sh -c true >>"$RESULTS" ||
		note "the driver failed for sh -c true; the session ratios are missing"
}

if [[ -n $PY ]] && stack_up; then
	# the references in halves around the runner's row: the same machine, the same idle stack
	ref_kinds=(bare)
	[[ -n $BWRAP ]] && ref_kinds+=(bwrap)
	note "bare reference: $JOBS runs of sh true.sh by xargs -P$SLOTS -n1 (${ref_kinds[*]}), half before and half after the runner's row"
	# (bwrap's, informational, with half as many runs: it is the slowest)
	half=$((JOBS / 2)) bwrap_half=$((JOBS / 4))
	for k in "${ref_kinds[@]}"; do
		if [[ $k == bwrap ]]; then xargs_ref bwrap "$bwrap_half"; else xargs_ref bare "$half"; fi
	done
	note "runner throughput: $JOBS trivial jobs (sh true.sh) queued through the job store's submit"
	queue_jobs || note "the throughput run failed"
	for ((i = ${#ref_kinds[@]} - 1; i >= 0; i--)); do
		k=${ref_kinds[i]}
		if [[ $k == bwrap ]]; then xargs_ref bwrap $((JOBS / 2 - bwrap_half)); else xargs_ref bare $((JOBS - half)); fi
	done
	if ((HTTP_JOBS > 0)); then
		http_submit || note "the end-to-end run failed"
	else
		echo "reason e2e_vs_bare: BENCH_HTTP_JOBS=0" >>"$RESULTS"
	fi
	status_vs_static
	shtrue_baseline
	note "sessions: exec of true and creates, $SESSION_N each, through nginx on one kept-alive connection"
	timeout -k 5 120 "$PY" "$top_srcdir/tests/bench/session_bench.py" "$SANDRUN_URL" "$SANDRUN_CACERT" \
		"$SESSION_N" >>"$RESULTS" || note "the session rows failed"
	status_floor
	errors=$(grep -c -i -E 'error|abnormal' "$STACK_DIR/runner.log" 2>/dev/null || true)
	[[ ${errors:-0} == 0 ]] || note "the runner logged $errors error lines ($STACK_DIR/runner.log)"
	note "stopping the stack"
	"$STACK" stop "$STACK_DIR" >"$WORK/stack-stop.out" 2>&1 || note "the stack did not stop cleanly"
	grep -i 'did not stop\|SIGKILL' "$WORK/stack-stop.out" | sed 's/^/# /'
fi

# ------------------------------------------------------------------ report

note "raw lines:"
sed 's/^/#   /' "$RESULTS"

awk -f "$top_srcdir/tests/bench/report.awk" -v t_start="$TARGET_START_VS_BARE" -v t_tp="$TARGET_THROUGHPUT_VS_BARE" -v t_e2e="$TARGET_E2E_VS_BARE" \
	-v t_status="$TARGET_STATUS_VS_STATIC" -v t_p99="$TARGET_STATUS_P99_VS_STATIC" -v seconds="$SECONDS" -v slots="$SLOTS" "$RESULTS"
exit 0
