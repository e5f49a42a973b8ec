#!/usr/bin/env bash
# GPU routing, with the GPUs faked by configuration (gpu_name, gpu_vram_gb,
# gpu_cuda_version, gpu_devices): a job that needs a GPU goes only to a
# runner whose GPU matches it (the smallest that does), gets that GPU's
# device nodes and nothing else, and fails at once when no live runner has
# a match. A GPU runner killed mid-job: the job waits for a runner of the
# same GPU, which takes it over once the lease lapses; no other runner
# ever runs it.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq tar redis-cli setsid mknod
stack_start --no-runner --set quota_jobs_max=20 --set quota_cpu_seconds=600
cd "$WORK"

# Fake GPU device nodes: char devices (1,3 is what /dev/null is), one per GPU.
DEV_S=/dev/sandrun-test-gpu-$$-s
DEV_B=/dev/sandrun-test-gpu-$$-b
mknod -m 666 "$DEV_S" c 1 3
mknod -m 666 "$DEV_B" c 1 3
declare -A RUNNER_PID=()
cleanup() {
	local pid
	for pid in "${RUNNER_PID[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
	rm -f "$DEV_S" "$DEV_B"
	stack_stop
}
trap cleanup EXIT

runner_start() { # runner_start NAME UID-BASE CONFIG-LINES...
	local name=$1 uid=$2 conf=$STACK_DIR/$1.conf
	shift 2
	mkdir -p "$STACK_DIR/$name"
	{
		grep -Ev '^[[:space:]]*(runner_name|runner_state_dir|job_uid_base|runner_slots)[[:space:]]*=' \
			"$STACK_DIR/sandrun.conf"
		echo "runner_name = $name"
		echo "runner_state_dir = $STACK_DIR/$name"
		echo "job_uid_base = $uid"
		echo "runner_slots = 1"
		printf '%s\n' "$@"
	} >"$conf"
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null; fi
		done
		exec setsid "$top_builddir/sandrun-runner" -c "$conf" </dev/null >>"$STACK_DIR/$name.log" 2>&1
	) &
	RUNNER_PID[$name]=$!
	disown "$!" 2>/dev/null
}
runner_start gpu-small "$(uid_base 1)" "gpu_name = Fake GPU S" "gpu_vram_gb = 8" "gpu_cuda_version = 11.8" \
	"gpu_devices = $DEV_S"
runner_start gpu-big "$(uid_base 2)" "gpu_name = Fake GPU B" "gpu_vram_gb = 24" "gpu_cuda_version = 12.2" \
	"gpu_devices = $DEV_B"
runner_start cpu "$(uid_base 3)" "gpu_detect = off"
for r in gpu-small gpu-big cpu; do
	runner_wait "$r" "${RUNNER_PID[$r]}"
	ok $? "runner $r announces itself" || { echo "Bail out! runner $r did not come up"; exit 1; }
done
like "$(cat "$STACK_DIR/gpu-big.log")" 'GPU Fake GPU B \(24 GB, CUDA 12.2, 1 device nodes\): reading sr:queue:gpu:24g-cuda12.2' \
	"a GPU runner says which GPU it has and which queue it reads"

# A GPU declared badly: the runner refuses to start rather than announce what it cannot give.
runner_start badgpu "$(uid_base 5)" "gpu_name = Bad" "gpu_vram_gb = 8" "gpu_cuda_version = 12.0" "gpu_devices = /etc/hostname"
for _ in $(seq 50); do kill -0 "${RUNNER_PID[badgpu]}" 2>/dev/null || break; sleep 0.1; done
! kill -0 "${RUNNER_PID[badgpu]}" 2>/dev/null
ok $? "a runner whose gpu_devices names no device node does not start"
like "$(cat "$STACK_DIR/badgpu.log")" 'gpu: gpu_devices: /etc/hostname is not a device node' "... and says why"
unset 'RUNNER_PID[badgpu]'

api "$SANDRUN_URL/environments"
is "$(json '[.gpus[] | "\(.name)/\(.vram_gb)/\(.cuda_version)"] | sort | join(",")')" \
	"Fake GPU B/24/12.2,Fake GPU S/8/11.8" "GET /environments lists the live GPUs"
is "$(json '[.gpus[] | has("queue")] | any')" false "... without the service's queue names"

mkdir -p probe
cat > probe/main.sh <<'SH'
for d in /dev/*; do case $d in /dev/sandrun-test-gpu-*) echo "gpu node ${d#/dev/}";; esac; done
[ -c /dev/"$1" ] && echo > /dev/"$1" && echo "can use $1"
echo done
SH
gpu_job() { # gpu_job GPU-JSON DEVICE-NAME : runs probe; sets JOB_ID, STATUS_JSON and where (the runner)
	run_job probe "{\"entrypoint\":\"main.sh\",\"interpreter\":\"sh\",\"args\":[\"$2\"],\"gpu\":$1}" 60
	where=$(rcli HGET "sr:{$JOB_ID}:job" runner)
}
s_name=${DEV_S#/dev/}
b_name=${DEV_B#/dev/}

gpu_job '{"required":true,"min_vram_gb":8}' "$s_name"
is "$where" gpu-small "an 8 GB job goes to the smallest GPU that fits"
is "$(json .status "$STATUS_JSON")" completed "... and completes"
out=$(logs "$JOB_ID")
like "$out" "gpu node $s_name" "... with its GPU's device node in /dev"
like "$out" "can use $s_name" "... which it can use"
unlike "$out" "gpu node $b_name" "... and no other GPU's"

gpu_job '{"required":true,"min_vram_gb":16}' "$b_name"
is "$where" gpu-big "a 16 GB job goes to the 24 GB GPU"
like "$(logs "$JOB_ID")" "can use $b_name" "... and gets that GPU"
unlike "$(logs "$JOB_ID")" "gpu node $s_name" "... only that one"

gpu_job '{"required":true,"cuda_version":"12.1"}' "$b_name"
is "$where" gpu-big "a CUDA 12.1 job skips the CUDA 11.8 GPU"
gpu_job '{"required":true,"cuda_version":"11.10"}' "$b_name"
is "$where" gpu-big "versions compare by number: 11.10 is above 11.8"

for i in 1 2 3 4; do
	run_job probe '{"entrypoint":"main.sh","interpreter":"sh","args":["x"]}'
	unlike "$(logs "$JOB_ID")" 'gpu node' "a job without gpu gets no GPU node (run $i, on $(rcli HGET "sr:{$JOB_ID}:job" runner))"
done
run_job probe '{"entrypoint":"main.sh","interpreter":"sh","args":["x"],"gpu":{"required":false}}'
is "$(json .status "$STATUS_JSON")" completed "gpu.required false runs anywhere"

submit_tar probe '{"entrypoint":"main.sh","gpu":{"required":true,"min_vram_gb":48}}'
is "$HTTP_STATUS" 400 "a job no live GPU can hold is refused at once"
is "$(json .field)" gpu "... naming gpu"
like "$(json .reason)" 'at least 48 GB.*Fake GPU B \(24 GB, CUDA 12.2\)' "... saying what it asked and what there is"
submit_tar probe '{"entrypoint":"main.sh","gpu":{"required":true,"cuda_version":"13.0"}}'
is "$HTTP_STATUS" 400 "a CUDA version no live GPU has is refused at once"

# Several 16 GB jobs at once: all wait for the one big GPU slot, none strays.
ids=()
for i in 1 2 3; do
	submit_tar probe "{\"entrypoint\":\"main.sh\",\"interpreter\":\"sh\",\"args\":[\"$b_name\"],\"gpu\":{\"required\":true,\"min_vram_gb\":16}}"
	ids+=("$(json .job_id)")
done
for id in "${ids[@]}"; do
	wait_job "$id" 60
	is "$(json .status "$STATUS_JSON")/$(rcli HGET "sr:{$id}:job" runner)" completed/gpu-big \
		"queued GPU jobs all run on the matching runner ($id)"
done

# The big GPU's runner dies mid-job: nobody else runs the job; a runner with
# the same GPU takes it over once the lease lapses.
printf 'echo "attempt on $(ls /dev | grep -c sandrun-test-gpu) gpu"; sleep 4; echo finished\n' > probe/slow.sh
submit_tar probe '{"entrypoint":"slow.sh","interpreter":"sh","gpu":{"required":true,"min_vram_gb":16}}'
slow=$(json .job_id)
for _ in $(seq 100); do
	[ "$(rcli HGET "sr:{$slow}:job" status)" = running ] && break
	sleep 0.1
done
is "$(rcli HGET "sr:{$slow}:job" runner)" gpu-big "the slow GPU job runs on gpu-big"
big_pid=${RUNNER_PID[gpu-big]}
runner_cgroups() { find /sys/fs/cgroup -maxdepth 6 -type d -name "sandrun-runner-$1" 2>/dev/null | head -3; }
like "$(runner_cgroups "$big_pid")" "sandrun-runner-$big_pid" "gpu-big has its cgroup (sandrun-runner-$big_pid)"
kill -KILL -- "-$big_pid"
unset 'RUNNER_PID[gpu-big]'
# Until its heartbeat lapses (LEASE_MS) responders still count it; after, a 16 GB job is refused.
refused=
for _ in $(seq 40); do
	submit_tar probe '{"entrypoint":"main.sh","gpu":{"required":true,"min_vram_gb":16}}'
	if [ "$HTTP_STATUS" = 400 ]; then refused=1; break; fi
	[ "$HTTP_STATUS" = 200 ] && rcli DEL "sr:{$(json .job_id)}:job" >/dev/null   # not meant to run
	sleep 0.5
done
is "$refused" 1 "once the big GPU's runner is gone, a job needing it is refused"
is "$(rcli HGET "sr:{$slow}:job" status)" running "... and the lost job is not run by another runner"
runner_start gpu-big-2 "$(uid_base 4)" "gpu_name = Fake GPU B" "gpu_vram_gb = 24" "gpu_cuda_version = 12.2" \
	"gpu_devices = $DEV_B"
runner_wait gpu-big-2 "${RUNNER_PID[gpu-big-2]}"
ok $? "a runner with the same GPU comes up"
is "$(runner_cgroups "$big_pid")" "" "the next runner to start removed the killed runner's cgroups"
wait_job "$slow" 60
is "$(json .status "$STATUS_JSON")" completed "it takes the lost GPU job over and runs it to the end"
is "$(rcli HGET "sr:{$slow}:job" runner)/$(rcli HGET "sr:{$slow}:job" attempts)" gpu-big-2/2 \
	"... on the GPU runner, as the second attempt"
like "$(logs "$slow")" 'attempt on 1 gpu' "... with the GPU given again"
done_testing
