#!/usr/bin/env bash
# The attack suite: small jobs that try to get out. Each prints RAN when it
# started and PWNED only if its attack worked; a test fails if PWNED appears
# or RAN is missing (the job did not even run, so it proves nothing). Where
# the seccomp filter is the layer under test, the job must also have died
# of SIGSYS (31). Network tests never send a packet off this machine: they
# target the host's own loopback services and read the routing table.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar gcc
stack_start
cd "$WORK"
ATTACKS=$top_srcdir/tests/integration/attacks

# SANDRUN_ATTACKS_IN=session (t290-session-attacks.sh) runs every payload as
# a session command instead: a fresh session per attack, the directory
# uploaded through POST /sessions/{id}/files, the entrypoint run with exec
# in argv form; the session is deleted after. What differs is said where it
# does: a session's loopback is up (its own, in its own network namespace).
MODE=${SANDRUN_ATTACKS_IN:-job}

# session_run NAME DIR MANIFEST-JSON [TARBALL] : the payload as a session's command;
# sets ATTACK_OUT (stdout + stderr) and STATUS_JSON ({"execution_metadata": {"signal"}}).
session_run() {
	local name=$1 dir=$2 manifest=$3 tarball=${4:-} sid entry interp argv
	[ -n "$tarball" ] || { tarball=$(mktemp "$STACK_DIR/upload.XXXXXX"); tar czf "$tarball" -C "$dir" .; }
	api -X POST "$SANDRUN_URL/sessions" -H 'Content-Type: application/json' -d '{}'
	sid=$(json .session_id)
	ATTACK_OUT= STATUS_JSON='{}'
	if [ "$HTTP_STATUS" != 201 ]; then
		echo "# $name: no session: $HTTP_STATUS $BODY"
		return 1
	fi
	api -X POST "$SANDRUN_URL/sessions/$sid/files" -F "files=@$tarball"
	[ "$HTTP_STATUS" = 200 ] || echo "# $name: upload: $HTTP_STATUS $BODY"
	entry=$(json .entrypoint "$manifest")
	interp=$(json '.interpreter // empty' "$manifest")
	[ -n "$interp" ] || case $entry in *.py) interp=python3 ;; *.sh) interp=bash ;; esac
	if [ "$interp" = none ]; then
		argv=$(jq -cn --arg e "./$entry" --argjson m "$manifest" '[$e] + ($m.args // [])')
	else
		argv=$(jq -cn --arg i "$interp" --arg e "$entry" --argjson m "$manifest" '[$i, $e] + ($m.args // [])')
	fi
	api --max-time 90 -X POST "$SANDRUN_URL/sessions/$sid/exec" -H 'Content-Type: application/json' \
		-d "{\"command\": $argv, \"timeout\": 60}"
	ATTACK_OUT="$(json .stdout)$(json .stderr)"
	STATUS_JSON=$(jq -cn --argjson s "$(json '.signal // null')" '{execution_metadata: {signal: $s}}')
	[ "$HTTP_STATUS" = 200 ] || echo "# $name: exec: $HTTP_STATUS $BODY"
	api -X DELETE "$SANDRUN_URL/sessions/$sid"
}

# attack NAME MANIFEST-JSON DIR : runs the job (or the session command), checks the
# markers; leaves STATUS_JSON, and the output for attack_output.
attack() {
	local name=$1 manifest=$2 dir=$3 out
	if [ "$MODE" = session ]; then
		session_run "$name" "$dir" "$manifest"
		out=$ATTACK_OUT
	else
		run_job "$dir" "$manifest" 60
		out=$(logs "$JOB_ID" stream=both)
	fi
	like "$out" 'RAN' "$name: the payload ran"
	unlike "$out" 'PWNED' "$name: the attack failed"
}

# attack_output [stdout] : the last attack's output (both streams; stdout only for a job with "stdout").
attack_output() {
	if [ "$MODE" = session ]; then
		printf '%s' "$ATTACK_OUT"
	elif [ "${1:-}" = stdout ]; then
		logs "$JOB_ID"
	else
		logs "$JOB_ID" stream=both
	fi
}

# Each attack in a directory of its own, as an upload.
job_dir() { rm -rf "$1"; mkdir -p "$1"; echo "$1"; }

# --- network: nothing of the host is reachable, there is no route anywhere
d=$(job_dir net)
cat > "$d/main.py" <<PY
import socket
print("RAN", flush=True)
for port in ($SANDRUN_REDIS_PORT, $SANDRUN_HTTPS_PORT, ${SANDRUN_FCGI_PORTS%% *}):
    for host in ("127.0.0.1", "::1"):
        try:
            socket.create_connection((host, port), timeout=2).close()
            print("PWNED connected to", host, port, flush=True)
        except OSError as e:
            print("refused", host, port, e, flush=True)
routes = [l.split()[1] for l in open("/proc/net/route").read().splitlines()[1:]]
if routes:
    print("PWNED a route exists:", routes)
ifaces = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
if ifaces != ["lo"]:
    print("PWNED interfaces:", ifaces)
import fcntl, struct
s = socket.socket()
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
if flags & 1 and "$MODE" == "job":
    print("PWNED loopback is up")
PY
attack "network" '{"entrypoint":"main.py"}' "$d"

# --- host files: a secret on the host is not visible; /etc is not the host's
secret=$(mktemp /tmp/sandrun-host-secret.XXXXXX)
echo "host-secret-$RANDOM$RANDOM" > "$secret"
chmod 644 "$secret"
d=$(job_dir files)
cat > "$d/main.py" <<PY
import os, glob
print("RAN", flush=True)
secret = open("$secret").read() if os.path.exists("$secret") else None
for path in ["$secret", "/etc/shadow", "/root", "/home", "/var", "/run", "/srv", "/boot",
             "$STACK_DIR/sandrun.conf", "$STACK_DIR/users.acl", "/proc/1/root/etc/shadow"]:
    if os.path.exists(path):
        print("PWNED sees", path)
hostname = open("/proc/sys/kernel/hostname").read().strip()
if hostname != "sandrun":
    print("PWNED host name", hostname)
for f in glob.glob("/etc/*"):
    try:
        if "sandrun-fcgi" in open(f, errors="replace").read():
            print("PWNED service secrets in", f)
    except (IsADirectoryError, PermissionError):
        pass
PY
attack "host files" '{"entrypoint":"main.py"}' "$d"
rm -f "$secret"

# --- the host's own files under /usr and /etc: the environment's /usr is
# bound whole, so what the host added there (npm's global npmrc, where
# registry tokens live; its own CA certificates) must be hidden, and /etc
# holds only what a named interpreter needs. Each path the host has is a
# check (a host without it cannot show a leak: a skip, with the reason).
d=$(job_dir hostview)
hidden_usr="/usr/local/etc /usr/etc /usr/local/share/ca-certificates /usr/share/ca-certificates"
checked=
for path in $hidden_usr; do
	if [ -n "$(ls -A "$path" 2>/dev/null)" ]; then
		checked="$checked $path"
	else
		skip "host files: $path is hidden" "the host's $path is empty or missing"
	fi
done
for path in /etc/perl /etc/python3; do
	if [ -e "$path" ]; then
		checked="$checked $path"
	else
		skip "host files: $path is absent" "the host has no $path"
	fi
done
cat > "$d/main.py" <<PY
import fnmatch, os
print("RAN", flush=True)
# the host's additions under /usr, and /etc pieces no interpreter needs: nothing to read
for path in "$checked".split():
    if os.path.isdir(path) and os.listdir(path):
        print("PWNED lists", path, os.listdir(path)[:5])
    elif os.path.isfile(path):
        print("PWNED sees", path)
for path in ["/usr/local/etc/npmrc", "/usr/etc/npmrc"]:
    try:
        if open(path, "rb").read():
            print("PWNED reads", path)
    except OSError:
        pass
# /etc: the files the sandbox writes and the bind list's names, nothing else of the host's
allowed = ["passwd", "group", "hosts", "hostname", "nsswitch.conf", "localtime", "ld.so.cache",
           "alternatives", "ssl", "java-*-openjdk", "R", "matplotlibrc", "fonts", "os-release"]
for name in os.listdir("/etc"):
    if not any(fnmatch.fnmatch(name, a) for a in allowed):
        print("PWNED host /etc entry", name)
if os.listdir("/etc/ssl") != ["openssl.cnf"]:
    print("PWNED /etc/ssl holds", os.listdir("/etc/ssl"))
if os.path.realpath("/etc/localtime") != "/usr/share/zoneinfo/Etc/UTC":
    print("PWNED the host's time zone", os.path.realpath("/etc/localtime"))
# /proc files that identify or describe the host: empty or unreadable
for path in ["/proc/cmdline", "/proc/config.gz", "/proc/sys/kernel/random/boot_id", "/proc/kcore",
             "/proc/keys", "/proc/kallsyms", "/proc/timer_list", "/proc/sched_debug",
             "/proc/latency_stats", "/proc/timer_stats", "/proc/kpagecount", "/proc/kpageflags",
             "/proc/kpagecgroup", "/proc/partitions", "/proc/diskstats", "/proc/swaps",
             "/proc/iomem", "/proc/ioports"]:
    try:
        with open(path, "rb") as f:
            if f.read(64):
                print("PWNED reads", path, flush=True)
    except OSError:
        pass
for path in ["/proc/acpi", "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/scsi"]:
    try:
        if os.listdir(path):
            print("PWNED lists", path)
    except OSError:
        pass
# what the job sees as the boot id, for the test to compare with the host's
try:
    print("boot id:", open("/proc/sys/kernel/random/boot_id").read().strip())
except OSError as e:
    print("boot id unreadable:", e)
PY
attack "host files under /usr, /etc and /proc" '{"entrypoint":"main.py"}' "$d"
host_boot_id=$(cat /proc/sys/kernel/random/boot_id)
out=$(attack_output)
like "$out" "^boot id" "... the job looked at the boot id"
unlike "$out" "$host_boot_id" "... and did not see the host's"

# --- processes: only the job's own are visible; kill -1 reaches nothing outside
d=$(job_dir procs)
cat > "$d/main.sh" <<'SH'
echo RAN
n=$(ls -d /proc/[0-9]* | wc -l)
[ "$n" -le 6 ] || echo "PWNED sees $n processes"
for p in /proc/[0-9]*; do
	case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in
	*redis-server*|*nginx*|*sandrun-fcgi*|*sandrun-runner*) echo "PWNED sees $(cat $p/cmdline)";;
	esac
done
kill -9 -1 2>/dev/null
echo done-kill
SH
attack "processes and kill -1" '{"entrypoint":"main.sh","interpreter":"bash"}' "$d"
for p in "$SANDRUN_PID_REDIS" "$SANDRUN_PID_NGINX" "$SANDRUN_PID_FCGI" "$SANDRUN_PID_RUNNER"; do
	ok "$(kill -0 "$p" 2>/dev/null; echo $?)" "kill -1 in a job left host process $p alone"
done
if [ "$MODE" = session ]; then
	# kill -9 -1 reaches every process of the session's uid: its shell dies, its
	# agent (a uid of its own as real and saved uid) does not, so the session lives
	api -X POST "$SANDRUN_URL/sessions" -H 'Content-Type: application/json' -d '{}'
	ksid=$(json .session_id)
	api -X POST "$SANDRUN_URL/sessions/$ksid/exec" -H 'Content-Type: application/json' -d '{"command": "sleep 1000 & kill -9 -1"}'
	is "$HTTP_STATUS" 200 "session: kill -9 -1 in the persistent shell is answered"
	api -X POST "$SANDRUN_URL/sessions/$ksid/exec" -H 'Content-Type: application/json' -d '{"command": "echo alive; pgrep -c sleep || true"}'
	like "$HTTP_STATUS:$(json .stdout | tr '\n' ' ')" '^200:alive 0 +$' "... and the session lives on, with a new shell and the sleep gone"
	api -X DELETE "$SANDRUN_URL/sessions/$ksid"
fi

# --- devices, the read-only tree, privileges
d=$(job_dir devs)
cat > "$d/main.py" <<'PY'
import os
print("RAN", flush=True)
for dev in ["/dev/mem", "/dev/kmem", "/dev/kmsg", "/dev/port", "/dev/sda", "/dev/vda", "/dev/tty",
            "/dev/console", "/dev/fuse", "/dev/net/tun"]:
    try:
        os.close(os.open(dev, os.O_RDONLY))
        print("PWNED opened", dev)
    except OSError:
        pass
allowed = {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr", "pts", "shm", "ptmx"}
extra = set(os.listdir("/dev")) - allowed
if extra:
    print("PWNED extra devices", sorted(extra))
for path in ["/usr/bin/evil", "/usr/lib/evil", "/etc/passwd", "/bin/evil", "/evil", "/proc/sys/kernel/hostname"]:
    try:
        with open(path, "a") as f:
            f.write("x")
        print("PWNED wrote", path)
    except OSError:
        pass
if os.getuid() == 0 or os.geteuid() == 0:
    print("PWNED root")
status = open("/proc/self/status").read()
for line in status.splitlines():
    if line.startswith(("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh")) and line.split()[1].strip("0"):
        print("PWNED capability", line)
    if line.startswith("NoNewPrivs") and line.split()[1] != "1":
        print("PWNED no_new_privs off")
    if line.startswith("Seccomp:") and line.split()[1] != "2":
        print("PWNED no seccomp filter", line)
PY
attack "devices, read-only tree, privileges" '{"entrypoint":"main.py"}' "$d"

# --- setuid binaries in the upload do not keep their bit and give nothing
d=$(job_dir suid)
cp /usr/bin/id "$d/suid-id"
chmod 4755 "$d/suid-id"
cat > "$d/main.sh" <<'SH'
echo RAN
[ -u ./suid-id ] && echo "PWNED setuid bit kept"
[ "$(./suid-id -u)" = 0 ] && echo "PWNED euid 0"
exit 0
SH
tar --owner=0 --group=0 -czf suid.tar.gz -C "$d" .
if [ "$MODE" = session ]; then
	session_run "setuid upload" "$d" '{"entrypoint":"main.sh","interpreter":"bash"}' suid.tar.gz
	out=$ATTACK_OUT
else
	api -X POST "$SANDRUN_URL/submit" -F files=@suid.tar.gz -F 'manifest={"entrypoint":"main.sh","interpreter":"bash"}'
	wait_job "$(json .job_id)"
	out=$(logs "$(json .job_id "$STATUS_JSON")" stream=both)
fi
like "$out" RAN "setuid upload: the payload ran"
unlike "$out" PWNED "setuid upload: no setuid bit, no root"

# --- forbidden system calls: each one kills the job with SIGSYS
for sc in mount umount2 unshare unshare_ns setns ptrace bpf keyctl add_key perf_event_open userfaultfd \
	kexec_load init_module finit_module delete_module open_by_handle_at personality clone_newuser \
	clone_newns reboot pivot_root chroot io_uring_setup; do
	d=$(job_dir "sc-$sc")
	cp "$ATTACKS/syscall.py" "$d/main.py"
	attack "syscall $sc" "{\"entrypoint\":\"main.py\",\"args\":[\"$sc\"]}" "$d"
	sig=$(json .execution_metadata.signal "$STATUS_JSON")
	out=$(attack_output)
	if printf '%s' "$out" | grep -q '^refused'; then
		# A documented EPERM/ENOSYS choice (a runtime probes it): refused, not killed.
		ok 0 "syscall $sc: refused with an error ($(printf '%s' "$out" | grep '^refused' | head -n1))"
	else
		is "$sig" 31 "syscall $sc: the job died of SIGSYS"
	fi
done

# --- the 32-bit ABIs (a static binary uploaded as an executable entrypoint)
d=$(job_dir abi)
gcc -O1 -static -o "$d/abi32" "$ATTACKS/abi32.c"
# Does this kernel run i386 code at all? The payload is run here, on the
# host, outside any sandbox: it prints PWNED only when its call returned.
# A kernel without i386 code (no CONFIG_IA32_EMULATION, or ia32_emulation=0)
# kills int $0x80 with SIGSEGV before seccomp sees the call: that attack
# is impossible there, a skip (as in tests/unit/test_seccomp). x32 is
# tested everywhere: its calls come through the 64-bit entry, and seccomp
# sees them (and must kill them) before the kernel looks the number up,
# whether or not it has CONFIG_X86_X32_ABI.
kernel_runs_i386() {
	(cd "$d" && ./abi32 i386) 2>/dev/null | grep -q PWNED
}
for abi in i386 x32; do
	if [ "$abi" = i386 ] && ! kernel_runs_i386; then
		skip "i386 ABI: killed by SIGSYS" "the kernel runs no i386 code (int \$0x80 faults before seccomp)"
		continue
	fi
	attack "$abi ABI" "{\"entrypoint\":\"abi32\",\"interpreter\":\"none\",\"args\":[\"$abi\"]}" "$d"
	is "$(json .execution_metadata.signal "$STATUS_JSON")" 31 "$abi ABI: killed by SIGSYS"
done

# --- other jobs: a concurrent job's files are out of reach
d=$(job_dir victim)
cat > "$d/main.sh" <<'SH'
echo victim-secret > /work/victim-secret.txt
echo victim-secret > /tmp/victim-secret.txt
sleep 4
SH
tar czf victim.tar.gz -C "$d" .
api -X POST "$SANDRUN_URL/submit" -F files=@victim.tar.gz -F 'manifest={"entrypoint":"main.sh","interpreter":"bash"}'
victim=$(json .job_id)
for _ in $(seq 50); do [ "$(json .status "$(curl -sS --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/status/$victim")")" = running ] && break; sleep 0.1; done
d=$(job_dir snoop)
cat > "$d/main.sh" <<'SH'
echo RAN
sleep 0.5
found=$(find / -xdev -name 'victim-secret*' 2>/dev/null; ls /proc/*/root/work /proc/*/root/tmp 2>/dev/null | grep victim)
[ -n "$found" ] && echo "PWNED found $found"
exit 0
SH
attack "another running job's files" '{"entrypoint":"main.sh","interpreter":"bash"}' "$d"
wait_job "$victim"
if [ "$MODE" = session ]; then
	# ... and another live session's: its files, its processes, its uid
	api -X POST "$SANDRUN_URL/sessions" -H 'Content-Type: application/json' -d '{}'
	vsid=$(json .session_id)
	api -X POST "$SANDRUN_URL/sessions/$vsid/exec" -H 'Content-Type: application/json' \
		-d '{"command": "echo s > /work/victim-secret-s; echo s > /tmp/victim-secret-t; sleep 1000 & id -u"}'
	vuid=$(json .stdout | tr -d '\n')
	d=$(job_dir snoop2)
	cat > "$d/main.sh" <<SH
echo RAN
found=\$(find / -xdev -name 'victim-secret*' 2>/dev/null; ls /proc/*/root/work /proc/*/root/tmp 2>/dev/null | grep victim)
[ -n "\$found" ] && echo "PWNED found \$found"
ps -eo user:20,comm= | grep -w sleep && echo "PWNED sees the other session's sleep"
[ "\$(id -u)" = "$vuid" ] && echo "PWNED same uid as the other session ($vuid)"
exit 0
SH
	attack "another live session's files, processes and uid" '{"entrypoint":"main.sh","interpreter":"bash"}' "$d"
	api -X POST "$SANDRUN_URL/sessions/$vsid/exec" -H 'Content-Type: application/json' -d '{"command": "cat /work/victim-secret-s; jobs | wc -l"}'
	like "$(json .stdout | tr '\n' ' ')" '^s 1 +$' "... and that session still has its file and its sleep"
	api -X DELETE "$SANDRUN_URL/sessions/$vsid"
fi

# --- leftovers: nothing of an earlier job survives in any slot
d=$(job_dir litter)
printf 'echo RAN\necho litter > /tmp/litter; echo litter > /work/litter; mkdir -p /tmp/d; exit 0\n' > "$d/main.sh"
for i in 1 2 3; do
	if [ "$MODE" = session ]; then session_run litter "$d" '{"entrypoint":"main.sh","interpreter":"bash"}'
	else run_job "$d" '{"entrypoint":"main.sh","interpreter":"bash"}'; fi
done
d=$(job_dir sweep)
printf 'echo RAN\nls -a /tmp /work | grep -q litter && echo PWNED litter found\nexit 0\n' > "$d/main.sh"
for i in 1 2 3 4; do attack "leftovers of earlier jobs ($i)" '{"entrypoint":"main.sh","interpreter":"bash"}' "$d"; done

# --- Judge0 CVE-2024-28185 and CVE-2024-28189: links planted for the host to follow
sum_before=$(sha256sum /etc/passwd /etc/shadow | sha256sum)
stat_before=$(stat -c '%u %g %a' /etc/passwd /etc/shadow)
d=$(job_dir cve)
cat > "$d/main.sh" <<'SH'
echo RAN
# 28185: links where a host might write results or logs
for n in stdout stderr run.log result.txt output.txt compile_output; do ln -sf /etc/passwd "/work/$n"; done
ln -sf /etc /work/results
# 28189: a file swapped for a link while the job runs, left for the host to chown
echo data > /work/out.txt; rm /work/out.txt; ln -s /etc/shadow /work/out.txt
exit 0
SH
attack "CVE-2024-28185/28189 links" '{"entrypoint":"main.sh","interpreter":"bash","outputs":["*.txt","results/"]}' "$d"
if [ "$MODE" = session ]; then
	# A session's files routes are where the host could follow them: read, write, list, archive.
	api -X POST "$SANDRUN_URL/sessions" -H 'Content-Type: application/json' -d '{}'
	csid=$(json .session_id)
	api -X POST "$SANDRUN_URL/sessions/$csid/files" -F "files=@$(tar czf cve.tar.gz -C "$d" . && echo cve.tar.gz)"
	api -X POST "$SANDRUN_URL/sessions/$csid/exec" -H 'Content-Type: application/json' -d '{"command": "bash main.sh"}'
	for n in stdout out.txt results/passwd; do
		api "$SANDRUN_URL/sessions/$csid/files/$n"
		is "$HTTP_STATUS" 400 "session: GET of the planted link $n is refused"
		unlike "$BODY" 'root:' "... and gives nothing of its target"
	done
	api -X PUT --data-binary 'pwned' "$SANDRUN_URL/sessions/$csid/files/out.txt"
	is "$HTTP_STATUS" 400 "session: PUT through the planted link out.txt is refused"
	api -X PUT --data-binary 'pwned' "$SANDRUN_URL/sessions/$csid/files/results/x"
	is "$HTTP_STATUS" 400 "session: PUT below a link to a directory is refused"
	curl -sS --cacert "$SANDRUN_CACERT" -o cve-out.tar.gz "$SANDRUN_URL/sessions/$csid/archive?path=/work"
	unlike "$(tar xzOf cve-out.tar.gz 2>/dev/null)" 'root:' "session: the workspace archive holds the links, not their targets"
	api -X DELETE "$SANDRUN_URL/sessions/$csid"
fi
is "$(sha256sum /etc/passwd /etc/shadow | sha256sum)" "$sum_before" "the host's /etc/passwd and /etc/shadow are unchanged"
is "$(stat -c '%u %g %a' /etc/passwd /etc/shadow)" "$stat_before" "... and so are their owners and modes"

# --- scheduling: a thread may set the normal policy (libzmq does), never a real-time one
d=$(job_dir sched)
cat > "$d/main.py" <<'PY'
import os
print("RAN", flush=True)
os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
print("SCHED_OTHER set", flush=True)
for policy in (os.SCHED_FIFO, os.SCHED_RR):
    try:
        os.sched_setscheduler(0, policy, os.sched_param(50))
        print("PWNED real-time policy", policy, flush=True)
    except PermissionError:
        print("real-time refused", flush=True)
PY
attack "real-time scheduling" '{"entrypoint":"main.py"}' "$d"
out=$(attack_output stdout)
like "$out" 'SCHED_OTHER set' "a job may set SCHED_OTHER (what libzmq threads do)"
is "$(printf '%s\n' "$out" | grep -c 'real-time refused')" 2 "... and is refused SCHED_FIFO and SCHED_RR"

# --- after all of it, the service is healthy
d=$(job_dir after)
echo 'print("still fine")' > "$d/main.py"
run_job "$d" '{"entrypoint":"main.py"}'
is "$(logs "$JOB_ID")" "still fine" "after the attacks a plain job runs"
done_testing
