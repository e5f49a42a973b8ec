#!/usr/bin/env bash
# requirements.txt installed inside the sandbox, before the entrypoint,
# with no network: pip takes packages only from the operator's mirror
# (requirements_mirror_dir, bound read-only at /mirror). The wheel here is
# one the test makes itself.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar
[ -x /usr/bin/pip3 ] || skip_all "python3-pip is not installed"
MIRROR=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-mirror.XXXXXX")
chmod 755 "$MIRROR"
mkdir -p "$MIRROR/pip"
/usr/bin/python3 - "$MIRROR/pip" <<'PY'
import base64, hashlib, sys, zipfile
files = {
    "tinypkg/__init__.py": b"VALUE = 42\n",
    "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
    "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: sandrun-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for name, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record += f"{name},sha256={digest},{len(data)}\n"
record += "tinypkg-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1] + "/tinypkg-1.0-py3-none-any.whl", "w") as z:
    for name, data in files.items():
        z.writestr(name, data)
    z.writestr("tinypkg-1.0.dist-info/RECORD", record)
PY
chmod -R a+rX "$MIRROR"
stack_start --set "requirements_mirror_dir=$MIRROR"
trap 'stack_stop; rm -rf "$MIRROR"' EXIT
cd "$WORK"

mkdir -p app
printf 'tinypkg==1.0\n' > app/requirements.txt
printf 'import tinypkg\nprint("tinypkg says", tinypkg.VALUE)\n' > app/main.py
run_job app '{"entrypoint":"main.py","requirements":"requirements.txt"}'
is "$(json .status "$STATUS_JSON")" completed "a job with requirements.txt completes"
is "$(logs "$JOB_ID")" "tinypkg says 42" "the package from the mirror was installed and imported"

mkdir -p missing
printf 'notinmirror==9.9\n' > missing/requirements.txt
printf 'print("should not run")\n' > missing/main.py
run_job missing '{"entrypoint":"main.py","requirements":"requirements.txt"}'
is "$(json .status "$STATUS_JSON")" failed "a requirement the mirror lacks fails the job"
unlike "$(logs "$JOB_ID")" "should not run" "... before the entrypoint runs"
like "$(logs "$JOB_ID" stream=stderr)" 'notinmirror' "... and pip says which"

mkdir -p ro
printf 'tinypkg==1.0\n' > ro/requirements.txt
printf 'import os\ntry:\n    open("/mirror/pip/x", "w")\n    print("PWNED wrote the mirror")\nexcept OSError:\n    print("mirror is read-only")\n' > ro/main.py
run_job ro '{"entrypoint":"main.py","requirements":"requirements.txt"}'
is "$(logs "$JOB_ID")" "mirror is read-only" "the job cannot write the operator's mirror"
done_testing
