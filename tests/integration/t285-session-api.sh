#!/usr/bin/env bash
# The session routes (SPEC §7, docs/api.md "Sessions") through a real
# stack, from the responder's side: every 400 naming its field, 404 for
# unknown and malformed ids, the per-address session limit (a second
# address, 127.0.0.5, still gets its own), a create no sandbox serves
# (503 with retry_after within session_create_wait, the record ended
# no_sandbox, 410 after), and the whole request/reply conversation of
# docs/sessions.md: exec (JSON and Server-Sent Events), files written,
# read (bytes and listings), deleted, an archive unpacked and fetched,
# pause (exec 409 while paused), resume, a snapshot's 413 passed through,
# the CPU quota (exec 429 with retry_after, the session alive), a silent
# sandbox (504), a lost runner (410 runner_lost) and DELETE.
#
# The runner of this stack serves no sessions (sessions_max=0):
# tests/integration/session-fake-supervisor.py stands in for the runner's
# session supervisor. It pops the create entries and the requests as the
# runner does and pushes reply frames exactly as docs/sessions.md says, so
# the responder's side of that conversation is checked here, faults a real
# sandbox rarely gives included (a silent sandbox, a lost runner). The
# real runner's side: t280 (through Redis), t290 and t295 (end to end).
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq redis-cli curl tar
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 is not installed (the fake supervisor)"
# fcgi_hold_max=2: 4 held requests in the pool of 2 responders (the held-request cap below)
stack_start --runner-slots 1 --set sessions_max=0 --set session_pool_size=0 --set session_create_wait=2 \
	--set quota_cpu_seconds=5 --set quota_window_seconds=60 --set fcgi_hold_max=2
cd "$WORK"
V4=${SANDRUN_URL/localhost/127.0.0.1}
B=$V4/sessions
ALIAS=127.0.0.5          # another client address (loopback alias) for the per-address limit

post_json() { # post_json URL JSON [CURL-ARGS...]
	local url=$1 body=$2
	shift 2
	api -X POST -H 'Content-Type: application/json' --data-binary "$body" "$@" "$url"
}
bad_create() { # bad_create JSON FIELD WHAT
	post_json "$B" "$1"
	is "$HTTP_STATUS:$(json .field)" "400:$2" "create with $3: 400 naming $2"
}

# --- GET / tells the session limits
api "$V4/"
is "$(json .limits.sessions_per_client)" 2 "GET / lists sessions_per_client"
is "$(json .limits.session_create_wait)" 2 "... and session_create_wait (as configured)"
like "$(json .limits.session_file_max_bytes)" '^[0-9]+$' "... and session_file_max_bytes"

# --- 400 naming the field
bad_create '{"bogus":1}' bogus "an unknown field"
bad_create '{"memory_mb":"512"}' memory_mb "memory_mb a string"
bad_create '{"memory_mb":1}' memory_mb "memory_mb below the minimum"
bad_create '{"ttl_seconds":0}' ttl_seconds "ttl_seconds 0"
bad_create '{"ttl_seconds":999999}' ttl_seconds "ttl_seconds above session_ttl_max"
bad_create '{"idle_timeout_seconds":true}' idle_timeout_seconds "idle_timeout_seconds a boolean"
bad_create '{"env":{"1X":"y"}}' env "a bad env name"
bad_create '{"env":{"X":5}}' env.X "an env value that is no string"
bad_create '{"workspace_id":"nope"}' workspace_id "a malformed workspace_id"
bad_create '{"workspace_id":"wsp-aaaaaaaaaaaaaaaaaaaaaaaaaa"}' workspace_id "an unknown workspace"
bad_create '{"environment":"not-installed"}' environment "an environment no live runner has"
post_json "$B" '{"memory_mb":'
is "$HTTP_STATUS" 400 "a body that is no JSON: 400"
like "$(json .reason)" 'not valid JSON' "... saying so"
is "$(rcli --scan --pattern 'sr:{ses-*}:ses' | wc -l)" 0 "no refused create left a record"

# --- 404: unknown and malformed ids, before and without Redis
api "$B/ses-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 404 "GET of an unknown session: 404"
is "$(json .error)" "Session not found" "... Session not found"
api "$B/not-a-session"
is "$HTTP_STATUS" 404 "a malformed id: 404"
api "$B/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 404 "a job id is no session id: 404"
post_json "$B/ses-aaaaaaaaaaaaaaaaaaaaaaaaaa/exec" '{"command":"true"}'
is "$HTTP_STATUS" 404 "exec on an unknown session: 404"
api -X DELETE "$B/ses-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 404 "DELETE of an unknown session: 404"
api -X POST "$B/ses-aaaaaaaaaaaaaaaaaaaaaaaaaa/bogus"
is "$HTTP_STATUS" 404 "an unknown sub-route: 404"

# --- no sandbox serves it: 503 with retry_after within session_create_wait, the record ended no_sandbox
t0=$(date +%s%N)
post_json "$B" '{}'
t1=$(date +%s%N)
is "$HTTP_STATUS" 503 "a create no sandbox serves: 503"
like "$(json .retry_after)" '^[1-9][0-9]*$' "... with retry_after"
like "$HTTP_HEADERS" $'\n[Rr]etry-[Aa]fter: [0-9]+' "... and a Retry-After header"
ms=$(((t1 - t0) / 1000000))
ok "$([ "$ms" -ge 1900 ] && [ "$ms" -lt 6000 ]; echo $?)" "... after session_create_wait (2 s; took $ms ms)"
rec=$(rcli --scan --pattern 'sr:{ses-*}:ses' | head -n 1)
like "$rec" '^sr:\{ses-[a-z2-7]{26}\}:ses$' "the abandoned session has a record ($rec)"
is "$(rcli HGET "$rec" status):$(rcli HGET "$rec" reason)" "ended:no_sandbox" "... ended with reason no_sandbox"
ttl=$(rcli TTL "$rec")
ok "$([ "$ttl" -gt 0 ] && [ "$ttl" -le 300 ]; echo $?)" "... kept 300 s at most ($ttl)"
is "$(rcli ZCARD 'sr:sessions:{127.0.0.1}')" 0 "... and it holds no slot of its client"
is "$(rcli LLEN sr:sespool:default)" 1 "its create entry waits for the runner to drop it"
rcli DEL sr:sespool:default >/dev/null
NS=${rec#sr:\{}
NS=${NS%\}:ses}
api "$B/$NS"
is "$HTTP_STATUS" 410 "GET of the abandoned session: 410"
is "$(json .ended_reason)" no_sandbox "... with its reason"

# --- the fake supervisor (see the top) serves sessions from here on
REDISCLI_AUTH=$SANDRUN_REDIS_ADMIN_PASSWORD /usr/bin/python3 "$top_srcdir/tests/integration/session-fake-supervisor.py" \
	"$SANDRUN_REDIS_PORT" >"$STACK_DIR/fake-supervisor.log" 2>&1 &
FAKE=$!
trap 'kill $FAKE 2>/dev/null; stack_stop' EXIT

post_json "$B" '{"ttl_seconds":600,"env":{"SECRET_X":"s3"}}'
is "$HTTP_STATUS" 201 "create: 201"
S=$(json .session_id)
like "$S" '^ses-[a-z2-7]{26}$' "... a session id ($S)"
is "$(json .status)" ready "... ready"
like "$HTTP_HEADERS" $'\n[Ll]ocation: /sessions/'"$S" "... Location: /sessions/{id}"
like "$(json .expires_at)" '^20[0-9]{2}-' "... expires_at"
is "$(json .limits.ttl_seconds)" 600 "... its limits"
unlike "$(rcli HGETALL "sr:{$S}:ses")" s3 "the record holds no env value"
api "$B/$S"
is "$HTTP_STATUS:$(json .status)" "200:ready" "GET /sessions/{id}: ready"
like "$(json .last_used_at)" '^20' "... last_used_at"
like "$(json .usage.cpu_seconds)" '^[0-9.]+$' "... usage"

# --- exec
post_json "$B/$S/exec" '{"command":"echo hi"}'
is "$HTTP_STATUS" 200 "exec: 200"
is "$(json .stdout)" "ran: echo hi" "... the supervisor's stdout"
is "$(json .exit_code)" 0 "... exit_code"
unlike "$BODY" '"final"|"ok"' "... without the frame's own fields"
post_json "$B/$S/exec" '{"command":["ls","-l"],"timeout":5}'
is "$(json .stdout)" "ran: ls -l" "exec of an argv"
post_json "$B/$S/exec" '{"command":"stream"}' -H 'Accept: text/event-stream'
is "$HTTP_STATUS" 200 "exec as Server-Sent Events: 200"
like "$HTTP_HEADERS" $'\n[Cc]ontent-[Tt]ype: text/event-stream' "... text/event-stream"
is "$(grep -c '^event: ' <<<"$BODY")" 3 "... three events"
like "$BODY" $'event: stdout\ndata: line one\ndata: line two' "... stdout as it came"
like "$BODY" $'event: stderr\ndata: warning' "... stderr"
like "$BODY" $'event: exit\ndata: \\{.*"exit_code":0' "... and a final exit event with the result"
post_json "$B/$S/exec" '{"command":"fail"}'
is "$HTTP_STATUS:$(json .reason)" "400:no such directory: /work/nope" "a failure frame is answered with its status and reason"
bad_exec() { # bad_exec JSON FIELD WHAT
	post_json "$B/$S/exec" "$1"
	is "$HTTP_STATUS:$(json .field)" "400:$2" "exec with $3: 400 naming $2"
}
bad_exec '{}' command "no command"
bad_exec '{"command":"a","code":"b","language":"bash"}' code "command and code"
bad_exec '{"code":"x=1"}' language "code without language"
bad_exec '{"code":"x","language":"cobol"}' language "an unknown language"
bad_exec '{"command":[1]}' 'command[0]' "an argv of numbers"
bad_exec '{"command":"a","timeout":0}' timeout "timeout 0"
bad_exec '{"command":"a","cwd":"/etc"}' cwd "a cwd outside the workspace"
bad_exec '{"command":"a","stdin":7}' stdin "stdin a number"
bad_exec '{"command":"a","wat":1}' wat "an unknown field"

# --- files
printf 'hello\0world' >blob
api -X PUT --data-binary @blob "$B/$S/files/dir/blob.bin?mode=0755"
is "$HTTP_STATUS" 200 "PUT a file: 200"
is "$(json .size)" 11 "... its size"
# (curl itself: the body holds a NUL, which api's $(...) would drop with a warning)
code=$(curl -sS --max-time 30 --cacert "$SANDRUN_CACERT" -D got.headers -o got.bin -w '%{http_code}' \
	"$B/$S/files/dir/blob.bin")
is "$code" 200 "GET the file: 200"
like "$(tr -d '\r' <got.headers)" $'\n[Cc]ontent-[Tt]ype: application/octet-stream' "... as application/octet-stream"
cmp -s blob got.bin
ok $? "... its bytes, NUL and all"
api "$B/$S/files/"
is "$(json '.entries[0].name')" dir/blob.bin "GET of the workspace: the listing"
api "$B/$S/files"
is "$(json .path)" /work "GET /files: the workspace's listing too"
api -X PUT --data-binary x "$B/$S/files/%2Ftmp%2Fscratch"
is "$HTTP_STATUS:$(json .path)" "200:/tmp/scratch" "an absolute path under /tmp, percent-encoded"
api --path-as-is -X PUT --data-binary x "$B/$S/files/a/%2e%2e/b"
is "$HTTP_STATUS:$(json .field)" "400:path" "a path with .. (as sent, whatever nginx made of it): 400 naming path"
api --path-as-is -X PUT --data-binary x "$B/$S/files/a/%2e%2e/%2e%2e/%2e%2e/etc/x"
is "$HTTP_STATUS" 404 "a path climbing out of the files route is no file route: 404"
api -X PUT --data-binary x "$B/$S/files/%2Fetc%2Fpasswd"
is "$HTTP_STATUS:$(json .field)" "400:path" "an absolute path outside the workspace: 400"
api -X PUT --data-binary x "$B/$S/files/a%FFb"
is "$HTTP_STATUS:$(json .field)" "400:path" "a path that is no UTF-8: 400"
api -X PUT --data-binary x "$B/$S/files/x?mode=4755"
is "$HTTP_STATUS:$(json .field)" "400:mode" "a setuid mode: 400 naming mode"
api -X PUT --data-binary x "$B/$S/files/x?bogus=1"
is "$HTTP_STATUS:$(json .field)" "400:bogus" "an unknown query parameter: 400 naming it"
api -X DELETE "$B/$S/files/dir/blob.bin?recursive=maybe"
is "$HTTP_STATUS:$(json .field)" "400:recursive" "recursive=maybe: 400"
api -X DELETE "$B/$S/files/dir/blob.bin"
is "$HTTP_STATUS" 200 "DELETE the file: 200"
api "$B/$S/files/dir/blob.bin"
is "$HTTP_STATUS" 404 "... then GET: the supervisor's 404"
api -X PUT "$B/$S/files/x"
is "$HTTP_STATUS" 200 "PUT an empty file: 200"
tar czf work.tar.gz blob
api -X POST -F files=@work.tar.gz "$B/$S/files"
is "$HTTP_STATUS" 200 "POST an archive: 200"
is "$(json .bytes)" "$(stat -c %s work.tar.gz)" "... the archive's bytes reached the supervisor"
api -X POST -F other=@work.tar.gz "$B/$S/files"
is "$HTTP_STATUS:$(json .field)" "400:other" "an archive in another part: 400 naming it"
api -X POST --data-binary @work.tar.gz -H 'Content-Type: application/gzip' "$B/$S/files"
is "$HTTP_STATUS" 415 "an archive not as multipart: 415"
api "$B/$S/archive?path=/work"
is "$HTTP_STATUS" 200 "GET the archive: 200"
like "$HTTP_HEADERS" $'\n[Cc]ontent-[Tt]ype: application/gzip' "... application/gzip"
is "$(head -c 2 "$STACK_DIR/last.body" | od -An -tx1 | tr -d ' ')" 1f8b "... the supervisor's bytes"
api "$B/$S/archive?path=/etc"
is "$HTTP_STATUS:$(json .field)" "400:path" "an archive of /etc: 400"
is "$(rcli --scan --pattern "sr:{$S}:data:*" | wc -l)" 0 "the request bytes were taken, none left"
is "$(rcli --scan --pattern "sr:{$S}:rep:*" | wc -l)" 0 "the reply lists are deleted once read"

# --- the per-address limit: 2 live sessions, a third is 429; another address has its own
post_json "$B" '{}'
is "$HTTP_STATUS" 201 "a second session from the same address: 201"
S2=$(json .session_id)
post_json "$B" '{}'
is "$HTTP_STATUS" 429 "a third: 429"
like "$(json .reason)" 'live sessions' "... saying why"
like "$(json .retry_after)" '^[1-9][0-9]*$' "... with retry_after"
post_json "$B" '{}' --interface "$ALIAS"
is "$HTTP_STATUS" 201 "another address ($ALIAS) still gets one"
S3=$(json .session_id)
is "$(rcli HGET "sr:{$S3}:ses" client)" "$ALIAS" "... counted as its own client"
is "$(rcli ZCARD 'sr:sessions:{127.0.0.1}')" 2 "127.0.0.1 holds 2 sessions"
unlike "$(rcli ZRANGE 'sr:sessions:{127.0.0.1}' 0 -1)" 'ses-' "... named by digests, never ids"

# --- pause: exec and files 409; resume
api -X POST "$B/$S2/pause"
is "$HTTP_STATUS:$(json .status)" "200:paused" "pause: 200 paused"
post_json "$B/$S2/exec" '{"command":"true"}'
is "$HTTP_STATUS" 409 "exec on a paused session: 409"
like "$(json .reason)" 'paused' "... saying it is paused"
api "$B/$S2/files/x"
is "$HTTP_STATUS" 409 "a file read on a paused session: 409"
api -X POST "$B/$S2/resume"
is "$HTTP_STATUS:$(json .status)" "200:ready" "resume: 200 ready"
post_json "$B/$S2/exec" '{"command":"true"}'
is "$HTTP_STATUS" 200 "exec after resume: 200"

# --- a snapshot over snapshot_max_bytes: the supervisor's 413 passes through
api -X POST "$B/$S2/snapshot"
is "$HTTP_STATUS" 413 "snapshot over size: 413"
like "$(json .reason)" 'snapshot_max_bytes' "... with the supervisor's reason"

# --- the CPU quota: exec 429 with retry_after, the session lives on
now=$(($(date +%s) * 1000))
rcli ZADD 'sr:cpu:{127.0.0.1}' "$now" "$(printf x | sha1sum | cut -c1-40):1:9.5" >/dev/null
post_json "$B/$S/exec" '{"command":"true"}'
is "$HTTP_STATUS" 429 "exec with the CPU window used up: 429"
like "$(json .reason)" 'CPU quota exhausted' "... CPU quota exhausted"
like "$(json .retry_after)" '^[1-9][0-9]*$' "... retry_after"
api -X PUT --data-binary y "$B/$S/files/y"
is "$HTTP_STATUS" 200 "... file operations still pass"
api "$B/$S"
is "$(json .status)" ready "... and the session is alive"
rcli DEL 'sr:cpu:{127.0.0.1}' >/dev/null

# --- a sandbox that does not answer: 504 after the timeout + 10 s
t0=$(date +%s)
post_json "$B/$S/exec" '{"command":"hang","timeout":1}'
t1=$(date +%s)
is "$HTTP_STATUS" 504 "an exec the sandbox never answers: 504"
ok "$([ $((t1 - t0)) -ge 10 ] && [ $((t1 - t0)) -le 16 ]; echo $?)" "... after its timeout + 10 s ($((t1 - t0)) s)"

# --- session requests are held requests: the pool's cap (2 x fcgi_hold_max) answers 503 beyond it
# (4 execs: nginx lets an address have 4 requests with a body in flight; the fifth request is a read)
hangs=()
for i in 1 2 3 4; do
	curl -sS -o /dev/null --max-time 30 --cacert "$SANDRUN_CACERT" -X POST -H 'Content-Type: application/json' \
		--data-binary '{"command":"hang","timeout":1}' "$B/$S/exec" &
	hangs+=($!)
done
sleep 2
api "$B/$S/files/y"
is "$HTTP_STATUS" 503 "a fifth request waiting on a sandbox, over the held-request cap: 503"
like "$(json .reason)" 'waiting' "... saying too many are waiting"
api "$B/$S"
is "$HTTP_STATUS" 200 "... while GET /sessions/{id}, which holds nothing, answers"
wait "${hangs[@]}"
post_json "$B/$S/exec" '{"command":"echo 6"}'
is "$HTTP_STATUS" 200 "once they ended, an exec passes again"

# --- DELETE, and 410 while the ended record lingers
api -X DELETE "$B/$S2"
is "$HTTP_STATUS:$(json .status)" "200:ended" "DELETE /sessions/{id}: 200 ended"
api "$B/$S2"
is "$HTTP_STATUS:$(json .ended_reason)" "410:deleted" "then GET: 410 with reason deleted"
post_json "$B/$S2/exec" '{"command":"true"}'
is "$HTTP_STATUS" 410 "... exec too"

# --- a lost runner: the record's runner has no heartbeat
rcli HSET "sr:{$S3}:ses" runner gone-runner:1 >/dev/null
api "$B/$S3"
is "$HTTP_STATUS:$(json .ended_reason)" "410:runner_lost" "a session whose runner is gone: 410 runner_lost"
is "$(rcli HGET "sr:{$S3}:ses" status):$(rcli HGET "sr:{$S3}:ses" reason)" ended:runner_lost "... ended in its record"
is "$(rcli ZCARD "sr:sessions:{$ALIAS}")" 0 "... its client's slot freed"
is "$(rcli EXISTS "sr:{$S3}:req")" 0 "... its request list deleted"

kill "$FAKE" 2>/dev/null
done_testing
