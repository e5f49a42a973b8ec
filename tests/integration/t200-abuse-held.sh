#!/usr/bin/env bash
# Held requests (?wait long-polls, live streams) must not starve quick ones
# (issue 9). Two stacks: a small one where the caps are easy to reach, and
# one sized for 1,000 held requests at once.
#
# Small (2 responders x 8 threads, 6 of them may hold): (a) eight ?wait=30
# from one address leave /health and /submit fast for another; (d) a ninth
# from that address is nginx's JSON 429; over the responders' hold slots a
# held request is a JSON 503 with retry_after; (b) clients that hang up
# (curl -m 1 ?wait=3600) free their threads within a Redis slice: the
# responder logs how long each was held, and all slots take new waits.
# Large (4 x 384 threads, 320 may hold): (c) 1,000 ?wait requests open at
# once from 125 loopback addresses (8 each, nginx's per-address cap) while
# another address's /health and /submit stay fast (p50/p99 printed, p99
# under 500 ms asserted); (e) 1,000 GET /status of one job from 125
# addresses in parallel while /health stays fast; (f) when the job ends,
# every held request is answered, and a normal job runs to completion.
#
# Traffic goes to loopback only; every loop is bounded in count and time.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq curl
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 is needed for the load generator"

P99_MAX_MS=500          # the target for quick requests under abuse
SLICE_SLACK_MS=2500     # a hung-up client (curl -m 1) is seen within one 1 s slice, plus slack

# --- helpers ------------------------------------------------------------

# quick_get FROM PATH: one GET; prints "CODE MS".
quick_get() {
	curl -sS -o /dev/null --max-time 10 --cacert "$SANDRUN_CACERT" --interface "$1" \
		-w '%{http_code} %{time_total}\n' "$SANDRUN_URL$2" 2>/dev/null |
		awk '{printf "%s %d\n", $1, $2 * 1000}' || echo "000 10000"
}
# quick_submit FROM: one small JSON job; prints "CODE MS".
quick_submit() {
	curl -sS -o /dev/null --max-time 10 --cacert "$SANDRUN_CACERT" --interface "$1" \
		-H 'Content-Type: application/json' \
		-d '{"entrypoint": "q.sh", "timeout": 10, "files": {"q.sh": "true"}}' \
		-w '%{http_code} %{time_total}\n' "$SANDRUN_URL/submit" 2>/dev/null |
		awk '{printf "%s %d\n", $1, $2 * 1000}' || echo "000 10000"
}
# percentile FILE P: the P-th percentile of column 2 (nearest rank).
percentile() {
	sort -n -k2,2 "$1" | awk -v p="$2" '{v[NR] = $2} END {i = int((NR * p + 99) / 100); if (i < 1) i = 1; print v[i]}'
}
# codes FILE: the distinct status codes of column 1, e.g. "200" or "200 429".
codes() { awk '{print $1}' "$1" | sort -u | paste -sd ' '; }
submit_json() { # submit_json FILE CONTENT: a job of one file; prints its id
	local body
	body=$(jq -cn --arg f "$1" --arg s "$2" '{entrypoint: $f, timeout: 600, files: {($f): $s}}')
	api -X POST "$SANDRUN_URL/submit" -H 'Content-Type: application/json' -d "$body"
	json .job_id
}
wait_running() { # wait_running ID: 20 s at most
	for _ in $(seq 200); do
		[ "$(rcli HGET "sr:{$1}:job" status)" = running ] && return 0
		sleep 0.1
	done
	return 1
}

# The load generator: N requests over TLS from loopback aliases, PER_ADDR
# from each, all open at once; reports what was answered early (within
# SETTLE s after the last was sent) and, at the end, every answer.
write_generator() {
	HELD_PY=$WORK/held.py
	cat >"$HELD_PY" <<'PY'
import asyncio, json, ssl, sys, time
port, cafile, path, count, per_addr, net, settle, life, out = sys.argv[1:10]
count, per_addr, settle, life = int(count), int(per_addr), float(settle), float(life)
net_a, net_b = (int(x) for x in net.split("."))    # aliases 127.A.B+i/250.1+i%250
ctx = ssl.create_default_context(cafile=cafile)
results = []          # (code, status, answered_at) per answered request
sent = 0
def log(line):
    with open(out, "a") as f:
        f.write(line + "\n")
async def one(i, gate):
    global sent
    src = "127.%d.%d.%d" % (net_a, net_b + (i // per_addr) // 250, 1 + (i // per_addr) % 250)
    try:
        async with gate:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", int(port), ssl=ctx, server_hostname="localhost",
                local_addr=(src, 0)), 20)
            w.write(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path).encode())
            await w.drain()
        sent += 1
        data = await asyncio.wait_for(r.read(), life)
        w.close()
        head, _, body = data.partition(b"\r\n\r\n")
        code = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        try:
            status = json.loads(body).get("status") or json.loads(body).get("error")
        except Exception:
            status = None
        results.append((code, status, time.time()))
    except Exception as e:
        results.append(("ERR-" + type(e).__name__, None, time.time()))
def summary():
    codes, statuses = {}, {}
    for c, s, _ in results:
        codes[str(c)] = codes.get(str(c), 0) + 1
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    return codes, statuses
async def main():
    gate = asyncio.Semaphore(64)      # TLS handshakes at once: no SYN flood
    tasks = [asyncio.ensure_future(one(i, gate)) for i in range(count)]
    t0 = time.time()
    while sent + len(results) < count and time.time() - t0 < 120:
        await asyncio.sleep(0.1)
    await asyncio.sleep(settle)
    codes, _ = summary()
    log("open sent=%d answered=%d codes=%s" % (sent, len(results), json.dumps(codes, sort_keys=True)))
    await asyncio.wait(tasks, timeout=life + 30)
    codes, statuses = summary()
    last = max((t for _, _, t in results), default=0)
    log("done answered=%d codes=%s statuses=%s last=%.3f" % (len(results), json.dumps(codes, sort_keys=True),
        json.dumps(statuses, sort_keys=True), last))
asyncio.run(main())
PY
}

# held_start TAG PATH COUNT NET LIFE: runs the generator in the background
# (results in $WORK/TAG.out, its pid in HELD_PID).
held_start() {
	: >"$WORK/$1.out"
	/usr/bin/python3 "$HELD_PY" "$SANDRUN_HTTPS_PORT" "$SANDRUN_CACERT" "$2" "$3" 8 "$4" 3 "$5" \
		"$WORK/$1.out" >"$WORK/$1.err" 2>&1 &
	HELD_PID=$!
}
# held_line TAG WORD SECONDS: waits for the generator's "open" or "done" line; prints it.
held_line() {
	for _ in $(seq $(($3 * 10))); do
		grep -q "^$2 " "$WORK/$1.out" 2>/dev/null && break
		sleep 0.1
	done
	grep "^$2 " "$WORK/$1.out" || echo "$2 (none within $3 s) $(tail -c 300 "$WORK/$1.err" 2>/dev/null)"
}

# ========================================================================
# Small stack: 2 responders x 8 threads, 6 of which may hold a request.
stack_start --fcgi-workers 2 --set fcgi_threads=8 --set fcgi_hold_max=6 \
	--set quota_jobs_max=50 --set quota_cpu_seconds=1000
cd "$WORK"
write_generator
SLEEPER=$(submit_json s.sh 'sleep 600')
like "$SLEEPER" '^job-' "a sleeping job is queued"
wait_running "$SLEEPER"
ok $? "... and runs"

# --- (a) 8 ?wait=30 from one address; another address stays fast
pids=()
for i in $(seq 8); do
	curl -sS -o "w$i.body" --max-time 40 --cacert "$SANDRUN_CACERT" --interface 127.0.0.11 \
		-w '%{http_code}' "$SANDRUN_URL/status/$SLEEPER?wait=30" >"w$i.code" 2>/dev/null &
	pids+=("$!")
done
sleep 1.5
: >a.lat
for _ in $(seq 10); do quick_get 127.0.0.12 /health >>a.lat; done
for _ in $(seq 3); do quick_submit 127.0.0.12 >>a.lat; done
like "$(codes a.lat)" '^200$' "(a) with 8 ?wait=30 held from one address, another's /health and /submit answer 200"
ok "$([ "$(percentile a.lat 100)" -lt 1000 ]; echo $?)" "(a) ... each within 1 s (slowest $(percentile a.lat 100) ms)"
is "$(cat w*.code 2>/dev/null)" "" "(a) the 8 held requests are still waiting"

# --- (d) over nginx's per-address cap: a JSON 429
api "$SANDRUN_URL/status/$SLEEPER?wait=30" --interface 127.0.0.11 --max-time 5
is "$HTTP_STATUS" 429 "(d) a 9th held request from that address is refused (per-address cap 8)"
is "$(json .error)" "Rate limit exceeded" "(d) ... with the API's JSON error"
api "$SANDRUN_URL/status/$SLEEPER" --interface 127.0.0.11 --max-time 5
is "$HTTP_STATUS" 200 "(d) a quick request from that address still passes"

# --- (d) over the responders' hold slots (2 x 6 = 12, 8 taken): a JSON 503
for i in $(seq 8); do
	curl -sS -o "o$i.body" -D "o$i.head" --max-time 10 --cacert "$SANDRUN_CACERT" --interface 127.0.0.13 \
		-w '%{http_code}\n' "$SANDRUN_URL/status/$SLEEPER?wait=3" >"o$i.code" 2>/dev/null &
done
wait_for_files() { for _ in $(seq 100); do [ "$(cat "$@" 2>/dev/null | wc -l)" -ge $# ] && return; sleep 0.1; done; }
wait_for_files o?.code
n503=$(cat o?.code | grep -c '^503$')
n200=$(cat o?.code | grep -c '^200$')
ok "$([ "$n503" -ge 4 ] && [ $((n503 + n200)) -eq 8 ]; echo $?)" \
	"(d) 16 held requests for 12 hold slots: the extra ones are 503 at once ($n503 x 503, $n200 x 200)"
f503=$(grep -l '^503$' o?.code | head -n 1)
f503=${f503%.code}
if [ -n "$f503" ]; then
	is "$(jq -c '[.error, .reason, .retry_after]' "$f503.body")" \
		'["Service unavailable","too many requests are waiting on results right now; try again shortly",2]' \
		"(d) the 503 is the contract's error: error, reason, retry_after"
	is "$(tr -d '\r' <"$f503.head" | sed -n 's/^retry-after: //Ip')" 2 "(d) ... and a Retry-After header"
fi

# --- (b) clients that hang up free their threads
kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null   # the 8 ?wait=30 clients leave too
start=$(date +%s%N)
for a in 21 22 23 24; do
	for _ in 1 2 3 4; do
		curl -sS -o /dev/null -m 1 --cacert "$SANDRUN_CACERT" --interface "127.0.0.$a" \
			"$SANDRUN_URL/status/$SLEEPER?wait=3600" 2>/dev/null &
	done
done
wait
sleep $((SLICE_SLACK_MS / 1000 + 1))
gone=$(grep -ho 'wait ended after [0-9]* ms of [0-9]* s: the client is gone' "$STACK_DIR"/fcgi-*.log)
short=$(printf '%s\n' "$gone" | grep ' of 3600 s' | awk '{print $4}' | sort -n)
held_ms=$(printf '%s\n' "$short" | tail -n 1)
echo "# hung-up held clients seen by the responders: $(printf '%s\n' "$gone" | grep -c .) (8 killed + the curl -m 1 ones that got a slot); a curl -m 1 client's thread was held ${held_ms:-?} ms at most (its client left at 1000 ms)"
ok "$([ "$(printf '%s\n' "$gone" | grep -c .)" -ge 12 ]; echo $?)" \
	"(b) the responders saw every hung-up held client leave (the 8 killed, the curl -m 1 ones that got a slot)"
ok "$([ -n "$held_ms" ] && [ "$held_ms" -le $((1000 + SLICE_SLACK_MS)) ]; echo $?)" \
	"(b) a curl -m 1 ?wait=3600 client's thread was free within $((1000 + SLICE_SLACK_MS)) ms of its start (${held_ms:-?} ms)"
rm -f n*.code
for i in $(seq 10); do
	curl -sS -o /dev/null --max-time 10 --cacert "$SANDRUN_CACERT" --interface "127.0.0.3$((i % 2))" \
		-w '%{http_code}\n' "$SANDRUN_URL/status/$SLEEPER?wait=2" >"n$i.code" 2>/dev/null &
done
wait
is "$(cat n*.code | sort | uniq -c | awk '{print $1 "x" $2}' | paste -sd ' ')" 10x200 \
	"(b) afterwards, 10 new held requests are all accepted (the hung-up ones freed their slots)"
: >b.lat
for _ in $(seq 10); do quick_get 127.0.0.12 /health >>b.lat; done
is "$(codes b.lat)" 200 "(b) and /health still answers"
api -X DELETE "$SANDRUN_URL/jobs/$SLEEPER"
stack_stop

# ========================================================================
# Large stack: 4 responders x 384 threads, 320 of which may hold: 1,280
# hold slots for 1,000 held requests (counted over the pool: the kernel
# spreads connections over the responders only roughly).
stack_start --fcgi-workers 4 --set fcgi_threads=384 --set fcgi_hold_max=320 \
	--set quota_jobs_max=1000 --set quota_cpu_seconds=100000
cd "$WORK"
write_generator
SLEEPER=$(submit_json s.sh 'sleep 600')
wait_running "$SLEEPER"
ok $? "a sleeping job runs on the large stack"

# --- (c) 1,000 held requests at once; quick requests stay fast
held_start held "/status/$SLEEPER?wait=300" 1000 0.1 330
held_pid=$HELD_PID
line=$(held_line held open 150)
echo "# $line"
like "$line" '^open sent=1000 answered=0 ' "(c) 1,000 held requests from 125 addresses are all open, none answered"
: >c-health.lat
: >c-submit.lat
for i in $(seq 120); do       # paced under nginx's 20 requests/s per address
	quick_get 127.0.0.2 /health >>c-health.lat
	[ $((i % 4)) -eq 0 ] && quick_submit 127.0.0.2 >>c-submit.lat
	sleep 0.05
done
h50=$(percentile c-health.lat 50) h99=$(percentile c-health.lat 99)
s50=$(percentile c-submit.lat 50) s99=$(percentile c-submit.lat 99)
echo "# under 1,000 held: GET /health n=$(wc -l <c-health.lat) p50 ${h50} ms p99 ${h99} ms; POST /submit n=$(wc -l <c-submit.lat) p50 ${s50} ms p99 ${s99} ms"
is "$(codes c-health.lat)" 200 "(c) every GET /health under 1,000 held requests is 200"
ok "$([ "$h99" -lt "$P99_MAX_MS" ]; echo $?)" "(c) ... p99 ${h99} ms < ${P99_MAX_MS} ms (p50 ${h50} ms)"
like "$(codes c-submit.lat)" '^200$' "(c) every POST /submit under 1,000 held requests is accepted (200)"
ok "$([ "$s99" -lt "$P99_MAX_MS" ]; echo $?)" "(c) ... p99 ${s99} ms < ${P99_MAX_MS} ms (p50 ${s50} ms)"
# (d) at scale: an address of the generator is at its cap
api "$SANDRUN_URL/status/$SLEEPER?wait=30" --interface 127.0.1.7 --max-time 5
is "$HTTP_STATUS" 429 "(d) a 9th held request from one of the 125 addresses is a 429"
is "$(json .error)" "Rate limit exceeded" "(d) ... in JSON"

# --- (e) one job id polled by 1,000 clients at once; /health stays fast
held_start poll "/status/$SLEEPER" 1000 0.2 60
poll_pid=$HELD_PID
: >e.lat
for _ in $(seq 60); do quick_get 127.0.0.4 /health >>e.lat; sleep 0.05; done
line=$(held_line poll done 90)
wait "$poll_pid"
echo "# $line"
like "$line" '^done answered=1000 codes=\{"200": 1000\}' "(e) 1,000 parallel GET /status of one job are all answered 200"
e99=$(percentile e.lat 99)
echo "# during 1,000 parallel polls (and 1,000 held): GET /health n=$(wc -l <e.lat) p50 $(percentile e.lat 50) ms p99 ${e99} ms"
is "$(codes e.lat)" 200 "(e) /health answers 200 meanwhile"
ok "$([ "$e99" -lt "$P99_MAX_MS" ]; echo $?)" "(e) ... p99 ${e99} ms < ${P99_MAX_MS} ms"

# --- (f) the abuse stops: the job ends, every held request is answered
cancelled_at=$(date +%s.%N)
api -X DELETE "$SANDRUN_URL/jobs/$SLEEPER"
is "$HTTP_STATUS" 200 "(f) the job the 1,000 wait on is cancelled"
line=$(held_line held done 120)
wait "$held_pid"
echo "# $line"
like "$line" '^done answered=1000 codes=\{"200": 1000\} statuses=\{"cancelled": 1000\}' \
	"(f) every held request is answered 200 with the final status (cancelled)"
last=$(printf '%s' "$line" | sed -n 's/.* last=\([0-9.]*\).*/\1/p')
spread=$(awk -v a="$cancelled_at" -v b="${last:-0}" 'BEGIN {printf "%d", (b - a) * 1000}')
echo "# the last of the 1,000 answers came ${spread} ms after the cancel"
ok "$([ "$spread" -lt 10000 ]; echo $?)" "(f) ... all within 10 s of the cancel (${spread} ms)"
mkdir -p job && echo 'print("after the storm")' >job/hello.py
run_job "$WORK/job" '{"entrypoint": "hello.py"}' 120
is "$(json .status "$STATUS_JSON")" completed "(f) a normal job then runs to completion"
is "$(logs "$JOB_ID")" "after the storm" "(f) ... with its output"
: >f.lat
for _ in $(seq 20); do quick_get 127.0.0.2 /health >>f.lat; done
is "$(codes f.lat)" 200 "(f) /health answers (slowest $(percentile f.lat 100) ms)"
done_testing
