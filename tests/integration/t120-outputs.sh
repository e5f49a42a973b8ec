#!/usr/bin/env bash
# Output files (docs/api.md §2, §3 outputs, §4 retention): collected from the
# sandbox after the run by globs, listed with size and SHA-256, downloaded
# one by one or as one .tar.gz, never anything else; links, FIFOs and late
# writers cannot fool the collection; over the cap the job fails with
# output_limit; the job goes once every output was downloaded.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar sha256sum cmp
stack_start --set outputs_max_bytes=100000

cd "$WORK"
curl_get() { # curl_get URL-PATH OUTFILE [curl args] : prints the HTTP status
	local path=$1 out=$2
	shift 2
	curl -sS --max-time 30 --cacert "$SANDRUN_CACERT" -o "$out" -w '%{http_code}' "$@" "$SANDRUN_URL$path"
}

# --- the seed's flow: results/, *.png, model.pkl
mkdir seed
cat > seed/job.sh <<'SH'
mkdir -p results/sub
printf '\211PNG\r\n\032\nnot really a png \000\001\002\377' > results/output.png
printf 'nested text\n' > results/sub/x.txt
i=0; while [ $i -lt 200 ]; do printf 'weights %d\n' $i; i=$((i+1)); done > model.pkl
printf 'top-level png\n' > a.png
printf 'not listed\n' > unlisted.dat
echo done
SH
manifest='{"entrypoint":"job.sh","interpreter":"bash","outputs":["results/","*.png","model.pkl"]}'
mkdir local && (cd local && bash ../seed/job.sh >/dev/null)
expected=$(cd local && find . -type f ! -name unlisted.dat | sed 's|^\./||' | sort)

run_job seed "$manifest"
is "$(json .status "$STATUS_JSON")" completed "the outputs job completes"
id=$JOB_ID
is "$(json '.output_files | keys[]' "$STATUS_JSON" | sort)" "$expected" \
	"status output_files lists exactly the matches (results/ tree, *.png at the top, model.pkl)"
api "$SANDRUN_URL/outputs/$id"
is "$HTTP_STATUS" 200 "GET /outputs is 200"
is "$(json '.job_id')" "$id" "GET /outputs names the job"
is "$(json '.files[].path' | sort)" "$expected" "GET /outputs lists the same files"
good=1
for f in $expected; do
	size=$(stat -c %s "local/$f")
	sum=$(sha256sum "local/$f" | cut -d' ' -f1)
	[ "$(json ".files[] | select(.path == \"$f\") | .size")" = "$size" ] || { good=0; echo "# size of $f"; }
	[ "$(json ".files[] | select(.path == \"$f\") | .sha256")" = "$sum" ] || { good=0; echo "# sha256 of $f"; }
	[ "$(json ".output_files[\"$f\"].sha256" "$STATUS_JSON")" = "$sum" ] || { good=0; echo "# status sha256 of $f"; }
done
ok $((1 - good)) "every size and sha256 matches the bytes the job wrote"

code=$(curl_get "/download/$id/results/output.png" got.png -D got.headers)
is "$code" 200 "GET /download/{id}/results/output.png is 200"
cmp -s got.png local/results/output.png
ok $? "the downloaded bytes are the job's, byte for byte"
hdrs=$(tr -d '\r' < got.headers)
like "$hdrs" '^[Cc]ontent-[Tt]ype: image/png$' "Content-Type is image/png"
like "$hdrs" "^[Cc]ontent-[Ll]ength: $(stat -c %s local/results/output.png)\$" "Content-Length is the file's size"
like "$hdrs" '^[Cc]ontent-[Dd]isposition: attachment; filename="output.png"' "Content-Disposition names the base name"
code=$(curl_get "/download/$id/model.pkl" got.pkl -D got.headers)
like "$(tr -d '\r' < got.headers)" '^[Cc]ontent-[Tt]ype: application/octet-stream$' "a .pkl is application/octet-stream"

# --- nothing but the listed outputs, whatever the path says
for p in "../../etc/passwd" "%2e%2e/%2e%2e/etc/passwd" "results/..%2f..%2fetc/passwd" "unlisted.dat" \
	"job.sh" "/etc/passwd" "results" "results/sub/../../../job.sh" \
	"results/sub/..%2f..%2f..%2fjob.sh" "%2fetc%2fpasswd"; do
	code=$(curl_get "/download/$id/$p" bad.out --path-as-is)
	like "$code" '^(400|404)$' "download of $p is refused ($code)"
	if grep -q 'root:' bad.out 2>/dev/null || grep -q 'not listed' bad.out 2>/dev/null; then
		ok 1 "download of $p gave content"
	fi
done
# paths are normalized: one that stays among the job's outputs names that output
for p in "results/sub/../../model.pkl" "./a.png/"; do
	code=$(curl_get "/download/$id/$p" norm.out --path-as-is)
	f=$(printf '%s' "$p" | sed -e 's|^\./||' -e 's|/$||' -e 's|//|/|g' -e 's|/\./|/|g' -e 's|results/sub/\.\./\.\./||')
	is "$code" 200 "download of $p is normalized to $f"
	cmp -s norm.out "local/$f"
	ok $? "and answers $f's bytes"
done
api "$SANDRUN_URL/status/$id"
is "$HTTP_STATUS" 200 "the job is still there after some of its outputs were downloaded"

# --- the archive: every output, then the job is gone
code=$(curl_get "/download/$id" all.tar.gz -D all.headers)
is "$code" 200 "GET /download/{id} is 200"
like "$(tr -d '\r' < all.headers)" '^[Cc]ontent-[Tt]ype: application/gzip$' "the archive is application/gzip"
like "$(tr -d '\r' < all.headers)" "^[Cc]ontent-[Dd]isposition: attachment; filename=\"$id-outputs.tar.gz\"" \
	"the archive is named after the job"
mkdir unpacked && tar xzf all.tar.gz -C unpacked
ok $? "the archive is a valid tar.gz"
is "$(cd unpacked && find . -type f | sed 's|^\./||' | sort)" "$expected" "the archive holds exactly the outputs"
diff -r unpacked local -x unlisted.dat >/dev/null
ok $? "the archive's files are the job's bytes"
api "$SANDRUN_URL/status/$id"
is "$HTTP_STATUS" 404 "after the archive was downloaded the job is gone"
code=$(curl_get "/download/$id/a.png" gone.out)
is "$code" 404 "and so are its outputs"

# --- every output once: then the job is gone
run_job seed "$manifest"
id=$JOB_ID
n=0
for f in $expected; do
	api "$SANDRUN_URL/status/$id"
	is "$HTTP_STATUS" 200 "the job is there before $f was downloaded"
	code=$(curl_get "/download/$id/$f" one.out)
	is "$code" 200 "download of $f"
	n=$((n + 1))
done
api "$SANDRUN_URL/status/$id"
is "$HTTP_STATUS" 404 "after every output was downloaded once the job is gone"
api "$SANDRUN_URL/outputs/$id"
is "$HTTP_STATUS" 404 "GET /outputs of the deleted job is 404"

# --- planted links and FIFOs are listed as skipped, never read
mkdir links
cat > links/job.sh <<'SH'
ln -s /etc/passwd leak.txt
ln -s /proc/self/environ env.txt
mkdir -p d && ln -s /etc d/etc.txt
mkfifo pipe.txt
printf 'real\n' > real.txt
SH
run_job links '{"entrypoint":"job.sh","interpreter":"bash","outputs":["*.txt","d/"],"timeout":20}' 40
is "$(json .status "$STATUS_JSON")" completed "a job with link and FIFO outputs completes (no hang on the FIFO)"
wall=$(json .execution_metadata.wall_seconds "$STATUS_JSON")
ok "$(awk -v w="$wall" 'BEGIN { print (w < 10) ? 0 : 1 }')" "the FIFO did not hold the job up ($wall s)"
id=$JOB_ID
is "$(json '.output_files | keys[]' "$STATUS_JSON")" "real.txt" "only the regular file is collected"
api "$SANDRUN_URL/outputs/$id"
is "$(json '.skipped[] | select(.path == "leak.txt") | .kind')" symlink "the symlink is listed as skipped"
is "$(json '.skipped[] | select(.path == "pipe.txt") | .kind')" fifo "the FIFO is listed as skipped"
is "$(json '.skipped[] | select(.path == "d/etc.txt") | .kind')" symlink "a link in a listed directory is skipped"
unlike "$BODY" 'root:' "no listing carries the link's target's content"
code=$(curl_get "/download/$id/leak.txt" leak.out)
is "$code" 404 "the symlink cannot be downloaded"
! grep -q 'root:' leak.out
ok $? "and nothing of /etc/passwd comes back"

# --- a process left behind cannot change what is collected
mkdir racer
cat > racer/job.sh <<'SH'
printf 'original\n' > out.txt
setsid sh -c 'sleep 0.3; printf "tampered\n" > out.txt; sleep 0.3; printf "tampered\n" > out.txt' >/dev/null 2>&1 &
( while :; do sleep 0.01; done ) >/dev/null 2>&1 &
exit 0
SH
run_job racer '{"entrypoint":"job.sh","interpreter":"bash","outputs":["out.txt"]}'
is "$(json .status "$STATUS_JSON")" completed "the job with background writers completes"
sleep 1
code=$(curl_get "/download/$JOB_ID/out.txt" racer.out)
is "$(cat racer.out)" original "what is collected is the file as the job left it at its exit"

# --- over the outputs cap (100000 bytes here): failed, output_limit, logs kept
mkdir big
cat > big/job.sh <<'SH'
echo "making outputs"
printf 'small\n' > a-small.txt
head -c 200000 /dev/zero > b-big.bin
SH
run_job big '{"entrypoint":"job.sh","interpreter":"bash","outputs":["*.txt","*.bin"]}'
is "$(json .status "$STATUS_JSON")" failed "outputs over the cap fail the job"
is "$(json .reason "$STATUS_JSON")" output_limit "with reason output_limit"
is "$(json '.output_files["b-big.bin"]' "$STATUS_JSON")" null "the file over the cap is not stored"
is "$(logs "$JOB_ID")" "making outputs" "the job's logs are kept"
api "$SANDRUN_URL/outputs/$JOB_ID"
is "$(json '.skipped[] | select(.path == "b-big.bin") | .kind')" too_large "the file over the cap is listed as too_large"

# --- a job without outputs has an empty listing and no archive
mkdir none && echo 'echo hi' > none/job.sh
run_job none '{"entrypoint":"job.sh","interpreter":"bash"}'
is "$(json .output_files "$STATUS_JSON" | tr -d ' \n')" "{}" "no outputs: output_files is empty"
code=$(curl_get "/download/$JOB_ID" none.out)
is "$code" 404 "no outputs: no archive"
api "$SANDRUN_URL/status/$JOB_ID"
is "$HTTP_STATUS" 200 "and the job stays"
done_testing
