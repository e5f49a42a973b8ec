#!/usr/bin/python3
"""memscan.py SECRETS PID...: how many times each secret occurs in the
readable memory of each process, read through /proc/PID/maps and
/proc/PID/mem (as root: the processes scanned may be non-dumpable).

SECRETS is a file of "NAME HEX" lines, so that no secret is on a command
line. Prints one "PID NAME COUNT" line per process and secret; COUNT is
-1 when the process could not be read (it ended meanwhile).

Used by tests/integration/t250-secrets.sh and t260-privsep.sh. Debian's python3 only, no
modules beyond the standard library.
"""
import sys

CHUNK = 16 << 20
LARGE = 4 << 30     # sanitizer shadow maps: terabytes reserved, never touched
SKIPPED = ("[vvar]", "[vvar_vclock]", "[vsyscall]")


def read_secrets(path):
    secrets = []
    with open(path) as f:
        for line in f:
            if line.strip():
                name, hexbytes = line.split()
                secrets.append((name, bytes.fromhex(hexbytes)))
    return secrets


def scan(pid, secrets):
    """{name: count} for one process; None if it cannot be read"""
    counts = {name: 0 for name, _ in secrets}
    overlap = max(len(s) for _, s in secrets) - 1
    try:
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", 0)
    except OSError:
        return None
    with mem:
        for line in maps:
            fields = line.split()
            if fields[1][0] != "r" or line.endswith(SKIPPED):
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if hi - lo > LARGE:
                continue
            tail = b""
            for at in range(lo, hi, CHUNK):
                try:
                    mem.seek(at)
                    data = mem.read(min(CHUNK, hi - at))
                except (OSError, ValueError, OverflowError):
                    tail = b""
                    continue
                # the chunks overlap by the longest secret less one byte, so
                # a secret across two chunks is seen; one lying wholly in
                # the overlap was counted with the chunk before
                window = tail + data
                for name, secret in secrets:
                    counts[name] += window.count(secret, max(0, len(tail) - len(secret) + 1))
                tail = data[-overlap:] if overlap else b""
    return counts


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    secrets = read_secrets(sys.argv[1])
    for pid in sys.argv[2:]:
        counts = scan(pid, secrets)
        for name, _ in secrets:
            print(pid, name, -1 if counts is None else counts[name])
    return 0


sys.exit(main())
