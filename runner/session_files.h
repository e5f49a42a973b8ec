/*
 * The session agent's file operations (docs/sessions.md, "Paths"; the
 * ops of runner/session_proto.h): write, read (a file's bytes or a
 * directory's listing), delete, unpack and archive, run by the agent
 * inside the session's sandbox as the session's user.
 *
 * Every path goes through session_path_parse() and is then resolved with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * from an fd of its root: a symbolic link anywhere on the way, or at the
 * target itself, fails the operation (400, reason "symlink"); a directory
 * swapped for a link between two steps is met by the next openat2/openat
 * with O_NOFOLLOW, never followed. Nothing here opens anything else of
 * the file system by name but the two roots.
 */
#ifndef SANDRUN_SESSION_FILES_H
#define SANDRUN_SESSION_FILES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "session_proto.h"

/* Where /work and /tmp are: those two inside the sandbox; temporary
 * directories in tests. */
struct session_roots {
	const char *work;
	const char *tmp;
};

/* One op's outcome. status 0: result holds the response's fields (besides
 * id and ok) and, when has_binary, the raw frame to send after it is
 * binary[0..binary_len). Else status/reason/error say what failed. */
struct session_files_reply {
	int status;
	const char *reason;
	char error[1024];
	json_t *result;
	char *binary;
	size_t binary_len;
	int has_binary;
};

void session_files_reply_free(struct session_files_reply *reply);

/* write: the file's `n` bytes come from in_fd (the agent's input, right
 * after the request); they are read whether or not the file could be
 * opened, so the frames stay in step. Returns 0, or -1 when in_fd ended
 * or failed inside them (the agent stops). */
int session_files_write(const struct session_roots *roots, const struct session_request *req, int in_fd,
			uint32_t n, struct session_files_reply *reply);
void session_files_read(const struct session_roots *roots, const struct session_request *req,
			struct session_files_reply *reply);
void session_files_delete(const struct session_roots *roots, const struct session_request *req,
			  struct session_files_reply *reply);
void session_files_unpack(const struct session_roots *roots, const struct session_request *req, const void *data,
			  size_t len, struct session_files_reply *reply);
void session_files_archive(const struct session_roots *roots, const struct session_request *req,
			   struct session_files_reply *reply);

/* A listing's cap: past it the listing says "truncated": true. */
#define SESSION_LIST_MAX 100000
/* How deep delete and archive go below their directory. */
#define SESSION_TREE_DEPTH_MAX 256

#endif
