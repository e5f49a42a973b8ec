/*
 * Builds and installs the job's seccomp filter from the policy table in
 * seccomp_policy.c (see seccomp_filter.h for the API and the policy's reasons).
 *
 * The filter, as libseccomp generates it for the native x86-64 only:
 *
 *   arch != x86_64 (an i386 `int $0x80`)       -> kill the process (bad arch)
 *   nr >= __X32_SYSCALL_BIT (an x32 call)       -> kill the process (bad arch)
 *   nr in a group                               -> allow
 *   nr with rules, arguments match one          -> allow, or its errno
 *   anything else                               -> kill the process (SIGSYS)
 *
 * libseccomp emits the x32 check itself for an x86_64-only filter (an
 * x32 number never reaches the allowlist); the unit test checks both
 * ABIs die. Kill-process rather than kill-thread: a multi-threaded runtime
 * with one thread gone would hang instead of failing visibly. The syscall
 * list is laid out as a binary tree (libseccomp's optimize level 2), so a
 * call costs a handful of comparisons, not a walk down ~200 of them.
 *
 * The compiled program is exported once into memory (through a memfd,
 * libseccomp 2.5 writes only to descriptors) so that applying it is a
 * plain seccomp(2) call: nothing allocated, nothing that can fail halfway.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <seccomp.h>
#include "seccomp_filter.h"
#include "util.h"

/* The kernel's limit on a filter's length (BPF_MAXINSNS). */
#define SECCOMP_PROGRAM_MAX_INSNS 4096

/* libseccomp's optimize attribute: 2 lays the syscall numbers out as a
 * binary tree instead of a list (libseccomp >= 2.5). */
#define SECCOMP_OPTIMIZE_BINARY_TREE 2

static uint32_t seccomp_rule_action(const struct seccomp_rule *rule)
{
	return rule->errno_value != 0 ? SCMP_ACT_ERRNO((uint16_t)rule->errno_value) : SCMP_ACT_ALLOW;
}

static int seccomp_add_group(scmp_filter_ctx ctx, const struct seccomp_group *group,
			     char *err, size_t errlen)
{
	const char *const *name;

	for (name = group->syscalls; *name != NULL; name++) {
		int nr = seccomp_syscall_resolve_name(*name);
		int rc;

		if (nr < 0)
			continue;       /* unknown to this libseccomp: left out, so killed (fail closed) */
		rc = seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0)
			return error_format(err, errlen, "cannot allow %s (group %s) in the seccomp filter: %s",
					    *name, group->name, strerror(-rc));
	}
	return 0;
}

static int seccomp_add_rule(scmp_filter_ctx ctx, const struct seccomp_rule *rule,
			    char *err, size_t errlen)
{
	struct scmp_arg_cmp cmp[SECCOMP_RULE_MATCH_MAX];
	int nr = seccomp_syscall_resolve_name(rule->syscall);
	unsigned i;
	int rc;

	if (nr < 0)
		return 0;               /* as above: killed */
	if (rule->match_count > SECCOMP_RULE_MATCH_MAX)
		return error_format(err, errlen, "a seccomp rule for %s has too many argument tests",
				    rule->syscall);
	for (i = 0; i < rule->match_count; i++) {
		const struct seccomp_match *m = &rule->match[i];

		memset(&cmp[i], 0, sizeof cmp[i]);
		cmp[i].arg = m->arg;
		if (m->op == SECCOMP_MATCH_MASKED_EQ) {
			cmp[i].op = SCMP_CMP_MASKED_EQ;
			cmp[i].datum_a = m->mask;
			cmp[i].datum_b = m->value;
		} else {
			cmp[i].op = SCMP_CMP_NE;
			cmp[i].datum_a = m->value;
		}
	}
	rc = seccomp_rule_add_exact_array(ctx, seccomp_rule_action(rule), nr, rule->match_count, cmp);
	if (rc < 0)
		return error_format(err, errlen, "cannot add a rule for %s to the seccomp filter: %s",
				    rule->syscall, strerror(-rc));
	return 0;
}

/* libseccomp 2.5 exports only to a descriptor: a memfd, read back. */
static int seccomp_export(scmp_filter_ctx ctx, struct seccomp_program *prog, char *err, size_t errlen)
{
	struct sock_filter *filter = NULL;
	size_t size, got = 0;
	off_t end;
	int fd, rc;

	fd = memfd_create("sandrun-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return error_format(err, errlen, "cannot create a memfd for the seccomp filter: %s",
				    strerror(errno));
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0) {
		error_format(err, errlen, "cannot compile the seccomp filter: %s", strerror(-rc));
		goto fail;
	}
	end = lseek(fd, 0, SEEK_END);
	if (end <= 0 || end % (off_t)sizeof(struct sock_filter) != 0
	    || end / (off_t)sizeof(struct sock_filter) > SECCOMP_PROGRAM_MAX_INSNS) {
		error_format(err, errlen, "the compiled seccomp filter has an impossible size (%lld bytes)",
			     (long long)end);
		goto fail;
	}
	size = (size_t)end;
	filter = malloc(size);
	if (filter == NULL) {
		error_format(err, errlen, "no memory for the seccomp filter");
		goto fail;
	}
	while (got < size) {
		ssize_t n = pread(fd, (char *)filter + got, size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_format(err, errlen, "cannot read back the seccomp filter: %s",
				     n < 0 ? strerror(errno) : "short file");
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	prog->filter = filter;
	prog->len = (unsigned short)(size / sizeof(struct sock_filter));
	return 0;

fail:
	free(filter);
	close(fd);
	return -1;
}

int seccomp_program_build(struct seccomp_program *prog, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	prog->filter = NULL;
	prog->len = 0;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return error_format(err, errlen, "cannot start a seccomp filter: libseccomp or the kernel "
				    "lacks kill-process support");
	/* i386 and x32 calls: the kill the default gives (libseccomp's own is kill-thread) */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, SECCOMP_OPTIMIZE_BINARY_TREE);
	if (rc < 0) {
		error_format(err, errlen, "cannot configure the seccomp filter: %s", strerror(-rc));
		goto fail;
	}
	for (i = 0; i < seccomp_policy_group_count; i++)
		if (seccomp_add_group(ctx, &seccomp_policy_groups[i], err, errlen) < 0)
			goto fail;
	for (i = 0; i < seccomp_policy_rule_count; i++)
		if (seccomp_add_rule(ctx, &seccomp_policy_rules[i], err, errlen) < 0)
			goto fail;
	if (seccomp_export(ctx, prog, err, errlen) < 0)
		goto fail;
	seccomp_release(ctx);
	return 0;

fail:
	seccomp_release(ctx);
	return -1;
}

int seccomp_program_apply(const struct seccomp_program *prog, char *err, size_t errlen)
{
	struct sock_fprog fprog;

	if (prog == NULL || prog->filter == NULL || prog->len == 0)
		return error_format(err, errlen, "no seccomp filter was built");
	fprog.len = prog->len;
	fprog.filter = prog->filter;
	/* the kernel takes a filter from an unprivileged process only with
	 * no_new_privs; the sandbox has set it already, setting it again is a no-op */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_format(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) == 0)
		return 0;
	if (errno == ENOSYS && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == 0)
		return 0;       /* before Linux 3.17 */
	return error_format(err, errlen, "the kernel refused the seccomp filter: %s", strerror(errno));
}

void seccomp_program_free(struct seccomp_program *prog)
{
	if (prog == NULL)
		return;
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}

int seccomp_policy_load(char *err, size_t errlen)
{
	struct seccomp_program prog;
	int rc;

	if (seccomp_program_build(&prog, err, errlen) < 0)
		return -1;
	rc = seccomp_program_apply(&prog, err, errlen);
	seccomp_program_free(&prog);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The table's self-check.                                             */

struct seccomp_check {
	char *err;
	size_t errlen;
	int problems;
};

static void __attribute__((format(printf, 2, 3)))
seccomp_check_problem(struct seccomp_check *c, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	c->problems++;
	if (c->err == NULL || c->errlen == 0)
		return;
	used = strlen(c->err);
	if (used + 1 >= c->errlen)
		return;
	if (used > 0)
		used += (size_t)snprintf(c->err + used, c->errlen - used, "; ");
	if (used + 1 >= c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err + used, c->errlen - used, fmt, ap);
	va_end(ap);
}

/* How many times `name` is allowed outright by the groups. */
static int seccomp_group_mentions(const char *name)
{
	const char *const *p;
	size_t i;
	int n = 0;

	for (i = 0; i < seccomp_policy_group_count; i++)
		for (p = seccomp_policy_groups[i].syscalls; *p != NULL; p++)
			if (strcmp(*p, name) == 0)
				n++;
	return n;
}

static void seccomp_check_name(struct seccomp_check *c, const char *name, const char *where)
{
	if (seccomp_syscall_resolve_name(name) < 0)
		seccomp_check_problem(c, "%s (%s) is not a system call libseccomp knows on this architecture",
				      name, where);
}

int seccomp_policy_check(char *err, size_t errlen)
{
	struct seccomp_check c = { err, errlen, 0 };
	const char *const *p;
	size_t i;
	unsigned j;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (i = 0; i < seccomp_policy_group_count; i++) {
		const struct seccomp_group *g = &seccomp_policy_groups[i];

		for (p = g->syscalls; *p != NULL; p++) {
			seccomp_check_name(&c, *p, g->name);
			if (seccomp_group_mentions(*p) > 1)
				seccomp_check_problem(&c, "%s is in more than one group (%s)", *p, g->name);
		}
	}
	for (i = 0; i < seccomp_policy_rule_count; i++) {
		const struct seccomp_rule *r = &seccomp_policy_rules[i];

		seccomp_check_name(&c, r->syscall, "a rule");
		/* an unconditional allow would silently override the rule */
		if (seccomp_group_mentions(r->syscall) > 0)
			seccomp_check_problem(&c, "%s is both in a group and in a rule", r->syscall);
		if (r->match_count > SECCOMP_RULE_MATCH_MAX)
			seccomp_check_problem(&c, "a rule for %s has too many argument tests", r->syscall);
		for (j = 0; j < r->match_count && j < SECCOMP_RULE_MATCH_MAX; j++)
			if (r->match[j].arg > 5)
				seccomp_check_problem(&c, "a rule for %s tests argument %u, which does not exist",
						      r->syscall, r->match[j].arg);
	}
	return c.problems;
}
