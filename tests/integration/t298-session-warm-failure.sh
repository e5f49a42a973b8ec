#!/usr/bin/env bash
# A host where session sandboxes cannot be built (here: a runner without
# CAP_NET_ADMIN, as in a container that shares its host's network, where a
# session's sandbox cannot bring its loopback up; jobs need no loopback):
# the runner's log says why each warm sandbox died, in init's own words,
# and it tries again after 0.5 s, 1 s, 2 s ... up to 30 s instead of
# rebuilding sandboxes back to back for ever. Jobs still run; a session
# request gets a clear error within session_create_wait, never a "ready"
# session whose sandbox is already gone.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq setsid setpriv
stack_start --no-runner --set session_create_wait=3
cd "$WORK"

conf=$STACK_DIR/nocap.conf
{
	grep -Ev '^[[:space:]]*(runner_name|runner_state_dir|job_uid_base|session_uid_base|runner_slots)[[:space:]]*=' \
		"$STACK_DIR/sandrun.conf"
	echo "runner_name = nocap"
	echo "runner_state_dir = $STACK_DIR/nocap"
	echo "job_uid_base = $(uid_base 1)"
	echo "session_uid_base = $(session_uid_base)"
	echo "runner_slots = 1"
} >"$conf"
mkdir -p "$STACK_DIR/nocap"
(
	for fd in "/proc/$BASHPID/fd/"*; do
		fd=${fd##*/}
		if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null; fi
	done
	exec setsid setpriv --bounding-set -net_admin -- "$top_builddir/sandrun-runner" -c "$conf" \
		</dev/null >>"$STACK_DIR/nocap.log" 2>&1
) &
RUNNER=$!
disown "$RUNNER" 2>/dev/null
cleanup() {
	kill -KILL -- "-$RUNNER" 2>/dev/null
	stack_stop
}
trap cleanup EXIT
runner_wait nocap "$RUNNER"
ok $? "a runner without CAP_NET_ADMIN comes up" || { echo "Bail out! it did not"; exit 1; }
started=$(date +%s)

# jobs need no loopback: they run
mkdir -p job && printf 'print("still runs")\n' >job/main.py
run_job job '{"entrypoint": "main.py", "interpreter": "python3"}'
is "$(json .status "$STATUS_JSON")" completed "a job runs on it"

api -X POST -H 'Content-Type: application/json' -d '{}' "$SANDRUN_URL/sessions"
# never a 201 "ready" for a sandbox that is dead or not built yet: the
# supervisor hears from the agent before it says ready
like "$HTTP_STATUS" '^50[03]$' "a session: an error (500: its sandbox failed, or 503: none took it in time), not 201"
like "$BODY" '"error"' "... in our error shape ($BODY)"

sleep $((started + 16 - $(date +%s)))
deaths=$(grep -c 'ended while warm' "$STACK_DIR/nocap.log")
like "$(grep -m1 'ended while warm' "$STACK_DIR/nocap.log")" 'ended while warm: cannot bring lo up' \
	"the log says why a warm sandbox died: init's own reason"
like "$(cat "$STACK_DIR/nocap.log")" 'session sandboxes of default: [0-9]+ died unused in a row, the next in [0-9]+ ms' \
	"the log says it waits before the next"
# without the waits, two sandboxes died every ~1.5 s (20 in 16 s); with
# them, after 0.5, 1, 2, 4, 8 s: at most 10
ok "$([ "$deaths" -ge 2 ] && [ "$deaths" -le 10 ]; echo $?)" "16 s: $deaths warm sandboxes died, not one after the other without a pause"
kill -0 "$RUNNER" 2>/dev/null
ok $? "the runner lives on"

done_testing
