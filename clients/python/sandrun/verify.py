"""Checking a signed result (docs/signing.md; runner/sign.c is the reference).

:func:`canonical_message` rebuilds the byte string a runner signed from a
status object; :func:`verify_result` checks its Ed25519 signature with the
worker id (the base64 of the raw public key) and, when given, the bytes of
stdout, stderr, the upload and outputs against the signed SHA-256 sums.

Ed25519 is not in the standard library: the signature is checked with the
``cryptography`` package when it can be imported (Debian:
python3-cryptography), else with the ``openssl`` command (OpenSSL 3:
``openssl pkeyutl -verify -rawin``). With neither, verification raises
:class:`~sandrun.errors.VerificationError` saying so.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shutil
import subprocess
import tempfile
from typing import Any, Iterable, Mapping, Optional

from .errors import VerificationError

SIGN_FORMAT = b"sandrun-result-v1"
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def _esc(value: Any, escape_space: bool = False) -> bytes:
    if value is None:
        return b""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
    out = bytearray()
    for c in raw:
        if c == 0x5C:
            out += b"\\\\"
        elif c == 0x0A:
            out += b"\\n"
        elif c < 0x20 or c == 0x7F or (escape_space and c == 0x20):
            out += b"\\x%02x" % c
        else:
            out.append(c)
    return bytes(out)


def _int(value: Any, key: str, required: bool = False) -> bytes:
    if value is None and not required:
        return b""
    if not isinstance(value, int) or isinstance(value, bool):
        raise VerificationError(f"the status object mistypes the signed field {key}")
    return str(value).encode()


def canonical_message(status: Mapping[str, Any]) -> bytes:
    """The byte string the runner signed for this status object."""
    try:
        wm = status["worker_metadata"]
        meta = status["execution_metadata"]
        limits = meta["limits"]
        hashes = status["result_hashes"]
    except (KeyError, TypeError):
        raise VerificationError("the result is not signed (no worker_metadata, "
                                "execution_metadata.limits or result_hashes)") from None
    for key in ("job_id", "status", "started_at", "finished_at"):
        if not isinstance(status.get(key), str):
            raise VerificationError(f"the status object lacks the signed field {key}")
    if not isinstance(meta.get("environment"), str):
        raise VerificationError("the status object lacks execution_metadata.environment")
    for key in ("cpu_seconds", "wall_seconds"):
        if not isinstance(meta.get(key), (int, float)) or isinstance(meta.get(key), bool):
            raise VerificationError(f"the status object mistypes execution_metadata.{key}")
    lines = [
        SIGN_FORMAT,
        b"job_id=" + _esc(status["job_id"]),
        b"worker_id=" + _esc(wm.get("worker_id")),
        b"upload_sha256=" + _esc(hashes.get("upload_sha256")),
        b"manifest_sha256=" + _esc(hashes.get("manifest_sha256")),
        b"environment=" + _esc(meta["environment"]),
    ]
    for key in ("timeout_seconds", "memory_mb", "cpu_cores", "pids_max", "log_max_bytes"):
        lines.append(b"limit." + key.encode() + b"=" + _int(limits.get(key), key, True))
    lines += [
        b"status=" + _esc(status["status"]),
        b"reason=" + _esc(status.get("reason")),
        b"exit_code=" + _int(meta.get("exit_code"), "exit_code"),
        b"signal=" + _int(meta.get("signal"), "signal"),
        b"cpu_seconds=" + ("%.3f" % meta["cpu_seconds"]).encode(),
        b"wall_seconds=" + ("%.3f" % meta["wall_seconds"]).encode(),
        b"memory_peak_bytes=" + _int(meta.get("memory_peak_bytes"), "memory_peak_bytes", True),
        b"stdout_sha256=" + _esc(hashes.get("stdout_sha256")),
        b"stderr_sha256=" + _esc(hashes.get("stderr_sha256")),
        b"started_at=" + _esc(status["started_at"]),
        b"finished_at=" + _esc(status["finished_at"]),
    ]
    files = status.get("output_files") or {}
    entries = []
    if isinstance(files, Mapping):
        entries = [(p, v.get("size"), v.get("sha256")) for p, v in files.items()]
    else:
        entries = [(v.get("path"), v.get("size"), v.get("sha256")) for v in files]
    for path, size, sha in sorted(entries, key=lambda e: str(e[0]).encode("utf-8", "surrogateescape")):
        lines.append(b"output=" + _esc(path, True) + b" " + _int(size, "output size", True)
                     + b" " + _esc(sha, True))
    return b"\n".join(lines) + b"\n"


def backend() -> Optional[str]:
    """Which Ed25519 implementation will be used: 'cryptography', 'openssl' or None."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: F401
        return "cryptography"
    except ImportError:
        pass
    return "openssl" if shutil.which("openssl") else None


def _public_key(worker_id: str) -> bytes:
    try:
        raw = base64.b64decode(worker_id, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise VerificationError(f"{worker_id!r} is not a worker id (base64 of an Ed25519 public key)")
    return raw


def verify_signature(worker_id: str, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is ``worker_id``'s Ed25519 signature of ``message``."""
    pub = _public_key(worker_id)
    try:
        sig = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(sig) != 64:
        return False
    which = backend()
    if which == "cryptography":
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, message)
            return True
        except InvalidSignature:
            return False
    if which == "openssl":
        return _openssl_verify(pub, message, sig)
    raise VerificationError("no Ed25519 implementation: install python3-cryptography or openssl")


def _openssl_verify(pub: bytes, message: bytes, sig: bytes) -> bool:
    der = _ED25519_SPKI_PREFIX + pub
    pem = b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"
    with tempfile.TemporaryDirectory(prefix="sandrun-verify.") as d:
        paths = {}
        for name, data in (("pub.pem", pem), ("msg", message), ("sig", sig)):
            paths[name] = os.path.join(d, name)
            with open(paths[name], "wb") as f:
                f.write(data)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths["pub.pem"],
                            "-rawin", "-in", paths["msg"], "-sigfile", paths["sig"]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return r.returncode == 0


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_result(status: Mapping[str, Any], worker_ids: Optional[Iterable[str]] = None, *,
                  stdout: Optional[bytes] = None, stderr: Optional[bytes] = None,
                  upload: Optional[bytes] = None,
                  outputs: Optional[Mapping[str, bytes]] = None) -> str:
    """Checks a signed status object; returns the worker id that signed it.

    ``worker_ids``: the ids to trust (e.g. ``GET /workers``'s); None trusts
    the id the result names (the signature then only proves integrity).
    The byte arguments are checked against the signed SHA-256 sums.
    Raises :class:`VerificationError` saying what does not match.
    """
    wm = status.get("worker_metadata")
    if not isinstance(wm, Mapping) or not wm.get("signature") or not wm.get("worker_id"):
        raise VerificationError("the result is not signed (no worker_metadata)")
    wid = str(wm["worker_id"])
    if worker_ids is not None and wid not in set(worker_ids):
        raise VerificationError(f"signed by {wid}, not by a trusted worker")
    message = canonical_message(status)
    if not verify_signature(wid, message, str(wm["signature"])):
        raise VerificationError("the signature does not match the status object "
                                "(a field was changed, or another key signed it)")
    hashes = status.get("result_hashes") or {}
    for what, data, key in (("stdout", stdout, "stdout_sha256"), ("stderr", stderr, "stderr_sha256"),
                            ("upload", upload, "upload_sha256")):
        if data is not None and _sha(data) != hashes.get(key):
            raise VerificationError(f"{what} does not match the signed SHA-256")
    files = status.get("output_files") or {}
    for path, data in (outputs or {}).items():
        info = files.get(path) if isinstance(files, Mapping) else None
        if not info:
            raise VerificationError(f"output {path} is not in the signed result")
        if info.get("size") != len(data) or info.get("sha256") != _sha(data):
            raise VerificationError(f"output {path} does not match the signed size and SHA-256")
    return wid
