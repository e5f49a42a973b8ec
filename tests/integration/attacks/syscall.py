# Attack payload: one forbidden system call, named by argv[1], made with
# ctypes. Prints RAN first; PWNED only if the call succeeded. The seccomp
# filter should kill the process (SIGSYS) before it can print anything else.
import ctypes, os, sys

libc = ctypes.CDLL(None, use_errno=True)
name = sys.argv[1]
# x86-64 numbers: the filter works on numbers, so the test does too.
NR = {
    "mount": (165, [b"none", b"/tmp", b"tmpfs", 0, 0]),
    "umount2": (166, [b"/proc", 2]),
    "unshare": (272, [0x10000000]),              # CLONE_NEWUSER
    "unshare_ns": (272, [0x00020000]),           # CLONE_NEWNS
    "setns": (308, [0, 0]),
    "ptrace": (101, [0, 0, 0, 0]),               # PTRACE_TRACEME
    "bpf": (321, [0, 0, 0]),
    "keyctl": (250, [0, 0, 0, 0, 0]),
    "add_key": (248, [b"user", b"k", b"v", 1, -4]),
    "perf_event_open": (298, [0, 0, -1, -1, 0]),
    "userfaultfd": (323, [0]),
    "io_uring_setup": (425, [1, 0]),
    "kexec_load": (246, [0, 0, 0, 0]),
    "init_module": (175, [0, 0, b""]),
    "finit_module": (313, [0, b"", 0]),
    "delete_module": (176, [b"x", 0]),
    "open_by_handle_at": (304, [0, 0, 0]),
    "personality": (135, [0x0008]),              # PER_LINUX32
    "clone_newuser": (56, [0x10000000 | 17, 0, 0, 0, 0]),  # clone(CLONE_NEWUSER|SIGCHLD)
    "clone_newns": (56, [0x00020000 | 17, 0, 0, 0, 0]),
    "reboot": (169, [0xfee1dead, 672274793, 0x4321fedc, 0]),
    "pivot_root": (155, [b"/", b"/"]),
    "chroot": (161, [b"/tmp"]),
}[name]
print("RAN", flush=True)
nr, args = NR
args = [ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(a) for a in args]
r = libc.syscall(nr, *args)
err = ctypes.get_errno()
if r == 0 and name.startswith("clone"):
    os._exit(0)                              # the child of a clone that worked
if r >= 0:
    print("PWNED", name, r, flush=True)
else:
    print("refused", name, os.strerror(err), flush=True)
