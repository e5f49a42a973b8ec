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
# Over the limit: a charge of 12 s: Remaining 0.
rcli ZADD "$key" "$(date +%s%3N)" "d3:12.000" >/dev/null
check 12.5 0 "over the limit"

until (($(date +%s%3N) > t0 + 10500)); do sleep 0.1; done
check 12 0 "the session's charge aged out"
rcli DEL "$key" >/dev/null
check 0 10 "no charges"
is "$(hdr Reset)" 0 "RateLimit-Reset 0 without charges"
done_testing
