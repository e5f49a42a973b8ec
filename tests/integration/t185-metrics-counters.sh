#!/usr/bin/env bash
# /metrics counts what happened, kept in Redis (redis/metrics-lib.lua,
# fcgi/metrics.c), so every responder on every host reports the same
# totals: jobs submitted, started and finished by status and reason, the
# runs' CPU seconds, histograms of their wall time and of their sandboxes'
# start, sessions created and ended, and the 4xx the responders answered,
# by route. Each is counted in the same step as what it counts. promtool
# accepts the page, and the Grafana dashboard queries only what it shows.
# What clients send never names a counter: the hash stays small whatever
# the paths.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq cgi-fcgi
stack_start --fcgi-pools 2 --set quota_jobs_max=8 --set quota_running_max=8
cd "$WORK"

# One scrape from one pool, straight over FastCGI as nginx asks it.
scrape_pool() { # scrape_pool PORT
	env -i REQUEST_METHOD=GET DOCUMENT_URI=/metrics SCRIPT_NAME=/metrics REQUEST_URI=/metrics QUERY_STRING= \
		REMOTE_ADDR=127.0.0.1 SERVER_PROTOCOL=HTTP/1.1 cgi-fcgi -bind -connect "127.0.0.1:$1" 2>/dev/null |
		tr -d '\r' | sed '1,/^$/d'
}
value() { printf '%s\n' "$2" | awk -v n="$1" '$1 == n { print $2 }'; }
job() { # job NAME SCRIPT [TIMEOUT]: submits; prints the id
	mkdir -p "$1" && printf '%s\n' "$2" >"$1/main.sh"
	submit_tar "$1" "{\"entrypoint\":\"main.sh\",\"interpreter\":\"sh\",\"timeout\":${3:-30}}"
	json .job_id
}

# --- before anything ran: every counter is there, at zero
api "$SANDRUN_URL/metrics"
zero=$BODY
is "$(value sandrun_jobs_submitted_total "$zero"):$(value sandrun_jobs_started_total "$zero"):$(value sandrun_job_cpu_seconds_total "$zero")" \
	"0:0:0" "a fresh service: 0 submitted, 0 started, 0 CPU seconds"
is "$(value 'sandrun_job_wall_seconds_bucket{le="+Inf"}' "$zero"):$(value sandrun_sandbox_start_seconds_count "$zero")" "0:0" \
	"... and empty histograms, with their buckets"

# --- four jobs, four ends
ok_id=$(job ok 'echo fine')
exit_id=$(job bad 'exit 3')
slow_id=$(job slow 'sleep 20' 1)
sleep_id=$(job sleeper 'sleep 30')
for _ in $(seq 100); do [ "$(rcli HGET "sr:{$sleep_id}:job" status)" = running ] && break; sleep 0.1; done
api -X DELETE "$SANDRUN_URL/jobs/$sleep_id"
is "$(json .status)" cancelled "the fourth is cancelled while it runs"
for id in "$ok_id" "$exit_id" "$slow_id"; do wait_job "$id" 60; done
sleep 1   # the cancelled run's end reaches the runner
# --- a session, created and deleted
api -X POST -H 'Content-Type: application/json' --data-binary '{}' "$SANDRUN_URL/sessions"
is "$HTTP_STATUS" 201 "a session is created"
S=$(json .session_id)
api -X DELETE "$SANDRUN_URL/sessions/$S"
is "$HTTP_STATUS" 200 "... and deleted"
# --- clients' errors: answered by responders, counted by route and status
api "$SANDRUN_URL/status/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 404 "an unknown job: 404"
api "$SANDRUN_URL/status/$ok_id?nosuch=1"
is "$HTTP_STATUS" 400 "an unknown query parameter: 400"
# many distinct paths of one route, and methods a route does not take
for i in $(seq 30); do
	curl -sS -o /dev/null --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/status/x$i-$RANDOM"
	curl -sS -o /dev/null --cacert "$SANDRUN_CACERT" -X POST "$SANDRUN_URL/stats?x$i=1"
done

# --- the totals, from each pool, and as Redis holds them
pools=($SANDRUN_FCGI_PORTS)
a=$(scrape_pool "${pools[0]}")
b=$(scrape_pool "${pools[1]}")
strip() { printf '%s\n' "$1" | grep -vE '^sandrun_(queue_length|jobs_active|runner_slots_busy) '; }
is "$(strip "$b" | md5sum):$(value sandrun_jobs_submitted_total "$b")" "$(strip "$a" | md5sum):4" \
	"both responder pools report the same totals (ports ${pools[*]})"
is "$(value sandrun_jobs_submitted_total "$a")" 4 "sandrun_jobs_submitted_total 4"
is "$(value sandrun_jobs_started_total "$a")" 4 "sandrun_jobs_started_total 4"
is "$(value 'sandrun_jobs_finished_total{status="completed",reason="none"}' "$a")" 1 "one completed"
is "$(value 'sandrun_jobs_finished_total{status="failed",reason="exit_code"}' "$a")" 1 "one failed by its exit code"
is "$(value 'sandrun_jobs_finished_total{status="failed",reason="timeout"}' "$a")" 1 "one failed by its timeout"
is "$(value 'sandrun_jobs_finished_total{status="cancelled",reason="cancelled"}' "$a")" 1 "one cancelled"
# the runs the runner recorded (the cancelled one's result is dropped): three
is "$(value sandrun_job_wall_seconds_count "$a")" 3 "three runs in the wall-time histogram"
is "$(value 'sandrun_job_wall_seconds_bucket{le="+Inf"}' "$a")" 3 "... its +Inf bucket is its count"
ok "$(awk -v s="$(value sandrun_job_wall_seconds_sum "$a")" 'BEGIN { exit !(s >= 1 && s < 30) }'; echo $?)" \
	"... their wall time adds up to the 1 s timeout and more ($(value sandrun_job_wall_seconds_sum "$a") s)"
ok "$(awk -v b="$(value 'sandrun_job_wall_seconds_bucket{le="0.5"}' "$a")" 'BEGIN { exit !(b == 2) }'; echo $?)" \
	"... two of them under 0.5 s, the timed-out one above"
is "$(value sandrun_sandbox_start_seconds_count "$a")" 3 "three sandbox starts measured"
ok "$(awk -v c="$(value sandrun_job_cpu_seconds_total "$a")" 'BEGIN { exit !(c > 0) }'; echo $?)" \
	"the runs' CPU seconds are counted ($(value sandrun_job_cpu_seconds_total "$a"))"
is "$(value 'sandrun_http_client_errors_total{route="/status/{id}",code="404"}' "$a")" 31 \
	"404s of GET /status/{id}: the unknown job and the 30 malformed ids"
is "$(value 'sandrun_http_client_errors_total{route="/status/{id}",code="400"}' "$a")" 1 "the 400 of an unknown parameter"
is "$(value 'sandrun_http_client_errors_total{route="/stats",code="405"}' "$a")" 30 "30 POSTs to /stats: 405"
is "$(value sandrun_sessions_created_total "$a")" 1 "sandrun_sessions_created_total 1"
is "$(value 'sandrun_sessions_ended_total{reason="deleted"}' "$a")" 1 "... and one ended, by DELETE"
fields=$(rcli HLEN sr:metrics)
ok "$([ "$fields" -le 60 ]; echo $?)" "the counters' hash holds $fields fields: none named by what clients sent"
unlike "$(rcli HKEYS sr:metrics)" 'x[0-9]+-' "... no path or parameter of theirs in it"
if command -v promtool >/dev/null 2>&1; then
	out=$(printf '%s\n' "$a" | promtool check metrics 2>&1)
	ok $? "promtool check metrics accepts the page ${out:+($out)}"
else
	skip "promtool check metrics" "promtool is not installed (Debian: prometheus; contrib/quickstart check installs it)"
fi

# --- the dashboard reads these families
dash=$top_srcdir/contrib/grafana/sandrun-dashboard.json
ok "$(jq -e '.panels | length > 0' "$dash" >/dev/null; echo $?)" "contrib/grafana/sandrun-dashboard.json is a dashboard with panels"
missing=
for m in $(jq -r '.. | .expr? // empty' "$dash" | grep -oE 'sandrun_[a-z_]+' | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
	printf '%s\n' "$a" | grep -q "^# TYPE $m " || missing+=" $m"
done
is "${missing:-none}" none "every family the dashboard queries is on /metrics"
done_testing
