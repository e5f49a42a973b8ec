#!/usr/bin/env bash
# The seed's "Your First Job" and "Multi-File Projects", as written (host,
# port and CA aside), plus the JSON-body form, through nginx over TLS.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar
stack_start

cd "$WORK"
# --- Your First Job (sandrun-getting-started.md), verbatim but for the URL and CA
cat > hello.py <<'PY'
print("Hello from Sandrun!")
import sys
print(f"Python version: {sys.version}")
PY
cat > job.json <<'JSON'
{
  "entrypoint": "hello.py",
  "interpreter": "python3"
}
JSON
tar czf job.tar.gz hello.py
api -X POST "$SANDRUN_URL/submit" -F "files=@job.tar.gz" -F "manifest=$(cat job.json)"
is "$HTTP_STATUS" 200 "submit answers 200 (the original Sandrun's status, docs/api.md §2)"
id=$(json .job_id)
like "$id" '^job-[a-z2-7]{26}$' "the job id is job- and 26 base32 characters"
is "$(json .status)" queued "the new job is queued"
like "$HTTP_HEADERS" "^[Ll]ocation: /status/$id\$" "Location points at the job's status"
like "$HTTP_HEADERS" '^[Cc]ontent-[Tt]ype: application/json' "the answer is JSON"

wait_job "$id"
is "$(json .status "$STATUS_JSON")" completed "the job completes"
is "$(json .execution_metadata.exit_code "$STATUS_JSON")" 0 "exit code 0 is recorded"
like "$(json .execution_metadata.cpu_seconds "$STATUS_JSON")" '^[0-9.]+$' "cpu_seconds is a number"
like "$(json .execution_metadata.wall_seconds "$STATUS_JSON")" '^[0-9.]+$' "wall_seconds is a number"
like "$(json .submitted_at "$STATUS_JSON")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "submitted_at is RFC 3339"
like "$(json .finished_at "$STATUS_JSON")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "finished_at is RFC 3339"
is "$(json .reason "$STATUS_JSON")" null "a completed job has no failure reason"

out=$(curl -sS --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/logs/$id")
like "$out" '^Hello from Sandrun!' "GET /logs prints the job's stdout"
like "$out" 'Python version: 3\.' "the job ran Debian's python3"

# --- Multi-File Projects, verbatim: the tarball holds ./main.py, ./utils.py, ./job.json
mkdir my-project
cd my-project
cat > main.py <<'PY'
from utils import greet

greet("World")
PY
cat > utils.py <<'PY'
def greet(name):
    print(f"Hello, {name}!")
PY
cat > job.json <<'JSON'
{
  "entrypoint": "main.py",
  "interpreter": "python3",
  "outputs": ["*.txt", "results/"]
}
JSON
tar czf ../my-project.tar.gz .
cd ..
api -X POST "$SANDRUN_URL/submit" -F "files=@my-project.tar.gz" -F "manifest=$(cat my-project/job.json)"
is "$HTTP_STATUS" 200 "the multi-file project is accepted"
id=$(json .job_id)
wait_job "$id"
is "$(json .status "$STATUS_JSON")" completed "the multi-file project completes (module import works)"
is "$(logs "$id")" "Hello, World!" "its output is the imported module's"

# --- The overview's one-liner manifest, and the interpreter taken from the extension
echo 'import statistics; print(statistics.mean([1,2,3,4,5]))' > analyze.py
tar czf job2.tar.gz analyze.py
api -X POST "$SANDRUN_URL/submit" -F "files=@job2.tar.gz" -F 'manifest={"entrypoint":"analyze.py"}'
id=$(json .job_id)
wait_job "$id"
is "$(json .status "$STATUS_JSON")" completed "python3 is chosen from the .py extension"
is "$(logs "$id")" 3 "the statistics example prints 3"

# --- A JSON body with inline files, args, env and stdin
api -X POST "$SANDRUN_URL/submit" -H 'Content-Type: application/json' --data-binary @- <<'JSON'
{"entrypoint": "main.sh", "interpreter": "bash", "args": ["a b", "c"],
 "env": {"GREETING": "hi"}, "stdin": "from stdin\n",
 "files": {"main.sh": "echo \"$GREETING $# $1\"; read line; echo \"$line\"; source lib/x.sh",
           "lib/x.sh": "echo lib-ok"}}
JSON
is "$HTTP_STATUS" 200 "a JSON-body job is accepted"
id=$(json .job_id)
wait_job "$id"
is "$(json .status "$STATUS_JSON")" completed "the JSON-body job completes"
is "$(logs "$id")" "hi 2 a b
from stdin
lib-ok" "args, env, stdin and a nested file all reach the job"

# --- Other interpreters from the extension
for lang in "perl:x.pl:print \"perl-ok\\n\";" "sh:x.sh:echo sh-ok" "node:x.js:console.log('node-ok')"; do
	interp=${lang%%:*}; rest=${lang#*:}; file=${rest%%:*}; code=${rest#*:}
	command -v "$interp" >/dev/null || { ok 0 "# SKIP $interp not installed"; continue; }
	mkdir -p "l-$interp" && printf '%s\n' "$code" > "l-$interp/$file"
	run_job "l-$interp" "{\"entrypoint\":\"$file\"}"
	is "$(logs "$JOB_ID")" "$interp-ok" "a $file job runs under $interp"
done

# --- HTTP/2 and the service document
http=$(curl -sS --http2 --cacert "$SANDRUN_CACERT" -o /dev/null -w '%{http_version}' "$SANDRUN_URL/health")
is "$http" 2 "nginx speaks HTTP/2"
api "$SANDRUN_URL/health"
is "$HTTP_STATUS" 200 "GET /health is 200"
is "$(json .status)" ok "health says ok"
api "$SANDRUN_URL/"
is "$(json .service)" sandrun "GET / names the service"
is "$(json .limits.timeout_max)" 3600 "GET / lists the limits"
done_testing
