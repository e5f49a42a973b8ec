#!/usr/bin/env bash
# Every language of the manifest, hello world each, as users write them:
# the interpreter named or taken from the extension, and a static binary
# run as the entrypoint itself. A language no live runner has is refused at
# submit, and GET /environments lists what the runners have.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar gcc redis-cli
stack_start --set quota_jobs_max=20
cd "$WORK"

hello() { # hello INTERPRETER-OR-"" FILE CODE
	local interp=$1 file=$2 code=$3 dir manifest
	dir=lang-${file%%.*}-${interp:-ext}
	mkdir -p "$dir"
	printf '%s\n' "$code" > "$dir/$file"
	if [ -n "$interp" ]; then
		manifest="{\"entrypoint\":\"$file\",\"interpreter\":\"$interp\"}"
	else
		manifest="{\"entrypoint\":\"$file\"}"
	fi
	run_job "$dir" "$manifest" 60
	is "$(json .status "$STATUS_JSON")" completed "${interp:-extension} $file: completed"
	is "$(logs "$JOB_ID")" "hello from ${interp:-$file}" "${interp:-extension} $file: says hello"
}

api "$SANDRUN_URL/environments"
is "$HTTP_STATUS" 200 "GET /environments answers"
is "$(json '.environments[0].name')" default "the default environment is listed"
have=$(json '.environments[0].interpreters | join(",")')
for lang in python3 node bash sh perl ruby Rscript php; do
	if command -v "$lang" >/dev/null; then
		like ",$have," ",$lang," "$lang is listed as installed"
	fi
done

hello python3 hello.py 'print("hello from python3")'
hello node hello.js 'console.log("hello from node")'
hello bash hello.sh 'echo "hello from bash"'
hello sh hello.sh 'echo "hello from sh"'
hello perl hello.pl 'print "hello from perl\n";'
hello ruby hello.rb 'puts "hello from ruby"'
hello Rscript hello.R 'cat("hello from Rscript\n")'
hello php hello.php '<?php echo "hello from php\n";'
hello "" hello.py 'print("hello from hello.py")'
hello "" hello.rb 'puts "hello from hello.rb"'
hello "" hello.R 'cat("hello from hello.R\n")'

# A static binary in the upload, run as the entrypoint itself.
mkdir -p bin && printf '#include <stdio.h>\nint main(void) { puts("hello from a binary"); return 0; }\n' > hello.c
gcc -O1 -static -o bin/hello hello.c
run_job bin '{"entrypoint":"hello","interpreter":"none"}'
is "$(logs "$JOB_ID")" "hello from a binary" "a static binary runs as the entrypoint"

# A language no live runner has: the runner's heartbeat says which it has.
# The runner is stopped (SIGSTOP) while its announcement is rewritten, so
# its next heartbeat cannot undo it mid-test; it stays live (LEASE_MS).
"$top_srcdir/contrib/sandrun-stack" kill runner "$STACK_DIR" --signal STOP
runner=$(rcli ZRANGE sr:runners 0 0)
rcli HSET "sr:runner:$runner" environments \
	'[{"name":"default","description":"d","interpreters":["python3","sh"],"packages":[]}]' >/dev/null
mkdir -p rb && echo 'puts 1' > rb/x.rb && tar czf rb.tar.gz -C rb .
api -X POST "$SANDRUN_URL/submit" -F files=@rb.tar.gz -F 'manifest={"entrypoint":"x.rb"}'
is "$HTTP_STATUS" 400 "a language no live runner has is refused at submit"
is "$(json .field)" interpreter "... naming the interpreter"
like "$(json .reason)" 'ruby is not installed' "... and saying so"
api "$SANDRUN_URL/environments"
is "$(json '.environments[0].interpreters | join(",")')" "python3,sh" "... and /environments lists only what the runners have"
"$top_srcdir/contrib/sandrun-stack" kill runner "$STACK_DIR" --signal CONT

# A job that needs a GPU fails at once while no runner has one.
mkdir -p gpu && echo 'print(1)' > gpu/main.py && tar czf gpu.tar.gz -C gpu .
api -X POST "$SANDRUN_URL/submit" -F files=@gpu.tar.gz -F 'manifest={"entrypoint":"main.py","gpu":{"required":true,"min_vram_gb":8}}'
is "$HTTP_STATUS" 400 "gpu.required with no GPU runner is refused at once"
is "$(json .field)" gpu "... naming gpu"
like "$(json .reason)" 'no live runner has a GPU' "... and saying why"
api -X POST "$SANDRUN_URL/submit" -F files=@gpu.tar.gz -F 'manifest={"entrypoint":"main.py","gpu":{"required":false}}'
is "$HTTP_STATUS" 200 "gpu.required false runs on any runner"
done_testing
