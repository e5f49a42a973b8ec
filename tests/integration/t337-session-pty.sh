#!/usr/bin/env bash
# The runner's side of a session's terminal (issue 13; docs/sessions.md,
# "Terminal"), driven through Redis as the WebSocket gateway drives it
# (tests/integration/session_pty.py): the open through session_request.lua,
# the prompt in sr:{SID}:pty, keystrokes, a resize, Ctrl-C, files and uid
# shared with the exec API, the cgroup, no network, malformed input dropped,
# exec served meanwhile, the output bound per second (64 KiB/s here, so the
# test is quick; the CPU quota is raised, as the flood is charged) and the
# stream's length, the terminal's CPU charged to the session, exit (t=x), kill
# -9 -1 in the terminal (its relay out of reach), a new terminal, the
# end (t=e).
. "$top_srcdir/tests/integration/lib.sh"
require_cmd pgrep
RATE=${SANDRUN_TEST_PTY_RATE:-65536}   # bytes per second; 262144 is the default
stack_start --set "pty_output_bytes_per_second=$RATE" --set quota_cpu_seconds=600
/usr/bin/python3 "$top_srcdir/tests/integration/session_pty.py" "$SANDRUN_URL" "$SANDRUN_CACERT" \
	"$SANDRUN_REDIS_PORT" "$top_srcdir" "$STACK_DIR" "$RATE"
rc=$?
[ $rc -eq 0 ] || tap_failed=1
exit $rc
