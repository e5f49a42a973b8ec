#!/usr/bin/env bash
# Bad input gets a clear 4xx naming what is wrong, never a 5xx, and the
# service keeps working: bad manifests, non-archives, unsafe archives,
# oversized bodies, unknown ids and routes.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar head
# A small upload limit, so "too large" is cheap to test.
stack_start --set upload_max_bytes=1048576 --set timeout_max=600

cd "$WORK"
echo 'print("ok")' > hello.py
tar czf good.tar.gz hello.py

expect_error() { # expect_error STATUS FIELD NAME -- curl args...
	local status=$1 field=$2 name=$3; shift 4
	api "$@"
	is "$HTTP_STATUS" "$status" "$name: HTTP $status"
	is "$(json .error | grep -c .)" 1 "$name: the answer has an error"
	like "$(json .reason)" '.{10,}' "$name: the reason is a sentence"
	if [ -n "$field" ]; then
		is "$(json .field)" "$field" "$name: the field is named"
	fi
}

submit() { api -X POST "$SANDRUN_URL/submit" "$@"; }

expect_error 400 timeout "timeout as a string" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py","timeout":"abc"}'
expect_error 400 timeout "timeout above the maximum" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py","timeout":601}'
expect_error 400 memory_mb "memory below the minimum" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py","memory_mb":1}'
expect_error 400 colour "an unknown field" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py","colour":"red"}'
expect_error 400 entrypoint "a missing entrypoint" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"interpreter":"python3"}'
expect_error 400 entrypoint "an entrypoint with .." -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"../hello.py"}'
expect_error 400 interpreter "an unknown interpreter" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py","interpreter":"cobol"}'
expect_error 400 manifest "a manifest that is not JSON" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint": hello.py'
expect_error 400 manifest "no manifest at all" -- -X POST "$SANDRUN_URL/submit" -F files=@good.tar.gz
expect_error 400 files "no files at all" -- -X POST "$SANDRUN_URL/submit" -F 'manifest={"entrypoint":"hello.py"}'

# A manifest naming a file the archive lacks (or a directory): the field to
# fix is the manifest's, not the archive. Multipart and the JSON body alike.
mkdir -p proj/lib proj/reqs && echo 'print("ok")' > proj/main.py && echo x > proj/lib/util.py &&
	echo 'six' > proj/reqs/requirements.txt
tar czf proj.tar.gz -C proj .
expect_error 400 entrypoint "an entrypoint missing from the archive" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"main.py"}'
like "$(json .reason)" "entrypoint 'main.py' is not in the archive" "... the reason says so"
expect_error 400 entrypoint "an entrypoint naming a directory" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@proj.tar.gz -F 'manifest={"entrypoint":"lib","interpreter":"python3"}'
like "$(json .reason)" "is a directory" "... the reason says it is a directory"
expect_error 400 requirements "a requirements file missing from the archive" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@proj.tar.gz -F 'manifest={"entrypoint":"main.py","requirements":"requirements.txt"}'
expect_error 400 requirements "requirements naming a directory" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@proj.tar.gz -F 'manifest={"entrypoint":"main.py","requirements":"reqs"}'
like "$(json .reason)" "requirements file 'reqs' is a directory" "... the reason says it is a directory"
expect_error 400 entrypoint "JSON body: an entrypoint missing from files" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: application/json' --data '{"entrypoint":"main.py","files":{"hello.py":"print(1)"}}'
expect_error 400 entrypoint "JSON body: an entrypoint naming a directory of files" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: application/json' \
	--data '{"entrypoint":"lib","interpreter":"python3","files":{"main.py":"print(1)","lib/util.py":"x"}}'
expect_error 400 requirements "JSON body: a requirements file missing from files" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: application/json' \
	--data '{"entrypoint":"main.py","requirements":"requirements.txt","files":{"main.py":"print(1)"}}'
expect_error 400 requirements "JSON body: requirements naming a directory of files" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: application/json' \
	--data '{"entrypoint":"main.py","requirements":"reqs","files":{"main.py":"print(1)","reqs/requirements.txt":"six"}}'
like "$(json .reason)" "requirements file 'reqs' is a directory" "... the reason says it is a directory"

printf 'this is not an archive\n' > notes.txt
expect_error 400 files "a non-tar upload" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@notes.txt -F 'manifest={"entrypoint":"hello.py"}'
like "$(json .reason)" 'not an archive' "the reason says it is not an archive"

# Unsafe archive entries are refused at the door.
mkdir -p evil && echo 'print(1)' > evil/hello.py
tar czf dotdot.tar.gz -C evil hello.py --transform 's|hello.py|../escape.py|' 2>/dev/null ||
	tar czf dotdot.tar.gz -P -C evil hello.py
/usr/bin/python3 - <<'PY'
import tarfile, io
def make(name, members):
    with tarfile.open(name, "w:gz") as t:
        for m, data in members:
            t.addfile(m, io.BytesIO(data) if data is not None else None)
def reg(path, data=b"print(1)\n"):
    i = tarfile.TarInfo(path); i.size = len(data); return (i, data)
def link(path, target, kind=tarfile.SYMTYPE):
    i = tarfile.TarInfo(path); i.type = kind; i.linkname = target; return (i, None)
def dev(path):
    i = tarfile.TarInfo(path); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; return (i, None)
make("parent.tar.gz", [reg("hello.py"), reg("../escape.py")])
make("absolute.tar.gz", [reg("hello.py"), reg("/tmp/escape.py")])
make("symlink.tar.gz", [reg("hello.py"), link("passwd", "/etc/passwd")])
make("symlink-up.tar.gz", [reg("hello.py"), link("up", "../../etc")])
make("device.tar.gz", [reg("hello.py"), dev("null")])
PY
for f in parent absolute symlink symlink-up device; do
	submit -F "files=@$f.tar.gz" -F 'manifest={"entrypoint":"hello.py"}'
	is "$HTTP_STATUS" 400 "an archive with a $f entry is refused with 400"
	is "$(json .field)" files "... naming files"
done

# Too large: our own limit (1 MiB here), and the form bounds.
head -c 2000000 /dev/urandom > big.bin
tar cf big.tar big.bin hello.py
expect_error 413 "" "an upload over the limit" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@big.tar -F 'manifest={"entrypoint":"hello.py"}'

expect_error 415 "" "a body that is neither form nor JSON" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: text/plain' --data 'hello'
expect_error 400 "" "a JSON body that is not an object" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: application/json' --data '[1,2]'
expect_error 400 files "a JSON body without files" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: application/json' --data '{"entrypoint":"a.py"}'
expect_error 400 "files" "a JSON body with an unsafe file name" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: application/json' --data '{"entrypoint":"a.py","files":{"../a.py":"x"}}'
expect_error 400 "" "a form with an unknown part" -- -X POST "$SANDRUN_URL/submit" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py"}' -F 'extra=1'
expect_error 400 "" "a truncated multipart body" -- -X POST "$SANDRUN_URL/submit" \
	-H 'Content-Type: multipart/form-data; boundary=XyZ' \
	--data-binary $'--XyZ\r\nContent-Disposition: form-data; name="manifest"\r\n\r\n{}'

# Unknown ids and routes.
expect_error 404 "" "an unknown job id" -- "$SANDRUN_URL/status/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
expect_error 404 "" "the logs of an unknown job" -- "$SANDRUN_URL/logs/job-aaaaaaaaaaaaaaaaaaaaaaaaaa"
expect_error 404 "" "a malformed job id" -- "$SANDRUN_URL/status/job-abc123def456"
expect_error 404 "" "an unknown route" -- "$SANDRUN_URL/nope"
expect_error 405 "" "GET on /submit" -- "$SANDRUN_URL/submit"
expect_error 400 stream "a bad stream parameter" -- "$SANDRUN_URL/logs/job-aaaaaaaaaaaaaaaaaaaaaaaaaa?stream=stdin"

# Each route takes the query parameters its table entry lists (fcgi/routes.c),
# as bgplgd does: any other is a 400 naming it, before the id is looked up,
# so a typo (?wiat=30) never silently becomes a request without a wait.
unknown_param() { # unknown_param PARAM ROUTE ALLOWED NAME -- curl args...
	local param=$1 route=$2 allowed=$3 name=$4; shift 5
	expect_error 400 "$param" "$name" -- "$@"
	is "$(json .reason)" "unknown query parameter '$param' for $route; allowed: $allowed" "$name: the reason lists the allowed ones"
}
id=job-aaaaaaaaaaaaaaaaaaaaaaaaaa
unknown_param wiat "GET /status/{id}" wait "a misspelt wait on /status" -- "$SANDRUN_URL/status/$id?wiat=30"
unknown_param colour "GET /logs/{id}" "stream, format" "an unknown parameter on /logs" -- \
	"$SANDRUN_URL/logs/$id?stream=stdout&colour=red"
unknown_param stream "GET /logs/{id}/stream" none "a parameter on the live stream, which takes none" -- \
	"$SANDRUN_URL/logs/$id/stream?stream=stdout"
unknown_param path "GET /download/{id}[/{path}]" none "a parameter on /download" -- \
	"$SANDRUN_URL/download/$id/out.txt?path=x"
unknown_param x "GET /outputs/{id}" none "a parameter on /outputs" -- "$SANDRUN_URL/outputs/$id?x"
unknown_param force "DELETE /jobs/{id}" none "a parameter on DELETE /jobs" -- -X DELETE "$SANDRUN_URL/jobs/$id?force=1"
unknown_param verbose "GET /health" none "a parameter on an exact route" -- "$SANDRUN_URL/health?verbose=1"
api -I "$SANDRUN_URL/stats?wait=1"
is "$HTTP_STATUS" 400 "HEAD is checked as GET: an unknown parameter on HEAD /stats is a 400"
unknown_param timeout "POST /submit" wait "an unknown parameter on /submit" -- -X POST "$SANDRUN_URL/submit?timeout=5" \
	-F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py"}'
unknown_param "w%61it" "GET /status/{id}" wait "a name is compared as sent, not decoded" -- "$SANDRUN_URL/status/$id?w%61it=1"
expect_error 400 wait "a parameter given twice" -- "$SANDRUN_URL/status/$id?wait=0&wait=30"
is "$(json .reason)" "query parameter 'wait' given more than once" "... the reason says so"
api "$SANDRUN_URL/status/$id?wait=0&"
is "$HTTP_STATUS" 404 "an empty parameter (a trailing &) is no parameter: the id is looked up"
api "$SANDRUN_URL/logs/$id?stream=both&format=json"
is "$HTTP_STATUS" 404 "allowed parameters pass the table: the id is looked up"

# nginx's own errors are JSON 4xx too: requests it cannot parse used to
# get its HTML 500 ("empty URI in redirect to named location"). HTTP/1.1,
# where a request line is a line.
nginx_error() { # nginx_error STATUS NAME -- curl args...
	local status=$1 name=$2; shift 3
	expect_error "$status" "" "$name" -- --http1.1 --path-as-is "$@"
	like "$HTTP_HEADERS" '^[Cc]ontent-[Tt]ype: application/json' "$name: the answer is JSON"
	like "$HTTP_HEADERS" '^[Xx]-[Ff]rame-[Oo]ptions: DENY' "$name: with the security headers"
}
long=$(head -c 9000 /dev/zero | tr '\0' a)
nginx_error 400 "a path climbing above /" -- "$SANDRUN_URL/../../etc/passwd"
nginx_error 400 "a download path climbing above /" -- \
	"$SANDRUN_URL/download/job-aaaaaaaaaaaaaaaaaaaaaaaaaa/../../../../etc/passwd"
nginx_error 400 "a URI holding %00" -- "$SANDRUN_URL/status/job-aaaaaaaaaaaaaaaaaaaaaaaaaa%00"
nginx_error 400 "a download URI holding %00" -- "$SANDRUN_URL/download/job-aaaaaaaaaaaaaaaaaaaaaaaaaa/a%00.txt"
nginx_error 414 "a request line over 8 KB" -- "$SANDRUN_URL/status/$long"
nginx_error 400 "a header over 8 KB" -- -H "X-Long: $long" "$SANDRUN_URL/health"
nginx_error 404 "the error pages from outside" -- "$SANDRUN_URL/_sandrun/error/500"
nginx_error 501 "an unknown transfer coding" -- -X POST -H 'Transfer-Encoding: gzip' --data-binary x \
	"$SANDRUN_URL/submit"
is "$(grep -c 'redirect to named location' "$STACK_DIR/nginx-error.log")" 0 \
	"nginx never failed to redirect to an error page"

# A chunked body (no Content-Length) is buffered whole by nginx, on its
# tmpfs like any other, and reaches the responder with its length.
submit --http1.1 -H 'Transfer-Encoding: chunked' -F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py"}'
is "$HTTP_STATUS" 200 "a chunked upload is accepted"
wait_job "$(json .job_id)"
is "$(json .status "$STATUS_JSON")" completed "and it runs"

# After all that, a good job still runs.
submit -F files=@good.tar.gz -F 'manifest={"entrypoint":"hello.py"}'
is "$HTTP_STATUS" 200 "a good job is still accepted after the bad ones"
wait_job "$(json .job_id)"
is "$(json .status "$STATUS_JSON")" completed "and it completes"
good=$(json .job_id "$STATUS_JSON")
api "$SANDRUN_URL/status/$good?wait=1"
is "$HTTP_STATUS" 200 "its status with ?wait is served"
api "$SANDRUN_URL/logs/$good?stream=both&format=text"
is "$HTTP_STATUS:$BODY" "200:ok" "its logs with ?stream and ?format are served"
fcgi_errors=$(grep -ciE 'segfault|abort|sanitizer' "$STACK_DIR"/fcgi*.log 2>/dev/null | awk -F: '{s+=$NF} END {print s+0}')
is "$fcgi_errors" 0 "no responder crashed on the way"
done_testing
