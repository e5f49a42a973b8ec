#!/usr/bin/env bash
# The RateLimit headers every answer carries are read without a script, in
# the same round trip as the route's own command (fcgi/quota.c: a deferred
# ZRANGEBYSCORE of the charges in the window). Their figures must be
# quota.lua's (quota-lib.lua's quota_cpu) at every moment, also while
# charges age out of the sliding window: each check compares the headers
# of a GET /stats with the "used" quota.lua computed for the same answer,
# and with the figure the charges give at that time.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq redis-cli
stack_start --no-runner --set quota_window_seconds=10 --set quota_cpu_seconds=10

hdr() { printf '%s\n' "$HTTP_HEADERS" | sed -n "s/^ratelimit-$1: //Ip"; }
# check WANT-USED WANT-REMAINING NAME: one GET /stats, its headers against quota.lua's figure
check() {
	api "$SANDRUN_URL/stats"
	is "$HTTP_STATUS" 200 "$3: GET /stats answers"
	is "$(json .your_quota.used)" "$1" "$3: quota.lua finds $1 CPU-seconds used"
	is "$(hdr Remaining)" "$2" "$3: RateLimit-Remaining is floor(10 - $1) = $2, in the same answer"
}
key='sr:cpu:{127.0.0.1}'
sum='sr:cpusum:{127.0.0.1}'   # its running sum (quota-lib.lua), below
t0=$(date +%s%3N)
# Three charges in the 10 s window, leaving it at t0+2 s, t0+6 s and t0+10 s; the
# session's member format (DIGEST:N:seconds) beside the jobs' (DIGEST:seconds).
rcli ZADD "$key" $((t0 - 8000)) "d1:1.500" $((t0 - 4000)) "d2:2.250" "$t0" "s1:7:0.500" >/dev/null
rcli PEXPIRE "$key" 600000 >/dev/null
check 4.25 5 "three charges"
reset=$(hdr Reset)
ok "$([ "$reset" -ge 1 ] && [ "$reset" -le 2 ]; echo $?)" "RateLimit-Reset is when the oldest charge leaves (1-2 s, got $reset)"
api "$SANDRUN_URL/status/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
is "$HTTP_STATUS" 404 "a job route answers (404 for an unknown job)"
is "$(hdr Remaining)" 5 "... with the same RateLimit-Remaining"

until (($(date +%s%3N) > t0 + 2500)); do sleep 0.1; done
# The header read drops nothing (no write): the aged charge is still in the zset until quota.lua looks.
api "$SANDRUN_URL/health"
is "$(rcli ZCARD "$key")" 3 "the header read left the aged charge in place (read-only)"
is "$(hdr Remaining)" 7 "... and does not count it: RateLimit-Remaining 7"
check 2.75 7 "the oldest charge aged out"
is "$(rcli ZCARD "$key")" 2 "quota.lua dropped it"

until (($(date +%s%3N) > t0 + 6500)); do sleep 0.1; done
check 0.5 9 "the second aged out"
is "$(rcli HGET "$sum" n) $(rcli HGET "$sum" us)" "1 500000" "... quota.lua took it off the running sum (1 charge, 500000 us)"
# Over the limit: a charge of 12 s: Remaining 0.
rcli ZADD "$key" "$(date +%s%3N)" "d3:12.000" >/dev/null
check 12.5 0 "over the limit"

until (($(date +%s%3N) > t0 + 10500)); do sleep 0.1; done
check 12 0 "the session's charge aged out"
rcli DEL "$key" >/dev/null
check 0 10 "no charges"
is "$(hdr Reset)" 0 "RateLimit-Reset 0 without charges"
# The running sum beside the zset (quota-lib.lua): sr:cpusum:{C} = {n, us},
# the charges' count and their seconds in integer micro-seconds. The header
# read takes it and the oldest charge (O(1) in the charges) while n is the
# zset's ZCARD and no charge has left the window unpruned; else it sums the
# window's charges (a zset changed by hand, as above, or without a sum).
now=$(date +%s%3N)
args=()
for ((i = 0; i < 200; i++)); do args+=("$now" "h$i:0.013"); done
rcli ZADD "$key" "${args[@]}" >/dev/null
rcli PEXPIRE "$key" 600000 >/dev/null
api "$SANDRUN_URL/health"
is "$(hdr Remaining)" 7 "200 charges by hand, no sum: the header read sums them (2.6 s): RateLimit-Remaining 7"
check 2.6 7 "200 charges by hand"
is "$(rcli HGET "$sum" n) $(rcli HGET "$sum" us)" "200 2600000" "quota.lua rebuilt the sum: 200 charges, 2600000 us"
ttl=$(rcli PTTL "$sum")
ok "$([ "$ttl" -gt 590000 ] && [ "$ttl" -le 600000 ]; echo $?)" "... expiring with the zset (PTTL $ttl)"
rcli HSET "$sum" us 5000000 >/dev/null
api "$SANDRUN_URL/health"
is "$(hdr Remaining)" 5 "the header read takes the sum while it counts the zset's members (set to 5 s: Remaining 5)"
rcli DEL "$sum" >/dev/null
api "$SANDRUN_URL/health"
is "$(hdr Remaining)" 7 "sum key missing: the header read sums the charges (Remaining 7)"
is "$(rcli ZCARD "$key") $(rcli EXISTS "$sum")" "200 0" "... and writes nothing"
check 2.6 7 "sum key missing"
is "$(rcli HGET "$sum" us)" 2600000 "quota.lua rebuilt it"

# Charges through session_charge.lua, as the runner's Redis user (its ACL):
# each adds to the sum in the same step (HINCRBY), exact after many.
runner_pw=$(sed -n 's/^redis_runner_password *= *//p' "$STACK_DIR/sandrun.conf")
runner_cli() {
	REDISCLI_AUTH=$runner_pw redis-cli -h 127.0.0.1 -p "$SANDRUN_REDIS_PORT" --user sandrun-runner \
		--no-auth-warning --raw "$@"
}
charge_sha=$(awk -v dir="$top_srcdir/redis" '/^--#include / { inc = dir "/" $2; while ((getline line < inc) > 0) print line; close(inc); next } { print }' \
	"$top_srcdir/redis/session_charge.lua" | sha1sum | cut -d' ' -f1)
rcli DEL "$key" "$sum" >/dev/null
now=$(date +%s%3N)
is "$(runner_cli EVALSHA "$charge_sha" 2 'sr:{ses-x}:ses' "$key" ses-x r1 "$now" 0.007 1 600000 0 0 0 "" | head -1)" gone \
	"session_charge.lua runs as the runner (a session without a record: charged all the same)"
# 150 more in one pipe (the window is 10 s), the last one twice (a retried call: charged once)
for ((i = 2; i <= 151; i++)); do
	printf 'EVALSHA %s 2 sr:{ses-x}:ses %s ses-x r1 %s 0.007 %s 600000 0 0 0 ""\n' "$charge_sha" "$key" "$now" "$i"
done | runner_cli >/dev/null
runner_cli EVALSHA "$charge_sha" 2 'sr:{ses-x}:ses' "$key" ses-x r1 "$now" 0.007 151 600000 0 0 0 "" >/dev/null
is "$(rcli HGET "$sum" n) $(rcli HGET "$sum" us)" "151 1057000" \
	"151 charges of 0.007 s (one retried: charged once): the sum is 151 charges, 1057000 us exactly"
exact=$(rcli ZRANGE "$key" 0 -1 | awk -F: '{ split($NF, p, "."); us += p[1] * 1000000 + p[2] * 1000 } END { printf "%d", us }')
is "$exact" 1057000 "... the members' own sum"
ttl=$(rcli PTTL "$sum")
ok "$([ "$ttl" -gt 590000 ] && [ "$ttl" -le 600000 ]; echo $?)" "... expiring with the zset (PTTL $ttl)"
api "$SANDRUN_URL/health"
is "$(hdr Remaining)" 8 "the header read: 1.057 s used, Remaining 8"
check 1.057 8 "after 151 charges"

# A sum without its zset (the zset expired or was deleted first): never counted.
rcli DEL "$key" >/dev/null
api "$SANDRUN_URL/health"
is "$(hdr Remaining) $(hdr Reset)" "10 0" "a sum left without its zset counts nothing (Remaining 10, Reset 0)"
check 0 10 "a sum without its zset"
is "$(rcli EXISTS "$sum")" 0 "quota.lua dropped that sum"
done_testing
