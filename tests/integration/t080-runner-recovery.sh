#!/usr/bin/env bash
# A runner that dies or is cut off mid-job loses the job to another runner,
# never runs it twice at once, and never leaves it running for ever:
#  - runner killed (SIGKILL to its group) and restarted: its jobs are taken
#    over once their lease ends and run again (attempt 2);
#  - a runner that cannot renew its leases (here: its main loop stopped)
#    kills its jobs itself before another runner takes them over;
#  - a job lost twice is failed with reason internal;
#  - runners announce themselves in sr:runners (/stats system.runners) and
#    leave it at a clean stop;
#  - Redis restarted (empty) under a running job: the runner reconnects,
#    announces itself again and takes new jobs.
# It waits out real leases (LEASE_MS, 15 s) twice: about a minute.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar pgrep redis-cli
# uid ranges of its own: what it sees running under them is its jobs,
# not another test's on this host.
UID_BASE=$(uid_base 0)    # the stack runner's slots: uid base+0, base+1
UID_BASE2=$(uid_base 1)   # the second runner's slot
# Both slots for one client: what is tested is recovery, not fair shares (t230).
stack_start --runner-slots 2 --set job_uid_base=$UID_BASE --set quota_running_max=2
STACK=$top_srcdir/contrib/sandrun-stack
LEASE_S=15                # LEASE_MS in common/store.h

field() { rcli HGET "sr:{$1}:job" "$2"; }
submit_json() { # submit_json SCRIPT [TIMEOUT]: a bash job; prints its id
	local body
	body=$(jq -cn --arg s "$1" --argjson t "${2:-120}" '{entrypoint: "job.sh", timeout: $t, files: {"job.sh": $s}}')
	api -X POST "$SANDRUN_URL/submit" -H 'Content-Type: application/json' -d "$body"
	json .job_id
}
wait_field() { # wait_field ID FIELD VALUE SECONDS
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(field "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
stack_runner_name() { echo "$(hostname):$(cat "$STACK_DIR/runner.pid")"; }
stats_runners() {
	api "$SANDRUN_URL/stats"
	json .system.runners
}

# A second runner, started by hand: the stack's config with its own state
# directory, name and uids (its cgroup is named after its pid).
RUNNER2_PID=
runner2_start() {
	sed -e '/^runner_state_dir/d' -e '/^runner_name/d' -e '/^job_uid_base/d' -e '/^runner_slots/d' \
		"$SANDRUN_CONFIG" >"$STACK_DIR/runner2.conf"
	cat >>"$STACK_DIR/runner2.conf" <<-EOF
		runner_state_dir = $STACK_DIR/runner2
		runner_name = second-runner
		job_uid_base = $UID_BASE2
		runner_slots = 1
	EOF
	mkdir -p "$STACK_DIR/runner2"
	setsid "$top_builddir/sandrun-runner" -c "$STACK_DIR/runner2.conf" </dev/null \
		>>"$STACK_DIR/runner2.log" 2>&1 &
	RUNNER2_PID=$!
}
runner2_kill() {
	[ -n "$RUNNER2_PID" ] || return 0
	kill -KILL -- "-$RUNNER2_PID" 2>/dev/null || true
	RUNNER2_PID=
}
cleanup() {
	[ -z "${STOPPED_PID:-}" ] || kill -CONT "$STOPPED_PID" 2>/dev/null || true
	runner2_kill
	if [ "$tap_failed" -ne 0 ] && [ -f "$STACK_DIR/runner2.log" ]; then
		echo "# --- last lines of runner2.log"
		tail -n 25 "$STACK_DIR/runner2.log" | sed 's/^/#   /'
	fi
	stack_stop
}
trap cleanup EXIT

# --- heartbeat: the runner is in sr:runners, fresh, with its announcement
name1=$(stack_runner_name)
for _ in $(seq 50); do [ -n "$(rcli ZSCORE sr:runners "$name1")" ] && break; sleep 0.1; done
score=$(rcli ZSCORE sr:runners "$name1")
now_ms=$(($(date +%s%N) / 1000000))
ok "$([ -n "$score" ] && [ $((now_ms - ${score%.*})) -lt 5000 ]; echo $?)" \
	"the runner's heartbeat is in sr:runners, recent"
is "$(rcli HGET "sr:runner:$name1" slots)" 2 "its announcement gives its slots"
like "$(rcli PTTL "sr:runner:$name1")" '^[0-9]+$' "... and expires by itself"
is "$(stats_runners)" 1 "/stats counts one live runner"

# --- a runner killed mid-job: its jobs are taken over and run again
A=$(submit_json 'sleep 3; echo done-A')
B=$(submit_json 'echo started-B; sleep 300')
wait_field "$A" status running 10 && wait_field "$B" status running 10
ok $? "two jobs run"
is "$(field "$A" attempts)" 1 "a first run is attempt 1"
sleep 0.5
"$STACK" kill runner "$STACK_DIR" >/dev/null 2>&1
killed_at=$(date +%s)
"$STACK" restart runner "$STACK_DIR" >/dev/null 2>&1
. "$STACK_DIR/client.env"
name1=$(stack_runner_name)
for _ in $(seq 30); do pgrep -u "$UID_BASE,$((UID_BASE + 1))" >/dev/null || break; sleep 0.1; done
ok "$(pgrep -u "$UID_BASE,$((UID_BASE + 1))" >/dev/null; [ $? -ne 0 ]; echo $?)" \
	"the kill took the runner's sandboxes with it"
is "$(field "$A" status)" running "meanwhile the lost job still reads running"
wait_job "$A" $((LEASE_S + 15))
is "$(json .status "$STATUS_JSON")" completed "the killed runner's job completes on the new runner"
taken=$(($(date +%s) - killed_at))
ok "$([ "$taken" -le $((LEASE_S + 10)) ]; echo $?)" "... within the lease and a takeover (${taken}s)"
is "$(field "$A" attempts)" 2 "... as attempt 2"
is "$(field "$A" runner)" "$name1" "... on the new runner"
is "$(logs "$A")" "done-A" "... and its output is that run's, once"
grep -q "\[$A\] taken over from a lost runner" "$STACK_DIR/runner.log"
ok $? "the new runner logs the takeover"
wait_field "$B" attempts 2 5
is "$(field "$B" status)" running "the other job runs again too"

# --- a runner cut off from Redis (main loop stopped: no lease renewed)
# kills its jobs before another runner may take them over: no overlap
C=$(submit_json 'while :; do echo tick; sleep 0.1; done')
wait_field "$C" status running 10
ok $? "a third job runs on the stack's runner"
runner2_start
for _ in $(seq 50); do [ -n "$(rcli ZSCORE sr:runners second-runner)" ] && break; sleep 0.1; done
ok "$([ -n "$(rcli ZSCORE sr:runners second-runner)" ]; echo $?)" "a second runner announces itself"
is "$(stats_runners)" 2 "/stats counts two live runners"
STOPPED_PID=$(cat "$STACK_DIR/runner.pid")
kill -STOP "$STOPPED_PID"
stopped_at=$(date +%s%N)
overlap=0 fenced_ms= taken_ms=
for _ in $(seq 300); do
	n1=$(pgrep -c -u "$UID_BASE,$((UID_BASE + 1))")
	n2=$(pgrep -c -u "$UID_BASE2")
	t=$((($(date +%s%N) - stopped_at) / 1000000))
	[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && overlap=1
	[ -z "$fenced_ms" ] && [ "$n1" -eq 0 ] && fenced_ms=$t
	[ -z "$taken_ms" ] && [ "$n2" -gt 0 ] && taken_ms=$t
	[ -n "$taken_ms" ] && [ "$(field "$C" runner)" = second-runner ] && break
	sleep 0.1
done
echo "# stack runner's jobs stopped after ${fenced_ms:-?} ms, job taken over after ${taken_ms:-?} ms"
ok "$([ -n "$fenced_ms" ] && [ "$fenced_ms" -lt $((LEASE_S * 1000)) ]; echo $?)" \
	"the cut-off runner kills its jobs before its lease ends"
ok "$([ -n "$taken_ms" ]; echo $?)" "the second runner takes the job over"
is "$overlap" 0 "the job never runs on both runners at once"
is "$(field "$C" status)/$(field "$C" attempts)" running/2 "... and runs there as attempt 2"
kill -CONT "$STOPPED_PID"
STOPPED_PID=
grep -q "\[$C\] its lease was not renewed in time" "$STACK_DIR/runner.log"
ok $? "the cut-off runner logs why it stopped the job"

# --- B, lost a second time (its runner cut off too), is failed, not run again
wait_field "$B" status failed $((LEASE_S + 10))
is "$(field "$B" status)/$(field "$B" reason)" failed/internal "a job lost twice fails with reason internal"
like "$(field "$B" error)" 'runner running this job was lost \(attempted 2 times\)' "... saying why"
ok "$([ "$(rcli EXISTS "sr:{$B}:upload")" = 0 ]; echo $?)" "... its upload deleted"
like "$(rcli TTL "sr:{$B}:job")" '^[0-9]+$' "... its record expiring"
api "$SANDRUN_URL/status/$B"
is "$(json .status)" failed "/status says failed"

# --- a clean stop leaves sr:runners at once
api -X DELETE "$SANDRUN_URL/jobs/$C"
is "$HTTP_STATUS" 200 "the job on the second runner is cancelled"
for _ in $(seq 30); do pgrep -u "$UID_BASE2" >/dev/null || break; sleep 0.1; done
kill -TERM "$RUNNER2_PID"
for _ in $(seq 100); do kill -0 "$RUNNER2_PID" 2>/dev/null || break; sleep 0.1; done
ok "$(kill -0 "$RUNNER2_PID" 2>/dev/null; [ $? -ne 0 ]; echo $?)" "the second runner stops on SIGTERM"
RUNNER2_PID=
is "$(rcli ZSCORE sr:runners second-runner)" "" "... and leaves sr:runners"
is "$(rcli EXISTS sr:runner:second-runner)" 0 "... and deletes its announcement"
is "$(stats_runners)" 1 "/stats counts one live runner again"
ok "$(rcli XINFO CONSUMERS sr:queue runners | grep -qx second-runner; [ $? -ne 0 ]; echo $?)" \
	"... and it left the consumer group"

# --- Redis restarted (empty) under a running job
D=$(submit_json 'echo started-D; sleep 60')
wait_field "$D" status running 10
ok $? "a job runs before Redis restarts"
"$STACK" restart redis "$STACK_DIR" >/dev/null 2>&1
for _ in $(seq 30); do pgrep -u "$UID_BASE,$((UID_BASE + 1))" >/dev/null || break; sleep 0.1; done
ok "$(pgrep -u "$UID_BASE,$((UID_BASE + 1))" >/dev/null; [ $? -ne 0 ]; echo $?)" \
	"its job, lost with Redis's data, is stopped"
for _ in $(seq 60); do [ -n "$(rcli ZSCORE sr:runners "$name1")" ] && break; sleep 0.1; done
ok "$([ -n "$(rcli ZSCORE sr:runners "$name1")" ]; echo $?)" "the runner announces itself again"
mkdir -p "$WORK/hello" && echo 'print("hello")' >"$WORK/hello/hello.py"
run_job "$WORK/hello" '{"entrypoint":"hello.py"}' 30
is "$(json .status "$STATUS_JSON")" completed "a new job completes after the restart"
is "$(rcli KEYS 'sr:{*}:log' | while read -r k; do [ "$(rcli TTL "$k")" = -1 ] && echo "$k"; done)" "" \
	"no log stream is left without a TTL"
done_testing
