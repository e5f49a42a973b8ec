#!/usr/bin/env bash
# Output and failures as a user reads them: stdout and stderr apart and
# interleaved, the JSON form, a failing job's exit code, a timeout, the log
# cap with its truncation marker.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar
stack_start --set log_max_bytes=4096

cd "$WORK"
mkdir -p streams
# Two pipes carry no timestamps: writes a few milliseconds apart keep their
# order, writes in the same instant may be read either way round.
cat > streams/main.py <<'PY'
import sys, time
print("out 1"); time.sleep(0.05)
print("err 1", file=sys.stderr); time.sleep(0.05)
print("out 2"); time.sleep(0.05)
print("err 2", file=sys.stderr)
sys.exit(3)
PY
run_job streams '{"entrypoint":"main.py"}'
is "$(json .status "$STATUS_JSON")" failed "a non-zero exit is failed"
is "$(json .reason "$STATUS_JSON")" exit_code "... with reason exit_code"
is "$(json .execution_metadata.exit_code "$STATUS_JSON")" 3 "... and the exit code recorded"
is "$(logs "$JOB_ID")" "out 1
out 2" "GET /logs is stdout alone"
is "$(logs "$JOB_ID" stream=stderr)" "err 1
err 2" "?stream=stderr is stderr alone"
is "$(logs "$JOB_ID" stream=both)" "out 1
err 1
out 2
err 2" "?stream=both interleaves them in order"
j=$(logs "$JOB_ID" format=json)
is "$(json .stdout "$j")" "out 1
out 2" "?format=json has stdout"
is "$(json .stderr "$j")" "err 1
err 2" "?format=json has stderr"
is "$(json .truncated.stdout "$j")" false "?format=json says nothing was truncated"
j=$(curl -sS --cacert "$SANDRUN_CACERT" -H 'Accept: application/json' "$SANDRUN_URL/logs/$JOB_ID")
is "$(json .stderr "$j")" "err 1
err 2" "Accept: application/json gives the JSON form too"

mkdir -p signal && printf 'kill -9 $$\n' > signal/main.sh
run_job signal '{"entrypoint":"main.sh"}'
is "$(json .status "$STATUS_JSON")" failed "a job killed by a signal is failed"
is "$(json .execution_metadata.signal "$STATUS_JSON")" 9 "... and the signal recorded"

mkdir -p slow && printf 'echo started\nsleep 30\necho never\n' > slow/main.sh
run_job slow '{"entrypoint":"main.sh","timeout":1}'
is "$(json .status "$STATUS_JSON")" failed "a job past its timeout is failed"
is "$(json .reason "$STATUS_JSON")" timeout "... with reason timeout"
wall=$(json .execution_metadata.wall_seconds "$STATUS_JSON")
like "$wall" '^(1|2)(\.[0-9]+)?$' "... after about one second ($wall s)"
is "$(logs "$JOB_ID")" started "what it printed before is kept"

mkdir -p flood && printf 'import sys\nsys.stdout.write("x" * 100000)\nprint("tail", file=sys.stderr)\n' > flood/main.py
run_job flood '{"entrypoint":"main.py"}'
is "$(json .status "$STATUS_JSON")" completed "a job flooding stdout still completes"
out=$(logs "$JOB_ID")
like "$out" '^x{4096}' "stdout keeps the first log_max_bytes"
like "$out" 'sandrun: stdout truncated after 4096 bytes' "a visible marker says it was truncated"
is "$(json .truncated.stdout "$(logs "$JOB_ID" format=json)")" true "the JSON form says truncated"
is "$(logs "$JOB_ID" stream=stderr)" tail "stderr is kept apart from the flood"

mkdir -p binary && printf 'import sys\nsys.stdout.buffer.write(b"\\xff\\xfe ok\\n")\n' > binary/main.py
run_job binary '{"entrypoint":"main.py"}'
is "$(curl -sS --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/logs/$JOB_ID" | od -An -tx1 | tr -d ' \n')" "fffe206f6b0a" \
	"text logs are the job's bytes, unchanged"
like "$(json .stdout "$(logs "$JOB_ID" format=json)")" 'ok' "the JSON form survives invalid UTF-8"
done_testing
