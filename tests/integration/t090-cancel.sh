#!/usr/bin/env bash
# DELETE /jobs/{id}: a queued job never starts; a running job's whole
# sandbox is killed within a second; the job reads cancelled, its output is
# deleted, its active slot released (the CPU it used is still charged); the
# runner goes on with the next job.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq pgrep redis-cli
# A uid range of its own: "no process of the job is left" must not see
# another test's jobs running on this host at the same time.
JOB_UID=$(uid_base 0)     # the one slot's uid
stack_start --runner-slots 1 --set job_uid_base=$JOB_UID

field() { rcli HGET "sr:{$1}:job" "$2"; }
submit_json() { # submit_json SCRIPT: a bash job; prints its id
	local body
	body=$(jq -cn --arg s "$1" '{entrypoint: "job.sh", timeout: 60, files: {"job.sh": $s}}')
	api -X POST "$SANDRUN_URL/submit" -H 'Content-Type: application/json' -d "$body"
	json .job_id
}
# cancel ID: DELETE /jobs/ID; sets HTTP_STATUS and BODY.
cancel() { api -X DELETE "$SANDRUN_URL/jobs/$1"; }
runner_log() { grep -F "[$1]" "$STACK_DIR/runner.log"; }

# A job that runs until it is stopped (output and a child process, so the
# kill must reach more than one process), and one queued behind it.
T=$(submit_json 'sleep 1000 & while :; do echo tick; sleep 0.1; done')
for _ in $(seq 100); do logs "$T" | grep -q tick && break; sleep 0.1; done
is "$(field "$T" status)" running "a job runs"
Q=$(submit_json 'echo should-never-run')
is "$(field "$Q" status)" queued "a second job waits behind it"

# --- a queued job: cancelled, never started
cancel "$Q"
is "$HTTP_STATUS" 200 "DELETE of a queued job is 200"
is "$(json .status)" cancelled "... says cancelled"
api "$SANDRUN_URL/status/$Q"
is "$(json .status)/$(json .reason)" cancelled/cancelled "its status reads cancelled"

# --- a running job: its whole sandbox is killed within a second
start=$(date +%s%N)
cancel "$T"
is "$HTTP_STATUS" 200 "DELETE of a running job is 200"
is "$(json .previous_status)" running "... that was running"
for _ in $(seq 300); do pgrep -u "$JOB_UID" >/dev/null || break; sleep 0.01; done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
ok "$(pgrep -u "$JOB_UID" >/dev/null; [ $? -ne 0 ]; echo $?)" "no process of the job is left"
ok "$([ "$elapsed_ms" -lt 1000 ]; echo $?)" "... within a second (${elapsed_ms} ms)"
api "$SANDRUN_URL/status/$T"
is "$(json .status)/$(json .reason)" cancelled/cancelled "its status reads cancelled"
for _ in $(seq 50); do runner_log "$T" | grep -q 'result dropped' && break; sleep 0.1; done
like "$(runner_log "$T")" 'cancelled: sandbox killed' "the runner logs that it killed the cancelled job"
like "$(runner_log "$T")" 'result dropped: the job was cancelled' "... and dropped its result"
is "$(field "$T" status)" cancelled "the record still says cancelled after the runner is done"
is "$(logs "$T")" "" "its output is deleted"
is "$(rcli EXISTS "sr:{$T}:upload")" 0 "its upload is deleted"
like "$(rcli TTL "sr:{$T}:log")" '^[0-9]+$' "what is left of its log expires"
api "$SANDRUN_URL/stats"
is "$(json .your_quota.active_jobs)" 0 "its active slot is released"
# (the charge names the job by the SHA1 of its id: responders read the charges)
like "$(rcli ZRANGE 'sr:cpu:{127.0.0.1}' 0 -1)" "^$(printf %s "$T" | sha1sum | cut -d' ' -f1):[0-9.]+\$" \
	"the CPU it used is charged, once"

# --- the runner goes on; the cancelled queued job never starts
mkdir -p "$WORK/hello" && echo 'print("hello")' >"$WORK/hello/hello.py"
run_job "$WORK/hello" '{"entrypoint":"hello.py"}' 30
is "$(json .status "$STATUS_JSON")" completed "the next job runs"
is "$(logs "$JOB_ID")" hello "... with its output"
for _ in $(seq 30); do runner_log "$Q" | grep -q 'not runnable' && break; sleep 0.1; done
like "$(runner_log "$Q")" 'not runnable' "the runner skipped the cancelled queued job"
unlike "$(runner_log "$Q")" 'running in slot' "... and never started it"
is "$(field "$Q" attempts)" "" "... no attempt was counted"
is "$(rcli XINFO GROUPS sr:queue | sed -n '/^pending$/{n;p}')" 0 "no queue entry is left pending"

# --- cancelling twice, or a job that does not exist
cancel "$T"
ok "$([ "$HTTP_STATUS" = 200 ] || [ "$HTTP_STATUS" = 404 ]; echo $?)" \
	"DELETE of a cancelled job is 200 or 404 ($HTTP_STATUS), never an error"
cancel job-aaaaaaaaaaaaaaaaaaaaaaaaaa
is "$HTTP_STATUS" 404 "DELETE of an unknown job is 404"
done_testing
