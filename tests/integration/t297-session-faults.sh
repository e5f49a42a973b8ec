#!/usr/bin/env bash
# What a session's answers hold in Redis counts against its address: a file
# read or a directory's archive (up to session_file_max_bytes each) waits in
# the job store until the responder hands it on, so its bytes are reserved
# in the address's storage ledger first (session_reply.lua), as a write's
# are. With a 4 MiB storage quota, a 1.5 MB file can be read twice; the
# third read, and an archive of the same bytes, are 429 with retry_after,
# the session lives on, and a small read still fits.
# And a session whose supervisor dies (killed here; a crash alike) is ended
# by the runner's main loop at once (410, reason internal), its address's
# slot freed, instead of answering 504s until its TTL.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq curl sha256sum
stack_start --set quota_storage_bytes=4194304
cd "$WORK"
B=$SANDRUN_URL/sessions
post() { api -X POST -H 'Content-Type: application/json' --data-binary "$2" "$1"; }

post "$B" '{}'
is "$HTTP_STATUS" 201 "a session"
S=$(json .session_id)
post "$B/$S/exec" '{"command": "mkdir d && head -c 1500000 /dev/urandom > d/f && echo small > s && sha256sum d/f"}'
is "$HTTP_STATUS:$(json .exit_code)" "200:0" "a 1.5 MB file made inside the session"
sum=$(json .stdout | cut -c1-64)

for i in 1 2; do
	curl -sS --max-time 30 --cacert "$SANDRUN_CACERT" -o "back.$i" -w '%{http_code}' "$B/$S/files/d/f" >code.$i
	is "$(cat code.$i):$(sha256sum <back.$i | cut -c1-64)" "200:$sum" "read $i of the 1.5 MB file: the same bytes"
done
ledger=$(rcli --scan --pattern 'sr:store:*' | while read -r k; do rcli hvals "$k"; done |
	awk '{ s += $1 } END { print s + 0 }')
ok "$([ "$ledger" -ge 3000000 ]; echo $?)" "... both answers are reserved in the address's ledger ($ledger bytes)"

api "$B/$S/files/d/f"
is "$HTTP_STATUS:$(json .error)" "429:Rate limit exceeded" "the third read is over the 4 MiB quota: 429"
like "$(json .reason)" "storage quota" "... saying it is the storage quota"
ok "$([ "$(json .retry_after)" -ge 1 ] && grep -qi '^retry-after: [0-9]' <<<"$HTTP_HEADERS"; echo $?)" \
	"... with retry_after and a Retry-After header ($(json .retry_after) s)"
api "$B/$S/archive?path=d"
is "$HTTP_STATUS" 429 "an archive of the same bytes: 429 too"

api "$B/$S/files/s"
is "$HTTP_STATUS:$BODY" "200:small" "a small file still fits"
post "$B/$S/exec" '{"command": "echo alive"}'
is "$HTTP_STATUS:$(json .stdout)" "200:alive" "the session lives on after the refusals"
api -X DELETE "$B/$S"
is "$HTTP_STATUS" 200 "deleted"

# --- a supervisor killed: its session ends at once, the slot is free
post "$B" '{}'
S1=$(json .session_id)
post "$B" '{}'
S2=$(json .session_id)
is "$HTTP_STATUS" 201 "two sessions (this address's limit)"
sup=$(sed -n "s/^sandrun-runner\[\([0-9]*\)\]: info: \[$S1\] ready in sandbox.*/\1/p" "$STACK_DIR/runner.log" | head -1)
ok "$([ -n "$sup" ] && kill -9 "$sup"; echo $?)" "the first session's supervisor killed (pid ${sup:-?})"
for _ in $(seq 50); do
	api "$B/$S1"
	[ "$HTTP_STATUS" = 410 ] && break
	sleep 0.2
done
like "$HTTP_STATUS:$(json .reason)" "^410:.*\(internal\)" "... its session is ended at once, reason internal"
post "$B" '{}'
is "$HTTP_STATUS" 201 "... and its address's slot is free again: a new session"
post "$B/$S2/exec" '{"command": "echo still"}'
is "$HTTP_STATUS:$(json .stdout)" "200:still" "the other session is untouched"
done_testing
