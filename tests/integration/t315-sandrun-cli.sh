#!/usr/bin/env bash
# The `sandrun` command (clients/python, sandrun.cli) against a whole stack:
# by exit codes (run: exit 0, exit 3, a timeout; -o downloads into ./;
# --json; --help on every command; status, logs, cancel, outputs, download,
# envs, stats, verify), and in a real terminal (tmux: keys typed, the screen
# read): `sandrun run` shows a job's first line while it still runs, a
# progress line while queued and while uploading a large directory, and
# `sandrun shell` keeps cd and export between lines, and Ctrl-D ends and
# deletes its session. With the Debian-built ml-basic environment
# (SANDRUN_TEST_ENVIRONMENTS_DIR, as t160), the getting-started seed's
# train.py, plotting a PNG, runs with --env ml-basic -o '*.png'.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq tmux openssl
PY=/usr/bin/python3
[ -x "$PY" ] || skip_all "$PY is not installed"
keydir=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-key.XXXXXX")
"$top_builddir/sandrun-runner" --generate-key "$keydir/worker.pem" >/dev/null || {
	echo "Bail out! sandrun-runner --generate-key failed"; exit 1; }
ENVS=${SANDRUN_TEST_ENVIRONMENTS_DIR:-}
env_args=()
[ -n "$ENVS" ] && [ -f "$ENVS/ml-basic/environment.json" ] && env_args=(--set "environments_dir=$ENVS")
stack_start --set "worker_key=$keydir/worker.pem" --set quota_cpu_seconds=600 "${env_args[@]}"
TMUX_SOCK=
cleanup() {
	[ -n "$TMUX_SOCK" ] && tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
	stack_stop
	rm -rf "$keydir"
}
trap cleanup EXIT
cd "$WORK"

# the command, as installed: `sandrun` on PATH
mkdir -p bin
printf '#!/bin/sh\nPYTHONPATH=%s PYTHONDONTWRITEBYTECODE=1 exec %s -m sandrun "$@"\n' "$top_srcdir/clients/python" "$PY" >bin/sandrun
chmod +x bin/sandrun
export PATH=$WORK/bin:$PATH SANDRUN_URL SANDRUN_CACERT

# --- by exit codes
mkdir -p t && cd t
printf 'print("hello from the cli")\n' >hello.py
out=$(sandrun run hello.py 2>err.txt); rc=$?
is "$rc:$out" "0:hello from the cli" "run: a job's stdout, exit status 0"
printf 'import sys\nprint("out")\nprint("bad", file=sys.stderr)\nsys.exit(3)\n' >three.py
out=$(sandrun run three.py 2>err.txt); rc=$?
is "$rc:$out:$(cat err.txt)" "3:out:bad" "run: the job's exit status (3), its stderr on stderr"
printf 'import time\nprint("start", flush=True)\ntime.sleep(30)\n' >slow.py
t0=$(date +%s)
sandrun run slow.py --timeout 2 >out.txt 2>err.txt; rc=$?
is "$rc" 124 "run --timeout 2: a timed-out job exits 124"
like "$(cat err.txt)" 'timed out after 2 s' "... and says so on stderr"
ok "$([ $(($(date +%s) - t0)) -lt 20 ]; echo $?)" "... soon"
printf 'import os\nos.makedirs("results", exist_ok=True)\nopen("results/a.txt","w").write("A")\nopen("results/b.csv","w").write("B")\nopen("skip.txt","w").write("no")\n' >outs.py
sandrun run outs.py -o 'results/*' >out.txt 2>err.txt; rc=$?
is "$rc:$(cat results/a.txt 2>/dev/null):$(cat results/b.csv 2>/dev/null)" "0:A:B" "run -o 'results/*': the outputs are downloaded into ./"
ok "$([ ! -e skip.txt ]; echo $?)" "... only those -o names"
like "$(cat err.txt)" 'saved results/a.txt' "... and it says what it saved"
mkdir -p proj/lib
printf 'import sys\nfrom lib.util import twice\nprint(twice(21), sys.argv[1:])\n' >proj/main.py
printf 'def twice(x):\n    return 2 * x\n' >proj/lib/util.py
: >proj/lib/__init__.py
is "$(sandrun run proj --entrypoint main.py -- one 'two words' 2>/dev/null)" "42 ['one', 'two words']" \
	"run DIR --entrypoint F -- ARGS: a directory and the program's arguments"
printf '#!/bin/sh\necho "shell $1"\n' >s.sh
is "$(sandrun run s.sh --bash -- x 2>/dev/null)" "shell x" "run --bash: the interpreter"
j=$(sandrun run three.py --json 2>/dev/null); rc=$?
is "$rc:$(json .status "$j"):$(json .exit_code "$j"):$(json .stdout "$j")" "3:failed:3:out" "run --json: a JSON result, the same exit status"
mkdir -p jd && j=$(cd jd && sandrun run ../outs.py -o 'results/*' --json 2>/dev/null)
is "$(json .status "$j"):$(json '.downloaded | sort | join(",")' "$j"):$(cat jd/results/a.txt 2>/dev/null)" "completed:results/a.txt,results/b.csv:A" \
	"run -o --json: the outputs downloaded and listed"
sandrun run hello.py --memory 1 >/dev/null 2>err.txt; rc=$?
is "$rc" 1 "run --memory 1: the service's 400 is exit status 1"
like "$(cat err.txt)" 'memory_mb' "... and names the field"
sandrun run missing.py >/dev/null 2>err.txt; rc=$?
is "$rc" 2 "run with a file that is not there: exit status 2"
SANDRUN_URL=https://127.0.0.1:9 sandrun stats >/dev/null 2>err.txt; rc=$?
is "$rc" 1 "an unreachable service: exit status 1"
is "$(env -u SANDRUN_URL sandrun --url "$SANDRUN_URL" --json stats 2>&1 | jq -r .system.runners)" 1 \
	"--url given before the command (and no SANDRUN_URL)"
sandrun stats --url "$SANDRUN_URL" --cacert /dev/null >/dev/null 2>&1
ok "$([ $? -ne 0 ]; echo $?)" "--cacert overrides SANDRUN_CACERT (a CA that does not sign the service: refused)"

for c in "" run status logs cancel outputs download envs stats verify shell mcp; do
	out=$(sandrun $c --help 2>&1); rc=$?
	ok "$([ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q '^usage: sandrun'; echo $?)" "sandrun $c --help"
done
sandrun frobnicate >/dev/null 2>&1
is "$?" 2 "an unknown command: exit status 2"

# status, logs, outputs, download, verify, cancel on one job each
printf 'import sys\nprint("logged")\nprint("to stderr", file=sys.stderr)\nopen("o.txt","w").write("output")\n' >job.py
J=$(sandrun run job.py -o o.txt --no-download --json 2>/dev/null | jq -r .job_id)
like "$J" '^job-' "run --no-download --json gives the job id"
is "$(sandrun status "$J" --json | jq -r .status)" completed "status --json"
like "$(sandrun status "$J")" "^$J: completed" "status, for people"
is "$(sandrun logs "$J" 2>/dev/null)" logged "logs: stdout"
is "$(sandrun logs "$J" 2>&1 >/dev/null)" "to stderr" "... and stderr on stderr"
is "$(sandrun logs "$J" --json | jq -r .stdout)" logged "logs --json"
like "$(sandrun outputs "$J")" '^o\.txt	6	[0-9a-f]{64}$' "outputs: path, size, SHA-256"
out=$(sandrun verify "$J"); rc=$?
is "$rc" 0 "verify ID: a signed result verifies"
like "$out" "^OK: result of $J signed by [A-Za-z0-9+/]{43}=" "... and says by whom"
sandrun status "$J" --json >st.json
jq '.execution_metadata.exit_code = 1' st.json >tampered.json
sandrun verify --file tampered.json >/dev/null 2>err.txt; rc=$?
is "$rc" 1 "verify --file: a tampered status object fails"
like "$(cat err.txt)" 'FAIL: the signature does not match' "... saying why"
is "$(sandrun verify --file st.json --json | jq -r .ok)" true "verify --file: the saved one verifies"
mkdir -p dl && (cd dl && sandrun download "$J" >/dev/null)
is "$(cat dl/o.txt 2>/dev/null)" output "download ID: the outputs into ./"
sandrun status "$J" >/dev/null 2>err.txt; rc=$?
is "$rc" 1 "... after which the job is gone"
like "$(cat err.txt)" '404' "... (404)"
api -X POST -H 'Content-Type: application/json' --data-binary '{"entrypoint":"l.py","files":{"l.py":"import time\ntime.sleep(60)"}}' "$SANDRUN_URL/submit"
L=$(json .job_id)
like "$(sandrun cancel "$L")" "^$L: cancelled \(was (queued|running)\)" "cancel ID"
like "$(sandrun envs)" '^default	' "envs lists the environments"
is "$(sandrun envs --json | jq -r '.environments[0].name')" default "envs --json"
like "$(sandrun stats)" '^CPU: [0-9.]+ of [0-9.]+ CPU-seconds' "stats"
is "$(sandrun stats --json | jq -r '.system.runners')" 1 "stats --json"
is "$(printf 'cd /tmp\nexport Y=2\npwd; echo "Y=$Y"\n' | sandrun shell 2>/dev/null)" "$(printf '/tmp\nY=2')" \
	"shell with lines on a pipe: cd and export persist"
printf 'import time\nprint("a", flush=True)\ntime.sleep(1)\nprint("b")\n' >follow.py
F=$(sandrun run follow.py --no-download --json 2>/dev/null | jq -r .job_id)
is "$(sandrun logs -f "$F" 2>/dev/null | tr '\n' ' ')" "a b " "logs -f: the output through the stream"
is "$(sandrun logs -f --json "$F" | jq -r .event | tr '\n' ' ')" "status stdout stdout status end " "logs -f --json: the events"
J=$(sandrun run outs.py -o 'results/*' --no-download --json 2>/dev/null | jq -r .job_id)
mkdir -p arch && (cd arch && sandrun download --archive "$J" >/dev/null)
is "$(cat arch/results/a.txt arch/results/b.csv 2>/dev/null)" AB "download --archive: the .tar.gz unpacked"

# --- in a real terminal
TMUX_SOCK=$STACK_DIR/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
screen() { tm capture-pane -p -t "$1"; }
# wait_screen WINDOW REGEX SECONDS: until the screen shows REGEX
wait_screen() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		screen "$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
	done
	return 1
}
tm -f /dev/null new-session -d -s cli -x 160 -y 50 -c "$WORK/t" \
	"env PATH='$PATH' SANDRUN_URL='$SANDRUN_URL' SANDRUN_CACERT='$SANDRUN_CACERT' TERM=xterm bash --norc --noprofile -i"
tm set-option -g history-limit 5000 >/dev/null
sleep 0.5
tm send-keys -t cli "PS1='$ '; clear" Enter
tm pipe-pane -t cli -o "cat >>'$STACK_DIR/pane.log'"

# live output: the first line is on the screen while the job sleeps
printf 'import time\nprint("first line", flush=True)\ntime.sleep(3)\nprint("second line")\n' >live.py
tm send-keys -t cli "sandrun run live.py; echo EXIT=\$?" Enter
wait_screen cli '^first line' 20
ok $? "tmux: sandrun run shows the job's first line" || screen cli | sed 's/^/#   /'
unlike "$(screen cli)" '^second line|^EXIT=[0-9]' "... while the job still runs (its second line 3 s later not yet)"
wait_screen cli '^EXIT=0' 20
ok $? "... then the second line and exit status 0" || screen cli | sed 's/^/#   /'
like "$(screen cli)" 'second line' "... the second line is there"

# Ctrl-C during sandrun run cancels the job
printf 'import time\nprint("waiting", flush=True)\ntime.sleep(60)\n' >long.py
tm send-keys -t cli "clear; sandrun run long.py; echo EXITC=\$?" Enter
wait_screen cli '^waiting' 20
tm send-keys -t cli C-c
wait_screen cli '^EXITC=' 20
ok $? "tmux: Ctrl-C during sandrun run" || screen cli | sed 's/^/#   /'
like "$(screen cli)" 'interrupted: job-[a-z2-7]{26} cancelled' "... cancels the job"
like "$(screen cli)" '^EXITC=130' "... exit status 130"
C=$(screen cli | grep -o 'job-[a-z2-7]\{26\}' | head -n1)
api "$SANDRUN_URL/status/$C"
like "$HTTP_STATUS:$(json .status)" '^(404:.*|200:cancelled)$' "... the job is cancelled on the service ($HTTP_STATUS)"

# the queued progress line: one job of this address holds its runner slot
api -X POST -H 'Content-Type: application/json' --data-binary '{"entrypoint":"b.py","files":{"b.py":"import time\ntime.sleep(6)"}}' "$SANDRUN_URL/submit"
B=$(json .job_id)
sleep 1
tm send-keys -t cli "clear; sandrun run hello.py; echo EXIT2=\$?" Enter
wait_screen cli 'queued' 10
ok $? "tmux: a progress line while the job is queued" || screen cli | sed 's/^/#   /'
like "$(screen cli)" 'queued, position [0-9]+|queued \(' "... with its queue position or why it waits"
wait_screen cli '^EXIT2=0' 30
ok $? "... then the job runs" || screen cli | sed 's/^/#   /'
unlike "$(screen cli)" 'queued' "... and the progress line is gone from the screen"
like "$(screen cli)" '^hello from the cli' "... its output is there"

# the upload progress line, for a large directory (written to the pane, then erased)
mkdir -p big
for i in $(seq 1 60); do head -c 400000 /dev/urandom >big/f$i.bin; done
printf 'import os\nprint(len(os.listdir(".")), "entries")\n' >big/main.py
tm send-keys -t cli "clear; sandrun run big --entrypoint main.py; echo EXIT3=\$?" Enter
wait_screen cli '^EXIT3=0' 60
ok $? "tmux: a 24 MB directory runs" || screen cli | sed 's/^/#   /'
like "$(screen cli)" '^61 entries' "... whole"
like "$(tr '\r' '\n' <"$STACK_DIR/pane.log")" 'uploading [0-9.]+ [kM]B of 2[0-9.]+ MB \([0-9]+%\)' \
	"... with an upload progress line meanwhile (seen in the pane's output)"
like "$(tr '\r' '\n' <"$STACK_DIR/pane.log")" 'packing [0-9]+/61 files' "... and a packing one"

# sandrun shell: cd and export persist; Ctrl-D ends it and deletes the session
tm send-keys -t cli "clear; sandrun shell; echo SHELL_EXIT=\$?" Enter
wait_screen cli '^sandrun:/work\$ ?$' 30
ok $? "tmux: sandrun shell gives a prompt" || screen cli | sed 's/^/#   /'
SID=$(screen cli | grep -o 'ses-[a-z2-7]\{26\}' | head -n1)
like "$SID" '^ses-' "... and names its session"
tm send-keys -t cli "cd /tmp" Enter
wait_screen cli '^sandrun:/tmp\$ ?$' 20
ok $? "cd /tmp: the prompt shows /tmp" || screen cli | sed 's/^/#   /'
tm send-keys -t cli "pwd" Enter
wait_screen cli '^/tmp$' 20
ok $? "pwd prints /tmp (the directory persists)"
tm send-keys -t cli 'export X=1' Enter
sleep 0.5
tm send-keys -t cli 'echo "X is $X"' Enter
wait_screen cli '^X is 1$' 20
ok $? "export X=1, then echo \$X: 1 (the variable persists)" || screen cli | sed 's/^/#   /'
tm send-keys -t cli 'echo one; sleep 30; echo never' Enter
wait_screen cli '^one$' 20
tm send-keys -t cli C-c
wait_screen cli 'interrupted' 10
ok $? "Ctrl-C during a command: back at the prompt" || screen cli | sed 's/^/#   /'
api "$SANDRUN_URL/sessions/$SID"
is "$HTTP_STATUS" 200 "... and the session lives on"
tm send-keys -t cli C-d
wait_screen cli '^SHELL_EXIT=' 30
ok $? "Ctrl-D ends the shell" || screen cli | sed 's/^/#   /'
like "$(screen cli)" "session $SID deleted" "... saying the session is deleted"
api "$SANDRUN_URL/sessions/$SID"
like "$HTTP_STATUS" '^(404|410)$' "... and it is: GET /sessions/{id} answers $HTTP_STATUS"
is "$(json .ended_reason)" deleted "... reason deleted"

# the getting-started seed's ml-basic example, plotting a PNG
if [ ${#env_args[@]} -gt 0 ]; then
	mkdir -p "$WORK/ml" && cd "$WORK/ml"
	cat >train.py <<'PY'
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

print("Packages loaded successfully!")
print(f"NumPy version: {np.__version__}")
print(f"Pandas version: {pd.__version__}")

# Create sample data
X = np.random.rand(100, 5)
y = np.random.randint(0, 2, 100)

# Train model
model = RandomForestClassifier()
model.fit(X, y)

print(f"Model trained! Accuracy: {model.score(X, y):.2f}")

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.bar(range(5), model.feature_importances_)
plt.title("Feature importances")
plt.savefig("importances.png")
print("Saved importances.png")
PY
	tm send-keys -t cli "clear; cd '$WORK/ml' && sandrun run train.py --env ml-basic -o '*.png'; echo EXIT4=\$?" Enter
	wait_screen cli '^EXIT4=' 120
	s=$(screen cli)
	like "$s" 'Packages loaded successfully!' "ml-basic: sandrun run train.py --env ml-basic -o '*.png' shows its output"
	like "$s" 'Model trained! Accuracy: [01]\.[0-9]{2}' "... the model trained"
	like "$s" '^EXIT4=0' "... exit status 0" || printf '%s\n' "$s" | sed 's/^/#   /'
	is "$(head -c 8 importances.png 2>/dev/null | od -An -tx1 | tr -d ' ')" 89504e470d0a1a0a "... and the PNG is in the current directory (its signature)"
else
	skip "ml-basic: sandrun run train.py --env ml-basic -o '*.png'" \
		"no ml-basic environment (SANDRUN_TEST_ENVIRONMENTS_DIR; contrib/quickstart check builds it)"
fi
tm send-keys -t cli "exit" Enter
done_testing
