#!/usr/bin/env bash
# Slow, trickled and idle bodies, and slowloris, cannot take the service
# from others (issue 9): nginx buffers every body whole, in memory or on a
# size-capped tmpfs (never a disk), before a responder sees it, so an
# attacker holds nginx connections and tmpfs bytes, never a responder.
# Other addresses' quick requests stay quick. The stack has 2 responders
# (lib.sh), fewer than the slow clients below, so the old streaming of
# bodies to responders fails every latency check here.
#
# Loopback aliases 127.0.2.1-200 play the attackers (Linux routes all of
# 127/8 to lo), 127.0.3.x the honest clients. Every client has a time limit.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar python3 stat ss
# A small body tmpfs, so filling it is cheap.
export SANDRUN_BODY_TMPFS_SIZE=64m
stack_start

cd "$WORK"
SLOW="python3 $top_srcdir/tests/integration/slow-client.py"
echo 'print("ok")' > hello.py
head -c 1500000 /dev/urandom > blob.bin
tar cf slow.tar hello.py blob.bin

# health_times ADDR N PAUSE : N GETs of /health from ADDR; prints "CODE SECONDS" lines.
health_times() {
	local addr=$1 n=$2 pause=$3 i
	for ((i = 0; i < n; i++)); do
		curl -sS --max-time 5 --cacert "$SANDRUN_CACERT" --interface "$addr" -o /dev/null \
			-w '%{http_code} %{time_total}\n' "$SANDRUN_URL/health" || echo "000 5"
		sleep "$pause"
	done
}
# summary FILE : "n=.. ok=.. p50=.. p99=.. max=.." of health_times output
summary() {
	sort -k2,2n "$1" | awk '{ n++; if ($1 == 200) ok++; t[n] = $2 }
	     END { p50 = t[int((n + 1) / 2)]; i = int(n * 0.99); if (i < n * 0.99) i++;
	           printf "n=%d ok=%d p50=%.3f p99=%.3f max=%.3f\n", n, ok, p50, t[i], t[n] }'
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
below() { [ -n "$1" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# wait_conns REGEX N : until N connections from client addresses matching
# REGEX are established (python takes a second to start on a busy machine);
# 20 s at most.
wait_conns() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(ss -Htn state established | awk '{ print $4 }' | grep -cE "^($1):")" -ge "$2" ] && break
		sleep 0.1
	done
	sleep 0.5   # and nginx has read their headers
}

# --- the body buffer is a tmpfs of the stack's own, with a size cap
body_temp=$STACK_DIR/bodies
is "$(stat -f -c %T "$body_temp" 2>/dev/null)" tmpfs "request bodies are buffered on a tmpfs ($body_temp)"
like "$(df -k --output=size "$body_temp" | tail -1 | tr -d ' ')" '^6[0-9]{4}$' "its size is the configured 64m"
like "$(cat "$STACK_DIR"/nginx*.conf | grep -E '^\s*client_body_temp_path')" "$body_temp;" "nginx writes bodies there"
like "$(cat "$STACK_DIR"/nginx*.conf | grep -E '^\s*fastcgi_request_buffering')" 'on;' "bodies are buffered whole before a responder sees them"

# --- five slow uploads (100 kB/s, 1.5 MB) from five addresses; a sixth is served at once
for i in 1 2 3 4 5; do
	curl -sS --max-time 60 --cacert "$SANDRUN_CACERT" --interface "127.0.2.$i" --limit-rate 100k \
		-o "slow.$i.out" -w '%{http_code}\n' -X POST "$SANDRUN_URL/submit" \
		-F files=@slow.tar -F 'manifest={"entrypoint":"hello.py"}' > "slow.$i.code" 2>&1 &
	eval "slow_pid_$i=$!"
done
sleep 2
health_times 127.0.3.1 10 0.4 > h.slow
s=$(summary h.slow)
echo "# /health from 127.0.3.1 during 5 slow uploads: $s"
is "$(field ok "$s")" 10 "every /health during five slow uploads is answered"
below "$(field max "$s")" 1
ok $? "... in under 1 s each (max $(field max "$s") s)"
still=0
for i in 1 2 3 4 5; do eval "kill -0 \$slow_pid_$i 2>/dev/null" && still=$((still + 1)); done
is "$still" 5 "the five uploads were still in flight while /health was answered"
for i in 1 2 3 4 5; do eval "wait \$slow_pid_$i"; done
good=0
for i in 1 2 3 4 5; do
	[ "$(cat "slow.$i.code")" = 200 ] && [ "$(jq -r .status "slow.$i.out" 2>/dev/null)" = queued ] && good=$((good + 1))
done
is "$good" 5 "each slow upload reached a responder complete and was accepted"

# --- trickled (1 byte every 3 s) and idle bodies
for i in 20 21 22; do
	$SLOW body "$SANDRUN_HTTPS_PORT" "$SANDRUN_CACERT" "127.0.2.$i" --interval 3 --duration 14 > "trickle.$i" &
done
$SLOW body "$SANDRUN_HTTPS_PORT" "$SANDRUN_CACERT" 127.0.2.23 --interval 0 --duration 25 > idle.out &
wait_conns '127\.0\.2\.2[0-3]' 4
health_times 127.0.3.1 10 0.5 > h.trickle
s=$(summary h.trickle)
echo "# /health from 127.0.3.1 during 3 trickled bodies and 1 idle one: $s"
is "$(field ok "$s")" 10 "every /health during trickled and idle bodies is answered"
below "$(field max "$s")" 1
ok $? "... in under 1 s each (max $(field max "$s") s)"
wait
read -r what when < idle.out
like "$what" '^(closed|408)$' "an idle body is dropped by the server ($what)"
below "${when:-99}" 16
ok $? "... after client_body_timeout, 10 s (took ${when:-?} s)"
like "$(grep '^127\.0\.2\.23 ' "$STACK_DIR/access.log")" '"POST /submit [^"]*" 408 ' "nginx logs the idle body as 408"
like "$(cat trickle.20 trickle.21 trickle.22 | tr '\n' ' ')" '^open [0-9.]+ open [0-9.]+ open [0-9.]+ $' \
	"a trickle is not dropped (no minimum rate in nginx): it holds an nginx connection, not a responder"

# --- uploads in flight per address: 4, the fifth is a JSON 429
for i in 1 2 3 4; do
	$SLOW body "$SANDRUN_HTTPS_PORT" "$SANDRUN_CACERT" 127.0.2.30 --interval 2 --duration 8 > "cap.$i" &
done
wait_conns '127\.0\.2\.30' 4
api --interface 127.0.2.30 -X POST "$SANDRUN_URL/submit" -F files=@slow.tar -F 'manifest={"entrypoint":"hello.py"}'
is "$HTTP_STATUS" 429 "a fifth upload in flight from one address is refused with 429"
is "$(json .error)" "Rate limit exceeded" "... in the API's error shape"
is "$(json .retry_after)" 1 "... with retry_after"
like "$HTTP_HEADERS" '^[Rr]etry-[Aa]fter: 1$' "... and a Retry-After header"
api --interface 127.0.2.30 "$SANDRUN_URL/health"
is "$HTTP_STATUS" 200 "the same address's GETs are not counted as uploads"
api --interface 127.0.2.31 -X POST "$SANDRUN_URL/submit" -F files=@slow.tar -F 'manifest={"entrypoint":"hello.py"}'
is "$HTTP_STATUS" 200 "another address uploads meanwhile"
wait

# --- slowloris: 200 addresses, each with a slow header, a slow body and a
# connection that never starts TLS; another address's quick requests
$SLOW loris "$SANDRUN_HTTPS_PORT" "$SANDRUN_CACERT" --first 127.0.2.1 --count 200 --duration 16 > loris.out 2>&1 &
loris_pid=$!
for ((i = 0; i < 300; i++)); do grep -q '^ready' loris.out && break; sleep 0.1; done
echo "# slowloris set up: $(head -1 loris.out)"
health_times 127.0.3.2 40 0.25 > h.loris
s=$(summary h.loris)
echo "# /health from 127.0.3.2 during slowloris from 200 addresses: $s"
is "$(field ok "$s")" 40 "every /health during slowloris is answered"
below "$(field p99 "$s")" 1
ok $? "... p99 under 1 s ($(field p99 "$s") s)"
wait "$loris_pid"
echo "# slowloris: $(tail -1 loris.out)"
opened=$(sed -n 's/.*opened \([0-9]*\).*/\1/p' loris.out)
closed=$(sed -n 's/.*closed-by-server \([0-9]*\).*/\1/p' loris.out)
ok "$([ "${opened:-0}" -ge 500 ] && echo 0 || echo 1)" "the attack held ${opened:-0} connections (of 600)"
ok "$([ "${closed:-0}" -ge 200 ] && echo 0 || echo 1)" \
	"the server dropped the slow headers and silent connections after client_header_timeout (${closed:-0})"

# --- the tmpfs full: a JSON 503 with retry_after, then uploads work again
head -c 64m /dev/zero > "$body_temp/filler" 2>/dev/null
api --interface 127.0.3.3 -X POST "$SANDRUN_URL/submit" -F files=@slow.tar -F 'manifest={"entrypoint":"hello.py"}'
is "$HTTP_STATUS" 503 "an upload that does not fit in the full tmpfs is a 503"
is "$(json .error)" "Service unavailable" "... in the API's error shape"
like "$(json .reason)" 'uploads' "... saying why"
is "$(json .retry_after)" 5 "... with retry_after"
like "$HTTP_HEADERS" '^[Rr]etry-[Aa]fter: 5$' "... and a Retry-After header"
rm -f "$body_temp/filler"
api --interface 127.0.3.3 -X POST "$SANDRUN_URL/submit" -F files=@slow.tar -F 'manifest={"entrypoint":"hello.py"}'
is "$HTTP_STATUS" 200 "with room again, the same upload is accepted"

# --- nothing on a disk
is "$(find "$STACK_DIR/tmp" -type f | wc -l)" 0 "nothing was written under nginx's disk temp paths"
spilled=$(grep -o 'buffered to a temporary file [^,]*' "$STACK_DIR/nginx-error.log" | sed 's/.* file //')
like "$spilled" "^$body_temp/" "bodies over the memory buffer went to the tmpfs"
unlike "$(printf '%s\n' "$spilled" | grep -v "^$body_temp/")" '.' "and nowhere else"
done_testing
