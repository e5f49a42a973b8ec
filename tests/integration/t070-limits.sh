#!/usr/bin/env bash
# Limits, as a user meets them: each runaway job ends with the right reason,
# honest figures, nothing of it left on the host, and the next job runs.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar pgrep
stack_start --runner-slots 1
cd "$WORK"
JOB_UID=$(uid_base 0)   # job_uid_base + slot 0: the only slot here

job_dir() { rm -rf "$1"; mkdir -p "$1"; echo "$1"; }
nothing_left() { # nothing_left NAME
	local n
	for _ in $(seq 30); do
		n=$(pgrep -u "$JOB_UID" | wc -l)
		[ "$n" -eq 0 ] && break
		sleep 0.1
	done
	is "$n" 0 "$1: no process of the job's uid is left on the host"
	is "$(grep -c " $STACK_DIR/runner" /proc/self/mountinfo)" 0 "$1: no mount of the job is left on the host"
}
next_job_runs() { # next_job_runs NAME
	local d
	d=$(job_dir next)
	echo 'print("next")' > "$d/main.py"
	run_job "$d" '{"entrypoint":"main.py"}' 30
	is "$(logs "$JOB_ID")" next "$1: the next job runs"
}

# --- CPU accounting: a 1-second busy loop is charged 0.7 to 1.5 CPU-seconds
d=$(job_dir busy)
cat > "$d/main.py" <<'PY'
import time
end = time.process_time() + 1.0
while time.process_time() < end:
    pass
PY
run_job "$d" '{"entrypoint":"main.py"}'
cpu=$(json .execution_metadata.cpu_seconds "$STATUS_JSON")
ok "$(awk -v c="$cpu" 'BEGIN { exit !(c >= 0.7 && c <= 1.5) }'; echo $?)" "a 1 s busy loop is charged $cpu CPU-seconds (0.7-1.5)"

# --- threads count too
d=$(job_dir threads)
cat > "$d/main.py" <<'PY'
import threading, time, hashlib
def spin():
    end = time.thread_time() + 0.8
    while time.thread_time() < end:
        hashlib.sha256(b"x" * 100000).digest()   # releases the GIL: both threads really run
ts = [threading.Thread(target=spin) for _ in range(2)]
[t.start() for t in ts]; [t.join() for t in ts]
PY
run_job "$d" '{"entrypoint":"main.py"}'
cpu=$(json .execution_metadata.cpu_seconds "$STATUS_JSON")
ok "$(awk -v c="$cpu" 'BEGIN { exit !(c >= 1.5 && c <= 2.5) }'; echo $?)" "CPU of all threads is counted ($cpu s for two threads of 0.8 CPU-seconds each)"

# --- memory: allocating past memory_mb ends with reason memory_limit
d=$(job_dir memory)
cat > "$d/main.py" <<'PY'
print("allocating", flush=True)
blocks = []
while True:
    blocks.append(bytearray(16 * 1024 * 1024))
PY
run_job "$d" '{"entrypoint":"main.py","memory_mb":64}'
is "$(json .status "$STATUS_JSON")" failed "a job allocating without end fails"
is "$(json .reason "$STATUS_JSON")" memory_limit "... with reason memory_limit"
peak=$(json .execution_metadata.memory_peak_bytes "$STATUS_JSON")
ok "$([ "$peak" -ge 50000000 ] && [ "$peak" -le 80000000 ]; echo $?)" "... its peak memory is about the limit ($peak bytes)"
nothing_left "memory"
next_job_runs "memory"

# --- timeout with an orphan: the whole tree dies
d=$(job_dir orphan)
printf '(sleep 1000 &) ; (setsid sleep 1000 &) ; echo started; while :; do :; done\n' > "$d/main.sh"
run_job "$d" '{"entrypoint":"main.sh","interpreter":"bash","timeout":2}'
is "$(json .reason "$STATUS_JSON")" timeout "a job past its timeout ends with reason timeout"
nothing_left "timeout"
next_job_runs "timeout"

# --- fork bomb: stopped at pids_max, ended by its timeout, the host untouched
d=$(job_dir forkbomb)
printf 'echo started\nb() { b | b & }; b\nsleep 1000\n' > "$d/main.sh"
run_job "$d" '{"entrypoint":"main.sh","interpreter":"bash","timeout":3}'
is "$(json .status "$STATUS_JSON")" failed "a fork bomb fails"
like "$(json .reason "$STATUS_JSON")" '^(timeout|exit_code)$' "... by its timeout or its own exit ($(json .reason "$STATUS_JSON"))"
like "$(logs "$JOB_ID" stream=stderr)" 'fork|Resource temporarily unavailable|retry' "... and it met the process limit"
nothing_left "fork bomb"
next_job_runs "fork bomb"

# --- disk fill: the job's tmpfs is full long before the host's disk
d=$(job_dir disk)
printf 'df -k /work | tail -n 1\ndd if=/dev/zero of=/work/fill bs=1M 2>&1\nexit 0\n' > "$d/main.sh"
before=$(df -k --output=avail / | tail -n 1)
run_job "$d" '{"entrypoint":"main.sh","interpreter":"bash","memory_mb":128}'
out=$(logs "$JOB_ID")
like "$out" 'No space left on device' "a job filling its disk gets ENOSPC"
after=$(df -k --output=avail / | tail -n 1)
ok "$([ $((before - after)) -lt 100000 ]; echo $?)" "... and the host's disk did not take it ($((before - after)) KiB)"
like "$(json .reason "$STATUS_JSON")" '^(null|exit_code|memory_limit)$' "... and ends cleanly ($(json .status "$STATUS_JSON"))"
nothing_left "disk fill"
next_job_runs "disk fill"

# --- output flood on both streams: capped, the runner unharmed
d=$(job_dir flood)
printf 'head -c 50000000 /dev/zero | tr "\\0" x\nhead -c 50000000 /dev/zero | tr "\\0" y >&2\necho done\n' > "$d/main.sh"
run_job "$d" '{"entrypoint":"main.sh","interpreter":"bash"}'
is "$(json .status "$STATUS_JSON")" completed "a job flooding 50 MB on each stream completes"
j=$(logs "$JOB_ID" format=json)
is "$(json .truncated.stdout "$j") $(json .truncated.stderr "$j")" "true true" "... both streams are marked truncated"
ok "$([ "$(logs "$JOB_ID" | wc -c)" -le 1100000 ]; echo $?)" "... stdout was kept at about 1 MiB"
next_job_runs "output flood"
done_testing
