#!/usr/bin/env bash
# GET /logs/{id}/stream (Server-Sent Events) and GET /metrics (Prometheus).
#
# The stream as a client reads it with curl -N: events arrive while the job
# runs, in order, typed stdout/stderr, their data joined is the output
# (multi-line chunks, a chunk without a newline, \r, invalid UTF-8, a UTF-8
# character cut between two chunks); a status event first, the final
# status and "end" last. A finished job's stream replays at once;
# Last-Event-ID resumes; a silent job gets keep-alive comments; a cancelled
# job's stream ends, so does a deleted one's, and a client that leaves
# frees its responder. /metrics: the format, and figures that match the
# stack (idle and busy).
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq iconv
# Streams hold a responder each (up to three at once below), and the
# client runs two jobs at once.
# Two jobs at once from one client (the busy-slots metric): not fair shares (t230).
stack_start --fcgi-workers 5 --set quota_jobs_max=4 --set quota_running_max=4

submit_json() { # submit_json FILE CONTENT: a job of one file; prints its id
	local body
	body=$(jq -cn --arg f "$1" --arg s "$2" '{entrypoint: $f, timeout: 60, files: {($f): $s}}')
	api -X POST "$SANDRUN_URL/submit" -H 'Content-Type: application/json' -d "$body"
	json .job_id
}
# sse OUT URL [CURL-ARGS...]: the raw stream into OUT, each line prefixed by
# its arrival time in microseconds and a tab; headers into OUT.headers.
sse() {
	local out=$1 url=$2 line
	shift 2
	curl -sS -N --max-time 60 --cacert "$SANDRUN_CACERT" -D "$out.headers" "$@" "$url" 2>/dev/null |
		while IFS= read -r line; do printf '%s\t%s\n' "${EPOCHREALTIME/./}" "$line"; done >"$out"
}
# events FILE: the events of a captured stream as an SSE client sees them,
# one JSON object a line: {event, id, data, t} (t: when its first line came).
events() {
	jq -R -n -c '
	  def fresh: {event: "message", id: null, data: null, t: null};
	  reduce (inputs | split("\t") | {t: (.[0] | tonumber), l: (.[1:] | join("\t"))}) as $x
	    ({out: [], cur: fresh};
	     if $x.l == "" then
	       (if .cur.data != null then .out += [.cur] else . end) | .cur = fresh
	     else
	       .cur.t //= $x.t |
	       if ($x.l | startswith("event: ")) then .cur.event = $x.l[7:]
	       elif ($x.l | startswith("id: ")) then .cur.id = $x.l[4:]
	       elif ($x.l | startswith("data: ")) then
	         .cur.data = ((if .cur.data == null then "" else .cur.data + "\n" end) + $x.l[6:])
	       else . end
	     end)
	  | .out[]' "$1"
}
raw() { cut -f2- "$1"; }   # the stream's text without arrival times
header() { tr -d '\r' <"$1.headers" | sed -n "s/^$2: //Ip" | head -n 1; }

cd "$WORK"

# --- a live stream: output with pauses, on both streams
cat >live.py <<'PY'
import sys, time
def out(b, f=sys.stdout):
    f.buffer.write(b); f.flush(); time.sleep(0.7)
out(b"line one\nline two\n")                 # a chunk of two lines
out(b"warn: no newline", sys.stderr)        # a chunk without a newline
out(b"a\r\nb\rc\n\n")                       # \r\n and a lone \r are line breaks
out(b"\xff\xfe bad \xe2\x82")               # invalid bytes; a character cut in two ...
out(b"\xac euro")                           # ... and its last byte
time.sleep(1)
PY
LIVE=$(submit_json live.py "$(cat live.py)")
like "$LIVE" '^job-' "a job to stream is queued"
sse live.txt "$SANDRUN_URL/logs/$LIVE/stream"
is "$(head -n 1 live.txt.headers | tr -d '\r' | cut -d' ' -f2)" 200 "GET /logs/{id}/stream is 200"
like "$(header live.txt content-type)" '^text/event-stream' "... as text/event-stream"
is "$(header live.txt cache-control)" no-cache "... with Cache-Control: no-cache"
events live.txt >live.events
is "$(jq -r .event live.events | paste -sd ' ')" "status stdout stderr stdout stdout stdout status end" \
	"the events: a status, the chunks in order with their streams, the final status, end"
like "$(jq -r 'select(.event == "status") | .data | fromjson | .status' live.events | head -n 1)" \
	'^(queued|running)$' "the first status says queued or running"
is "$(jq -r 'select(.event == "stdout") | .data' live.events | jq -Rs .)" \
	"$(printf 'line one\nline two\n\na\nb\nc\n\n\n\xef\xbf\xbd\xef\xbf\xbd bad \n\xe2\x82\xac euro\n' | jq -Rs .)" \
	"stdout events, line by line (\\r as a line break, invalid bytes as U+FFFD, the cut character whole)"
data_of() { jq -sj --argjson n "$1" '[.[] | select(.event == "stdout" or .event == "stderr")][$n].data' live.events; }
is "$(data_of 0 | od -An -c | tr -s ' \n' ' ')" "$(printf 'line one\nline two\n' | od -An -c | tr -s ' \n' ' ')" \
	"a two-line chunk joins back to its exact text, trailing newline included"
is "$(data_of 1)" "warn: no newline" "the stderr chunk without a newline is its own event, typed stderr"
ok "$(iconv -f UTF-8 -t UTF-8 <live.txt >/dev/null 2>&1; echo $?)" "the stream is valid UTF-8 despite the job's bytes"
is "$(jq -r 'select(.event == "status") | .data | fromjson | .status' live.events | tail -n 1)" completed \
	"the last status is the final one (completed)"
is "$(jq -r 'select(.event == "status") | .data | fromjson | .execution_metadata.exit_code' live.events | tail -n 1)" 0 \
	"... the whole status object, as GET /status has it"
is "$(jq -r 'select(.event == "end") | .data | fromjson | .status' live.events)" completed "end says completed"
is "$(jq -r 'select(.event == "stdout" or .event == "stderr") | .id' live.events | grep -cE '^[0-9]+-[0-9]+$')" 5 \
	"every output event has an id (the log entry's)"
is "$(jq -r 'select(.event == "status" or .event == "end") | .id' live.events | sort -u)" null \
	"status and end events carry no id"
ids=$(jq -r 'select(.id) | .id' live.events)
is "$ids" "$(printf '%s\n' "$ids" | sort -t- -k1,1n -k2,2n -u)" "ids increase"
first=$(jq -s '[.[] | select(.event == "stdout")][0].t' live.events)
last=$(jq -s '[.[] | select(.event == "end")][0].t' live.events)
gap_ms=$(((last - first) / 1000))
ok "$([ "$gap_ms" -ge 2500 ]; echo $?)" "the first output arrived while the job ran (${gap_ms} ms before the end)"
is "$(logs "$LIVE" | od -An -tx1 | tr -d ' \n')" \
	"$(printf 'line one\nline two\na\r\nb\rc\n\n\xff\xfe bad \xe2\x82\xac euro' | od -An -tx1 | tr -d ' \n')" \
	"GET /logs/{id} is unchanged: the job's bytes"

# --- replay of a finished job: everything at once, then the end
start=$(date +%s%N)
sse replay.txt "$SANDRUN_URL/logs/$LIVE/stream"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
events replay.txt >replay.events
ok "$([ "$elapsed_ms" -lt 2000 ]; echo $?)" "a finished job's stream ends at once (${elapsed_ms} ms)"
is "$(jq -c 'select(.event != "status") | [.event, .id, .data]' replay.events)" \
	"$(jq -c 'select(.event != "status") | [.event, .id, .data]' live.events)" "... with the same events and ids"
is "$(jq -r .event replay.events | paste -sd ' ')" "status stdout stderr stdout stdout stdout status end" \
	"... between a status first and the final status and end"

# --- Last-Event-ID: resume after the second output event
second=$(jq -sr '[.[] | select(.id)][1].id' live.events)
sse resume.txt "$SANDRUN_URL/logs/$LIVE/stream" -H "Last-Event-ID: $second"
events resume.txt >resume.events
is "$(jq -r '.id' resume.events | grep -v null | paste -sd ' ')" "$(jq -r 'select(.id) | .id' live.events | tail -n +3 | paste -sd ' ')" \
	"Last-Event-ID resumes after that event"
is "$(jq -r .event resume.events | paste -sd ' ')" "status stdout stdout stdout status end" "... and still ends with status and end"
api "$SANDRUN_URL/logs/$LIVE/stream" -H 'Last-Event-ID: nonsense'
is "$HTTP_STATUS" 400 "a malformed Last-Event-ID is 400"

# --- the routes around it
api "$SANDRUN_URL/logs/job-aaaaaaaaaaaaaaaaaaaaaaaaaa/stream"
is "$HTTP_STATUS" 404 "the stream of an unknown job is 404"
is "$(json .error)" "Job not found" "... in the API's error shape"
api "$SANDRUN_URL/logs/$LIVE/nope"
is "$HTTP_STATUS" 404 "/logs/{id}/anything-else is 404"
api "$SANDRUN_URL/logs/$LIVE/stream/more"
is "$HTTP_STATUS" 404 "/logs/{id}/stream/more is 404"

# --- metrics, idle
metrics_value() { printf '%s\n' "$BODY" | sed -n "s/^$1 //p"; }
# metrics_wait BUSY/ACTIVE: scrapes until sandrun_runner_slots_busy/sandrun_jobs_active
# read so; busy comes with the runner's next heartbeat (every 3 s); 6 s at most.
metrics_wait() {
	for _ in $(seq 60); do
		api "$SANDRUN_URL/metrics"
		[ "$(metrics_value sandrun_runner_slots_busy)/$(metrics_value sandrun_jobs_active)" = "$1" ] && return
		sleep 0.1
	done
}
metrics_wait 0/0
is "$HTTP_STATUS" 200 "GET /metrics is 200"
like "$(printf '%s\n' "$HTTP_HEADERS" | sed -n 's/^content-type: //Ip')" '^text/plain; version=0\.0\.4' \
	"... in Prometheus' text format 0.0.4"
is "$(metrics_value sandrun_up)" 1 "sandrun_up 1"
is "$(metrics_value sandrun_runners_live)" 1 "one live runner"
is "$(metrics_value sandrun_runner_slots)" 2 "its two slots"
is "$(metrics_value sandrun_runner_slots_busy)" 0 "none busy when idle"
is "$(metrics_value sandrun_queue_length)" 0 "nothing queued when idle"
is "$(metrics_value sandrun_jobs_active)" 0 "nothing running when idle"
bad=$(printf '%s\n' "$BODY" | grep -vE '^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? -?[0-9][0-9.eE+-]*)$')
is "$bad" "" "every line is a HELP, a TYPE or a sample"
# (a histogram's samples are its name with _bucket, _sum and _count)
missing=$(printf '%s\n' "$BODY" | awk '/^# HELP /{h[$3]=1} /^# TYPE /{t[$3]=$4} !/^#/{n=$1; sub(/\{.*/, "", n)
	b=n; sub(/_(bucket|sum|count)$/, "", b); if (!(h[n] && t[n]) && !(h[b] && t[b] == "histogram")) print n}')
is "$missing" "" "every sample follows the HELP and TYPE of its family"
# Parsers of the format, where installed (Debian: prometheus, python3-prometheus-client).
if command -v promtool >/dev/null 2>&1; then
	printf '%s\n' "$BODY" | promtool check metrics >/dev/null 2>&1
	ok $? "promtool check metrics accepts it"
fi
if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	is "$(printf '%s\n' "$BODY" | /usr/bin/python3 -c 'import sys
from prometheus_client.parser import text_string_to_metric_families as parse
print(sum(1 for f in parse(sys.stdin.read()) for s in f.samples))')" "$(printf '%s\n' "$BODY" | grep -vc '^#')" \
		"prometheus_client parses every sample"
fi
conf=$(cat "$STACK_DIR"/nginx*.conf | sed -n '/location = \/metrics {/,/}/p')
like "$(printf '%s' "$conf" | tr -s ' \n' ' ')" 'allow 127\.0\.0\.1; allow ::1; deny all;' \
	"nginx lets only loopback reach /metrics (the stack listens on loopback only, so a remote client cannot be tried)"

# --- silent jobs: keep-alive, a client that leaves, cancel, deletion
A=$(submit_json job.sh 'sleep 1000')
B=$(submit_json job.sh 'sleep 1000')
for _ in $(seq 100); do
	[ "$(rcli HGET "sr:{$A}:job" status)$(rcli HGET "sr:{$B}:job" status)" = runningrunning ] && break
	sleep 0.1
done
metrics_wait 2/2
is "$(metrics_value sandrun_runner_slots_busy)/$(metrics_value sandrun_jobs_active)" 2/2 \
	"metrics: two slots busy, two jobs active while two jobs run"
sse a.txt "$SANDRUN_URL/logs/$A/stream" &
a_pid=$!
sse b.txt "$SANDRUN_URL/logs/$B/stream" &
b_pid=$!
curl -sS -N --max-time 2 --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/logs/$A/stream" >/dev/null 2>&1
for _ in $(seq 50); do grep -q 'event: status' b.txt 2>/dev/null && break; sleep 0.1; done
rcli DEL "sr:{$B}:job" >/dev/null    # as if it expired while it runs
for _ in $(seq 200); do grep -q ': keep-alive' a.txt && break; sleep 0.1; done
like "$(raw a.txt)" '^: keep-alive$' "a silent job's stream gets a keep-alive comment (every 15 s)"
for _ in $(seq 100); do grep -q 'live log stream ended: the client is gone' "$STACK_DIR"/fcgi*.log && break; sleep 0.1; done
like "$(cat "$STACK_DIR"/fcgi*.log)" 'live log stream ended: the client is gone' \
	"a client that left is noticed within a BLOCK slice: its responder thread is free again"
api -X DELETE "$SANDRUN_URL/jobs/$A"
is "$HTTP_STATUS" 200 "the streamed job is cancelled"
start=$(date +%s%N)
wait "$a_pid"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
ok "$([ "$elapsed_ms" -lt 3000 ]; echo $?)" "... and its stream ends at once (${elapsed_ms} ms)"
events a.txt >a.events
is "$(jq -r .event a.events | paste -sd ' ')" "status status end" "... with the final status and end"
is "$(jq -r 'select(.event == "end") | .data | fromjson | .status' a.events)" cancelled "... which say cancelled"
wait "$b_pid"
events b.txt >b.events
is "$(jq -r 'select(.event == "end") | .data | fromjson | .status' b.events)" null \
	"the stream of a job deleted meanwhile ends with end (status null)"
is "$(jq -r .event b.events | tail -n 1)" end "... as its last event"
# --- nginx lets one address hold 4 streams at once; the 5th is a JSON 429
quiet=$(submit_json quiet.sh 'sleep 20')
holders=()
for i in 1 2 3 4; do
	curl -sS -N --max-time 30 --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/logs/$quiet/stream" >/dev/null 2>&1 &
	holders+=("$!")
done
sleep 1
api "$SANDRUN_URL/logs/$quiet/stream" --max-time 5
is "$HTTP_STATUS" 429 "a fifth stream from one address at once is refused (limit_conn 4)"
is "$(json .error)" "Rate limit exceeded" "... with the API's JSON error"
kill "${holders[@]}" 2>/dev/null; wait "${holders[@]}" 2>/dev/null
api -X DELETE "$SANDRUN_URL/jobs/$quiet"
done_testing
