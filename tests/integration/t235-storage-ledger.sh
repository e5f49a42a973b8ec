#!/usr/bin/env bash
# The storage ledger's running sum and expiry index (redis/store-lib.lua):
# reading a client's bytes held is O(1) in its jobs, and the figure is the
# same the entries give. What a user relies on: the storage figure /stats
# shows and the quota a submit is checked against count exactly the jobs
# still kept, no more and no less, as jobs are submitted, finish, are
# deleted and expire, and after the sum is lost (a Redis restart of older
# data, a hand edit).
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar curl
stack_start --runner-slots 1 --set retention_seconds=4 --set failed_retention_seconds=4 --set quota_jobs_max=10
cd "$WORK"
A=127.0.3.40
C="{$A}"
LEDGER="sr:store:$C" SUM="sr:storesum:$C" IDX="sr:storeexp:$C"

mkdir job && printf 'echo hi\n' >job/main.sh && tar czf job.tgz -C job .
submit() { api --interface "$A" -X POST "$SANDRUN_URL/submit" -F files=@job.tgz -F 'manifest={"entrypoint":"main.sh","interpreter":"sh"}'; }
stats_used() { api --interface "$A" "$SANDRUN_URL/stats"; json .your_quota.storage_used_bytes; }
# The entries' own figures: how many live entries, and their bytes.
entries_sum() { rcli HVALS "$LEDGER" | awk -v now="$(($(date +%s%N) / 1000000))" '$2 > now { n++; b += $1 } END { printf "%d %d\n", n, b }'; }
sum_of() { printf '%d %d\n' "$(rcli HGET "$SUM" n)" "$(rcli HGET "$SUM" bytes)"; }
# The three agree: n = HLEN = ZCARD, bytes = the entries'.
agree() { # agree WHAT
	local s e
	s=$(sum_of) e=$(entries_sum)
	is "$s" "$e" "$1: the running sum ($s) is the entries' ($e)"
	is "$(rcli HLEN "$LEDGER"):$(rcli ZCARD "$IDX")" "${s%% *}:${s%% *}" "... one index entry per ledger entry"
}

# --- submits and finished jobs
ids=()
for i in 1 2 3; do
	submit
	is "$HTTP_STATUS" 200 "submit $i accepted"
	ids+=("$(json .job_id)")
done
agree "three jobs queued"
for id in "${ids[@]}"; do wait_job "$id" 60; done
agree "three jobs finished (their entries rewritten with their logs' real size)"
used=$(stats_used)
is "$used" "$(entries_sum | cut -d' ' -f2)" "/stats shows the entries' bytes ($used)"
is "$(rcli PTTL "$SUM" | awk '$1 > 0 { print "set" }')" set "the sum has a TTL, as the ledger does"

# --- a job deleted: its entry leaves the sum at once
api --interface "$A" -X DELETE "$SANDRUN_URL/jobs/${ids[0]}"
is "$HTTP_STATUS" 200 "a finished job deleted"
agree "after the delete"
is "$(sum_of | cut -d' ' -f1)" 2 "... two entries left"

# --- the sum lost: the next look rebuilds it from the entries
before=$(sum_of)
rcli DEL "$SUM" >/dev/null
is "$(stats_used)" "${before#* }" "the sum deleted by hand: /stats still shows the same bytes"
is "$(sum_of)" "$before" "... the sum is rebuilt from the entries"
rcli ZREM "$IDX" "$(rcli ZRANGE "$IDX" 0 0)" >/dev/null
stats_used >/dev/null
agree "an index entry removed by hand: rebuilt"

# --- entries expire one by one: each found through the index and taken off
# (the first two jobs expire 4 s after they finished; one submitted 2.5 s
# later outlives them, so the ledger itself stays)
sleep 2.5
submit
late=$(json .job_id)
wait_job "$late" 60
late_bytes=$(rcli HGET "$LEDGER" "$(printf %s "$late" | sha1sum | cut -d' ' -f1)" | cut -d' ' -f1)
for ((i = 0; i < 50; i++)); do
	[ "$(rcli EXISTS "sr:{${ids[1]}}:job")$(rcli EXISTS "sr:{${ids[2]}}:job")" = 00 ] && break
	sleep 0.2
done
sleep 0.3   # the entries' expiries are the records' to the millisecond
is "$(rcli EXISTS "sr:{$late}:job")" 1 "the last job is still kept when the first ones expire"
is "$(stats_used)" "$late_bytes" "/stats then counts the last job's bytes only ($late_bytes)"
is "$(sum_of)" "1 $late_bytes" "... the expired entries left the sum"
agree "after the expiries"

# --- the whole ledger expires: nothing is left behind
for ((i = 0; i < 60; i++)); do [ "$(rcli EXISTS "sr:{$late}:job")" = 0 ] && break; sleep 0.2; done
sleep 0.3
is "$(stats_used)" 0 "every job expired: /stats shows 0 bytes"
is "$(rcli EXISTS "$LEDGER" "$SUM" "$IDX")" 0 "... and no ledger, sum or index is left"
done_testing
