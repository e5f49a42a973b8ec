#!/usr/bin/env bash
# Done-when of sessions (issue 11): an agent loop of 50 steps through nginx on
# one kept-alive connection (tests/integration/session_loop.py): create, write
# files, Python importing them, cd and export, a background HTTP server fetched
# over the session's loopback in the next call, results, snapshot, a session
# from the snapshot, delete.
. "$top_srcdir/tests/integration/lib.sh"
stack_start
/usr/bin/python3 "$top_srcdir/tests/integration/session_loop.py" "$SANDRUN_URL" "$SANDRUN_CACERT"
rc=$?
[ $rc -eq 0 ] || tap_failed=1
exit $rc
