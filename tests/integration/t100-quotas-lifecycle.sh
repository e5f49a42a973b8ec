#!/usr/bin/env bash
# Fair use and the job lifecycle as clients meet them: per-IP quotas that
# hold under concurrency through several responder pools, the 429 shape and
# RateLimit headers, /stats, cancelling a queued job, long-polls, queue
# positions, and retention. 127.0.0.1 and ::1 are two different clients.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar curl
stack_start --fcgi-pools 2 --runner-slots 1 --set quota_cpu_seconds=1.5 --set quota_window_seconds=8 \
	--set retention_seconds=4 --set failed_retention_seconds=3
cd "$WORK"
V6=${SANDRUN_URL/localhost/[::1]}
V4=${SANDRUN_URL/localhost/127.0.0.1}

job_tar() { # job_tar NAME SHELL-CODE : a tarball with main.sh
	rm -rf "$1"; mkdir -p "$1"; printf '%s\n' "$2" > "$1/main.sh"; tar czf "$1.tar.gz" -C "$1" .
}
submit_to() { # submit_to URL TARBALL [QUERY]
	api -X POST "$1/submit${3:+?$3}" -F "files=@$2" -F 'manifest={"entrypoint":"main.sh","interpreter":"sh"}'
}

# --- 50 simultaneous submits from one address through two pools admit exactly 2
# long enough to be still there at the checks below however loaded the
# machine is (make -j2 check); cancelled once they are done with
job_tar sleeper 'sleep 30'
for i in $(seq 50); do
	curl -sS --cacert "$SANDRUN_CACERT" -o "race.$i" -w '%{http_code}\n' -X POST "$V4/submit" \
		-F files=@sleeper.tar.gz -F 'manifest={"entrypoint":"main.sh","interpreter":"sh"}' &
done > race.codes
wait
is "$(grep -c '^200$' race.codes)" 2 "50 parallel submits from one IP: exactly 2 accepted"
is "$(grep -c '^429$' race.codes)" 48 "... and 48 refused with 429"
# a refusal comes from the job quota, or (on a loaded machine, with 50
# uploads at once) from nginx's cap on uploads in flight per address; both say why
bad=0
for f in race.[0-9]*; do
	grep -q 'job_id' "$f" && continue
	r=$(json .reason "$(cat "$f")")
	case $r in *'jobs already queued or running'*|*'too many requests, uploads'*) ;; *) bad=$((bad + 1)); echo "# $f: $(cat "$f")" ;; esac
done
is "$bad" 0 "every refused submit says why"
# one more submit now, with the two still running, meets the quota itself
submit_to "$V4" sleeper.tar.gz
body=$BODY
is "$HTTP_STATUS" 429 "a submit beyond the quota is refused"
is "$(json .error "$body")" "Rate limit exceeded" "the 429 says Rate limit exceeded"
like "$(json .reason "$body")" 'jobs already queued or running' "... and why"
like "$(json .retry_after "$body")" '^[0-9]+$' "... with retry_after"
running=$(for f in race.*; do json .job_id "$(cat "$f")"; done | grep '^job-' | head -n 2)

# --- another address is another client; RateLimit headers on every answer
submit_to "$V6" sleeper.tar.gz
is "$HTTP_STATUS" 200 "::1 is another client: its submit is accepted"
v6job=$(json .job_id)
api "$V6/health"
like "$HTTP_HEADERS" '^[Rr]ate[Ll]imit-[Ll]imit: [0-9]+' "GET /health carries RateLimit-Limit (the CPU-seconds limit)"
like "$HTTP_HEADERS" '^[Rr]ate[Ll]imit-[Rr]emaining: [0-9]+' "... RateLimit-Remaining"
like "$HTTP_HEADERS" '^[Rr]ate[Ll]imit-[Rr]eset: [0-9]+' "... RateLimit-Reset"

# --- queue position and /stats (one runner slot: one job runs, the rest wait)
api "$V6/status/$v6job"
st=$(json .status)
if [ "$st" = queued ]; then
	like "$(json .queue_position)" '^[1-9][0-9]*$' "a queued job has a queue_position ($(json .queue_position))"
else
	ok 0 "a queued job has a queue_position # SKIP it already runs"
fi
api "$V4/stats"
is "$HTTP_STATUS" 200 "GET /stats answers"
is "$(json .your_quota.active_jobs)" 2 "your_quota.active_jobs counts the caller's jobs"
is "$(json .your_quota.can_submit)" false "... and can_submit is false at the limit"
is "$(json .your_quota.limit)" 1.5 "your_quota.limit is the CPU limit"
for f in used available; do like "$(json ".your_quota.$f")" '^[0-9.]+$' "your_quota.$f is a number"; done
like "$(json .system.queue_length)" '^[0-9]+$' "system.queue_length is a number ($(json .system.queue_length))"
like "$(json .system.active_jobs)" '^[0-9]+$' "system.active_jobs is a number ($(json .system.active_jobs))"
like "$(json .system.runners)" '^[0-9]+$' "system.runners is a number ($(json .system.runners))"

# --- cancel a queued job: it never starts, its slot is released
api -X DELETE "$V6/jobs/$v6job"
is "$HTTP_STATUS" 200 "DELETE /jobs/{id} answers 200"
is "$(json .status)" cancelled "... the job is cancelled"
api "$V6/status/$v6job"
is "$(json .status)" cancelled "its status says cancelled"
is "$(json .reason)" cancelled "... with reason cancelled"
api "$V6/stats"
is "$(json .your_quota.active_jobs)" 0 "its quota slot is released"
api -X DELETE "$V6/jobs/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 404 "DELETE of an unknown job is 404"

# --- long-polls: status?wait returns when the job ends, not before, not much after
for id in $running; do api -X DELETE "$V4/jobs/$id"; wait_job "$id" 30; done
ok "$(! grep -q "$v6job.*running in slot" "$STACK_DIR/runner.log"; echo $?)" \
	"after the queue drained, the cancelled job never ran"
job_tar short 'sleep 1; echo waited'
submit_to "$V4" short.tar.gz
id=$(json .job_id)
t0=$(date +%s%N)
api "$V4/status/$id?wait=20"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(json .status)" completed "status?wait=20 answers with the ended job"
ok "$([ "$ms" -ge 700 ] && [ "$ms" -lt 8000 ]; echo $?)" "... after the job's second, not at once, not at the deadline ($ms ms)"
job_tar long 'sleep 5'
submit_to "$V4" long.tar.gz
id=$(json .job_id)
t0=$(date +%s%N)
api "$V4/status/$id?wait=1"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
like "$(json .status)" '^(queued|running)$' "status?wait=1 on a longer job gives its current status"
ok "$([ "$ms" -ge 900 ] && [ "$ms" -lt 4000 ]; echo $?)" "... after about a second ($ms ms)"
api "$V4/status/$id?wait=abc"
is "$HTTP_STATUS" 400 "a bad wait is 400"
is "$(json .field)" wait "... naming wait"
wait_job "$id" 30
submit_to "$V4" long.tar.gz "wait=1"
is "$HTTP_STATUS" 200 "submit?wait=1 on a longer job answers 200 when the wait ends first"
like "$(json .status)" '^(queued|running)$' "... with the status object ($(json .status))"
like "$HTTP_HEADERS" '^[Ll]ocation: /status/job-' "... and its Location"
wait_job "$(json .job_id)" 30
submit_to "$V4" short.tar.gz "wait=20"
is "$HTTP_STATUS" 200 "submit?wait=20 answers 200 once the job ended"
is "$(json .status)" completed "... with the status object"
like "$HTTP_HEADERS" '^[Ll]ocation: /status/job-' "... and its Location"

# --- the CPU window: 1.5 CPU-seconds per 8 s; over it a 429 with a real retry_after
# (2.5 s of its own CPU, not of wall time: on a loaded machine a wall-clock
# burner may get less than the 1.5 s the check needs)
job_tar burn "exec python3 -c 'import time
t = time.process_time()
while time.process_time() - t < 2.5: pass'"
submit_to "$V6" burn.tar.gz "wait=60"
is "$(json .status)" completed "a CPU burner of 2.5 CPU-seconds completes"
submit_to "$V6" short.tar.gz
is "$HTTP_STATUS" 429 "then the client is over its CPU quota: 429"
like "$(json .reason)" '^CPU quota exhausted \([0-9.]+/1\.5 seconds used\)$' "... the reason says how much ($(json .reason))"
retry=$(json .retry_after)
ok "$([ "$retry" -ge 1 ] && [ "$retry" -le 8 ]; echo $?)" "... retry_after is within the window ($retry s)"
like "$HTTP_HEADERS" "^[Rr]etry-[Aa]fter: $retry" "... and so is Retry-After"
sleep "$retry"; sleep 0.5
submit_to "$V6" short.tar.gz
is "$HTTP_STATUS" 200 "after retry_after the client may submit again"

# --- retention: a completed job is gone after retention_seconds, a failed one sooner
submit_to "$V4" short.tar.gz "wait=20"
done_id=$(json .job_id)
job_tar fail 'exit 3'
submit_to "$V4" fail.tar.gz "wait=20"
fail_id=$(json .job_id)
is "$(json .status)" failed "a failing job fails"
sleep 3.5
api "$V4/status/$fail_id"
is "$HTTP_STATUS" 404 "a failed job is gone after failed_retention_seconds"
api "$V4/logs/$fail_id"
is "$HTTP_STATUS" 404 "... its logs too"
sleep 1
api "$V4/status/$done_id"
is "$HTTP_STATUS" 404 "a completed job is gone after retention_seconds"
# --- nginx's first wall: a request flood from one address gets nginx's JSON 429
mkdir -p flood
# One curl, 64 requests at a time over HTTP/2: fast enough to pass 20 r/s
# plus the burst of 100 however loaded the machine (32 curl processes were
# not, on a busy host).
flood_args=()
for i in $(seq 400); do flood_args+=(-o "flood/$i" "$V6/health"); done
curl -sS --cacert "$SANDRUN_CACERT" --parallel --parallel-max 64 -w '%{http_code}\n' "${flood_args[@]}" > flood.codes
limited=$(grep -c '^429$' flood.codes)
ok "$([ "$limited" -ge 100 ]; echo $?)" "a flood of 400 requests is cut by nginx's limit_req ($limited answered 429)"
is "$(cat flood/* | jq -r 'select(.error == "Rate limit exceeded") | .retry_after' 2>/dev/null | sort -u | head -n 1)" 1 \
	"nginx's 429 is in the JSON error shape, with retry_after"
api "$V4/health"
is "$HTTP_STATUS" 200 "another address is not limited by that flood"
done_testing
