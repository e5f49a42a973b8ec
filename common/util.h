/* Small helpers without side effects, shared by both daemons. */
#ifndef SANDRUN_UTIL_H
#define SANDRUN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the epoch (job timestamps). */
int64_t time_now_ms(void);
/* Monotonic milliseconds (deadlines, durations). */
int64_t time_mono_ms(void);
/* "2026-11-22T02:25:32.123Z" into out (at least 32 bytes). */
void time_format_rfc3339(int64_t epoch_ms, char *out, size_t outlen);

/* Formats a sentence into err (when err is non-NULL and errlen > 0); returns -1 for `return error_format(...)`. */
int error_format(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses a base-10 integer that must use the whole string and lie in [min, max]. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* The value of a hex digit (either case), or -1. */
int hex_digit_value(int c);

/* Compares dotted versions numerically ("12.10" > "12.9", "12" == "12.0"): <0, 0, >0. */
int version_compare(const char *a, const char *b);

/* Allocation helpers that abort on out-of-memory: there is no sane way on. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* A growable byte buffer; the owner frees data with free(). */
struct buf {
	char *data;
	size_t len, cap;
};
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);

/*
 * A copy of `len` bytes with every invalid UTF-8 sequence and every NUL
 * replaced by U+FFFD, so job output and user-chosen names can always be
 * put in JSON. Caller frees.
 */
char *utf8_sanitize(const char *s, size_t len, size_t *outlen);

/*
 * The one helper here with a side effect, called by each daemon first
 * thing: file names are UTF-8 (uploads, inline files, outputs), and
 * libarchive converts every name between an archive's charset and the
 * locale's. In the "C" locale a daemon gets from systemd (LANG unset), or
 * from any environment, that is ASCII and every other name fails ("Can't
 * translate pathname"). So LC_CTYPE is set to C.UTF-8 whatever
 * the environment says, before any libarchive object exists (each caches
 * the charset it first meets); fork()ed children (the runner's unpacker,
 * inside the sandbox where no locale file is visible) inherit it. Only
 * LC_CTYPE: numbers keep the C format in JSON and Redis. Returns 0, or -1
 * when the locale is missing or not UTF-8 (ASCII names still work).
 */
int locale_use_utf8_names(void);

/* Writes all `len` bytes to `fd`, again after EINTR or a short write.
 * Returns 0, or -1 with errno set (0 when the fd took no byte at all). */
int fd_write_all(int fd, const void *data, size_t len);

#endif
