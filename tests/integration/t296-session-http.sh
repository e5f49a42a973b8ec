#!/usr/bin/env bash
# Sessions through the whole stack with the real runner, for what the agent
# loop (t295) does not reach: an exec streamed as Server-Sent Events (events
# as the output comes, then exit), a 100 MB file written and read back
# through nginx, the responder, Redis and the agent, a 10,000-entry
# directory listed, names with a newline and invalid UTF-8 listed, a FIFO
# read answered at once, pause/resume with a busy loop, and the per-address
# limit of live sessions.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq curl sha256sum
stack_start
cd "$WORK"
B=$SANDRUN_URL/sessions
post() { api -X POST -H 'Content-Type: application/json' --data-binary "$2" "$1"; }

post "$B" '{}'
is "$HTTP_STATUS" 201 "a session"
S=$(json .session_id)

# --- streamed exec: the first event comes before the command ends
t0=$(date +%s%N)
curl -sS -N --max-time 30 --cacert "$SANDRUN_CACERT" -H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
	--data-binary '{"command": "echo first; sleep 2; echo second >&2; sleep 0.5; echo third"}' "$B/$S/exec" |
	while IFS= read -r line; do printf '%s %s\n' "$((($(date +%s%N) - t0) / 1000000))" "$line"; done >sse.txt
first_ms=$(awk '$2 == "data:" && $3 == "first" { print $1; exit }' sse.txt)
exit_ms=$(awk '$2 == "event:" && $3 == "exit" { print $1; exit }' sse.txt)
is "$(awk '$2 == "event:" { printf "%s ", $3 }' sse.txt)" "stdout stderr stdout exit " \
	"a streamed exec: stdout, stderr, stdout events, then exit"
ok "$([ -n "$first_ms" ] && [ -n "$exit_ms" ] && [ $((exit_ms - first_ms)) -ge 1500 ]; echo $?)" \
	"... the first line arrived ${first_ms:-?} ms in, ~2 s before the exit event (${exit_ms:-?} ms)"
like "$(grep 'data: {' sse.txt)" '"exit_code":0' "... and the exit event carries the result"

# --- a 100 MB file, both ways
head -c 100000000 /dev/urandom >big.bin
api -X PUT --max-time 120 --data-binary @big.bin "$B/$S/files/big.bin"
is "$HTTP_STATUS:$(json .size)" "200:100000000" "PUT of a 100 MB file"
curl -sS --max-time 120 --cacert "$SANDRUN_CACERT" -o back.bin "$B/$S/files/big.bin"
is "$(sha256sum <back.bin | cut -c1-64)" "$(sha256sum <big.bin | cut -c1-64)" "... and GET gives the same bytes back"
rm -f big.bin back.bin
head -c 100000001 /dev/zero >too-big.bin
api -X PUT --max-time 60 --data-binary @too-big.bin "$B/$S/files/too-big.bin"
is "$HTTP_STATUS" 413 "a file over session_file_max_bytes (100,000,000 bytes) is a 413"
rm -f too-big.bin

# --- 10,000 entries, odd names, a FIFO
post "$B/$S/exec" '{"command": "mkdir many && cd many && seq 1 10000 | xargs touch && cd .. && touch \"$(printf \"new\\nline\")\" \"$(printf \"bad\\377name\")\" && mkfifo fifo"}'
is "$(json .exit_code)" 0 "10,000 files, a name with a newline, one of invalid UTF-8, a FIFO"
api "$B/$S/files/many"
is "$HTTP_STATUS:$(json '.entries | length')" "200:10000" "the 10,000-entry directory is listed whole"
api "$B/$S/files/"
is "$(json '[.entries[].name | select(. == "new\nline")] | length')" 1 "a name with a newline is listed"
like "$(json '[.entries[] | select(.name_b64 != null) | .name_b64] | join("|")')" "$(printf 'bad\377name' | base64)" \
	"a name of invalid UTF-8 is listed with its raw bytes"
t0=$(date +%s%N)
api --max-time 10 "$B/$S/files/fifo"
is "$HTTP_STATUS" 400 "reading a FIFO is a 400"
ok "$([ $((($(date +%s%N) - t0) / 1000000)) -lt 3000 ]; echo $?)" "... at once, not a hang"

# --- pause: a busy loop gets no CPU; resume: the shell's state is there
post "$B/$S/exec" '{"command": "export KEPT=yes; (while :; do :; done) & echo $! > /tmp/busy.pid"}'
post "$B/$S/pause" '{}'
is "$HTTP_STATUS:$(json .status)" "200:paused" "pause"
api "$B/$S"
cpu0=$(json .usage.cpu_seconds)
sleep 3
api "$B/$S"
cpu1=$(json .usage.cpu_seconds)
is "$(json .status)" paused "GET says paused"
ok "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { exit !(b - a < 0.2) }'; echo $?)" \
	"a busy loop used no CPU while paused ($cpu0 s then $cpu1 s)"
post "$B/$S/exec" '{"command": "true"}'
is "$HTTP_STATUS" 409 "exec while paused: 409"
post "$B/$S/resume" '{}'
is "$HTTP_STATUS:$(json .status)" "200:ready" "resume"
post "$B/$S/exec" '{"command": "echo $KEPT; kill $(cat /tmp/busy.pid) && echo stopped"}'
is "$(json .stdout | tr '\n' ' ')" "yes stopped  " "after resume the shell has its variable and the loop is still there"
api "$B/$S"
ok "$(awk -v a="$cpu1" -v b="$(json .usage.cpu_seconds)" 'BEGIN { exit !(b > a) }'; echo $?)" \
	"... and the session's CPU is charged again once it runs ($(json .usage.cpu_seconds) s)"

# --- two live sessions per address; a third is a 429, another address still gets one
post "$B" '{}'
S2=$(json .session_id)
post "$B" '{}'
is "$HTTP_STATUS" 429 "a third live session from one address: 429"
like "$(json .retry_after)" '^[0-9]+$' "... with retry_after"
api --interface 127.0.0.7 -X POST -H 'Content-Type: application/json' --data-binary '{}' "$B"
is "$HTTP_STATUS" 201 "another address still gets one"
S3=$(json .session_id)
for s in "$S" "$S2" "$S3"; do api -X DELETE "$B/$s"; done
is "$HTTP_STATUS" 200 "they are deleted"
done_testing
