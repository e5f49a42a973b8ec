#!/usr/bin/env bash
# Signed results (docs/signing.md): a worker key made with
# --generate-key, a runner signing with it, GET /workers, and sandrun-verify
# accepting the result as downloaded and refusing it with one byte changed
# in stdout, stderr, an output, the status object or the signature.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq tar
verify=$top_builddir/sandrun-verify
keydir=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-key.XXXXXX")
key=$keydir/worker.pem

out=$("$top_builddir/sandrun-runner" --generate-key "$key")
ok $? "--generate-key succeeds"
like "$out" "^✅ Saved worker key to: $key" "... says where the key is"
wid=$(printf '%s\n' "$out" | sed -n 's/^   Worker ID: //p')
like "$wid" '^[A-Za-z0-9+/]{43}=$' "... and prints the worker id (base64 of 32 bytes)"
is "$(stat -c %a "$key")" 600 "the key file is mode 0600"
like "$(head -n1 "$key")" 'BEGIN PRIVATE KEY' "... a PEM (PKCS#8) private key"
"$top_builddir/sandrun-runner" --generate-key "$key" >/dev/null 2>&1
ok $((! $?)) "an existing key file is never overwritten"

stack_start --set "worker_key=$key"
trap 'stack_stop; rm -rf "$keydir"' EXIT

cd "$WORK"
mkdir -p job
cat > job/main.py <<'PY'
import os, sys
print("hello from a signed job")
print("a line on stderr", file=sys.stderr)
os.makedirs("results", exist_ok=True)
with open("results/out.txt", "w") as f:
    f.write("output bytes\n")
PY
run_job job '{"entrypoint":"main.py","outputs":["results/*"]}'
is "$(json .status "$STATUS_JSON")" completed "the job completes"
is "$(json .worker_metadata.worker_id "$STATUS_JSON")" "$wid" "worker_metadata names the runner's worker id"
like "$(json .worker_metadata.signature "$STATUS_JSON")" '^[A-Za-z0-9+/]{86}==$' "... with a base64 Ed25519 signature"
like "$(json .result_hashes.stdout_sha256 "$STATUS_JSON")" '^[0-9a-f]{64}$' "result_hashes has the stdout SHA-256"

api "$SANDRUN_URL/workers"
is "$HTTP_STATUS" 200 "GET /workers answers"
is "$(json "[.workers[].worker_id] | index(\"$wid\") != null")" true "... and lists the worker id"

printf '%s' "$STATUS_JSON" > status.json
curl -sS --cacert "$SANDRUN_CACERT" -o stdout.txt "$SANDRUN_URL/logs/$JOB_ID"
curl -sS --cacert "$SANDRUN_CACERT" -o stderr.txt "$SANDRUN_URL/logs/$JOB_ID?stream=stderr"
tar czf upload.tgz -C job .
set -- --worker-id "$wid" status.json --stdout stdout.txt --stderr stderr.txt
v=$("$verify" "$@" 2>&1)
ok $? "sandrun-verify accepts the result and the logs as downloaded"
like "$v" "^OK: result of $JOB_ID signed by " "... and says so"

# One output file, when the service hands them out (GET /download/{id}/{path}).
# The last download of every output deletes the job: the logs come first.
out_args=()
code=$(curl -sS --cacert "$SANDRUN_CACERT" -o out.txt -w '%{http_code}' "$SANDRUN_URL/download/$JOB_ID/results/out.txt")
if [ "$code" = 200 ] && [ "$(json '.output_files | length' "$STATUS_JSON")" -ge 1 ]; then
	out_args=(--output results/out.txt=out.txt)
	"$verify" "$@" "${out_args[@]}" >/dev/null 2>&1
	ok $? "sandrun-verify accepts the output file too"
	printf 'Output bytes\n' > out.bad
	"$verify" "$@" --output results/out.txt=out.bad >/dev/null 2>&1
	ok $((! $?)) "one changed byte in an output fails"
else
	echo "# GET /download/{id}/{path}: $code, output_files: $(json .output_files "$STATUS_JSON"): output check skipped"
fi

sed 's/hello/hellO/' stdout.txt > stdout.bad
"$verify" --worker-id "$wid" status.json --stdout stdout.bad --stderr stderr.txt >/dev/null 2>&1
ok $((! $?)) "one changed byte in stdout fails"
sed 's/line/lime/' stderr.txt > stderr.bad
v=$("$verify" --worker-id "$wid" status.json --stdout stdout.txt --stderr stderr.bad 2>&1)
ok $((! $?)) "one changed byte in stderr fails"
like "$v" 'stderr .* does not match' "... naming stderr"
jq -c '.execution_metadata.exit_code = 1' status.json > status.bad
v=$("$verify" --worker-id "$wid" status.bad 2>&1)
ok $((! $?)) "a changed exit_code in the status fails"
like "$v" 'signature does not match' "... as a signature mismatch"
jq -c '.execution_metadata.memory_peak_bytes += 1' status.json > status.bad
"$verify" --worker-id "$wid" status.bad >/dev/null 2>&1
ok $((! $?)) "a changed resource figure fails"
jq -c '.result_hashes.stdout_sha256 |= (.[0:63] + (if .[63:] == "0" then "1" else "0" end))' status.json > status.bad
"$verify" --worker-id "$wid" status.bad >/dev/null 2>&1
ok $((! $?)) "a changed log hash in the status fails"
jq -c '.output_files[].size += 1' status.json > status.bad
"$verify" --worker-id "$wid" status.bad >/dev/null 2>&1
ok $((! $?)) "a changed output size in the status fails"
jq -c '.worker_metadata.signature |= ((if .[0:1] == "A" then "B" else "A" end) + .[1:])' status.json > status.bad
"$verify" --worker-id "$wid" status.bad >/dev/null 2>&1
ok $((! $?)) "a changed signature fails"
other=$keydir/other.pem
owid=$("$top_builddir/sandrun-runner" --generate-key "$other" | sed -n 's/^   Worker ID: //p')
"$verify" --worker-id "$owid" status.json >/dev/null 2>&1
ok $((! $?)) "another worker id does not vouch for it"

done_testing
