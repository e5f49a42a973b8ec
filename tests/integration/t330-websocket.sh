#!/usr/bin/env bash
# The WebSocket gateway (sandrun-ws, issue 13) behind nginx, driven by a
# client nobody here wrote (Debian's python3-websockets, through
# tests/integration/ws-client.py): /logs/{id}/stream over WebSocket as the
# seed's JavaScript example reads it (the same bytes as the SSE stream, live,
# close 1000), unknown ids, a slow reader, a client that vanishes, 100
# viewers of one job, malformed frames and oversized messages, the per-address
# limit, the connection cap; /sessions/{id}/pty against a fake runner
# (tests/integration/pty-fake-runner.py).
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar
PY=/usr/bin/python3     # Debian's, with python3-websockets (not a pyenv shim)
if ! $PY -c 'import websockets' 2>/dev/null; then
	skip_all "python3-websockets is not installed (contrib/quickstart's TEST_PACKAGES)"
fi
[ -x "$top_builddir/sandrun-ws" ] || skip_all "sandrun-ws is not built"
# Room for the slow reader's 3 MB of output.
stack_start --set log_max_bytes=4194304
WSC="$PY $top_srcdir/tests/integration/ws-client.py"
WSS="wss://localhost:$SANDRUN_HTTPS_PORT"
HTTPS="https://localhost:$SANDRUN_HTTPS_PORT"
health() { curl -sS --max-time 5 "http://127.0.0.1:$SANDRUN_WS_PORT/health"; }
# submit DIR MANIFEST: sets JOB_ID without waiting
submit() {
	submit_tar "$1" "$2"
	JOB_ID=$(json .job_id)
}
cd "$WORK"

# --- the seed's example: a running job's output, live, then close 1000
mkdir -p live
cat > live/main.py <<'PY'
import sys, time
print("first line", flush=True)
time.sleep(4)
print("to stderr", file=sys.stderr, flush=True)
time.sleep(0.2)
sys.stdout.buffer.write(b"caf\xc3"); sys.stdout.flush()      # a character cut in two
time.sleep(0.3)
sys.stdout.buffer.write(b"\xa9 \xff bad byte\r\nCRLF\rCR\n"); sys.stdout.flush()
time.sleep(0.2)
print("last line")
PY
submit live '{"entrypoint":"main.py"}'
live_id=$JOB_ID
ws=$($WSC logs "$WSS/logs/$live_id/stream" "$SANDRUN_CACERT")
is "$(jq -r .code <<<"$ws")" 1000 "the stream ends with close 1000"
is "$(jq -r .reason <<<"$ws")" completed "... whose reason is the final status"
first=$(jq -r .first_ms <<<"$ws") end=$(jq -r .end_ms <<<"$ws")
ok "$([ $((end - first)) -ge 1000 ]; echo $?)" "the first message came while the job ran (${first} ms, the end ${end} ms)"
is "$(jq -r '.messages[0]' <<<"$ws")" "first line" "one text message per chunk: the first line"
is "$(jq -r '.messages | join("")' <<<"$ws")" "first line
to stderr
café � bad byte
CRLF
CR
last line" "stdout and stderr in log order, a cut character joined, a bad byte as U+FFFD, line ends as SSE's"
sse=$($WSC sse "$HTTPS/logs/$live_id/stream" "$SANDRUN_CACERT")
# The seed's JavaScript example, as written (wss:// and our host), in node: its
# WebSocket is global from node 22, behind --experimental-websocket in 20 and 21.
node_ws=""
if command -v node >/dev/null; then
	if node -e 'if (typeof WebSocket !== "function") process.exit(1)' 2>/dev/null; then node_ws=node
	elif node --experimental-websocket -e 'if (typeof WebSocket !== "function") process.exit(1)' 2>/dev/null; then
		node_ws="node --experimental-websocket"
	fi
fi
if [ -n "$node_ws" ]; then
	got=$(NODE_EXTRA_CA_CERTS=$SANDRUN_CACERT timeout 30 $node_ws -e "const ws = new WebSocket('$WSS/logs/$live_id/stream');
ws.onmessage = (event) => console.log(event.data);" 2>/dev/null | od -An -c)
	is "$got" "$(jq -j '.chunks[] | (. + "\n")' <<<"$sse" | od -An -c)" \
		"the seed's example in node prints each chunk (console.log), then exits at the close"
else
	skip "the seed's example in node" "no node with a WebSocket (node 20+)"
fi
is "$(jq -r .status <<<"$sse")" 200 "a request without Upgrade still gets the SSE stream"
is "$(jq -c .messages <<<"$ws")" "$(jq -c .chunks <<<"$sse")" "the WebSocket's messages are the SSE events' data, chunk for chunk"
ws=$($WSC logs "$WSS/logs/$live_id/stream" "$SANDRUN_CACERT")
is "$(jq -c .messages <<<"$ws")" "$(jq -c .chunks <<<"$sse")" "an ended job replays from the start"
js=$($WSC logs "$WSS/logs/$live_id/stream?format=json" "$SANDRUN_CACERT")
is "$(jq -r '.messages[0] | fromjson | "\(.event) \(.status)"' <<<"$js")" "status completed" \
	"?format=json: a status event first"
is "$(jq -r '.messages[-1] | fromjson | "\(.event) \(.status) \(.exit_code)"' <<<"$js")" "end completed 0" \
	"... an end event with the exit code last"
is "$(jq -r '[.messages[1:-1][] | fromjson | .stream] | join(",")' <<<"$js")" \
	"stdout,stderr,stdout,stdout,stdout" "... chunks with their stream"
like "$(jq -r '.messages[1] | fromjson | .id' <<<"$js")" '^[0-9]+-[0-9]+$' "... and their log entry id"
is "$(jq -r '[.messages[1:-1][] | fromjson | .data] | join("")' <<<"$js" | od -c | head -3)" \
	"$(printf 'first line\nto stderr\ncafé \xef\xbf\xbd bad byte\r\nCRLF\rCR\nlast line\n' | od -c | head -3)" \
	"... whose data is the output as written (sanitized, line ends kept)"

# --- unknown ids: a JSON error, then 1008
for id in job-abc123 job-aaaaaaaaaaaaaaaaaaaaaaaaaa; do
	ws=$($WSC logs "$WSS/logs/$id/stream" "$SANDRUN_CACERT")
	is "$(jq -r '.messages[0] | fromjson | .error' <<<"$ws")" "Job not found" "unknown id $id: a JSON error"
	is "$(jq -r .code <<<"$ws")" 1008 "... then close 1008"
done
ws=$($WSC logs "$WSS/logs/$live_id/stream?format=xml" "$SANDRUN_CACERT")
is "$(jq -r '.code' <<<"$ws")/$(jq -r '.messages[0] | fromjson | .error' <<<"$ws")" "1008/Bad request" \
	"an unknown format: Bad request, 1008"
ws=$($WSC logs "$WSS/logs/$live_id/stream?format=json&x=$(head -c 600 /dev/zero | tr '\0' y)" "$SANDRUN_CACERT")
is "$(jq -r '.code' <<<"$ws")/$(jq -r '.messages[0] | fromjson | .error' <<<"$ws")" "1008/Bad request" \
	"a query of 600 bytes: Bad request, 1008"

# --- a slow reader: 3 MB it does not read for 3 s, then reads slowly
mkdir -p flood
cat > flood/main.py <<'PY'
import sys
for i in range(30000):
    sys.stdout.write("%06d %s\n" % (i, "x" * 92))
PY
submit flood '{"entrypoint":"main.py"}'
flood_id=$JOB_ID
slow=$($WSC slow "$WSS/logs/$flood_id/stream" "$SANDRUN_CACERT")
want=$($PY -c 'import sys
for i in range(30000): sys.stdout.write("%06d %s\n" % (i, "x" * 92))' | sha256sum)
is "$(jq -j '.messages | join("")' <<<"$slow" | sha256sum)" "$want" "a slow reader gets all 3 MB, in order"
is "$(jq -r .code <<<"$slow")" 1000 "... and the close 1000"

# --- a client that vanishes frees its connection
mkdir -p sleeper && printf 'echo awake\nsleep 40\n' > sleeper/main.sh
submit sleeper '{"entrypoint":"main.sh"}'
sleeper_id=$JOB_ID
base=$(health | jq .connections)
$WSC vanish "$WSS/logs/$sleeper_id/stream" "$SANDRUN_CACERT" >/dev/null
for _ in $(seq 50); do [ "$(health | jq .connections)" = "$base" ] && break; sleep 0.1; done
is "$(health | jq .connections)" "$base" "a client that vanished: its connection is freed (gateway /health)"

# --- malformed frames and oversized messages: the right close, the daemon unharmed
pid_before=$SANDRUN_PID_WS
raw() { $WSC raw localhost "$SANDRUN_HTTPS_PORT" "/logs/$sleeper_id/stream" "$SANDRUN_CACERT" "$1" | jq -r .code; }
is "$(raw opcode)" 1002 "a frame with a reserved opcode: close 1002"
is "$(raw utf8)" 1007 "a text frame that is not UTF-8: close 1007"
code=$(raw unmasked)
if [ "$code" = 1002 ]; then
	ok 0 "an unmasked client frame: close 1002"
else
	tap_n=$((tap_n + 1))
	echo "not ok $tap_n - an unmasked client frame: close 1002 (got $code) # TODO libwebsockets 4.1 does not enforce client masking (RFC 6455 5.1)"
fi
is "$($WSC big "$WSS/logs/$sleeper_id/stream" "$SANDRUN_CACERT" 70000 | jq -r .code)" 1009 \
	"a text message over 64 KiB: close 1009"
is "$($WSC big "$WSS/logs/$sleeper_id/stream" "$SANDRUN_CACERT" 200000 binary | jq -r .code)" 1009 \
	"a binary message over 64 KiB: close 1009"
is "$(health | jq -r .status)" ok "the gateway still answers"
ok "$(kill -0 "$pid_before" 2>/dev/null; echo $?)" "... the same process"
ws=$($WSC logs "$WSS/logs/$live_id/stream" "$SANDRUN_CACERT")
is "$(jq -c .messages <<<"$ws")" "$(jq -c .chunks <<<"$sse")" "... and serves streams as before"

# --- per address: at most 4 held streams (nginx's sandrun_stream, as for SSE)
lim=$($WSC limit "$WSS/logs/$sleeper_id/stream" "$SANDRUN_CACERT" 5)
is "$(jq -c . <<<"$lim")" '{"held":4,"refused":[429]}' "the 5th stream from one address is refused (429)"

# --- 100 viewers of one job, from 25 addresses (4 each)
# (the sleeper cancelled first: a client runs one job at a time here, and the
# figure below is the gateway's, not the queue's)
api -X DELETE "$HTTPS/jobs/$sleeper_id"
mkdir -p show
cat > show/main.py <<'PY'
import time
for i in range(20):
    print("frame %d" % i, flush=True)
    time.sleep(0.1)
PY
submit show '{"entrypoint":"main.py"}'
many=$($WSC many "$WSS/logs/$JOB_ID/stream" "$SANDRUN_CACERT" 100 127.0.0.10)
is "$(jq -c .errors <<<"$many")" "[]" "100 viewers at once all connect"
is "$(jq -c .codes <<<"$many")" "[1000]" "... all get close 1000"
is "$(jq -r .distinct <<<"$many")" 1 "... all the same messages"
is "$(jq -r .text <<<"$many")" "$(for i in $(seq 0 19); do echo "frame $i"; done)" "... the job's whole log"
echo "# 100 viewers: $(jq -r .total_ms <<<"$many") ms from the first connect to the last close (the job runs ~2 s)"
for _ in $(seq 50); do [ "$(health | jq .connections)" = "$base" ] && break; sleep 0.1; done
is "$(health | jq .connections)" "$base" "... and every connection is freed"

# --- /sessions/{id}/pty against a fake runner (the runner's side is another branch)
new_session() { # new_session SID [STATUS [REASON]]: a session record as session_create.lua and the runner leave it
	rcli HSET "sr:{$1}:ses" status "${2:-ready}" reason "${3:-}" client 127.0.0.1 last_used_at 1 >/dev/null
	rcli EXPIRE "sr:{$1}:ses" 600 >/dev/null
}
S1=ses-aaaaaaaaaaaaaaaaaaaaaaaaa6 S2=ses-aaaaaaaaaaaaaaaaaaaaaaaaa2 S3=ses-aaaaaaaaaaaaaaaaaaaaaaaaa3
S4=ses-aaaaaaaaaaaaaaaaaaaaaaaaa4 S5=ses-aaaaaaaaaaaaaaaaaaaaaaaaa5 S7=ses-aaaaaaaaaaaaaaaaaaaaaaaaa7
new_session $S1; new_session $S2; new_session $S3 paused; new_session $S4 ended idle_timeout; new_session $S5
FAKE_LOG=$STACK_DIR/pty-fake.log
REDISCLI_AUTH=$SANDRUN_REDIS_ADMIN_PASSWORD $PY "$top_srcdir/tests/integration/pty-fake-runner.py" \
	"$SANDRUN_REDIS_PORT" "$FAKE_LOG" $S1 $S2 $S5 $S7 >"$STACK_DIR/pty-fake.out" 2>&1 &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null; stack_stop' EXIT
# a peer that never answers the gateway's pings (straight to the gateway: its frames unparsed)
new_session $S7
$WSC deadpeer 127.0.0.1 "$SANDRUN_WS_PORT" "/sessions/$S7/pty" >"$STACK_DIR/deadpeer.out" 2>&1 &
deadpeer_pid=$!
pty() { $WSC pty "$WSS/sessions/$1/pty$2" "$SANDRUN_CACERT" "$3"; }
b64() { printf '%s' "$1" | base64 -w0; }
msg() { jq -r ".messages[$1] | if type == \"object\" then .binary | @base64d else . end" <<<"$2"; }

# a whole conversation: ready, the size from the query, keystrokes both ways, resize, exit
big=$(head -c 10000 /dev/zero | tr '\0' a | base64 -w0)
t=$(pty $S1 '?cols=120&rows=40' '[["expect",2],["send_binary","'"$(b64 $'ls\r')"'"],["expect",1],
	["send_text","{\"type\":\"input\",\"data\":\"\\u00e9\\u0001\"}"],["expect",1],
	["send_text","{\"type\":\"resize\",\"cols\":100,\"rows\":30}"],["expect",1],
	["send_binary","'"$big"'"],["expect",3],
	["send_binary","'"$(b64 $'exit\r')"'"]]')
is "$(msg 0 "$t" | jq -c .)" '{"type":"ready","session_id":"'$S1'","started":true}' "pty: ready first (a new terminal)"
is "$(jq -r '.messages[1] | type' <<<"$t")" object "... the terminal's output as binary messages"
is "$(msg 1 "$t" | tr -d '\r')" 'welcome 120x40
$ ' "... the size asked in the query reached the terminal (op pty with cols, rows)"
is "$(jq -r '.messages[2].binary' <<<"$t" | base64 -d | od -An -tx1 | tr -d ' ')" 6c730d "... keystrokes in, echoed out"
is "$(msg 3 "$t")" "é"$'\001' "... a text input message's string as UTF-8 bytes"
is "$(msg 4 "$t")" "resized 100 30" "... a resize message as an r entry"
is "$(for i in 5 6 7; do msg $i "$t"; done | tr -d '\n' | wc -c)" 10000 "... 10000 keystroke bytes in entries of at most 4096"
is "$(jq -r '.messages[-1]' <<<"$t" | jq -c .)" '{"type":"exit","code":0}' "... the shell's exit as a JSON message"
is "$(jq -r .code <<<"$t")" 1000 "... then close 1000"
is "$(jq -r "select(.sid == \"$S1\") | if .request then \"req \(.request.op) \(.request.cols)x\(.request.rows)\" else \"\(.entry) \(.hex)\" end" "$FAKE_LOG" | head -5 | tr '\n' ',')" \
	"req pty 120x40,d 6c730d,d c3a901,r 313030203330,d $(head -c 4096 /dev/zero | tr '\0' a | od -An -v -tx1 | tr -d ' \n')," \
	"the runner got: the request, d + keystrokes, r + COLS ROWS, keystrokes cut at 4096"
ok "$([ "$(rcli HGET "sr:{$S1}:ses" last_used_at)" -gt 1000 ]; echo $?)" "typing is use: last_used_at moved"

# re-attach to a running terminal: started false, what the stream kept replayed
t=$(pty $S2 "" '[["expect",2],["send_binary","'"$(b64 $'pwd\r')"'"],["expect",1],["close"]]')
is "$(jq -r .code <<<"$t")" 1000 "pty: a client that closes (1000) leaves the terminal running"
t=$(pty $S2 "" '[["expect",3],["send_binary","'"$(b64 $'bye\r')"'"]]')
is "$(msg 0 "$t" | jq -r .started)" false "a re-attach: ready with started false"
is "$(msg 2 "$t")" $'pwd\r' "... what the terminal wrote meanwhile is replayed"
is "$(jq -r '.messages[-1]' <<<"$t" | jq -c .)" '{"type":"ended","reason":"deleted"}' "the session ending: an ended message"
is "$(jq -r .code <<<"$t")" 1000 "... then close 1000"

# the record gone while attached: ended, 1000
pty $S5 "" '[["expect",2]]' >"$STACK_DIR/s5.out" &
s5=$!
sleep 1.5
rcli DEL "sr:{$S5}:ses" >/dev/null
wait $s5
t=$(cat "$STACK_DIR/s5.out")
is "$(jq -r '.messages[-1]' <<<"$t" | jq -c .)" '{"type":"ended","reason":"gone"}' "pty: the record gone: ended"
is "$(jq -r .code <<<"$t")" 1000 "... close 1000"

# refusals: the JSON error, then the close the contract names
perr() { jq -r '"\(.messages[0] | fromjson | "\(.type) \(.status)") \(.code)"' <<<"$1"; }
is "$(perr "$(pty ses-bbbbbbbbbbbbbbbbbbbbbbbbbb "" '[]')")" "error 404 1008" "pty: an unknown session: 404, 1008"
is "$(perr "$(pty ses-x "" '[]')")" "error 404 1008" "... a malformed id: the same"
is "$(perr "$(pty $S3 "" '[]')")" "error 409 1013" "... a paused session: 409, 1013"
is "$(perr "$(pty $S4 "" '[]')")" "error 410 1008" "... an ended one: 410, 1008"
is "$(perr "$(pty $S1 '?cols=0' '[]')")" "error 400 1008" "... cols 0: 400, 1008"
t=$(pty $S1 "" '[["expect",2],["send_text","{\"type\":\"resize\",\"cols\":5000,\"rows\":1}"]]')
is "$(jq -r '.messages[-1] | fromjson | "\(.status) \(.reason)"' <<<"$t")/$(jq -r .code <<<"$t")" \
	"400 resize takes cols and rows, whole numbers from 1 to 1000/1008" "... a bad client message: 400 naming it, 1008"
t=$(pty $S1 "" '[["expect",2],["send_binary","'"$(head -c 70000 /dev/zero | base64 -w0)"'"]]')
is "$(jq -r '.messages[-1] | fromjson | .status' <<<"$t")/$(jq -r .code <<<"$t")" "413/1009" \
	"... a message over 64 KiB: error, 1009"
api "$HTTPS/sessions/$S1/pty"
is "$HTTP_STATUS/$(json .error)" "426/Upgrade required" "GET /sessions/{id}/pty without Upgrade: 426, JSON"
ok "$(kill -0 $fake_pid; echo $?)" "(the fake runner ran throughout)"
wait $deadpeer_pid
dp=$(cat "$STACK_DIR/deadpeer.out")
is "$(jq -r .ping_s <<<"$dp" | cut -d. -f1)" 20 "a silent connection is pinged after 20 s"
like "$(jq -r .closed_s <<<"$dp")" '^3[5-9](\.[0-9]+)?$' "... and a peer that never answers is dropped at 35 s ($(jq -r .closed_s <<<"$dp") s)"

# --- over ws_max_connections: a JSON error, then 1013 (try again later)
echo "ws_max_connections = 2" >>"$STACK_DIR/sandrun-ws.conf"
"$top_srcdir/contrib/sandrun-stack" restart ws "$STACK_DIR" >/dev/null 2>&1
is "$(health | jq .max_connections)" 2 "the gateway restarted with ws_max_connections 2"
submit sleeper '{"entrypoint":"main.sh"}'
cap=$($WSC cap "$WSS/logs/$JOB_ID/stream" "$SANDRUN_CACERT" 3)
is "$(jq -r '.first | fromjson | .error' <<<"$cap")/$(jq -r .code <<<"$cap")" "Service unavailable/1013" \
	"the third connection: Service unavailable, close 1013"

done_testing
