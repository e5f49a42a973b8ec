/*
 * A session's file paths (docs/sessions.md, "Paths"): which root a path
 * given to the files routes is under, and the clean relative path below
 * it. Pure: no I/O, so it is unit-tested and fuzzed (fuzz_session_path);
 * the agent then resolves the result with openat2() from the root's fd
 * (runner/session_files.c), which is what keeps links out.
 *
 *   "a/b", "./a//b/"        -> work, "a/b"
 *   "", ".", "/work/"       -> work, ""       (the root itself)
 *   "/workspace/x"          -> work, "x"      (/workspace is /work)
 *   "/tmp/x"                -> tmp,  "x"
 *   "/etc/x", "a/../b", "/workplace", "a\0b", over 4096 bytes -> refused
 */
#ifndef SANDRUN_SESSION_PATH_H
#define SANDRUN_SESSION_PATH_H

#include <stddef.h>

/* The longest path accepted (bytes, as given), and the longest name. */
#define SESSION_PATH_BYTES_MAX 4096
#define SESSION_NAME_BYTES_MAX 255

enum session_root { SESSION_ROOT_WORK, SESSION_ROOT_TMP };

struct session_path {
	enum session_root root;
	/* below the root: "" for the root itself, else components joined by
	 * one '/', none empty, "." or ".." */
	char rel[SESSION_PATH_BYTES_MAX + 1];
	/* where the last component starts in rel (0 when rel is ""), so the
	 * parent is rel[0 .. last - 1) */
	size_t last;
};

/* Parses `len` bytes of `path`. Returns 0, or -1 with err saying what is
 * wrong (a sentence naming the path). */
int session_path_parse(const char *path, size_t len, struct session_path *out, char *err, size_t errlen);

/* "/work" or "/tmp": the root's name as the user sees it. */
const char *session_root_name(enum session_root root);

#endif
