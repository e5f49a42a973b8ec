#!/usr/bin/env bash
# A session's terminal end to end (issue 13): Debian's python3-websockets
# on wss://…/sessions/{id}/pty through nginx, sandrun-ws, Redis and the
# runner to bash on a PTY in the session's sandbox
# (tests/integration/ws_terminal.py): the prompt, the size, a resize,
# cd, a file the exec API reads as the same uid, Ctrl-C, text input, a
# re-attach that replays and keeps the shell, exit, a new terminal, DELETE.
# t330 checks the gateway against a fake runner, t337 the runner through
# Redis, t340 the page in Chromium.
. "$top_srcdir/tests/integration/lib.sh"
PY=/usr/bin/python3     # Debian's, with python3-websockets (not a pyenv shim)
if ! $PY -c 'import websockets' 2>/dev/null; then
	skip_all "python3-websockets is not installed (contrib/quickstart's TEST_PACKAGES)"
fi
[ -x "$top_builddir/sandrun-ws" ] || skip_all "sandrun-ws is not built"
stack_start
$PY "$top_srcdir/tests/integration/ws_terminal.py" "$SANDRUN_URL" "$SANDRUN_CACERT"
rc=$?
[ $rc -eq 0 ] || tap_failed=1
exit $rc
