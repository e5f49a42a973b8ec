#!/usr/bin/env bash
# The original Sandrun's own clients (issue 12): each request exactly as the
# client at queelius/sandrun commit 380a328c6fa6783207681c3208a1ba7402cc3f69
# sends it (its source file and line named in each comment; the headers are
# the ones its HTTP library sends: python-requests/aiohttp/httpx send
# "Accept: */*" and their own User-Agent, axios "application/json,
# text/plain, */*", a browser's fetch "*/*"), then what the client reads from
# the answer. Also: the Origin check and CORS (SECURITY.md), the upload forms
# without a manifest, and that curl keeps getting text from /logs.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar python3
keydir=$(mktemp -d)
key=$keydir/worker.pem
"$top_builddir/sandrun-runner" --generate-key "$key" >/dev/null 2>&1
stack_start --set "worker_key=$key" --set "cors_origins=http://localhost:8000 http://127.0.0.1:8000"
trap 'stack_stop; rm -rf "$keydir"' EXIT
cd "$WORK"

REQUESTS=(-H 'User-Agent: python-requests/2.31.0' -H 'Accept: */*')
AIOHTTP=(-H 'User-Agent: Python/3.11 aiohttp/3.9.1' -H 'Accept: */*')
HTTPX=(-H 'User-Agent: python-httpx/0.27.0' -H 'Accept: */*')
AXIOS=(-H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
	-H 'Accept: application/json, text/plain, */*' -H 'Origin: http://localhost:8000')
FETCH=(-H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
	-H 'Accept: */*' -H 'Origin: http://localhost:8000')
self_origin=${SANDRUN_URL%/}

# poll ID CLIENT-HEADERS... : polls /status as the client does until the job ends; sets STATUS_JSON.
poll() {
	local id=$1 i
	shift
	for ((i = 0; i < 600; i++)); do
		api "$@" "$SANDRUN_URL/status/$id"
		STATUS_JSON=$BODY
		case $(json .status "$STATUS_JSON") in queued|running) sleep 0.1 ;; *) return 0 ;; esac
	done
	return 1
}

# --- python client (integrations/python-client/sandrun_client.py)
# submit_code (:91-140): a tar.gz of main.py as files=('job.tar.gz', ..., 'application/gzip'),
# data={'manifest': json.dumps({...})}; resp.raise_for_status(); resp.json()['job_id']
mkdir -p pc && printf 'print("hello from the python client")\n' > pc/main.py
tar czf pc.tar.gz -C pc main.py
api "${REQUESTS[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz;filename=job.tar.gz;type=application/gzip' \
	-F 'manifest={"entrypoint": "main.py", "interpreter": "python3", "args": [], "timeout": 30}'
is "$HTTP_STATUS" 200 "python client: POST /submit is 200"
pc=$(json .job_id)
like "$pc" '^job-' "... and its job_id is read"
# wait_for_completion (:180-200): GET /status, .status until completed/failed
poll "$pc" "${REQUESTS[@]}"
is "$(json .status "$STATUS_JSON")" completed "python client: the status it polls ends completed"
# get_logs (:149-153): resp.json() of GET /logs/{id}
api "${REQUESTS[@]}" "$SANDRUN_URL/logs/$pc"
is "$(json .stdout)" "hello from the python client" "python client: GET /logs/{id} is JSON to python-requests, .stdout read"
like "$(printf '%s' "$HTTP_HEADERS" | grep -i '^content-type')" 'application/json' "... Content-Type application/json"
like "$(printf '%s' "$HTTP_HEADERS" | grep -i '^vary')" 'Accept, User-Agent' "... Vary: Accept, User-Agent"
# list_outputs (:155-160): data.get('files', [])
api "${REQUESTS[@]}" "$SANDRUN_URL/outputs/$pc"
is "$(json '.files | type')" array "python client: GET /outputs/{id} has a files list"

# curl (the seed's examples, README, quickstart): text, as before
is "$(logs "$pc")" "hello from the python client" "curl: GET /logs/{id} is still the plain text"
api -H 'User-Agent: Wget/1.21.4' "$SANDRUN_URL/logs/$pc"
is "$BODY" "hello from the python client" "Wget: text too"
api "${REQUESTS[@]}" "$SANDRUN_URL/logs/$pc?format=text"
is "$BODY" "hello from the python client" "?format=text overrides the agent"
api -H 'Accept: text/plain' "${REQUESTS[@]}" "$SANDRUN_URL/logs/$pc"
like "$(printf '%s' "$HTTP_HEADERS" | grep -i '^content-type')" 'text/plain' "Accept: text/plain decides over the agent"

# --- MCP server (integrations/mcp-server/sandrun_mcp.py)
# submit_job (:187-203): httpx, files={"files": ("job.tar.gz", fake_tar)} with
# fake_tar = "----Tar\nPath: main.py\nSize: {len(code)}\n\n{code}" (len in characters),
# data={"manifest": json.dumps({"entrypoint": "main.py", "interpreter": "python3"})}
code='print("h\u00e9llo from MCP")
print(2 + 2)'
python3 - "$code" > fake_tar <<'PY'
import sys
code = sys.argv[1].encode().decode("unicode_escape")
sys.stdout.buffer.write(f"----Tar\nPath: main.py\nSize: {len(code)}\n\n{code}".encode())
PY
api "${HTTPX[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@fake_tar;filename=job.tar.gz;type=application/octet-stream' \
	-F 'manifest={"entrypoint": "main.py", "interpreter": "python3"}'
is "$HTTP_STATUS" 200 "MCP server: its pseudo-archive is accepted (200)"
mcp=$(json .job_id)
# wait_for_completion (:205-227): status_data["status"], logs_data.get("stdout"), status_data.get("metrics")
poll "$mcp" "${HTTPX[@]}"
is "$(json .status "$STATUS_JSON")" completed "MCP server: the job ran"
api "${HTTPX[@]}" "$SANDRUN_URL/logs/$mcp"
is "$(json .stdout)" "héllo from MCP
4" "MCP server: .stdout of the JSON logs (non-ASCII code: Size counted characters)"
like "$(json .metrics.cpu_seconds "$STATUS_JSON")" '^[0-9.e-]+$' "MCP server: metrics.cpu_seconds is a number (:265)"
like "$(json .metrics.memory_mb "$STATUS_JSON")" '^[0-9]+$' "MCP server: metrics.memory_mb is a number (:265)"
# execute_javascript / execute_bash (:271, :301): main.js / main.sh with node / bash
printf -- '----Tar\nPath: main.sh\nSize: 13\n\necho from bash' > fake_sh
api "${HTTPX[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@fake_sh;filename=job.tar.gz' \
	-F 'manifest={"entrypoint": "main.sh", "interpreter": "bash"}'
is "$HTTP_STATUS" 200 "MCP server: a bash pseudo-archive too"
poll "$(json .job_id)" "${HTTPX[@]}"
is "$(logs "$(json .job_id "$STATUS_JSON")")" "from bash" "... and it ran"

# pseudo-archive bounds: the same checks as an archive's
printf -- '----Tar\nPath: ../evil.py\nSize: 1\n\nx' > evil_tar
api "${HTTPX[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@evil_tar;filename=job.tar.gz' -F 'manifest={"entrypoint": "main.py"}'
is "$HTTP_STATUS" 400 "a pseudo-archive path climbing out is refused 400"
is "$(json .field)" files "... naming files"
printf -- '----TarBoundary1\nPath: a.py\nSize: 50\n\nshort\n' > short_tar
api -X POST "$SANDRUN_URL/submit" -F 'files=@short_tar;filename=job.tar.gz' -F 'manifest={"entrypoint": "a.py"}'
is "$HTTP_STATUS" 400 "a truncated pseudo-archive is refused 400"
like "$(json .reason)" 'shorter than its Size' "... saying why"

# --- trusted-pool coordinator (integrations/trusted-pool/coordinator.py)
# health_check_worker (:73-86): aiohttp GET /health, status 200, data.get("worker_id") == the configured id
api "${AIOHTTP[@]}" "$SANDRUN_URL/health"
is "$HTTP_STATUS" 200 "coordinator: GET /health is 200"
api "$SANDRUN_URL/workers"
wid=$(json '.workers[0].worker_id')
api "${AIOHTTP[@]}" "$SANDRUN_URL/health"
like "$(json .worker_id)" '^[A-Za-z0-9+/]{43}=$' "coordinator: /health has worker_id"
is "$(json .worker_id)" "$wid" "... the key the runner signs with (GET /workers)"
# dispatch_job (:114-140): FormData files=(bytes, filename='project.tar.gz', content_type='application/gzip'),
# manifest=json.dumps(manifest); only resp.status == 200 is success (else it re-queues)
api "${AIOHTTP[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz;filename=project.tar.gz;type=application/gzip' \
	-F 'manifest={"entrypoint": "main.py"}'
is "$HTTP_STATUS" 200 "coordinator: POST /submit is 200 (not 202, which it re-submits)"
like "$(json .job_id)" '^job-' "... result['job_id'] read"

# --- broker node (integrations/broker/node_client/node.py)
# execute_job (:193-233): requests, files={'files': ('job.tar.gz', f, 'application/gzip')},
# data={'manifest': json.dumps(...)}; response.status_code != 200 is a failure
api "${REQUESTS[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz;filename=job.tar.gz;type=application/gzip' \
	-F 'manifest={"entrypoint": "main.py", "interpreter": "python3"}'
is "$HTTP_STATUS" 200 "broker node: POST /submit is 200"
bn=$(json .job_id)
poll "$bn" "${REQUESTS[@]}"
api "${REQUESTS[@]}" "$SANDRUN_URL/logs/$bn"
is "$(json .stdout)" "hello from the python client" "broker node: logs.get('stdout') of the JSON logs"

# --- admin console (tools/sandrunadmin/console.py)
# cat /config/environments.json (:161-165): json.dumps(resp.json()) of GET /environments
api "${REQUESTS[@]}" "$SANDRUN_URL/environments"
is "$(json '.templates | type')" array "admin console: /environments has the original's templates"
is "$(json '.stats.total_templates')" "$(json '.templates | length')" "... and stats.total_templates counts them"
is "$(json '.environments | type')" array "... beside our own environments list"
# do_submit (:226-245): files={'files': f} (the tarball's own name), data={'manifest': ...}
api "${REQUESTS[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz' -F 'manifest={"entrypoint":"main.py","interpreter":"python3"}'
is "$HTTP_STATUS" 200 "admin console: submit <tarball> is 200"

# do_submit without a manifest argument (:235): manifest = '{}'
api "${REQUESTS[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz' -F 'manifest={}'
is "$HTTP_STATUS" 200 "admin console: submit <tarball> alone sends manifest {}: the upload's main.py is run"
poll "$(json .job_id)"
is "$(logs "$(json .job_id "$STATUS_JSON")")" "hello from the python client" "... and it ran"
printf 'not an archive\n' > notes.txt
api -X POST "$SANDRUN_URL/submit" -F 'files=@notes.txt' -F 'manifest={"entrypoint":"main.py"}'
is "$HTTP_STATUS" 400 "a plain file that is not the entrypoint is still 'not an archive'"
is "$(json .field)" files "... naming files"

# --- web frontend (integrations/web-frontend/app.js), a page on http://localhost:8000
# quick code (:241-271): FormData files = Blob(["----Tar\nPath: main.py\nSize: N\n\n" + code]) as
# 'job.tar.gz', manifest = JSON; fetch POST with its Origin; response.ok, then .json().job_id
printf -- '----Tar\nPath: main.py\nSize: 21\n\nprint("from the page")' > web_tar
api "${FETCH[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@web_tar;filename=job.tar.gz' \
	-F 'manifest={"entrypoint":"main.py","interpreter":"python3","args":[],"outputs":[]}'
is "$HTTP_STATUS" 200 "web frontend: its quick-code submit from an allowed origin is 200"
is "$(printf '%s' "$HTTP_HEADERS" | sed -n 's/^access-control-allow-origin: //Ip')" "http://localhost:8000" \
	"... with Access-Control-Allow-Origin echoing it"
like "$(printf '%s' "$HTTP_HEADERS" | grep -i '^access-control-expose-headers')" 'Location' "... and Location exposed"
web=$(json .job_id)
poll "$web" "${FETCH[@]}"
# updateJobStatus (:323-335): fetch /logs, logs.stdout
api "${FETCH[@]}" "$SANDRUN_URL/logs/$web"
is "$(json .stdout)" "from the page" "web frontend: fetch() of /logs is JSON, .stdout read"
like "$(printf '%s' "$HTTP_HEADERS" | grep -i '^access-control-allow-origin')" 'localhost:8000' "... readable cross-origin"
# the folder form (createTarGz :189-209): ----TarBoundary<ts> records
printf -- '----TarBoundary1733312345\nPath: main.py\nSize: 27\n\nprint(open("d.txt").read())\n----TarBoundary1733312345\nPath: d.txt\nSize: 4\n\ndata\n' > web_many
api "${FETCH[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@web_many;filename=job.tar.gz' -F 'manifest={"entrypoint":"main.py"}'
is "$HTTP_STATUS" 200 "web frontend: its folder pseudo-archive is accepted"
poll "$(json .job_id)" "${FETCH[@]}"
is "$(logs "$(json .job_id "$STATUS_JSON")")" data "... both files arrived"
# EventSource on /logs/{id}/stream: same CORS headers
curl -sS --max-time 10 --cacert "$SANDRUN_CACERT" -D sse.headers -o /dev/null "${FETCH[@]}" "$SANDRUN_URL/logs/$web/stream"
like "$(tr -d '\r' < sse.headers | grep -i '^access-control-allow-origin')" 'http://localhost:8000' \
	"the live stream (EventSource) carries Access-Control-Allow-Origin too"

# --- Vue frontend (frontend/index.html), a page on http://localhost:8000
# submitJob (:531-557): one 'files' part per file, named webkitRelativePath ("proj/..."), + manifest; axios
printf 'import os\nprint(open("data/x.txt").read().strip(), os.path.exists("proj"))\n' > vue_main.py
printf 'vue data\n' > vue_x.txt
api "${AXIOS[@]}" -X POST "$SANDRUN_URL/submit" -F 'files=@vue_main.py;filename=proj/main.py' \
	-F 'files=@vue_x.txt;filename=proj/data/x.txt' \
	-F 'manifest={"entrypoint":"main.py","args":[],"outputs":["results/","*.png","*.json"]}'
is "$HTTP_STATUS" 200 "Vue frontend: several files parts are accepted"
vue=$(json .job_id)
poll "$vue" "${AXIOS[@]}"
is "$(json .status "$STATUS_JSON")" completed "... the job ran (the common folder dropped)"
# pollStatus (:566-574): data.metrics.cpuSeconds / memoryMB / runtime
like "$(json .metrics.cpuSeconds "$STATUS_JSON")" '^[0-9.e-]+$' "Vue frontend: metrics.cpuSeconds"
like "$(json .metrics.runtime "$STATUS_JSON")" '^[0-9.e-]+$' "... metrics.runtime"
# fetchLogs (:595-598): response.data.stdout + response.data.stderr
api "${AXIOS[@]}" "$SANDRUN_URL/logs/$vue"
is "$(json .stdout)" "vue data False" "Vue frontend: axios's /logs is JSON, .stdout read"

# --- no manifest: a job.json inside, or one obvious entrypoint
mkdir -p nm1 && printf 'echo from run.sh\n' > nm1/run.sh
tar czf nm1.tar.gz -C nm1 .
api -X POST "$SANDRUN_URL/submit" -F 'files=@nm1.tar.gz'
is "$HTTP_STATUS" 200 "no manifest, one obvious entrypoint (run.sh): 200"
poll "$(json .job_id)"
is "$(logs "$(json .job_id "$STATUS_JSON")")" "from run.sh" "... and it ran"
mkdir -p nm2 && printf 'print("from b")\n' > nm2/b.py && printf '{"entrypoint": "b.py"}' > nm2/job.json
printf 'print("not me")\n' > nm2/main.py
tar czf nm2.tar.gz -C nm2 .
api -X POST "$SANDRUN_URL/submit" -F 'files=@nm2.tar.gz'
is "$HTTP_STATUS" 200 "no manifest, a job.json inside: 200"
poll "$(json .job_id)"
is "$(logs "$(json .job_id "$STATUS_JSON")")" "from b" "... its manifest was used"
printf 'print("only file")\n' > solo.py
api -X POST "$SANDRUN_URL/submit" -F 'files=@solo.py;filename=main.py'
is "$HTTP_STATUS" 200 "a single plain file main.py, no manifest: 200"
poll "$(json .job_id)"
is "$(logs "$(json .job_id "$STATUS_JSON")")" "only file" "... it ran"
mkdir -p nm3 && printf 'x\n' > nm3/main.py && printf 'x\n' > nm3/index.js
tar czf nm3.tar.gz -C nm3 .
api -X POST "$SANDRUN_URL/submit" -F 'files=@nm3.tar.gz'
is "$HTTP_STATUS" 400 "no manifest and two obvious entrypoints: 400"
is "$(json .field)" manifest "... naming manifest"
mkdir -p nm4 && printf 'x\n' > nm4/app.py && tar czf nm4.tar.gz -C nm4 .
api -X POST "$SANDRUN_URL/submit" -F 'files=@nm4.tar.gz'
is "$HTTP_STATUS" 400 "no manifest and no obvious entrypoint: 400"
is "$(json .field)" manifest "... naming manifest"

# --- CORS and the Origin check
api -X OPTIONS -H 'Origin: http://localhost:8000' -H 'Access-Control-Request-Method: POST' \
	-H 'Access-Control-Request-Headers: content-type' "$SANDRUN_URL/submit"
is "$HTTP_STATUS" 204 "a preflight from an allowed origin: 204"
is "$(printf '%s' "$HTTP_HEADERS" | sed -n 's/^access-control-allow-origin: //Ip')" "http://localhost:8000" "... allowing it"
like "$(printf '%s' "$HTTP_HEADERS" | grep -i '^access-control-allow-methods')" 'POST' "... and POST"
like "$(printf '%s' "$HTTP_HEADERS" | grep -i '^access-control-allow-headers')" 'content-type' "... and the asked-for header"
api -X OPTIONS -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: POST' "$SANDRUN_URL/submit"
is "$HTTP_STATUS" 403 "a preflight from a foreign origin: 403"
is "$(printf '%s\n' "$HTTP_HEADERS" | grep -ci '^access-control-allow-')" 0 "... without any allow header"
api -H 'Origin: https://evil.example' "$SANDRUN_URL/health"
is "$(printf '%s\n' "$HTTP_HEADERS" | grep -ci '^access-control-allow-origin')" 0 \
	"a GET from a foreign page gets no Access-Control-Allow-Origin"
before=$(rcli --scan --pattern 'sr:{job-*}:job' | wc -l)
api -H 'Origin: https://evil.example' -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz' -F 'manifest={"entrypoint":"main.py"}'
is "$HTTP_STATUS" 403 "POST /submit from a foreign page (a simple form post, no preflight): 403"
is "$(json .error)" origin_not_allowed "... error origin_not_allowed"
is "$(json .field)" Origin "... naming Origin"
is "$(rcli --scan --pattern 'sr:{job-*}:job' | wc -l)" "$before" "... and no job was created"
api -H 'Origin: null' -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz' -F 'manifest={"entrypoint":"main.py"}'
is "$HTTP_STATUS" 403 "Origin: null (a file:// page, a sandboxed frame): 403"
api -H 'Origin: https://evil.example' -X POST "$SANDRUN_URL/sessions" -H 'Content-Type: application/json' -d '{}'
is "$HTTP_STATUS" 403 "POST /sessions from a foreign page: 403"
api -H 'Origin: https://evil.example' -X DELETE "$SANDRUN_URL/jobs/$pc"
is "$HTTP_STATUS" 403 "DELETE /jobs from a foreign page: 403"
api -H "Origin: $self_origin" -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz' -F 'manifest={"entrypoint":"main.py"}'
is "$HTTP_STATUS" 200 "POST /submit from our own origin: 200"
api -X POST "$SANDRUN_URL/submit" -F 'files=@pc.tar.gz' -F 'manifest={"entrypoint":"main.py"}'
is "$HTTP_STATUS" 200 "POST /submit without Origin (curl, programs): 200"
done_testing
