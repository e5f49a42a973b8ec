#!/usr/bin/env bash
# A slot's next sandbox is built while the slot waits for a job
# (runner/job.h, job_prepare; runner/sandbox.h, sandbox_prepare): a job of
# its shape (the environment of the slot's last job, the default memory
# limit, no GPU) takes it; any other is started anew, and gets its own
# limits. The prepared sandbox is root's until its job comes (no process
# of a job's uid waits), its cgroup is fresh, the job's wall time starts
# with the job, a prepared sandbox that died is replaced by a new one for
# the job, and a runner that stops leaves none behind.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq tar
stack_start --runner-slots 1
runner=$SANDRUN_PID_RUNNER
uid=$(uid_base 0)
# how the runner's log says the job's sandbox was had: prepared or new
how() { grep -F "[$1] running in slot" "$STACK_DIR/runner.log" | sed -n 's/.*, \([a-z]*\) sandbox)$/\1/p' | tail -n 1; }
# processes in a cgroup of this runner (any hierarchy), and of the prepared one
in_runner_cgroups() { grep -l "sandrun-runner-$runner/" /proc/[0-9]*/cgroup 2>/dev/null | wc -l; }
prepared_inits() { grep -l "sandrun-runner-$runner/next-0" /proc/[0-9]*/cgroup 2>/dev/null | sed 's|/proc/\([0-9]*\)/cgroup|\1|'; }
wait_prepared() { # until slot 0 has a prepared init again (or 5 s)
	for _ in $(seq 1 50); do
		[ -n "$(prepared_inits)" ] && return 0
		sleep 0.1
	done
	return 1
}

cd "$WORK"
mkdir -p quick mem
echo 'echo quick' > quick/main.sh
# 48 MiB in the shell's memory: beyond a 32 MB limit, well within the default
printf 'x=$(head -c 50331648 /dev/zero | tr "\\\\0" a)\necho ${#x}\n' > mem/main.sh

# a slot's supervisor is forked for its first job (t045), and builds ahead from then on
run_job quick '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(json .status "$STATUS_JSON")" completed "the slot's first job completes"
wait_prepared
ok $? "then the idle slot has its next sandbox built, in a cgroup of its own (next-0)"
pids=$(prepared_inits)
is "$(for p in $pids; do awk '/^Uid:/{print $2}' /proc/"$p"/status; done | sort -u)" 0 \
	"... whose init is root's while it waits (no process of a job's uid)"
is "$(ps -o pid= -u "$uid" | wc -l)" 0 "... and no process of the slot's uid exists"

sleep 1   # idle: the job's wall time must not count the wait
run_job quick '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(json .status "$STATUS_JSON")" completed "a job on an idle slot completes"
is "$(logs "$JOB_ID")" quick "... with its output"
is "$(how "$JOB_ID")" prepared "... in the sandbox built ahead"
wall=$(json .execution_metadata.wall_seconds "$STATUS_JSON")
ok "$(awk -v w="$wall" 'BEGIN{print !(w >= 0 && w < 0.9)}')" \
	"... its wall time counts from the job's start, not the sandbox's ($wall s after 1 s idle)"

# the default memory limit (512 MB) held the 48 MiB
run_job mem '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(json .status "$STATUS_JSON")" completed "a job of 48 MiB completes in the prepared sandbox (default limit)"
is "$(how "$JOB_ID")" prepared "... which it had"

# another memory limit: another shape, a new sandbox with the job's own limit
wait_prepared
run_job mem '{"entrypoint":"main.sh","interpreter":"sh","memory_mb":32}'
is "$(json .status "$STATUS_JSON")" failed "the same job with memory_mb 32 fails"
is "$(json .reason "$STATUS_JSON")" memory_limit "... at its own limit (memory_limit)"
is "$(how "$JOB_ID")" new "... in a sandbox built for it"
peak=$(json .execution_metadata.memory_peak_bytes "$STATUS_JSON")
ok "$(awk -v p="$peak" 'BEGIN{print !(p > 0 && p <= 34 * 1048576)}')" "... its peak within its 32 MB ($peak bytes)"
# a larger limit than the default: a new sandbox too, not one cut at the default's 512 MB
wait_prepared
run_job quick '{"entrypoint":"main.sh","interpreter":"sh","memory_mb":768}'
is "$(json .status "$STATUS_JSON")" completed "a job with memory_mb 768 completes"
is "$(how "$JOB_ID")" new "... in a sandbox built for it, not the default-sized one"
wait_prepared
ok $? "the slot builds its next sandbox again"
run_job quick '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(how "$JOB_ID")" prepared "... and the next job of the default shape takes it"

# a prepared sandbox that died while it waited: the job gets a new one
wait_prepared
kill -KILL $(prepared_inits)
run_job quick '{"entrypoint":"main.sh","interpreter":"sh"}'
is "$(json .status "$STATUS_JSON")" completed "with its prepared sandbox killed, the slot's next job completes"
is "$(logs "$JOB_ID")" quick "... with its output"
is "$(how "$JOB_ID")" new "... in a sandbox built anew"
like "$(grep -F "[$JOB_ID]" "$STACK_DIR/runner.log")" "the slot's prepared sandbox failed" "... and the log says why"

# stopping the runner ends the prepared sandboxes and removes their cgroups
wait_prepared
ok $? "before the runner stops, its slot has a prepared sandbox"
dirs=$(find /sys/fs/cgroup -maxdepth 8 -type d -name "sandrun-runner-$runner" 2>/dev/null | wc -l)
ok "$([ "$dirs" -gt 0 ]; echo $?)" "... and the runner's cgroups exist ($dirs)"
kill -TERM "$runner"
for _ in $(seq 1 100); do
	kill -0 "$runner" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$runner" 2>/dev/null
ok "$([ $? -ne 0 ]; echo $?)" "the runner stops on SIGTERM"
is "$(in_runner_cgroups)" 0 "... and no process is left in its cgroups"
is "$(find /sys/fs/cgroup -maxdepth 8 -type d -name "sandrun-runner-$runner" 2>/dev/null | wc -l)" 0 \
	"... nor any of its cgroups (the prepared sandbox's included)"
is "$(ps -o pid= -u "$uid" | wc -l)" 0 "... nor a process of the slot's uid"

done_testing
