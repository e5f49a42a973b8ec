#!/usr/bin/env bash
# Which process holds which secret (SECURITY.md, "Processes and what they
# hold"), read from the live processes' memory while a job sleeps: the
# worker key's 32 private bytes only in the signer (and there: the scanner
# works), in no other process of the runner; neither Redis password in the
# sandbox's init nor in the job process (fresh images), nor in the signer.
# Then: the signed result still verifies; a signer that dies is replaced
# and results stay signed; a signer that cannot come back makes results
# unsigned, loudly, never falsely signed; the signer dies with the runner.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq tar
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 is not installed (the memory scanner)"
verify=$top_builddir/sandrun-verify
scan=$top_srcdir/tests/integration/memscan.py
keydir=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-key.XXXXXX")
key=$keydir/worker.pem

out=$("$top_builddir/sandrun-runner" --generate-key "$key")
ok $? "a worker key is made"
wid=$(printf '%s\n' "$out" | sed -n 's/^   Worker ID: //p')
stack_start --set "worker_key=$key"
trap 'stack_stop; rm -rf "$keydir"' EXIT

conf=$STACK_DIR/sandrun.conf
runner_pw=$(sed -n 's/^redis_runner_password *= *//p' "$conf")
responder_pw=$(sed -n 's/^redis_responder_password *= *//p' "$conf")
# The key's raw private half: the last 32 bytes of its PKCS#8 DER, after
# the fixed Ed25519 prefix (RFC 8410).
key_hex=$(/usr/bin/python3 - "$key" <<'PY'
import base64, sys
pem = open(sys.argv[1]).read().split("-----")[2]
der = base64.b64decode("".join(pem.split()))
assert der[:16] == bytes.fromhex("302e020100300506032b657004220420") and len(der) == 48
print(der[16:].hex())
PY
)
like "$key_hex" '^[0-9a-f]{64}$' "the key's 32 private bytes are read from its PEM file"
secrets=$keydir/secrets     # the scanner reads the secrets from here, not from its command line
{
	echo "worker_key $key_hex"
	printf 'runner_password %s\n' "$(printf '%s' "$runner_pw" | od -An -v -tx1 | tr -d ' \n')"
	printf 'responder_password %s\n' "$(printf '%s' "$responder_pw" | od -An -v -tx1 | tr -d ' \n')"
} >"$secrets"
chmod 600 "$secrets"

children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' ' '\n' | sed '/^$/d'; }
comm_of() { cat /proc/"$1"/comm 2>/dev/null; }
# child_named PID NAME: the first child of PID whose comm is NAME
child_named() {
	local c
	for c in $(children "$1"); do
		[ "$(comm_of "$c")" = "$2" ] && { echo "$c"; return 0; }
	done
	return 1
}
# hits PID SECRET-NAME: the scanner's count
hits() { "$scan" "$secrets" "$1" | awk -v n="$2" '$2 == n { print $3 }'; }

# --- a sleeping job, and every process around it
cd "$WORK"
mkdir -p sleeper
cat > sleeper/main.py <<'PY'
import time
print("sleeping", flush=True)
time.sleep(20)
print("awake")
PY
submit_tar sleeper '{"entrypoint":"main.py","timeout":60}'
job=$(json .job_id)
like "$job" '^job-' "a job that sleeps 20 s is accepted"
for _ in $(seq 1 200); do
	[ "$(logs "$job")" = sleeping ] && break
	sleep 0.1
done
is "$(logs "$job")" sleeping "... and is asleep"

runner=$SANDRUN_PID_RUNNER
signer=$(child_named "$runner" sandrun-signer)
supervisor=$(child_named "$runner" sandrun-job)
init=$(children "$supervisor" | head -n 1)     # its one child: the sandbox's init
jobproc=$(children "$init" | head -n 1)
ok $? "found them: runner $runner, signer $signer, supervisor $supervisor, init $init, job $jobproc"
[ -n "$signer" ] && [ -n "$supervisor" ] && [ -n "$init" ] && [ -n "$jobproc" ]
ok $? "... every one of them"
like "$(readlink "/proc/$init/exe")" '/sandrun-init$' "init runs the sandrun-init program, not a copy of the supervisor"
is "$(tr -d '\0' <"/proc/$jobproc/comm")" python3 "the job process is the job's python3"

report=$("$scan" "$secrets" "$runner" "$signer" "$supervisor" "$init" "$jobproc")
printf '%s\n' "$report" | sed 's/^/# scan: /'
count() { printf '%s\n' "$report" | awk -v p="$1" -v n="$2" '$1 == p && $2 == n { print $3 }'; }

# (a) the key: in the signer, and nowhere else
c=$(count "$signer" worker_key)
[ "${c:-0}" -ge 1 ]
ok $? "the signer holds the worker key's private bytes (the scanner finds a secret that is there): $c"
for p in "$runner" "$supervisor" "$init" "$jobproc"; do
	is "$(count "$p" worker_key)" 0 "the key is not in $(comm_of "$p") (pid $p)"
done
# (b), (c) the Redis passwords: never in the sandbox, nor in the signer
c=$(count "$runner" runner_password)
[ "${c:-0}" -ge 1 ]
ok $? "the runner main holds its Redis password (the scanner finds it): $c"
for p in "$init" "$jobproc" "$signer"; do
	is "$(count "$p" runner_password)" 0 "the runner's Redis password is not in $(comm_of "$p") (pid $p)"
	is "$(count "$p" responder_password)" 0 "the responder's Redis password is not in $(comm_of "$p") (pid $p)"
done
is "$(count "$runner" responder_password)" 0 "the responder's password is not in the runner main"

# (d) the signer: what it keeps
is "$(awk '/^Uid:/ { print $2 }' "/proc/$signer/status")" 65534 "the signer runs as nobody"
is "$(awk '/^Seccomp:/ { print $2 }' "/proc/$signer/status")" 2 "... under a seccomp filter"
is "$(ls "/proc/$signer/fd" | sort -n | tr '\n' ' ')" "0 1 2 3 " "... with descriptors 0-3 only"

# --- the result is signed, and verifies
wait_job "$job" 60
is "$(json .status "$STATUS_JSON")" completed "the sleeping job completes"
is "$(json .worker_metadata.worker_id "$STATUS_JSON")" "$wid" "its result names the worker"
printf '%s' "$STATUS_JSON" > status.json
logs "$job" > stdout.txt
logs "$job" stream=stderr > stderr.txt
"$verify" --worker-id "$wid" status.json --stdout stdout.txt --stderr stderr.txt >/dev/null 2>&1
ok $? "sandrun-verify accepts it"

# --- a signer that dies is replaced; results stay signed by the same worker
kill -KILL "$signer"
for _ in $(seq 1 100); do
	grep -q "signer restarted" "$STACK_DIR/runner.log" && break
	sleep 0.1
done
like "$(grep -F "the signer (pid $signer) ended" "$STACK_DIR/runner.log")" "signal 9" \
	"the runner sees its signer killed, and says so"
signer2=$(child_named "$runner" sandrun-signer)
[ -n "$signer2" ] && [ "$signer2" != "$signer" ]
ok $? "... and starts another (pid ${signer2:-none})"
mkdir -p quick
echo 'print("quick")' > quick/main.py
run_job quick '{"entrypoint":"main.py"}'
is "$(json .status "$STATUS_JSON")" completed "a job after the restart completes"
printf '%s' "$STATUS_JSON" > status2.json
logs "$JOB_ID" > stdout2.txt
logs "$JOB_ID" stream=stderr > stderr2.txt
"$verify" --worker-id "$wid" status2.json --stdout stdout2.txt --stderr stderr2.txt >/dev/null 2>&1
ok $? "... and its result, signed by the new signer, verifies"
is "$(hits "$signer2" worker_key | awk '{ print ($1 >= 1) }')" 1 "the new signer holds the key"
is "$(hits "$runner" worker_key)" 0 "... and the runner main still does not"

# --- a signer that cannot come back: results are unsigned, never falsely signed
mv "$key" "$key.gone"
kill -KILL "$signer2"
for _ in $(seq 1 100); do
	grep -q "recorded unsigned until the runner restarts" "$STACK_DIR/runner.log" && break
	sleep 0.1
done
like "$(grep -F "recorded unsigned until the runner restarts" "$STACK_DIR/runner.log")" "worker.pem" \
	"a signer that cannot read its key again is an error in the runner's log, naming the key"
run_job quick '{"entrypoint":"main.py"}'
is "$(json .status "$STATUS_JSON")" completed "a job still completes without a signer"
is "$(json '.worker_metadata.signature // "none"' "$STATUS_JSON")" none "... and its result carries no signature"
like "$(grep -F "$JOB_ID" "$STACK_DIR/runner.log")" "cannot sign the result \(the signer is not running\): recorded unsigned" \
	"... which the runner logs as an error for that job"
printf '%s' "$STATUS_JSON" > status3.json
"$verify" --worker-id "$wid" status3.json >/dev/null 2>&1
ok $((! $?)) "sandrun-verify refuses the unsigned result"
mv "$key.gone" "$key"

# --- the signer ends with its runner, even one killed outright: a second
# runner (the stack's config, its own state directory, name and uids) with
# the key, idle, killed by SIGKILL
sed -e '/^runner_state_dir/d' -e '/^runner_name/d' -e '/^job_uid_base/d' -e '/^runner_slots/d' \
	"$SANDRUN_CONFIG" >"$STACK_DIR/runner2.conf"
cat >>"$STACK_DIR/runner2.conf" <<EOF
runner_state_dir = $STACK_DIR/runner2
runner_name = privsep-second
job_uid_base = $(uid_base 1)
runner_slots = 1
EOF
mkdir -p "$STACK_DIR/runner2"
setsid "$top_builddir/sandrun-runner" -c "$STACK_DIR/runner2.conf" </dev/null >>"$STACK_DIR/runner2.log" 2>&1 &
runner2=$!
runner_wait runner2 "$runner2"
ok $? "a second runner with the key starts"
signer3=$(child_named "$runner2" sandrun-signer)
[ -n "$signer3" ]
ok $? "... with a signer of its own (pid ${signer3:-none})"
kill -KILL "$runner2"
wait "$runner2" 2>/dev/null
for _ in $(seq 1 50); do
	[ -n "$signer3" ] && [ -d "/proc/$signer3" ] || break
	sleep 0.1
done
[ -n "$signer3" ] && [ ! -d "/proc/$signer3" ]
ok $? "the signer dies with its runner killed by SIGKILL"
done_testing
