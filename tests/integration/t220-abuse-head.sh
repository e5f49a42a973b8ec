#!/usr/bin/env bash
# HEAD and archive downloads cannot be turned into CPU floods (issue 9):
# HEAD answers the headers a GET would without building or reading
# anything, never waits and never counts as a download; a job's archive is
# built by one request at a time and each address has at most 2 archive
# builds in flight, and at most 4 downloads of any kind (a slow reader holds
# a responder thread) (nginx, JSON 429). Another address stays fast meanwhile.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar pgrep
# 4 responders (the daemon's default): 2 may build archives for one
# address, the others serve everyone else.
stack_start --fcgi-workers 4

cd "$WORK"
# The responders' CPU time so far, in clock ticks (every process of the pool's group).
fcgi_cpu() {
	local p t=0
	for p in $(pgrep -g "$SANDRUN_PID_FCGI"); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
ticks=$(getconf CLK_TCK)
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# timed ADDR METHOD-ARGS URL-PATH : prints "CODE SECONDS BYTES"
timed() {
	local addr=$1 path=${*: -1}
	set -- "${@:2:$#-2}"
	curl -sS --max-time 20 --cacert "$SANDRUN_CACERT" --interface "$addr" -o /dev/null \
		-w '%{http_code} %{time_total} %{size_download}\n' "$@" "$SANDRUN_URL$path" || echo "000 20 0"
}

# Jobs with 20 MB of incompressible outputs: gzipping them is real work.
mkdir big
cat > big/job.sh <<'SH'
head -c 20000000 /dev/urandom > big.bin
printf 'hello\n' > small.txt
SH
make_job() {
	submit_tar big '{"entrypoint":"job.sh","interpreter":"bash","outputs":["*.bin","*.txt"]}'
	local id
	id=$(json .job_id)
	wait_job "$id" 60 && [ "$(json .status "$STATUS_JSON")" = completed ] && echo "$id"
}
A=$(make_job)
ok $([ -n "$A" ] && echo 0 || echo 1) "a job with 20 MB of outputs completes"

# --- eight parallel HEADs of the archive from one address
cpu0=$(fcgi_cpu)
for i in 1 2 3 4 5 6 7 8; do timed 127.0.3.10 -I "/download/$A" > "head.$i" & done
for i in 1 2 3 4 5; do timed 127.0.3.11 /health; sleep 0.1; done > health.head
wait
cpu1=$(fcgi_cpu)
codes=$(cat head.* | awk '{ print $1 }' | sort | uniq -c | awk '{ printf "%s×%s ", $1, $2 }')
is "$codes" "8×200 " "eight parallel HEAD /download/{id} are each 200"
slowest=$(cat head.* | awk '{ print $2 }' | sort -n | tail -1)
below "$slowest" 1
ok $? "... each in under 1 s (slowest $slowest s)"
cpu=$(awk -v d=$((cpu1 - cpu0)) -v t="$ticks" 'BEGIN { printf "%.2f", d / t }')
echo "# responders' CPU for 8 HEADs of a 20 MB archive: $cpu s"
below "$cpu" 0.5
ok $? "no archive was built for them (responders' CPU $cpu s)"
hmax=$(awk '{ print $2 }' health.head | sort -n | tail -1)
echo "# /health from 127.0.3.11 during the HEADs: max $hmax s"
below "$hmax" 1
ok $? "another address's /health stays fast meanwhile ($hmax s)"

api -I "$SANDRUN_URL/download/$A"
like "$HTTP_HEADERS" '^[Cc]ontent-[Tt]ype: application/gzip$' "HEAD of the archive has the GET's Content-Type"
like "$HTTP_HEADERS" "^[Cc]ontent-[Dd]isposition: attachment; filename=\"$A-outputs.tar.gz\"" "... and Content-Disposition"
unlike "$HTTP_HEADERS" '^[Cc]ontent-[Ll]ength: ' "... and no Content-Length (not known without building it)"
api -I "$SANDRUN_URL/download/$A/big.bin"
is "$HTTP_STATUS" 200 "HEAD of one output is 200"
like "$HTTP_HEADERS" '^[Cc]ontent-[Ll]ength: 20000000$' "... with its Content-Length, from the listing"
like "$HTTP_HEADERS" '^[Cc]ontent-[Tt]ype: application/octet-stream$' "... and Content-Type"
api -I "$SANDRUN_URL/download/$A/small.txt"
like "$HTTP_HEADERS" '^[Cc]ontent-[Ll]ength: 6$' "HEAD of the other output: Content-Length 6"
api -I "$SANDRUN_URL/download/$A/nope.txt"
is "$HTTP_STATUS" 404 "HEAD of an output that does not exist is 404, as GET"
api "$SANDRUN_URL/status/$A"
is "$HTTP_STATUS" 200 "HEADs of the archive and of every output did not delete the job"
is "$(rcli SCARD "sr:{$A}:dl")" 0 "... nor count as downloads"

# --- HEAD on every other GET route: quick, no body, never held
mkdir sleepy && echo 'sleep 15' > sleepy/job.sh
submit_tar sleepy '{"entrypoint":"job.sh","interpreter":"bash","timeout":30}'
S=$(json .job_id)
for path in "/status/$S?wait=20" "/logs/$S/stream" "/logs/$S" "/status/$A" "/outputs/$A" "/" \
	"/health" "/stats" "/environments" "/workers" "/metrics"; do
	read -r code secs bytes <<<"$(timed 127.0.0.1 -I "$path")"
	is "$code" 200 "HEAD $path is 200"
	ok "$(below "$secs" 2 && [ "$bytes" = 0 ] && echo 0 || echo 1)" "... at once ($secs s), without a body"
done
api "$SANDRUN_URL/status/$S"
is "$(json .status)" running "the job HEAD /status?wait asked about is still running (the HEAD did not wait for it)"

# --- one job's archive is built by one request at a time
B=$(make_job)
timed 127.0.3.30 "/download/$B" > same.1 &
sleep 0.2
api --interface 127.0.3.31 "$SANDRUN_URL/download/$B"
wait
is "$(awk '{ print $1 }' same.1)" 200 "the first GET of a job's archive gets it"
is "$HTTP_STATUS" 429 "a second, while the first is being built, is 429"
like "$(json .reason)" 'being built' "... saying the archive is being built"
like "$HTTP_HEADERS" '^[Rr]etry-[Aa]fter: [0-9]+$' "... with Retry-After"
api "$SANDRUN_URL/download/$B"
is "$HTTP_STATUS" 404 "once downloaded, the job is gone: no second build"

# --- at most 2 archive builds in flight per address
C=$(make_job); D=$(make_job); E=$(make_job); F=$(make_job)
for j in "$C" "$D" "$E" "$F"; do
	curl -sS --max-time 30 --cacert "$SANDRUN_CACERT" --interface 127.0.3.40 -o "arch.$j" \
		-w '%{http_code}\n' "$SANDRUN_URL/download/$j" > "arch.$j.code" &
done
sleep 0.3
for i in 1 2 3 4 5; do timed 127.0.3.41 /health; sleep 0.1; done > health.arch
wait
n200=$(cat arch.*.code | grep -c '^200$')
n429=$(cat arch.*.code | grep -c '^429$')
echo "# 4 parallel archive GETs from one address: $n200 × 200, $n429 × 429"
ok "$([ "$n200" -ge 1 ] && [ "$n200" -le 2 ] && [ $((n200 + n429)) = 4 ] && echo 0 || echo 1)" \
	"4 parallel archive GETs from one address: at most 2 are built, the rest 429 ($n200 × 200, $n429 × 429)"
refused=$(for j in "$C" "$D" "$E" "$F"; do [ "$(cat "arch.$j.code")" = 429 ] && cat "arch.$j"; done | head -1)
is "$(json .error "$refused")" "Rate limit exceeded" "the refused ones get the API's error shape"
is "$(json .retry_after "$refused")" 1 "... with retry_after"
hmax=$(awk '{ print $2 }' health.arch | sort -n | tail -1)
echo "# /health from 127.0.3.41 during the archive builds: max $hmax s"
below "$hmax" 1
ok $? "another address's /health stays fast during them ($hmax s)"

# --- at most 4 downloads in flight per address: a download holds a
# responder thread while its client reads it, so slow readers are capped.
G=$(make_job)
for i in 1 2 3 4 5 6; do
	curl -sS --max-time 30 --cacert "$SANDRUN_CACERT" --interface 127.0.3.50 --limit-rate 200k \
		-o "dl.$i" -w '%{http_code}\n' "$SANDRUN_URL/download/$G/big.bin" > "dl.$i.code" &
	sleep 0.1
done
sleep 1
for i in 1 2 3 4 5; do timed 127.0.3.51 /health; sleep 0.1; done > health.dl
pkill -f -- "--interface 127.0.3.50" 2>/dev/null
wait
n429=$(cat dl.*.code | grep -c '^429$')
echo "# 6 slow downloads of one output from one address: $n429 refused with 429"
is "$n429" 2 "6 slow downloads from one address: 4 go on, 2 are refused (429)"
is "$(json .error "$(cat "$(grep -l '^429$' dl.*.code | head -1 | sed 's/\.code$//')")")" "Rate limit exceeded" \
	"... in the API's error shape"
hmax=$(awk '{ print $2 }' health.dl | sort -n | tail -1)
below "$hmax" 1
ok $? "another address's /health stays fast meanwhile ($hmax s)"
done_testing
