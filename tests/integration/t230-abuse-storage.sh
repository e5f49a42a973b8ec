#!/usr/bin/env bash
# Abuse: Redis memory and runner slots (issue 9, faults 1, 4 and 5).
# Attackers on their own loopback addresses (127.0.3.x) try to fill Redis
# with uploads, outputs and logs, and to hold every runner slot with
# sleeping jobs; a separate innocent client (127.0.3.99) must keep getting
# its jobs run and its results kept, nothing accepted may be lost or stuck,
# Redis must never go past its maxmemory, and the service recovers by
# itself once the abuse stops.
#
# Sized down so it runs in about a minute: Redis maxmemory 200 MB (submits
# refused above 80%, outputs above 95%), 24 MiB of storage per address,
# 8 MB outputs and 8 MB uploads instead of 95 and 90 MB (uploads up to 9 MB).
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar head
MAXMEM=$((200 * 1024 * 1024))
QUOTA=$((24 * 1024 * 1024))
SANDRUN_REDIS_MAXMEMORY=$MAXMEM stack_start --set quota_storage_bytes=$QUOTA \
	--set quota_cpu_seconds=100000 --set upload_max_bytes=9000000 --set retention_seconds=60 --set failed_retention_seconds=60
cd "$WORK"
INNOCENT=127.0.3.99

# from ADDR CURL-ARGS... : api, from that source address
from() {
	local addr=$1
	shift
	api --interface "$addr" "$@"
}
# submit_from ADDR DIR MANIFEST
submit_from() {
	local tarball
	tarball=$(mktemp "$WORK/upload.XXXXXX")
	tar czf "$tarball" -C "$2" .
	from "$1" -X POST "$SANDRUN_URL/submit" -F "files=@$tarball" -F "manifest=$3"
	rm -f "$tarball"
}
# wait_final ID [SECONDS]: until the job leaves queued/running (any address may ask)
wait_final() {
	wait_job "$1" "${2:-60}"
}
redis_used() { rcli INFO memory | tr -d '\r' | sed -n 's/^used_memory:\([0-9]*\)$/\1/p'; }

# Redis's memory, sampled all along: it must never pass maxmemory.
( while [ -d "$WORK" ]; do redis_used >>"$WORK/used.samples" 2>/dev/null; sleep 0.2; done ) &
SAMPLER=$!
trap 'kill $SAMPLER 2>/dev/null; stack_stop' EXIT

mkdir big small sleeper logs
printf 'head -c 8000000 /dev/urandom > big.bin\necho wrote\n' >big/job.sh
printf 'head -c 1000000 /dev/urandom > small.bin\necho small\n' >small/job.sh
printf 'echo sleeping; sleep 30\n' >sleeper/job.sh
printf 'head -c 3000000 /dev/zero | tr "\\0" o; head -c 3000000 /dev/zero | tr "\\0" e >&2\n' >logs/job.sh
BIG='{"entrypoint":"job.sh","interpreter":"bash","outputs":["big.bin"]}'
SMALL='{"entrypoint":"job.sh","interpreter":"bash","outputs":["small.bin"]}'
PLAIN='{"entrypoint":"job.sh","interpreter":"bash"}'

# ---------------------------------------------------------------- uploads
# Fault 4: queued uploads went past maxmemory (1,412 MB against 1,074 MB).
# The runner is stopped, so uploads pile up; 16 addresses x 2 uploads of
# 8 MB of random bytes (256 MB) against a 200 MB Redis.
head -c 8000000 /dev/urandom >blob.bin
mkdir up && cp blob.bin up/blob.bin && printf 'echo hi\n' >up/job.sh
tar cf up.tar -C up .
kill -STOP "$SANDRUN_PID_RUNNER"
accepted=0 refused=0 other=0 ids=()
for i in $(seq 10 25); do
	for k in 1 2; do
		from "127.0.3.$i" -X POST "$SANDRUN_URL/submit" -F "files=@up.tar" -F "manifest=$PLAIN"
		case $HTTP_STATUS in
		200) accepted=$((accepted + 1)); ids+=("$(json .job_id)") ;;
		503) refused=$((refused + 1)); last503=$BODY; last503h=$HTTP_HEADERS ;;
		*) other=$((other + 1)); echo "# unexpected: $HTTP_STATUS $BODY" ;;
		esac
	done
done
echo "# uploads: $accepted accepted, $refused refused with 503, $other other; Redis at $(redis_used) of $MAXMEM bytes"
ok "$([ "$accepted" -ge 10 ] && [ "$refused" -ge 4 ] && [ "$other" -eq 0 ]; echo $?)" \
	"32 queued 8 MB uploads against a 200 MB Redis: the first are accepted, the rest refused with 503"
like "$last503" '"reason": *"the service is holding as much data as it can' "... the 503 says why"
like "$last503h" '^[Rr]etry-[Aa]fter: [0-9]+' "... with Retry-After"
# The uploads passed through Redis's query buffers too (twice each while a
# submit runs); Redis shrinks an idle connection's buffer within seconds.
for ((i = 0; i < 50; i++)); do [ "$(redis_used)" -le $((MAXMEM * 85 / 100)) ] && break; sleep 0.2; done
echo "# Redis holds $(redis_used) bytes once its connections' buffers are shrunk"
ok "$([ "$(redis_used)" -le $((MAXMEM * 80 / 100)) ]; echo $?)" "... and Redis holds no more than its mark"
upload_peak=$(sort -n "$WORK/used.samples" | tail -1)
echo "# Redis used_memory peaked at $upload_peak bytes during the uploads"
ok "$([ "$upload_peak" -le $((MAXMEM * 80 / 100)) ]; echo $?)" \
	"... and never went past its mark: refused uploads never reach Redis, admitted ones are reserved at their peak"
api "$SANDRUN_URL/health"
is "$(json .status)" degraded "/health says degraded when the largest upload would be refused"
# The uploads' owners cancel them: the memory is free again at once.
for id in "${ids[@]}"; do api -X DELETE "$SANDRUN_URL/jobs/$id"; done
kill -CONT "$SANDRUN_PID_RUNNER"
api "$SANDRUN_URL/health"
is "$(json .status)" ok "cancelled uploads free the memory: /health is ok again"

# ---------------------------------------------------------------- one client's outputs
# Fault 1: one address filled Redis with 95 MB outputs; then everyone's
# outputs were dropped and reported completed with output_files {}.
A=127.0.3.1
declare -a a_ids=()
for n in 1 2 3 4; do
	submit_from "$A" big "$BIG"
	a_ids+=("$(json .job_id)")
	[ $((n % 2)) -eq 0 ] && { wait_final "${a_ids[n-2]}"; wait_final "${a_ids[n-1]}"; }
done
st1=$(curl -sS --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/status/${a_ids[0]}")
st3=$(curl -sS --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/status/${a_ids[2]}")
st4=$(curl -sS --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/status/${a_ids[3]}")
is "$(json .status "$st1")" completed "one address's first 8 MB output job completes"
is "$(json '.output_files["big.bin"].size' "$st1")" 8000000 "... with its output kept"
is "$(json .status "$st3"),$(json .reason "$st3")" failed,output_limit \
	"past its 24 MiB storage quota, the address's next output job fails with output_limit"
is "$(json '.outputs_not_kept[0].path + " " + .outputs_not_kept[0].kind' "$st3")" "big.bin storage_quota" \
	"... and its status lists the output not kept, and why"
is "$(json '.output_files | length' "$st3")" 0 "... never an output listed that is not there"
like "$(json .error "$st3")" 'storage quota' "... the error says so"
is "$(json .status "$st4"),$(json .reason "$st4")" failed,output_limit "... and so does the one after"
from "$A" "$SANDRUN_URL/stats"
used=$(json .your_quota.storage_used_bytes)
echo "# address A holds $used of $QUOTA bytes"
ok "$([ "$used" -gt 16000000 ] && [ "$used" -le "$QUOTA" ]; echo $?)" "GET /stats shows the address's storage, within its quota"
# An innocent client's output job is unaffected.
submit_from "$INNOCENT" small "$SMALL"
wait_final "$(json .job_id)"
is "$(json .status "$STATUS_JSON")" completed "an innocent address's output job completes meanwhile"
is "$(json '.output_files["small.bin"].size' "$STATUS_JSON")" 1000000 "... with its output"

# ---------------------------------------------------------------- many clients' outputs
# Twelve addresses, two 8 MB output jobs each (192 MB): Redis reaches its
# mark. New submits get 503; outputs that no longer fit are listed as not
# kept; every accepted job ends with its status written.
submit_from "$INNOCENT" sleeper '{"entrypoint":"job.sh","interpreter":"bash","outputs":["*.txt"],"args":[]}'
innocent_running=$(json .job_id)
declare -a m_ids=()
m503=0
for i in $(seq 60 71); do
	for k in 1 2; do
		submit_from "127.0.3.$i" big "$BIG"
		case $HTTP_STATUS in
		200) m_ids+=("$(json .job_id)") ;;
		503) m503=$((m503 + 1)) ;;
		*) echo "# submit from 127.0.3.$i: $HTTP_STATUS $BODY" ;;
		esac
	done
done
stuck=0 completed=0 full=0
for id in "${m_ids[@]}"; do
	wait_final "$id" 120 || stuck=$((stuck + 1))
	case "$(json .status "$STATUS_JSON"),$(json .reason "$STATUS_JSON")" in
	completed,null) completed=$((completed + 1)) ;;
	failed,output_limit) full=$((full + 1)) ;;
	*) echo "# $id: $STATUS_JSON" ;;
	esac
done
echo "# 24 output jobs from 12 addresses: ${#m_ids[@]} accepted ($m503 refused with 503), $completed completed, $full failed output_limit, $stuck stuck"
is "$stuck" 0 "no accepted job stays queued or running"
is "$((completed + full))" "${#m_ids[@]}" "every accepted job ended completed or failed with output_limit"
ok "$([ "$m503" -ge 1 ] || [ "$full" -ge 1 ]; echo $?)" "... Redis reached its marks: submits refused or outputs not kept"
api "$SANDRUN_URL/status/$innocent_running"
like "$(json .status)" '^(running|completed)$' "the innocent's job accepted before the fill is still running"
api "$SANDRUN_URL/health"
is "$(json .status)" degraded "with Redis full of outputs, /health says degraded"
like "$(json .reason)" 'memory' "... and why"
from "$INNOCENT" "$SANDRUN_URL/health"
is "$HTTP_STATUS" 200 "... still 200 (Redis is up)"
max_used=$(sort -n "$WORK/used.samples" | tail -1)
echo "# Redis used_memory peaked at $max_used of $MAXMEM bytes"
ok "$([ "$max_used" -le "$MAXMEM" ]; echo $?)" "Redis never went past its maxmemory"

# ---------------------------------------------------------------- recovery
# The abusers' data goes (deleted here; it would expire after 60 s).
for id in "${a_ids[@]}" "${m_ids[@]}"; do api -X DELETE "$SANDRUN_URL/jobs/$id"; done
for ((i = 0; i < 50; i++)); do
	api "$SANDRUN_URL/health"
	[ "$(json .status)" = ok ] && break
	sleep 0.2
done
is "$(json .status)" ok "once the abusers' data is gone, /health is ok"
submit_from "$INNOCENT" small "$SMALL"
wait_final "$(json .job_id)"
is "$(json .status "$STATUS_JSON")" completed "the innocent client's output job runs and keeps its output again"
api -X DELETE "$SANDRUN_URL/jobs/$innocent_running"

# ---------------------------------------------------------------- logs
# Many small jobs with big logs from one address: bounded by its quota.
L=127.0.3.40
log_ok=0 log_429=0 reason=
for n in $(seq 1 30); do
	submit_from "$L" logs "$PLAIN"
	if [ "$HTTP_STATUS" = 429 ]; then
		log_429=1 reason=$(json .reason)
		break
	fi
	[ "$HTTP_STATUS" = 200 ] || { echo "# log job $n: $HTTP_STATUS $BODY"; break; }
	wait_final "$(json .job_id)" 30 && log_ok=$((log_ok + 1))
done
echo "# big-log jobs from one address before its storage quota: $log_ok"
is "$log_429" 1 "one address's big logs stop at its storage quota: 429"
like "$reason" '^storage quota exhausted' "... saying which quota"

# Many tiny writes, alternating between stdout and stderr: each would be a
# log entry of its own (about 20 bytes of Redis each besides its byte). The
# log stops at LOG_ENTRIES_MAX entries, marked, so its reservation holds.
mkdir tiny
printf 'import os, time\nfor i in range(40000):\n    os.write(1 + i %% 2, b"x")\n    time.sleep(0.0001)\n' >tiny/job.py
submit_from 127.0.3.41 tiny '{"entrypoint":"job.py","interpreter":"python3"}'
tiny=$(json .job_id)
wait_final "$tiny" 60
is "$(json .status "$STATUS_JSON")" completed "a job of 40,000 alternating one-byte writes completes"
entries=$(rcli HGET "sr:{$tiny}:job" log_entries)
echo "# its log: $entries entries, $(rcli XLEN "sr:{$tiny}:log") in the stream"
ok "$([ "$entries" -gt 1000 ] && [ "$entries" -le 16384 ]; echo $?)" "... its log is bounded at 16,384 entries ($entries)"
like "$(logs "$tiny" stream=both | tail -c 300)" 'output truncated: more than 16384 separate writes' "... and says it was cut"
api -H 'Accept: application/json' "$SANDRUN_URL/logs/$tiny"
is "$(json .truncated.stdout),$(json .truncated.stderr)" true,true "... both streams marked truncated"

# ---------------------------------------------------------------- runner slots
# Fault 5: two hour-long sleeps from one address held both slots of a
# 2-slot runner. Now one address runs on at most half of the fleet's
# slots; its second job waits, and says why.
S=127.0.3.50
submit_from "$S" sleeper "$PLAIN"; s1=$(json .job_id)
submit_from "$S" sleeper "$PLAIN"; s2=$(json .job_id)
for ((i = 0; i < 50; i++)); do
	api "$SANDRUN_URL/status/$s1"
	[ "$(json .status)" = running ] && break
	sleep 0.2
done
is "$(json .status)" running "a sleeping job from one address runs"
sleep 1
api "$SANDRUN_URL/status/$s2"
is "$(json .status)" queued "... its second waits while the first holds half the slots"
like "$(json .waiting_for)" 'share of the runner slots' "... and says why"
t0=$(date +%s%N)
printf 'echo quick\n' >small/quick.sh
submit_from "$INNOCENT" small '{"entrypoint":"quick.sh","interpreter":"bash"}'
wait_final "$(json .job_id)" 20
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# innocent job from submit to completed while the sleeper ran: $ms ms"
is "$(json .status "$STATUS_JSON")" completed "another address's job runs at once on the other slot"
ok "$([ "$ms" -lt 10000 ]; echo $?)" "... well before the sleeper ends ($ms ms)"
api -X DELETE "$SANDRUN_URL/jobs/$s1"
for ((i = 0; i < 50; i++)); do
	api "$SANDRUN_URL/status/$s2"
	[ "$(json .status)" = running ] && break
	sleep 0.2
done
is "$(json .status)" running "when the first ends, the parked job starts"
api -X DELETE "$SANDRUN_URL/jobs/$s2"

kill $SAMPLER 2>/dev/null
done_testing
