/*
 * The sandbox spec as bytes (runner/sandbox_spec.c): what the supervisor
 * encodes, init decodes to the same spec; every truncation, every
 * flipped byte and every lie in a length or a count is refused or decodes
 * to something well-formed, never read past the end (run it under ASan);
 * what init must never be asked (root, relative paths) does not decode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>

#include "sandbox_spec.h"
#include "tap.h"

static const char *const argv_[] = { "/usr/bin/python3", "main.py", "an arg with spaces", "", NULL };
static const char *const envp_[] = { "PATH=/usr/bin:/bin", "HOME=/work", "LANG=C.UTF-8", NULL };
static const char *const devices_[] = { "/dev/nvidia0", "/dev/nvidiactl" };
static const char *const outputs_[] = { "results/", "*.png" };
static struct sock_filter filter_[3] = { { 6, 0, 0, 0 }, { 0x15, 1, 0, 59 }, { 6, 0, 0, 0x7fff0000 } };
static struct seccomp_program program_ = { filter_, 3 };

static void full_spec(struct sandbox_spec *spec)
{
	memset(spec, 0, sizeof *spec);
	spec->job_id = "job-abc";
	spec->uid = 1900003;
	spec->gid = 1900003;
	spec->mount_point = "/run/sandrun-runner/slot-3";
	spec->env_root = "/var/lib/sandrun/environments/py/root";
	spec->tmpfs_bytes = 384LL << 20;
	spec->upload = "abc";
	spec->upload_len = 3;
	spec->unpacked_max_bytes = 512LL * 1000 * 1000;
	spec->files_max = 10000;
	spec->argv = argv_;
	spec->envp = envp_;
	spec->stdin_data = "in";
	spec->stdin_len = 2;
	spec->pids_max = 64;
	spec->netns_fd = 7;
	spec->mirror_dir = "/srv/mirror";
	spec->devices = devices_;
	spec->ndevices = 2;
	spec->seccomp = &program_;
	spec->outputs = outputs_;
	spec->noutputs = 2;
	spec->outputs_max_bytes = 100 << 20;
	spec->init_fd = 9;
}

static int strv_equal(const char *const *a, const char *const *b, size_t n_or_minus)
{
	size_t i;

	for (i = 0; n_or_minus == (size_t)-1 ? a[i] || b[i] : i < n_or_minus; i++)
		if (!a[i] || !b[i] || strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static void test_round_trip(void)
{
	struct sandbox_spec spec;
	struct sandbox_spec_decoded d;
	const struct sandbox_spec *g = &d.spec;
	char *bytes, err[256];
	size_t len;

	full_spec(&spec);
	ok(sandbox_spec_encode(&spec, &bytes, &len, err, sizeof err) == 0, "a full spec encodes");
	ok(sandbox_spec_decode(bytes, len, &d, err, sizeof err) == 0, "and decodes");
	ok(g->uid == spec.uid && g->gid == spec.gid && g->tmpfs_bytes == spec.tmpfs_bytes &&
	   g->unpacked_max_bytes == spec.unpacked_max_bytes && g->files_max == spec.files_max &&
	   g->pids_max == spec.pids_max && g->outputs_max_bytes == spec.outputs_max_bytes &&
	   g->upload_len == 3 && g->stdin_len == 2, "the numbers come back");
	ok(strcmp(g->job_id, "job-abc") == 0 && strcmp(g->mount_point, spec.mount_point) == 0 &&
	   strcmp(g->env_root, spec.env_root) == 0 && g->mirror_dir && strcmp(g->mirror_dir, "/srv/mirror") == 0,
	   "the strings come back");
	ok(strv_equal(g->argv, argv_, (size_t)-1) && strv_equal(g->envp, envp_, (size_t)-1),
	   "argv and envp come back, NULL-terminated, the empty argument included");
	ok(g->ndevices == 2 && strv_equal(g->devices, devices_, 2) && g->noutputs == 2 &&
	   strv_equal(g->outputs, outputs_, 2), "devices and outputs come back");
	ok(g->seccomp == &d.seccomp && d.seccomp.len == 3 && memcmp(d.seccomp.filter, filter_, sizeof filter_) == 0,
	   "the seccomp program comes back");
	ok(d.flags == (SANDBOX_SPEC_NETNS | SANDBOX_SPEC_MIRROR | SANDBOX_SPEC_SECCOMP) && g->netns_fd == 0,
	   "flags say a network namespace comes (its descriptor is the caller's to set)");
	ok(g->cgroup == NULL && g->upload == NULL && g->stdin_data == NULL,
	   "no pointer of the supervisor's comes through: cgroup, upload and stdin are descriptors");
	sandbox_spec_decoded_free(&d);
	free(bytes);

	/* the least spec: no mirror, no filter, no devices, no outputs, no namespace */
	full_spec(&spec);
	spec.mirror_dir = NULL;
	spec.seccomp = NULL;
	spec.ndevices = spec.noutputs = 0;
	spec.netns_fd = 0;
	ok(sandbox_spec_encode(&spec, &bytes, &len, err, sizeof err) == 0 &&
	   sandbox_spec_decode(bytes, len, &d, err, sizeof err) == 0 && d.flags == 0 && d.spec.mirror_dir == NULL &&
	   d.spec.seccomp == NULL && d.spec.ndevices == 0 && d.spec.devices[0] == NULL && d.spec.noutputs == 0,
	   "a spec without the optional parts round-trips");
	sandbox_spec_decoded_free(&d);
	free(bytes);
}

/* Every prefix, and every single byte changed, of a good encoding: never a
 * crash or a read past the end (ASan), and a truncation never decodes. */
static void test_damage(void)
{
	struct sandbox_spec spec;
	struct sandbox_spec_decoded d;
	char *bytes, *copy, err[256];
	size_t len, refused_prefixes = 0, decoded_flips = 0, flips = 0;

	full_spec(&spec);
	if (sandbox_spec_encode(&spec, &bytes, &len, err, sizeof err) < 0) {
		ok(0, "encode: %s", err);
		return;
	}
	for (size_t cut = 0; cut < len; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, bytes, cut);
		if (sandbox_spec_decode(copy, cut, &d, err, sizeof err) < 0 && d.arena == NULL)
			refused_prefixes++;
		else
			sandbox_spec_decoded_free(&d);
		free(copy);
	}
	is_int(refused_prefixes, len, "every one of the %zu truncations is refused", len);

	copy = malloc(len);
	for (size_t at = 0; at < len; at++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(copy, bytes, len);
			copy[at] ^= (char)(1 << bit);
			flips++;
			if (sandbox_spec_decode(copy, len, &d, err, sizeof err) == 0) {
				/* what decodes is whole: absolute paths, a job's uid, argv[0] */
				if (d.spec.uid != 0 && d.spec.mount_point[0] == '/' && d.spec.argv[0] &&
				    d.spec.argv[0][0] == '/')
					decoded_flips++;
				else
					decoded_flips += 1000000;
				sandbox_spec_decoded_free(&d);
			}
		}
	}
	free(copy);
	ok(decoded_flips < 1000000, "of %zu changed bytes, none decodes to something init must refuse (%zu decode)",
	   flips, decoded_flips);

	copy = malloc(len + 1);
	memcpy(copy, bytes, len);
	copy[len] = 0;
	ok(sandbox_spec_decode(copy, len + 1, &d, err, sizeof err) == -1 && strstr(err, "after the end"),
	   "a byte after the end is refused");
	free(copy);
	free(bytes);
}

static void expect_refused(struct sandbox_spec *spec, const char *want, const char *name)
{
	struct sandbox_spec_decoded d;
	char *bytes, err[256] = "";
	size_t len;

	if (sandbox_spec_encode(spec, &bytes, &len, err, sizeof err) < 0) {
		ok(0, "%s: encode: %s", name, err);
		return;
	}
	if (!ok(sandbox_spec_decode(bytes, len, &d, err, sizeof err) == -1 && strstr(err, want) && d.arena == NULL,
		"%s", name))
		printf("#   %s\n", err);
	free(bytes);
}

static void test_refused(void)
{
	struct sandbox_spec spec;
	struct sandbox_spec_decoded d;
	char err[256], *bytes, *big;
	size_t len;

	full_spec(&spec);
	spec.uid = 0;
	expect_refused(&spec, "root", "uid 0 does not decode");
	full_spec(&spec);
	spec.gid = 0;
	expect_refused(&spec, "root", "gid 0 does not decode");
	full_spec(&spec);
	spec.mount_point = "slot-3";
	expect_refused(&spec, "absolute", "a relative mount point does not decode");
	full_spec(&spec);
	spec.env_root = "";
	expect_refused(&spec, "absolute", "an empty environment root does not decode");
	full_spec(&spec);
	spec.mirror_dir = "mirror";
	expect_refused(&spec, "absolute", "a relative mirror does not decode");
	full_spec(&spec);
	spec.argv = (const char *const[]){ "python3", NULL };
	expect_refused(&spec, "program", "a relative program does not decode");
	full_spec(&spec);
	spec.argv = (const char *const[]){ NULL };
	expect_refused(&spec, "program", "an empty argv does not decode");
	full_spec(&spec);
	spec.pids_max = 0;
	expect_refused(&spec, "size", "pids_max 0 does not decode");
	full_spec(&spec);
	spec.tmpfs_bytes = -1;
	expect_refused(&spec, "size", "a negative tmpfs does not decode");

	ok(sandbox_spec_decode("", 0, &d, err, sizeof err) == -1, "nothing is not a spec");
	ok(sandbox_spec_decode("SRSPEC2\n", 8, &d, err, sizeof err) == -1 && strstr(err, "magic"),
	   "another version's magic is refused");

	/* a count that promises more strings than there are bytes */
	full_spec(&spec);
	spec.mirror_dir = NULL;
	spec.seccomp = NULL;
	spec.netns_fd = 0;
	spec.ndevices = spec.noutputs = 0;
	sandbox_spec_encode(&spec, &bytes, &len, err, sizeof err);
	/* the outputs count is the last u32 */
	memcpy(bytes + len - 4, &(uint32_t){ 0xffffffffu }, 4);
	ok(sandbox_spec_decode(bytes, len, &d, err, sizeof err) == -1 && strstr(err, "outputs"),
	   "a count of 2^32-1 strings with no bytes behind it is refused");
	free(bytes);

	/* a filter that is not whole instructions */
	full_spec(&spec);
	program_.len = 3;
	sandbox_spec_encode(&spec, &bytes, &len, err, sizeof err);
	memcpy(bytes + len - 3 * sizeof(struct sock_filter) - 4, &(uint32_t){ 3 * sizeof(struct sock_filter) - 1 }, 4);
	ok(sandbox_spec_decode(bytes, len, &d, err, sizeof err) == -1, "a filter of 23 bytes is refused");
	free(bytes);

	/* over SANDBOX_SPEC_MAX: refused at both ends */
	big = malloc((size_t)SANDBOX_SPEC_MAX + 1);
	memset(big, 'x', SANDBOX_SPEC_MAX);
	big[SANDBOX_SPEC_MAX] = '\0';
	full_spec(&spec);
	spec.envp = (const char *const[]){ big, NULL };
	ok(sandbox_spec_encode(&spec, &bytes, &len, err, sizeof err) == -1 && strstr(err, "too large"),
	   "an environment over SANDBOX_SPEC_MAX is refused by the encoder, saying so");
	ok(sandbox_spec_decode(big, (size_t)SANDBOX_SPEC_MAX + 1, &d, err, sizeof err) == -1 && strstr(err, "larger"),
	   "... and a blob over it is not even read");
	free(big);
}

/* A session's spec: no program, its flags through, and what a session may not carry refused. */
static void test_session(void)
{
	struct sandbox_spec spec;
	struct sandbox_spec_decoded d;
	char err[256], *bytes;
	size_t len;

	full_spec(&spec);
	spec.argv = (const char *const[]){ NULL };
	spec.noutputs = 0;
	spec.netns_fd = 0;
	spec.upload_len = spec.stdin_len = 0;
	spec.upload = spec.stdin_data = NULL;
	spec.session = true;
	spec.loopback_up = true;
	spec.agent_uid = spec.uid + 1000;
	ok(sandbox_spec_encode(&spec, &bytes, &len, err, sizeof err) == 0, "a session's spec encodes");
	ok(sandbox_spec_decode(bytes, len, &d, err, sizeof err) == 0 && d.spec.session && d.spec.loopback_up
	   && d.spec.agent_uid == spec.uid + 1000 && d.spec.argv[0] == NULL && (d.flags & SANDBOX_SPEC_SESSION) && (d.flags & SANDBOX_SPEC_LOOPBACK),
	   "... and decodes as a session with lo up (%s)", err);
	sandbox_spec_decoded_free(&d);
	free(bytes);
	spec.argv = argv_;
	expect_refused(&spec, "session runs no program", "a session with a program does not decode");
	spec.argv = (const char *const[]){ NULL };
	spec.noutputs = 1;
	expect_refused(&spec, "session runs no program", "a session with outputs does not decode");
	spec.noutputs = 0;
	spec.netns_fd = 5;
	expect_refused(&spec, "loopback_up", "lo up in a slot's shared namespace does not decode");
	spec.netns_fd = 0;
	spec.agent_uid = 0;
	expect_refused(&spec, "agent needs a uid", "a session whose agent has no uid of its own does not decode");
	spec.agent_uid = spec.uid;
	expect_refused(&spec, "agent needs a uid", "... nor one whose agent has the session's uid");
	spec.session = false;
	spec.loopback_up = false;
	spec.argv = argv_;
	spec.agent_uid = spec.uid + 1000;
	expect_refused(&spec, "agent needs a uid", "a job with an agent uid does not decode");
}

/* A prepared sandbox's shape (sandbox_prepare) and the check of a job against it. */
static void test_prepared(void)
{
	static const char *const none[] = { NULL };
	struct sandbox_spec shape, job, other;
	struct sandbox_spec_decoded d;
	char *bytes, err[256];
	size_t len;

	full_spec(&shape);
	shape.prepared = true;
	shape.argv = shape.envp = none;
	shape.upload = shape.stdin_data = NULL;
	shape.upload_len = shape.stdin_len = 0;
	shape.noutputs = 0;
	ok(sandbox_spec_encode(&shape, &bytes, &len, err, sizeof err) == 0 &&
	   sandbox_spec_decode(bytes, len, &d, err, sizeof err) == 0 && d.spec.prepared &&
	   (d.flags & SANDBOX_SPEC_PREPARED) && d.spec.argv[0] == NULL, "a prepared sandbox's shape round-trips");
	sandbox_spec_decoded_free(&d);
	free(bytes);
	other = shape;
	other.argv = argv_;
	ok(sandbox_spec_encode(&other, &bytes, &len, err, sizeof err) == 0 &&
	   sandbox_spec_decode(bytes, len, &d, err, sizeof err) < 0 && strstr(err, "carries no part of a job"),
	   "a shape with a program does not decode (%s)", err);
	free(bytes);
	other = shape;
	other.upload = "abc";
	other.upload_len = 3;
	ok(sandbox_spec_encode(&other, &bytes, &len, err, sizeof err) == 0 &&
	   sandbox_spec_decode(bytes, len, &d, err, sizeof err) < 0, "nor one with an upload");
	free(bytes);

	full_spec(&job);
	ok(sandbox_spec_shape_differs(&shape, &job) == NULL, "a job of the shape fits it (its own fields aside)");
	other = job;
	other.tmpfs_bytes += 4096;
	is_str(sandbox_spec_shape_differs(&shape, &other), "tmpfs_bytes", "another memory limit does not");
	other = job;
	other.env_root = "/var/lib/sandrun/environments/node/root";
	is_str(sandbox_spec_shape_differs(&shape, &other), "env_root", "another environment does not");
	other = job;
	other.mirror_dir = NULL;
	is_str(sandbox_spec_shape_differs(&shape, &other), "mirror_dir", "nor one without the mirror");
	other = job;
	other.ndevices = 1;
	is_str(sandbox_spec_shape_differs(&shape, &other), "devices", "nor other devices");
	other = job;
	other.seccomp = NULL;
	is_str(sandbox_spec_shape_differs(&shape, &other), "seccomp", "nor another filter");
	other = job;
	other.netns_fd = 0;
	is_str(sandbox_spec_shape_differs(&shape, &other), "network", "nor another network");
	other = job;
	other.uid = other.gid = 1900004;
	is_str(sandbox_spec_shape_differs(&shape, &other), "uid", "nor another slot's uid");
	other = job;
	other.pids_max = 65;
	is_str(sandbox_spec_shape_differs(&shape, &other), "pids_max", "nor another process limit");
	other = job;
	other.session = true;
	is_str(sandbox_spec_shape_differs(&shape, &other), "session", "and a session never");
}

int main(void)
{
	test_session();
	test_round_trip();
	test_damage();
	test_refused();
	test_prepared();
	return done_testing();
}
