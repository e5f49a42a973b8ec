#!/usr/bin/env bash
# What a responder's Redis identity (sandrun-fcgi, redis/users.acl.in) can
# and cannot do, tried with its own password against a live stack: a
# compromised responder runs only Sandrun's scripts, never Lua of its own
# (a script looping after a write could be stopped by nothing short of
# SHUTDOWN NOSAVE); it may add to the queues and count them but never
# read their entries (every queued job's id); it may write a job's
# manifest and upload but never read them (the manifest holds the env
# values); it writes sessions' pool entries, requests and request bytes
# but never reads them; and it cannot list keys. The service still works through that
# identity, and after Redis loses its scripts the runner loads them again
# when it reconnects, the responders answering 503 meanwhile.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq redis-cli tar
stack_start --runner-slots 1 --set quota_jobs_max=10
cd "$WORK"

responder_pw=$(sed -n 's/^redis_responder_password *= *//p' "$STACK_DIR/sandrun.conf")
like "$responder_pw" '^.{32,}$' "the stack's config holds the responder's password"
# fcli REDIS-CLI-ARGS... : the stack's Redis as the responders' user
fcli() {
	# (a bound: MONITOR or SUBSCRIBE, were they allowed, would never return)
	REDISCLI_AUTH=$responder_pw timeout 10 redis-cli -h 127.0.0.1 -p "$SANDRUN_REDIS_PORT" \
		--user sandrun-fcgi --no-auth-warning --raw "$@" 2>&1
}
# refused WHAT REDIS-CLI-ARGS... : the responder's user gets NOPERM (or a
# script error saying it may not) for it
refused() {
	local what=$1 out
	shift
	out=$(fcli "$@")
	like "$out" "NOPERM|can't access|can't run|no permissions" "the responder may not $what"
}
is "$(fcli PING)" PONG "the responder's user logs in"

# --- no Lua of its own
refused "run EVAL" EVAL "return 1" 0
refused "run EVAL_RO" EVAL_RO "return 1" 0
refused "load a script (SCRIPT LOAD)" SCRIPT LOAD "return 1"
refused "flush the scripts (SCRIPT FLUSH)" SCRIPT FLUSH
refused "kill a script (SCRIPT KILL)" SCRIPT KILL
refused "call a function (FCALL)" FCALL anything 0
refused "load a function (FUNCTION LOAD)" FUNCTION LOAD "#!lua name=x
redis.register_function('x', function() return 1 end)"

# --- no listing of keys or jobs
refused "list keys (KEYS)" KEYS '*'
refused "scan keys (SCAN)" SCAN 0
refused "pick a random key (RANDOMKEY)" RANDOMKEY
refused "read the queue (XRANGE)" XRANGE sr:queue - +
refused "read the queue backwards (XREVRANGE)" XREVRANGE sr:queue + -
refused "read the queue (XREAD)" XREAD COUNT 10 STREAMS sr:queue 0
refused "read a GPU queue (XRANGE)" XRANGE sr:queue:gpu:any - +
refused "see the queue's first and last entries (XINFO STREAM)" XINFO STREAM sr:queue
refused "list the queue's pending entries (XPENDING)" XPENDING sr:queue runners - + 10
refused "delete the queue" DEL sr:queue
refused "trim the queue" XTRIM sr:queue MAXLEN 0
refused "read a client's parked jobs" LRANGE 'sr:parked:{127.0.0.1}' 0 -1
refused "subscribe to channels" SUBSCRIBE sr:anything
refused "watch every command (MONITOR)" MONITOR
refused "list connections (CLIENT LIST)" CLIENT LIST

# --- a job whose manifest carries a secret, through the service
mkdir -p secret
printf 'import os, time\nprint("started", flush=True)\ntime.sleep(10)\nprint(len(os.environ["T270_SECRET"]))\n' \
	>secret/main.py
SECRET=t270-secret-$RANDOM$RANDOM
submit_tar secret "{\"entrypoint\":\"main.py\",\"env\":{\"T270_SECRET\":\"$SECRET\"},\"timeout\":60}"
is "$HTTP_STATUS" 200 "a job with an env secret is accepted (the responder calls submit.lua by EVALSHA)"
S=$(json .job_id)
wait_field() { # wait_field ID STATUS SECONDS
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		api "$SANDRUN_URL/status/$1"
		[ "$(json .status)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_field "$S" running 30
ok $? "the secret job runs"
# it holds the only slot: two more jobs wait in the queue, numbered in it
echo 'print("queued job")' >secret/q.py
submit_tar secret '{"entrypoint":"q.py"}'
Q=$(json .job_id)
submit_tar secret '{"entrypoint":"q.py"}'
Q2=$(json .job_id)
api "$SANDRUN_URL/status/$Q"
is "$(json .queue_position)" 1 "the first queued job has queue_position 1 (counted without reading the queue)"
api "$SANDRUN_URL/status/$Q2"
is "$(json .queue_position)" 2 "... the second 2"
is "$(fcli XLEN sr:queue)" "$(rcli XLEN sr:queue)" "the responder may count the queue (XLEN)"
like "$(fcli XINFO GROUPS sr:queue)" 'runners' "... and its consumer groups (XINFO GROUPS)"

is "$(rcli EXISTS "sr:{$Q}:manifest")" 1 "the queued job's manifest has a key of its own"
like "$(rcli GET "sr:{$Q}:manifest")" '"entrypoint":"q.py"' "... holding the manifest"
refused "read a job's manifest (GET)" GET "sr:{$Q}:manifest"
refused "read a job's manifest (GETRANGE)" GETRANGE "sr:{$Q}:manifest" 0 -1
refused "read a job's manifest (DUMP)" DUMP "sr:{$Q}:manifest"
refused "read a job's upload (GET)" GET "sr:{$Q}:upload"
refused "copy a job's upload where it could read it (COPY)" COPY "sr:{$Q}:upload" "sr:{$Q}:out"
record=$(fcli HGETALL "sr:{$Q}:job")
like "$record" 'status' "the responder reads a job record it is given"
unlike "$record" 'manifest|entrypoint' "... which holds no manifest"
is "$(fcli HGET "sr:{$Q}:job" manifest)" "" "... not even under its old field"
like "$(fcli HGET "sr:{$Q}:job" timeout)" '^[0-9]+$' "... but the timeout the responders need"

# the runners' own scripts, called as the responder, read nothing for it
shas=$("$top_builddir/sandrun-runner" -c "$STACK_DIR/sandrun.conf" --load-scripts 2>/dev/null)
like "$shas" '^[0-9a-f]{40} submit' "sandrun-runner --load-scripts loads the scripts and names them"
start_sha=$(awk '$2 == "start" { print $1 }' <<<"$shas")
# (its KEYS and ARGV as common/store_scripts.c's store_start_args makes them)
refused "get a manifest and upload from the runner's start.lua" \
	EVALSHA "$start_sha" 11 "sr:{$Q}:job" "sr:{$Q}:upload" sr:queue "sr:{$Q}:log" "sr:inflight:{x}" \
	"sr:parked:{x}" "sr:store:{x}" sr:runners "sr:{$Q}:manifest" "sr:running:{x}" sr:queue-seq \
	x 1 0-1 60 0 15000 "$Q" x
api "$SANDRUN_URL/status/$Q"
is "$(json .status)" queued "... and the job is still queued, untouched"

record=$(fcli HGETALL "sr:{$S}:job")
unlike "$record" "$SECRET" "the running job's record shows the responder no env value"
refused "read the running job's manifest" GET "sr:{$S}:manifest"
# what the service keeps per client address: the responder's share names no job
C=$(rcli HGET "sr:{$S}:job" client)
like "$C" '.' "the job record names its client ($C)"
is "$(rcli SMEMBERS "sr:running:{$C}")" "$S" "the runners keep the client's running jobs by id"
refused "read a client's running jobs (SMEMBERS)" SMEMBERS "sr:running:{$C}"
refused "read a client's running jobs (SSCAN)" SSCAN "sr:running:{$C}" 0
inflight=$(fcli ZRANGE "sr:inflight:{$C}" 0 -1)
is "$(grep -cE '^[0-9a-f]{40}$' <<<"$inflight")" 3 "the responder counts the client's 3 jobs in flight"
unlike "$inflight" 'job-' "... named by digests, never ids"
wait_job "$S" 60
is "$(json .status "$STATUS_JSON")" completed "the secret job completes"
is "$(logs "$S")" "started
${#SECRET}" "... and its env reached it"
is "$(rcli EXISTS "sr:{$S}:manifest")" 0 "an ended job's manifest is deleted"
wait_job "$Q" 60
is "$(json .status "$STATUS_JSON")" completed "the queued jobs complete"
wait_job "$Q2" 60
is "$(json .status "$STATUS_JSON")" completed "... both"

# --- what a responder reads about a client names none of its jobs
charges=$(fcli ZRANGE "sr:cpu:{$C}" 0 -1)
like "$charges" '^[0-9a-f]{40}:[0-9.]+$' "the client's CPU charges, which the responder reads, name jobs by digest"
unlike "$charges" 'job-' "... never by id"
is "$(rcli SMEMBERS "sr:running:{$C}")" "" "the running set is empty once the jobs ended"
ledger_key=$(rcli KEYS 'sr:store:*' | head -n 1)    # this client's (127.0.0.1 or ::1)
like "$ledger_key" '^sr:store:\{.+\}$' "this client has a storage ledger ($ledger_key)"
ledger=$(rcli HKEYS "$ledger_key")
like "$ledger" '^[0-9a-f]{40}$' "the storage ledger has entries"
unlike "$ledger" 'job-' "... keyed by digests, not job ids"
like "$(fcli HGETALL "$ledger_key")" '[0-9]+ [0-9]+' "... which the responder reads (its quota)"
like "$(rcli HGET "$ledger_key" "$(printf %s "$S" | sha1sum | cut -d' ' -f1)")" '^[0-9]+ [0-9]+$' \
	"... the entry of a job is under the SHA1 of its id"

# --- a cancel still deletes what only the runner may read
printf 'import time\ntime.sleep(30)\n' >secret/sleep.py
submit_tar secret '{"entrypoint":"sleep.py","timeout":60}'
C1=$(json .job_id)
submit_tar secret '{"entrypoint":"sleep.py","timeout":60}'
C2=$(json .job_id)
wait_field "$C1" running 30
is "$(rcli EXISTS "sr:{$C2}:manifest" "sr:{$C2}:upload")" 2 "a queued job has its manifest and upload"
api -X DELETE "$SANDRUN_URL/jobs/$C2"
is "$(json .status)" cancelled "the responder cancels the queued job"
is "$(rcli EXISTS "sr:{$C2}:manifest" "sr:{$C2}:upload")" 0 "... and deletes its manifest and upload"
api -X DELETE "$SANDRUN_URL/jobs/$C1"
is "$(json .status)" cancelled "... and the running one"
is "$(rcli EXISTS "sr:{$C1}:manifest")" 0 "... whose manifest is deleted too"

# --- sessions (docs/sessions.md): the responder writes a session's pool entry, requests and their
# bytes but never reads them (they hold env values, commands, files), reads its own reply lists
# and the records, and may only ask whether a saved workspace exists
SID=ses-abcdefghijklmnopqrstuvwxyz
WID=wsp-abcdefghijklmnopqrstuvwxyz
rcli RPUSH sr:sespool:no-runner-offers-it '{"session_id":"x","env":{"S":"secret"}}' >/dev/null
rcli RPUSH "sr:{$SID}:req" '{"rid":"r","op":"exec","command":"secret"}' >/dev/null
rcli SET "sr:{$SID}:data:0123456789abcdef" 'file bytes' >/dev/null
rcli SET "sr:{$WID}:wsp" 'snapshot bytes' >/dev/null
rcli HSET "sr:{$SID}:ses" status ready client 127.0.0.1 >/dev/null
rcli RPUSH "sr:{$SID}:rep:0123456789abcdef" '{"final":true,"ok":true}' >/dev/null
refused "read a session pool (LRANGE)" LRANGE sr:sespool:no-runner-offers-it 0 -1
refused "take a session pool's entry (LPOP)" LPOP sr:sespool:no-runner-offers-it
refused "take a session pool's entry (BLPOP)" BLPOP sr:sespool:no-runner-offers-it 1
refused "read a session's requests (LRANGE)" LRANGE "sr:{$SID}:req" 0 -1
refused "take a session's request (LPOP)" LPOP "sr:{$SID}:req"
refused "read a request's bytes (GET)" GET "sr:{$SID}:data:0123456789abcdef"
refused "take a request's bytes (GETDEL)" GETDEL "sr:{$SID}:data:0123456789abcdef"
refused "read a saved workspace (GET)" GET "sr:{$WID}:wsp"
refused "overwrite a saved workspace (SET)" SET "sr:{$WID}:wsp" x
refused "delete a saved workspace (DEL)" DEL "sr:{$WID}:wsp"
refused "push a reply as if it were the supervisor (RPUSH)" RPUSH "sr:{$SID}:rep:0123456789abcdef" x
is "$(fcli EXISTS "sr:{$WID}:wsp")" 1 "the responder may ask whether a workspace exists"
like "$(fcli HGETALL "sr:{$SID}:ses")" 'ready' "... read a session record"
like "$(fcli BLPOP "sr:{$SID}:rep:0123456789abcdef" 1)" '"final":true' "... and pop its reply list"
is "$(fcli RPUSH "sr:{$SID}:req" '{"op":"end"}')" 2 "... and push requests it cannot read back"
is "$(rcli LLEN sr:sespool:no-runner-offers-it)" 1 "the pool entry is still there, unread"
rcli DEL sr:sespool:no-runner-offers-it "sr:{$SID}:req" "sr:{$SID}:data:0123456789abcdef" "sr:{$WID}:wsp" "sr:{$SID}:ses" >/dev/null

# --- Redis without the scripts: 503 from the responders, until the runner reconnects
is "$(rcli SCRIPT FLUSH)" OK "the admin flushes Redis's scripts (as a restart would lose them)"
echo 'print("hello")' >secret/hello.py
submit_tar secret '{"entrypoint":"hello.py"}'
is "$HTTP_STATUS" 503 "a submit then is 503"
like "$(json .reason)" 'job store is \(re\)starting' "... saying the job store is (re)starting"
like "$(json .retry_after)" '^[0-9]+$' "... with retry_after"
like "$HTTP_HEADERS" '^[Rr]etry-[Aa]fter: [0-9]+' "... and a Retry-After header"
# The runner's connections drop (as when Redis restarts): it loads every
# script again before anything else, on its own.
rcli CLIENT KILL USER sandrun-runner >/dev/null
for _ in $(seq 100); do
	submit_tar secret '{"entrypoint":"hello.py"}'
	[ "$HTTP_STATUS" = 503 ] || break
	sleep 0.2
done
is "$HTTP_STATUS" 200 "once the runner reconnects, submits are accepted again"
wait_job "$(json .job_id)" 60
is "$(json .status "$STATUS_JSON")" completed "... and the job completes"
is "$(rcli SCRIPT EXISTS $(awk '{ print $1 }' <<<"$shas") | sort -u)" 1 \
	"the runner loaded every one of the scripts"

# --- the runner's identity still loads and runs scripts; the admin's ACL log names the refusals
like "$(rcli ACL LOG 50)" 'sandrun-fcgi' "Redis's ACL LOG records the responder's refused commands"
done_testing
