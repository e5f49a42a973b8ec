#!/usr/bin/env bash
# UTF-8 file names end to end (docs/api.md §2: "files" maps utf-8 paths): a pax
# tar (Python's tarfile default, where the name is UTF-8 in a pax header),
# a GNU tar, a zip and the JSON body's inline files, each holding non-ASCII
# names; the job runs them (as its entrypoint, and imported or read by an
# ASCII one); outputs with non-ASCII names are listed, downloaded by their
# percent-encoded path and packed into the archive under their own names.
# The daemons run with whatever locale they were started in (systemd: none,
# so "C"), as they do here under make check.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar curl sha256sum cmp
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 is not installed (it writes the test archives)"
stack_start
cd "$WORK"
# The test's own tools read and print names in UTF-8 whatever make check had.
export LC_ALL=C.UTF-8

curl_get() { # curl_get URL-PATH OUTFILE [curl args] : prints the HTTP status
	local path=$1 out=$2
	shift 2
	curl -sS --max-time 30 --cacert "$SANDRUN_CACERT" -o "$out" -w '%{http_code}' "$@" "$SANDRUN_URL$path"
}

# submit_file ARCHIVE MANIFEST : submits; then runs the job to its end (JOB_ID, STATUS_JSON).
submit_file() {
	api -X POST "$SANDRUN_URL/submit" -F "files=@$1" -F "manifest=$2"
	JOB_ID=$(json .job_id)
	STATUS_JSON=
	[ "$HTTP_STATUS" = 200 ] || { echo "# submit: $HTTP_STATUS $BODY"; return 1; }
	wait_job "$JOB_ID"
}

# The job: données.py prints, reads a UTF-8-named file beside it and writes
# outputs with UTF-8 names (a directory and a file); main.py (ASCII) imports
# café.py and reads données/entrée.txt.
/usr/bin/python3 - <<'PY'
import io, tarfile, zipfile
files = {
    "données.py": (
        "import os\n"
        "print('bonjour', open('données/entrée.txt', encoding='utf-8').read().strip())\n"
        "os.makedirs('résultats', exist_ok=True)\n"
        "open('résultats/données.txt', 'w', encoding='utf-8').write('été\\n')\n"
        "open('café.txt', 'w', encoding='utf-8').write('crème\\n')\n"
    ),
    "main.py": (
        "import café\n"
        "print('ascii entrypoint:', café.WORD, open('données/entrée.txt', encoding='utf-8').read().strip())\n"
    ),
    "café.py": "WORD = 'noël'\n",
    "données/entrée.txt": "ça marche\n",
}
def members():
    for name, text in files.items():
        data = text.encode("utf-8")
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        yield info, io.BytesIO(data)
with tarfile.open("pax.tar.gz", "w:gz") as t:            # PAX_FORMAT: Python's default
    assert t.format == tarfile.PAX_FORMAT
    for info, data in members():
        t.addfile(info, data)
with tarfile.open("gnu.tar", "w", format=tarfile.GNU_FORMAT) as t:
    for info, data in members():
        t.addfile(info, data)
with zipfile.ZipFile("job.zip", "w") as z:               # UTF-8 names carry the zip's UTF-8 flag
    for name, text in files.items():
        z.writestr(name, text)
PY

manifest='{"entrypoint":"données.py","interpreter":"python3","outputs":["résultats/","*.txt"]}'
for archive in pax.tar.gz gnu.tar job.zip; do
	submit_file "$archive" "$manifest"
	is "$HTTP_STATUS" 200 "$archive with UTF-8 names is accepted"
	is "$(json .status "$STATUS_JSON")" completed "$archive: python3 données.py completes"
	is "$(logs "$JOB_ID")" "bonjour ça marche" "$archive: it read données/entrée.txt"
done
archive_job=$JOB_ID   # the zip's job (each of the three wrote the same outputs)

submit_file pax.tar.gz '{"entrypoint":"main.py","interpreter":"python3"}'
is "$(json .status "$STATUS_JSON")" completed "an ASCII entrypoint importing café.py completes"
is "$(logs "$JOB_ID")" "ascii entrypoint: noël ça marche" "... it imported café and read données/entrée.txt"

# --- the JSON body: inline files with UTF-8 names
body=$(jq -n --rawfile a /dev/stdin '{"entrypoint":"données.py","interpreter":"python3",
	"outputs":["résultats/","*.txt"],
	"files":{"données.py":$a,"données/entrée.txt":"ça marche\n"}}' <<'PYSRC'
import os
print('bonjour', open('données/entrée.txt', encoding='utf-8').read().strip())
os.makedirs('résultats', exist_ok=True)
open('résultats/données.txt', 'w', encoding='utf-8').write('été\n')
open('café.txt', 'w', encoding='utf-8').write('crème\n')
PYSRC
)
api -X POST "$SANDRUN_URL/submit" -H 'Content-Type: application/json' --data-binary "$body"
is "$HTTP_STATUS" 200 "a JSON body whose files have UTF-8 names is accepted"
json_job=$(json .job_id)
wait_job "$json_job"
is "$(json .status "$STATUS_JSON")" completed "... and données.py completes"
is "$(logs "$json_job")" "bonjour ça marche" "... having read données/entrée.txt"

# --- outputs with UTF-8 names: listed, downloaded by percent-encoded path, archived
printf 'été\n' > want-donnees.txt
printf 'crème\n' > want-cafe.txt
want_list=$(printf '%s\n' café.txt résultats/données.txt)
for id in "$archive_job" "$json_job"; do
	api "$SANDRUN_URL/status/$id"
	is "$(json '.output_files | keys[]' | sort)" "$want_list" "status output_files has the UTF-8 names"
	api "$SANDRUN_URL/outputs/$id"
	is "$HTTP_STATUS" 200 "GET /outputs answers"
	is "$(json '.files[].path' | sort)" "$want_list" "GET /outputs lists the UTF-8 names"
	is "$(json '.files[] | select(.path == "résultats/données.txt") | .sha256')" \
		"$(sha256sum < want-donnees.txt | cut -d' ' -f1)" "... with the sha256 of résultats/données.txt"
	code=$(curl_get "/download/$id/r%C3%A9sultats/donn%C3%A9es.txt" got.txt -D got.headers)
	is "$code" 200 "GET /download/{id}/r%C3%A9sultats/donn%C3%A9es.txt is 200"
	cmp -s got.txt want-donnees.txt
	ok $? "... with the job's bytes"
	like "$(tr -d '\r' < got.headers)" "filename\\*=UTF-8''donn%C3%A9es\\.txt" \
		"... and Content-Disposition names donn%C3%A9es.txt (RFC 8187)"
	# the archive of all outputs (the job is deleted after it)
	code=$(curl_get "/download/$id" all.tar.gz)
	is "$code" 200 "GET /download/{id} packs outputs with UTF-8 names"
	names=$(/usr/bin/python3 -c '
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        print(m.name, t.extractfile(m).read().decode("utf-8").strip())' all.tar.gz 2>&1 | sort)
	is "$names" "$(printf '%s\n' 'café.txt crème' 'résultats/données.txt été')" \
		"... under their own names, with their contents"
done

done_testing
