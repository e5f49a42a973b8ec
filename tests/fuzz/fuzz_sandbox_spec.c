/*
 * libFuzzer target: sandbox_spec_decode() (runner/sandbox_spec.c), which
 * the job's init runs over the spec its supervisor encoded. The input is
 * the encoding. Checked: a spec that decodes is whole (a job's uid and
 * gid, absolute paths, argv[0] absolute (none for a session or a
 * prepared sandbox's shape, which carry no job), NULL-terminated arrays of the
 * counts it says, a filter of whole instructions, the flags it came
 * with), and encoding it again gives back the very same bytes. The input
 * is copied into a heap block of its exact size, so ASan catches a read
 * past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_strv(const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == NULL)
			abort();
	if (v[n] != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sandbox_spec_decoded d;
	const struct sandbox_spec *s = &d.spec;
	char *copy = malloc(size ? size : 1), *again = NULL, err[256];
	size_t n, again_len;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (sandbox_spec_decode(copy, size, &d, err, sizeof err) < 0) {
		if (d.arena != NULL || err[0] == '\0')
			abort();
		free(copy);
		return 0;
	}
	if (s->uid == 0 || s->gid == 0 || s->mount_point[0] != '/' || s->env_root[0] != '/'
	    || (s->mirror_dir != NULL && s->mirror_dir[0] != '/')
	    || (!s->session && !s->prepared && (s->argv[0] == NULL || s->argv[0][0] != '/'))
	    || ((s->session || s->prepared) && (s->argv[0] != NULL || s->upload_len != 0 || s->noutputs != 0))
	    || (s->prepared && (s->session || s->envp[0] != NULL || s->stdin_len != 0))
	    || s->tmpfs_bytes <= 0 || s->pids_max <= 0 || s->cgroup != NULL || s->upload != NULL)
		abort();
	for (n = 0; s->argv[n]; n++)
		;
	check_strv(s->argv, n);
	for (n = 0; s->envp[n]; n++)
		;
	check_strv(s->envp, n);
	check_strv(s->devices, s->ndevices);
	check_strv(s->outputs, s->noutputs);
	if ((s->seccomp != NULL) != ((d.flags & SANDBOX_SPEC_SECCOMP) != 0)
	    || (s->mirror_dir != NULL) != ((d.flags & SANDBOX_SPEC_MIRROR) != 0)
	    || (s->seccomp != NULL && (s->seccomp->len == 0 || s->seccomp->filter == NULL)))
		abort();
	/* the same bytes back (the namespace travels as a flag: give it a descriptor) */
	if (d.flags & SANDBOX_SPEC_NETNS)
		d.spec.netns_fd = 1;
	if (sandbox_spec_encode(&d.spec, &again, &again_len, err, sizeof err) < 0 || again_len != size
	    || memcmp(again, copy, size) != 0)
		abort();
	free(again);
	sandbox_spec_decoded_free(&d);
	free(copy);
	return 0;
}
