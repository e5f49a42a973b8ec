/*
 * The job's outputs (SECURITY.md, "The sandbox"), step k of the sandbox:
 * what init streams to the supervisor once the job has ended, and the
 * globs that pick the files (docs/api.md). Collected by
 * runner/sandbox_outputs.c inside the sandbox; parsed by
 * runner/outputs_parse.c in the supervisor.
 */
#ifndef SANDRUN_SANDBOX_OUTPUTS_H
#define SANDRUN_SANDBOX_OUTPUTS_H

#include <stdint.h>

struct sandbox_spec;

/*
 * Outputs: once the job process has exited and init has killed and reaped
 * every other process of the sandbox (nothing left to race it), init
 * collects the files under /work that match the globs and streams them on
 * outputs_fd, which the caller must drain while it waits (it may carry
 * outputs_max_bytes). The stream is a sequence of records, each a struct
 * sandbox_out_header, the path (path_len bytes, relative to /work, no NUL),
 * then, for SANDBOX_OUT_FILE only, `size` bytes of content; the last record
 * is SANDBOX_OUT_END. Anything else than a regular file is never opened:
 * it is listed with its kind.
 */
enum sandbox_out_kind {
	SANDBOX_OUT_FILE = 0,
	SANDBOX_OUT_SYMLINK,
	SANDBOX_OUT_FIFO,
	SANDBOX_OUT_DEVICE,
	SANDBOX_OUT_SOCKET,
	SANDBOX_OUT_UNREADABLE,
	SANDBOX_OUT_TOO_LARGE,       /* over outputs_max_bytes: not sent, collection stops here */
	SANDBOX_OUT_TOO_MANY,        /* over files_max: collection stops here */
	SANDBOX_OUT_END = 255,
};

struct sandbox_out_header {
	uint32_t kind;               /* enum sandbox_out_kind */
	uint32_t path_len;
	uint64_t size;
};

/* The kind's name for listings ("symlink", "fifo", ...). */
const char *sandbox_out_kind_name(uint32_t kind);

/* Does the relative path match one manifest output glob? ("*.png",
 * "results/" for a whole tree, "**" across directories.) */
int sandbox_output_matches(const char *glob, const char *path);

/*
 * In init, as the job's user, once every other process of the sandbox is
 * gone: streams the files under workdir that match spec->outputs on
 * out_fd (the format above), looking at visited_max directory entries at
 * most, and ends with SANDBOX_OUT_END. Never fails: what cannot be read is
 * listed as such; a broken pipe ends the stream early. The caller closes
 * out_fd.
 */
void sandbox_outputs_collect(const struct sandbox_spec *spec, const char *workdir, int64_t visited_max,
			     int out_fd);

#endif
