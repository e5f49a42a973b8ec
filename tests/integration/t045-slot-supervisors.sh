#!/usr/bin/env bash
# A slot's supervisor is forked for its first job and kept for the next
# ones (runner/main.c): jobs in a row are run by the same process. One
# killed between jobs is replaced at its slot's next job, which completes;
# one killed while it holds a job fails that job (reason internal), and
# the slot goes on with a new supervisor.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq tar
stack_start --runner-slots 1
runner=$SANDRUN_PID_RUNNER
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' ' '\n' | sed '/^$/d'; }
supervisors() { # the runner's children named sandrun-job
	local c
	for c in $(children "$runner"); do
		[ "$(cat /proc/"$c"/comm 2>/dev/null)" = sandrun-job ] && echo "$c"
	done
}
# slot_pid ID: the pid of the process that logged the job's "running in slot" line
slot_pid() { grep -F "[$1] running in slot" "$STACK_DIR/runner.log" | sed -n 's/^[^[]*\[\([0-9]*\)\].*/\1/p' | tail -n 1; }

cd "$WORK"
mkdir -p quick sleeper
echo 'echo quick' > quick/main.sh
printf 'echo sleeping\nsleep 30\n' > sleeper/main.sh

run_job quick '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(json .status "$STATUS_JSON")" completed "a first job completes"
first=$(slot_pid "$JOB_ID")
run_job quick '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(json .status "$STATUS_JSON")" completed "a second job completes"
second=$(slot_pid "$JOB_ID")
like "$first" '^[0-9]+$' "the runner's log names the supervisor of the first job ($first)"
is "$second" "$first" "... and the same supervisor ran the second"
is "$(supervisors | tr '\n' ' ')" "$first " "... which is still there between jobs, the runner's only one"

# --- killed between jobs: replaced at the next job
kill -KILL "$first"
for _ in $(seq 1 50); do
	grep -q "its supervisor ended abnormally between jobs (signal 9)" "$STACK_DIR/runner.log" && break
	sleep 0.1
done
like "$(grep -F "between jobs" "$STACK_DIR/runner.log")" "slot 0: its supervisor ended abnormally between jobs \(signal 9\)" \
	"the runner sees its idle supervisor killed, and says so"
run_job quick '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(json .status "$STATUS_JSON")" completed "the next job completes"
is "$(logs "$JOB_ID")" quick "... with its output"
third=$(slot_pid "$JOB_ID")
like "$third" '^[0-9]+$' "... run by a supervisor ($third)"
[ -n "$third" ] && [ "$third" != "$first" ]
ok $? "... a new one"

# --- killed while it holds a job: the job fails, the slot goes on
submit_tar sleeper '{"entrypoint":"main.sh","interpreter":"sh","timeout":60}'
job=$(json .job_id)
for _ in $(seq 1 200); do
	[ "$(logs "$job")" = sleeping ] && break
	sleep 0.1
done
is "$(logs "$job")" sleeping "a sleeping job runs"
holder=$(slot_pid "$job")
is "$holder" "$third" "... in the same supervisor as the job before"
kill -KILL "$holder"
wait_job "$job" 30
is "$(json .status "$STATUS_JSON")" failed "the job whose supervisor was killed fails"
is "$(json .reason "$STATUS_JSON")" internal "... with reason internal"
like "$(json .error "$STATUS_JSON")" "lost this job's supervisor" "... saying why"
run_job quick '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(json .status "$STATUS_JSON")" completed "the slot's next job completes"
fourth=$(slot_pid "$JOB_ID")
[ -n "$fourth" ] && [ "$fourth" != "$third" ]
ok $? "... in a new supervisor ($fourth)"
is "$(supervisors | wc -l | tr -d ' ')" 1 "one supervisor for the one slot"
done_testing
