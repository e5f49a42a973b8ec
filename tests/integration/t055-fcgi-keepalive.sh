#!/usr/bin/env bash
# nginx keeps its FastCGI connections to the pool for the short GET routes
# (upstream sandrun_fcgi_kept, fastcgi_keep_conn on; fcgi/keepalive.c):
# a request there reuses a connection instead of making one. What a user
# relies on: every answer stays right; idle kept connections, which each
# wait in a responder thread, never keep another route's request waiting;
# a body a route did not read never spoils the next request on the
# connection; and a responder restarting under load loses no request.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq ss
# One responder of 2 threads (1 may hold a request): idle kept connections
# can take every thread.
stack_start --no-runner --fcgi-workers 1 --set fcgi_threads=2 --set fcgi_hold_max=1
. "$STACK_DIR/stack.env"
port=${FCGI_PORTS%% *}
nginx_errors=$STACK_DIR/nginx-error.log
[ -f "$nginx_errors" ] || nginx_errors=$(ls "$STACK_DIR"/*error*.log 2>/dev/null | head -n1)

# The connections between nginx and the pool, in a TCP state.
pool_conns() { ss -Htn state "$1" "( dport = :$port or sport = :$port )" | wc -l; }
# The local ports nginx holds idle towards the pool.
kept_ports() { ss -Htn state established "( dport = :$port )" | awk '{print $3}' | sort; }
get() { curl -sS --max-time "${2:-10}" --cacert "$SANDRUN_CACERT" -o /dev/null -w '%{http_code}' "$SANDRUN_URL$1"; }

# --- kept: GETs of the short routes reuse nginx's connections
is "$(get /health)" 200 "GET /health answers"
first=$(kept_ports)
ok "$([ -n "$first" ]; echo $?)" "after it nginx keeps a connection to the pool open ($(echo $first))"
tw0=$(pool_conns time-wait)
codes=
for i in $(seq 20); do codes+=$(get /health); codes+=" "; codes+=$(get /stats); codes+=" "; done
is "$(tr ' ' '\n' <<<"$codes" | grep -v '^$' | sort -u)" 200 "40 GETs of /health and /stats all answer 200"
tw1=$(pool_conns time-wait)
ok "$([ $((tw1 - tw0)) -le 2 ]; echo $?)" "... over kept connections: $((tw1 - tw0)) closed connections to the pool (<= 2)"
ok "$(comm -12 <(echo "$first") <(kept_ports) | grep -q .; echo $?)" "... the connection of the first GET is still the one in use"
# The control: a route that is not kept (GET /logs/{id}: streamed, unbuffered) closes its connection each time.
tw0=$(pool_conns time-wait)
for i in $(seq 10); do get /logs/job-aaaaaaaaaaaaaaaaaaaaaaaaaa >/dev/null; done
tw1=$(pool_conns time-wait)
ok "$([ $((tw1 - tw0)) -ge 8 ]; echo $?)" "10 GETs of a route without keep-alive close 10 connections ($((tw1 - tw0)) seen): the count above is real"
api "$SANDRUN_URL/status/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 404 "GET /status of an unknown job over a kept connection: 404"
like "$(json .reason)" "job" "... with our error document ($BODY)"

# --- idle kept connections take every thread, yet another route is answered at once
# 8 GETs at once: nginx (2 workers) opens more connections than there are
# threads; each thread keeps the last one it served, idle. (Tried again
# until both threads hold one: the last GETs may all land in one.)
for try in 1 2 3 4 5; do
	codes=$(seq 8 | xargs -P8 -I{} curl -sS --max-time 10 --cacert "$SANDRUN_CACERT" -o /dev/null -w '%{http_code}\n' \
		"$SANDRUN_URL/stats" | sort | uniq -c | awk '{print $2":"$1}' | tr '\n' ' ')
	[ "$codes" = "200:8 " ] || break
	sleep 0.3
	idle=$(kept_ports | wc -l)
	[ "$idle" -lt 2 ] || break
done
is "$codes" "200:8 " "8 GETs at once on 2 threads: all answered (a thread gives its kept connection up for a new one)"
is "$idle" 2 "nginx now keeps 2 idle connections, one in each responder thread (try $try)"
for i in 1 2 3; do
	t0=$(date +%s%N)
	code=$(get /logs/job-aaaaaaaaaaaaaaaaaaaaaaaaaa 5)
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$code" 404 "a request of a route that is not kept gets its answer ($i)"
	ok "$([ "$ms" -lt 3000 ]; echo $?)" "... in ${ms} ms, not after the idle connections time out (30 s)"
	get /health >/dev/null
done
codes=$(seq 24 | xargs -P8 -I{} sh -c 'curl -sS --max-time 10 --cacert "$1" -o /dev/null -w "%{http_code}\n" "$2"' _ \
	"$SANDRUN_CACERT" "$SANDRUN_URL/{}" 2>/dev/null | sort | uniq -c | awk '{print $2":"$1}' | tr '\n' ' ')
# {} is 1..24: none of them a route; every one must get the JSON 404 (nginx's own location /).
is "$codes" "404:24 " "24 requests at once beside the kept connections: all answered"
codes=$( (for i in $(seq 12); do echo /stats; echo /logs/job-aaaaaaaaaaaaaaaaaaaaaaaaaa; done) |
	xargs -P6 -I{} curl -sS --max-time 10 --cacert "$SANDRUN_CACERT" -o /dev/null -w '%{http_code}\n' \
	"$SANDRUN_URL{}" | sort | uniq -c | awk '{print $2":"$1}' | tr '\n' ' ')
is "$codes" "200:12 404:12 " "kept and unkept routes at once, 6 in parallel on 2 threads: every request answered"

# --- a body the route does not read: what is left of a small one is read
# and dropped, a large one closes the connection. Straight to the pool,
# as nginx does it (FCGI_KEEP_CONN), so that nothing tries a lost request again.
keep() { /usr/bin/python3 "$top_srcdir/tests/integration/fcgi-keep-client.py" "127.0.0.1:$port" "$@" | tr '\n' ' '; }
is "$(keep /health /stats /health)" "200 200 200 " "three requests on one kept FastCGI connection"
is "$(keep /health:30000 /health /stats)" "200 200 200 " \
	"a 30 kB body /health does not read (beyond libfcgi's first read) is dropped: the next requests on the connection are answered"
is "$(keep /health:300000 /health)" "200 closed " "after a 300 kB body it does not read the responder closes the connection"
is "$(keep /stats)" "200 " "... and a new one is served"
head -c 30000 /dev/zero >"$WORK/small.bin"
head -c 300000 /dev/zero >"$WORK/large.bin"
for body in small large; do
	code=$(curl -sS --max-time 10 --cacert "$SANDRUN_CACERT" -o /dev/null -w '%{http_code}' -X GET \
		-H 'Content-Type: application/octet-stream' --data-binary "@$WORK/$body.bin" "$SANDRUN_URL/health")
	is "$code" 200 "through nginx: GET /health with a $body body it does not read: 200"
	codes=
	for i in $(seq 6); do codes+="$(get /health) $(get /stats) "; done
	is "$(tr ' ' '\n' <<<"$codes" | grep -v '^$' | sort -u)" 200 "... and the 12 requests after it on the kept connections: all 200"
done
if [ -n "$nginx_errors" ]; then
	is "$(grep -c 'prematurely closed\|upstream sent invalid\|recv() failed' "$nginx_errors")" 0 \
		"nginx logged no broken upstream connection"
else
	skip "nginx logged no broken upstream connection" "no nginx error log found in $STACK_DIR"
fi

# --- a responder restarting under load: every GET is answered
master=$(cat "$STACK_DIR/fcgi-1.pid")
# From 10 addresses (127.0.0.20-29), each within its request rate limit.
seq 300 | xargs -P8 -I{} sh -c 'curl -sS --max-time 20 --cacert "$1" --interface "127.0.0.$((20 + $3 % 10))" \
	-o /dev/null -w "%{http_code}\n" "$2/health"' _ "$SANDRUN_CACERT" "$SANDRUN_URL" {} >"$WORK/restart.codes" 2>/dev/null &
load=$!
for i in 1 2 3; do
	sleep 0.4
	kill -TERM $(pgrep -P "$master") 2>/dev/null
done
wait "$load"
is "$(sort "$WORK/restart.codes" | uniq -c | awk '{print $2":"$1}' | tr '\n' ' ')" "200:300 " \
	"300 GETs while the responder is stopped and restarted 3 times: all answered 200"
ok "$(pgrep -P "$master" >/dev/null; echo $?)" "the pool runs again"
done_testing
