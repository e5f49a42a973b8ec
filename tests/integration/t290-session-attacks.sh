#!/usr/bin/env bash
# The attack suite of t060-attacks.sh, every payload run as a session's
# command (a fresh session each, uploaded through the files route, run with
# exec): sessions are held to the same walls as jobs. Plus what only
# sessions have: another live session's files, processes and uid, and links
# planted for the files routes to follow.
SANDRUN_ATTACKS_IN=session exec bash "$top_srcdir/tests/integration/t060-attacks.sh"
