#!/usr/bin/env bash
# Optional API keys (sandrun.conf's api_keys_file; fcgi/auth.c): with a
# keys file, a request needs "Authorization: Bearer KEY" of a listed key,
# else 401 in the API's error shape; quotas count per key, with the key's
# own quotas, whatever address it comes from; the key is never logged; a
# key is revoked by editing the file, without a restart; a file that no
# longer parses keeps the keys read before. GET /, /health and /metrics
# need no key.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq curl sha256sum
KEYS=$(mktemp "${TMPDIR:-/tmp}/sandrun-keys.XXXXXX")
chmod 0644 "$KEYS"
gen() { "$top_builddir/sandrun-fcgi" --generate-api-key "$1"; }
alice=$(gen alice) bob=$(gen bob) carol=$(gen carol)
A=$(sed -n 1p <<<"$alice") B=$(sed -n 1p <<<"$bob") C=$(sed -n 1p <<<"$carol")
like "$A" '^sr_[0-9a-f]{64}$' "--generate-api-key prints a key"
is "$(sed -n 2p <<<"$alice" | cut -d' ' -f2)" "sha256:$(printf %s "$A" | sha256sum | cut -c1-64)" \
	"... and its line for the file: its name and its SHA-256, never the key"
{
	echo "# keys of this test"
	echo "$(sed -n 2p <<<"$alice") quota_jobs_max=1"
	echo "$(sed -n 2p <<<"$bob")"
} >"$KEYS"
stack_start --set "api_keys_file=$KEYS" --set quota_jobs_max=3
trap 'rm -f "$KEYS"; stack_stop' EXIT
cd "$WORK"
as() { local key=$1; shift; api -H "Authorization: Bearer $key" "$@"; }
mkdir -p job sleeper && printf 'echo hello\n' >job/main.sh && printf 'sleep 30\n' >sleeper/main.sh
tar czf job.tgz -C job . && tar czf sleeper.tgz -C sleeper .
M='{"entrypoint":"main.sh","interpreter":"sh"}'

# --- no key, a wrong key, a malformed header: 401 in our shape
api -X POST "$SANDRUN_URL/submit" -F files=@job.tgz -F "manifest=$M"
is "$HTTP_STATUS:$(json .error)" "401:Unauthorized" "a submit without a key: 401"
like "$(json .reason)" 'API key' "... saying an API key is needed ($(json .reason))"
like "$(grep -i '^www-authenticate:' <<<"$HTTP_HEADERS")" '^[Ww][Ww][Ww]-[Aa]uthenticate: Bearer' "... with WWW-Authenticate: Bearer"
as "sr_$(printf '0%.0s' $(seq 64))" "$SANDRUN_URL/stats"
is "$HTTP_STATUS:$(json .error)" "401:Unauthorized" "an unknown key: 401"
api -H "Authorization: Basic YWxpY2U6eA==" "$SANDRUN_URL/stats"
is "$HTTP_STATUS" 401 "Basic credentials: 401"
api -H "Authorization: Bearer" "$SANDRUN_URL/stats"
is "$HTTP_STATUS" 401 "Bearer with no key: 401"
for r in / /health /metrics; do
	api "$SANDRUN_URL$r"
	is "$HTTP_STATUS" 200 "GET $r needs no key"
done

# --- a valid key: the API, with the key as the client
as "$B" -X POST "$SANDRUN_URL/submit?wait=30" -F files=@job.tgz -F "manifest=$M"
is "$HTTP_STATUS:$(json .status)" "200:completed" "bob's key: his job runs"
J=$(json .job_id)
as "$B" "$SANDRUN_URL/logs/$J"
is "$HTTP_STATUS:$BODY" "200:hello" "... and he reads its logs"
is "$(rcli HGET "sr:{$J}:job" client)" "key:bob" "the job's client is the key, not the address"
as "$B" "$SANDRUN_URL/stats"
is "$(json .your_quota.limit):$(json .your_quota.active_jobs)" "10:0" "bob's /stats: sandrun.conf's quotas, his own usage"

# --- quotas per key, the key's own, from any address
as "$A" -X POST "$SANDRUN_URL/submit" -F files=@sleeper.tgz -F "manifest=$M"
is "$HTTP_STATUS" 200 "alice's first job is admitted"
S1=$(json .job_id)
as "$A" --interface 127.0.0.2 -X POST "$SANDRUN_URL/submit" -F files=@sleeper.tgz -F "manifest=$M"
is "$HTTP_STATUS" 429 "her second, from another address: 429 (her key's quota_jobs_max=1)"
like "$(json .reason)" '1 jobs already queued or running \(limit 1' "... saying her limit ($(json .reason))"
as "$B" -X POST "$SANDRUN_URL/submit" -F files=@sleeper.tgz -F "manifest=$M"
is "$HTTP_STATUS" 200 "bob from the same address is not held by alice's quota"
S2=$(json .job_id)
as "$A" "$SANDRUN_URL/stats"
is "$(json .your_quota.active_jobs)" 1 "alice's /stats counts her one job"
as "$A" -X DELETE "$SANDRUN_URL/jobs/$S1" >/dev/null
as "$B" -X DELETE "$SANDRUN_URL/jobs/$S2" >/dev/null

# --- never logged
unlike "$(cat "$STACK_DIR"/*.log 2>/dev/null)" "${A#sr_}|${B#sr_}" "no key appears in any log of the stack"

# --- revoked without a restart; added without a restart
pids=$(pgrep -d, -f "sandrun-fcgi -c $STACK_DIR" || true)
grep -v '^bob ' "$KEYS" >"$KEYS.new" && echo "$(sed -n 2p <<<"$carol")" >>"$KEYS.new" && mv "$KEYS.new" "$KEYS"
for _ in $(seq 30); do
	as "$B" "$SANDRUN_URL/stats"
	[ "$HTTP_STATUS" = 401 ] && break
	sleep 0.2
done
is "$HTTP_STATUS" 401 "bob's key removed from the file: 401 within seconds"
as "$C" "$SANDRUN_URL/stats"
is "$HTTP_STATUS" 200 "carol's key, added to the file: 200"
is "$(pgrep -d, -f "sandrun-fcgi -c $STACK_DIR" || true)" "$pids" "... the responders never restarted"
# a file that no longer parses: the keys read before stay
echo "this line is not a key" >>"$KEYS"
sleep 1.2
as "$C" "$SANDRUN_URL/stats"
is "$HTTP_STATUS" 200 "a keys file that does not parse: the keys read before still work"
like "$(cat "$STACK_DIR"/fcgi*.log)" 'api_keys_file .*: line [0-9]+: .*stay in force' "... and the log says why"
done_testing
