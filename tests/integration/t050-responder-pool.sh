#!/usr/bin/env bash
# The responder pool as an operator runs it: unprivileged, on a unix
# socket with the right owner and mode, restarted under an upload in
# flight, and taking the client address only from nginx.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar cgi-fcgi redis-cli
stack_start
STACK=$top_srcdir/contrib/sandrun-stack
cd "$WORK"

# --- privileges: the master and every responder run as the unprivileged user
master=$(cat "$STACK_DIR/fcgi-1.pid")
uids=$( { echo "$master"; pgrep -P "$master"; } | while read -r p; do awk '/^Uid:/ {print $2}' "/proc/$p/status"; done | sort -u)
unlike "$uids" '^0$' "no responder process runs as root (uids: $(echo $uids))"
is "$(echo "$uids" | wc -l)" 1 "master and responders share one unprivileged uid"

# --- a unix socket: owned by the socket group, mode 0660, and it answers FastCGI
sock=$STACK_DIR/fcgi.sock
sed -e "s|^fcgi_listen *=.*|fcgi_listen = unix:$sock|" "$STACK_DIR/sandrun-1.conf" > "$STACK_DIR/unix.conf"
grep -q '^fcgi_socket_group' "$STACK_DIR/unix.conf" || echo "fcgi_socket_group = root" >> "$STACK_DIR/unix.conf"
sed -i "s|^fcgi_socket_group *=.*|fcgi_socket_group = root|" "$STACK_DIR/unix.conf"
"$top_builddir/sandrun-fcgi" -c "$STACK_DIR/unix.conf" >"$STACK_DIR/unix.log" 2>&1 &
unix_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
ok "$([ -S "$sock" ]; echo $?)" "sandrun-fcgi listens on a unix socket"
is "$(stat -c '%a %G' "$sock")" "660 root" "the socket is mode 0660, group fcgi_socket_group"
answer=$(env -i REQUEST_METHOD=GET DOCUMENT_URI=/health SCRIPT_NAME=/health QUERY_STRING= \
	REMOTE_ADDR=127.0.0.1 cgi-fcgi -bind -connect "$sock" 2>/dev/null | tr -d '\r')
like "$answer" '^Status: 200' "a FastCGI request over the socket is answered"
like "$answer" '"status":"ok"' "... with the health document"
kill -TERM "$unix_pid"; wait "$unix_pid" 2>/dev/null

# --- a pool stopped and restarted while an upload is in flight: nginx
# buffers a body whole before a responder sees it, so the upload is in
# nginx, not in the pool; it reaches the restarted pool and is accepted.
echo 'print("slow upload")' > hello.py
head -c 1500000 /dev/urandom > padding.bin
tar czf slow.tar.gz hello.py padding.bin
curl -sS --cacert "$SANDRUN_CACERT" --limit-rate 100k -o slow.out -w '%{http_code}' \
	-X POST "$SANDRUN_URL/submit" -F files=@slow.tar.gz -F 'manifest={"entrypoint":"hello.py"}' \
	> slow.code 2>slow.err &
curl_pid=$!
sleep 1.2   # the upload takes about 15 s at 100 kB/s (a slow restart must not outlast it): nginx is buffering it now
kill -TERM "$master"
for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
ok "$(! kill -0 "$master" 2>/dev/null; echo $?)" "the pool exits on SIGTERM"
"$STACK" restart fcgi "$STACK_DIR" >/dev/null 2>&1
. "$STACK_DIR/client.env"
ok "$(kill -0 "$curl_pid" 2>/dev/null; echo $?)" "the upload was still in flight when the pool was back"
wait "$curl_pid"
is "$(cat slow.code)" 200 "an upload in flight while the pool restarted is accepted"
wait_job "$(json .job_id "$(cat slow.out)")"
is "$(json .status "$STATUS_JSON")" completed "the job accepted across the restart runs"

# --- a request in flight inside a responder when the pool gets SIGTERM (a
# long-poll) is answered, with the job's status as it is then, and the
# pool exits without waiting out the poll.
printf 'import time\ntime.sleep(20)\n' > sleepy.py
tar czf sleepy.tar.gz sleepy.py
api -X POST "$SANDRUN_URL/submit" -F files=@sleepy.tar.gz -F 'manifest={"entrypoint":"sleepy.py"}'
sleepy=$(json .job_id)
curl -sS --cacert "$SANDRUN_CACERT" -o held.out -w '%{http_code}' "$SANDRUN_URL/status/$sleepy?wait=60" \
	> held.code 2>held.err &
held_pid=$!
sleep 1.5
master=$(cat "$STACK_DIR/fcgi-1.pid")
t0=$(date +%s%N)
kill -TERM "$master"
wait "$held_pid"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(cat held.code)" 200 "a long-poll in flight when the pool got SIGTERM is answered"
like "$(json .status "$(cat held.out)")" '^(queued|running)$' "... with the job's status then"
ok "$([ "$ms" -lt 5000 ]; echo $?)" "... at once, not after its wait ($ms ms)"
for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
ok "$(! kill -0 "$master" 2>/dev/null; echo $?)" "... and the pool exits"
"$STACK" restart fcgi "$STACK_DIR" >/dev/null 2>&1
. "$STACK_DIR/client.env"
api -X DELETE "$SANDRUN_URL/jobs/$sleepy"
is "$HTTP_STATUS" 200 "the restarted pool answers"

# --- the client address is nginx's view of the peer; headers cannot choose it
tar czf hello.tar.gz hello.py
api -X POST "$SANDRUN_URL/submit" -H 'X-Forwarded-For: 203.0.113.9' -H 'X-Real-IP: 203.0.113.9' \
	-H 'Forwarded: for=203.0.113.9' -F files=@hello.tar.gz -F 'manifest={"entrypoint":"hello.py"}'
id=$(json .job_id)
client=$(redis-cli -p "$SANDRUN_REDIS_PORT" --user sandrun-admin --pass "$SANDRUN_REDIS_ADMIN_PASSWORD" \
	--no-auth-warning HGET "sr:{$id}:job" client)
is "$client" 127.0.0.1 "the job records the TCP peer, not a forwarded-for header"
done_testing
