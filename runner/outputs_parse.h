/*
 * Parsing the job's outputs stream (runner/sandbox.h: a header, a path,
 * for a file its bytes; the last record SANDBOX_OUT_END). The stream is
 * written by the job's init, as the job's user, and read by root: this is
 * the one place that reads it, a pure function (no Redis, no logging, no
 * exit) so that it can be fuzzed (tests/fuzz/fuzz_outputs.c) and tested
 * (tests/unit/test_outputs_parse.c) on its own. runner/outputs.c stores
 * what it returns.
 */
#ifndef SANDRUN_OUTPUTS_PARSE_H
#define SANDRUN_OUTPUTS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A path of this many bytes or more ends the stream as incomplete: init
 * sends paths relative to /work, which PATH_MAX bounds. */
#define OUTPUTS_PATH_MAX 4096

/* One record before SANDBOX_OUT_END, in stream order. Pointers are into
 * the caller's data: valid while it is. */
struct outputs_entry {
	uint32_t kind;               /* enum sandbox_out_kind (any value but SANDBOX_OUT_END) */
	const char *path;            /* path_len bytes, not NUL-terminated */
	size_t path_len;             /* < OUTPUTS_PATH_MAX */
	uint64_t size;               /* as sent: the content's size for a file, the file's for too_large */
	const char *content;         /* SANDBOX_OUT_FILE: size bytes (all in the stream); else NULL */
	bool bad_name;               /* SANDBOX_OUT_FILE whose path is not valid UTF-8 without NUL
	                                or not a normalized relative path (path_normalize_relative()
	                                would change it): listed as "bad_name", never stored */
};

struct outputs_parsed {
	struct outputs_entry *entries;  /* malloc'd; free with outputs_parsed_free() */
	size_t n;
	bool incomplete;             /* the stream ended before SANDBOX_OUT_END: a header, a path
	                                or a file's bytes cut short (init killed), or a path too long */
	bool over_limit;             /* a SANDBOX_OUT_TOO_LARGE record came */
	bool too_many;               /* a SANDBOX_OUT_TOO_MANY record came, or more than max_entries
	                                records did (the rest is not parsed) */
};

/*
 * Parses len bytes of data into *out: at most max_entries records (init
 * sends at most files_max and one SANDBOX_OUT_TOO_MANY). Every length is
 * checked against what is left; a record cut short is not returned.
 * Returns 0, or -1 (out of memory: *out is then empty).
 */
int outputs_parse(const char *data, size_t len, size_t max_entries, struct outputs_parsed *out);

/* Frees what outputs_parse() allocated (not the data); *p is emptied. */
void outputs_parsed_free(struct outputs_parsed *p);

#endif
