#!/usr/bin/env bash
# When a part goes down the service answers clearly and heals by itself:
# a responder that dies is replaced, a pool that is down gets nginx's JSON
# 503, a Redis that is down gets the responders' JSON 503 (fast, no hang),
# and once Redis is back responders and runner carry on without a restart.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar pgrep
stack_start
STACK=$top_srcdir/contrib/sandrun-stack

cd "$WORK"
mkdir -p hello && echo 'print("hello")' > hello/hello.py
check_job_runs() { # check_job_runs NAME
	run_job hello '{"entrypoint":"hello.py"}' 30
	is "$(json .status "$STATUS_JSON")" completed "$1"
}
check_job_runs "a job runs at the start"

# --- a responder killed in mid-life is replaced by the pool's master
master=$SANDRUN_PID_FCGI
before=$(pgrep -P "$master" | sort | tr '\n' ' ')
victim=$(pgrep -P "$master" | head -n 1)
kill -9 "$victim"
for _ in $(seq 50); do
	now=$(pgrep -P "$master" | sort | tr '\n' ' ')
	[ "$(echo "$now" | wc -w)" -eq "$(echo "$before" | wc -w)" ] && ! echo " $now" | grep -q " $victim " && break
	sleep 0.1
done
is "$(echo "$now" | wc -w)" "$(echo "$before" | wc -w)" "a killed responder is replaced (pool size kept)"
ok "$(kill -0 "$master" 2>/dev/null; echo $?)" "the pool's master survives"
for i in 1 2 3 4 5 6; do
	api "$SANDRUN_URL/health"
	[ "$HTTP_STATUS" = 200 ] || break
done
is "$HTTP_STATUS" 200 "requests keep succeeding after a responder died"

# --- the whole pool down: nginx answers the JSON error shape
"$STACK" kill fcgi "$STACK_DIR" >/dev/null 2>&1
api "$SANDRUN_URL/status/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 503 "with the pool down, nginx answers 503"
like "$(json .error)" '.' "... with a JSON error"
like "$(json .reason)" '.{10,}' "... and a reason"
like "$(json .retry_after)" '^[0-9]+$' "... and retry_after"
like "$HTTP_HEADERS" '^[Rr]etry-[Aa]fter: [0-9]+' "... and a Retry-After header"
"$STACK" restart fcgi "$STACK_DIR" >/dev/null 2>&1
. "$STACK_DIR/client.env"
api "$SANDRUN_URL/health"
is "$HTTP_STATUS" 200 "the pool back, requests succeed again"

# --- Redis down: responders answer 503 quickly, never hang or crash
"$STACK" kill redis "$STACK_DIR" >/dev/null 2>&1
start=$(date +%s%N)
api "$SANDRUN_URL/health"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$HTTP_STATUS" 503 "with Redis down, /health is 503"
is "$(json .status)" degraded "... and says degraded"
like "$HTTP_HEADERS" '^[Rr]etry-[Aa]fter: [0-9]+' "... with Retry-After"
ok "$([ "$elapsed_ms" -lt 5000 ]; echo $?)" "... at once, not after a hang (${elapsed_ms} ms)"
tar czf hello.tar.gz -C hello .
api -X POST "$SANDRUN_URL/submit" -F files=@hello.tar.gz -F 'manifest={"entrypoint":"hello.py"}'
is "$HTTP_STATUS" 503 "with Redis down, a submit is 503 (not accepted, not lost)"
like "$(json .retry_after)" '^[0-9]+$' "... with retry_after"
api "$SANDRUN_URL/status/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 503 "with Redis down, a status read is 503"
ok "$(kill -0 "$(cat "$STACK_DIR"/fcgi-1.pid)" 2>/dev/null; echo $?)" "the responder pool is still up"
ok "$(kill -0 "$(cat "$STACK_DIR"/runner.pid)" 2>/dev/null; echo $?)" "the runner is still up"

"$STACK" restart redis "$STACK_DIR" >/dev/null 2>&1
api "$SANDRUN_URL/health"
is "$HTTP_STATUS" 200 "Redis back: /health is 200 again without restarting anything else"
check_job_runs "Redis back: the runner reconnects and a new job runs"
done_testing
