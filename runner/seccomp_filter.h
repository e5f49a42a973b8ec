/*
 * The job's system-call filter (SECURITY.md, "The sandbox"): a seccomp-BPF allowlist built
 * with libseccomp, loaded as the job process's last step before execve.
 * Anything the policy does not name kills the whole process with SIGSYS;
 * the few calls that runtimes probe get an errno instead (each says why).
 * Only the native x86-64 ABI is let in: an i386 call (int $0x80) or an x32
 * call (__X32_SYSCALL_BIT) kills too.
 *
 * The policy itself is data, in seccomp_policy.c: groups of calls allowed
 * outright, each with its reason, and rules that look at arguments or
 * answer with an errno. Names are resolved by libseccomp when the filter
 * is built, so the table reads like the man pages and stays portable.
 *
 * Two ways to use it:
 *   - seccomp_policy_load(): build and load in one call, in the process
 *     about to exec (what the sandbox's job process does);
 *   - seccomp_program_build() once, then seccomp_program_apply() in each
 *     process: the program is plain memory, so applying it costs one
 *     syscall and allocates nothing (safe in a forked child).
 * Every function returns 0, or -1 with a sentence in err; none logs or
 * exits.
 */

#ifndef SANDRUN_SECCOMP_FILTER_H
#define SANDRUN_SECCOMP_FILTER_H

#include <stddef.h>
#include <stdint.h>

struct sock_filter;

/* A compiled filter: classic BPF instructions, owned by the struct. */
struct seccomp_program {
	struct sock_filter *filter;  /* malloc'd; seccomp_program_free() frees it */
	unsigned short len;          /* instructions (the kernel's limit is 4096) */
};

/* Builds the policy into *prog. On failure *prog is empty. */
int seccomp_program_build(struct seccomp_program *prog, char *err, size_t errlen);

/* Sets no_new_privs (idempotent) and installs prog on the calling thread;
 * the filter is inherited by every child and kept across execve. Only
 * system calls, no allocation: fine between fork and exec. */
int seccomp_program_apply(const struct seccomp_program *prog, char *err, size_t errlen);

void seccomp_program_free(struct seccomp_program *prog);

/* Build, apply, free: the filter for the calling process, in one call. */
int seccomp_policy_load(char *err, size_t errlen);

/* Checks the policy table against the libseccomp we run with: every name
 * resolves to a native system call, and none is listed twice (a group and
 * a rule, or two groups). Returns the number of problems (0: clean), the
 * first ones described in err. A name libseccomp does not know is left out
 * of the filter, so that call is killed: the policy fails closed. */
int seccomp_policy_check(char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* The policy's shape (the data is in seccomp_policy.c).              */

/* System calls allowed outright, for one reason. */
struct seccomp_group {
	const char *name;                /* "memory": for error messages */
	const char *const *syscalls;     /* NULL-terminated */
};

/* One argument test. The kernel reads int arguments as 32 bits and ignores
 * the register's upper half: tests on such arguments mask it away
 * (mask 0xffffffff), so a caller cannot slip past with stray high bits. */
enum seccomp_match_op {
	SECCOMP_MATCH_MASKED_EQ,         /* (arg & mask) == value */
	SECCOMP_MATCH_NE,                /* arg != value, all 64 bits (mask unused) */
};

struct seccomp_match {
	unsigned arg;                    /* 0..5 */
	enum seccomp_match_op op;
	uint64_t mask;
	uint64_t value;
};

#define SECCOMP_RULE_MATCH_MAX 2

/* A call allowed only when every match holds, or answered with an errno
 * (with or without matches) instead of being killed. */
struct seccomp_rule {
	const char *syscall;
	int errno_value;                 /* 0: allow; else the call fails with this errno */
	unsigned match_count;
	struct seccomp_match match[SECCOMP_RULE_MATCH_MAX];
};

extern const struct seccomp_group seccomp_policy_groups[];
extern const size_t seccomp_policy_group_count;
extern const struct seccomp_rule seccomp_policy_rules[];
extern const size_t seccomp_policy_rule_count;

#endif
