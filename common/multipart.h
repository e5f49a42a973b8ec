/*
 * A streaming multipart/form-data parser (RFC 7578, RFC 2046 §5.1).
 *
 * The body is fed in chunks of any size, as it arrives from the web
 * server; part data is handed to a callback as it is found, so a 100 MB
 * upload is never copied twice and never buffered by the parser. The
 * parser itself holds a bounded amount of state (one header line and a
 * boundary), never exits and never logs: it returns a status and keeps an
 * error sentence, so it can be fuzzed and unit-tested directly.
 */
#ifndef SANDRUN_MULTIPART_H
#define SANDRUN_MULTIPART_H

#include <stddef.h>

/* Bounds: what a well-formed form from curl or a browser never comes near. */
#define MP_BOUNDARY_MAX      70   /* RFC 2046: 1 to 70 characters */
#define MP_HEADER_LINE_MAX   1024 /* one part header line, CRLF excluded */
#define MP_HEADERS_MAX       8    /* header lines per part */
#define MP_PARTS_MAX         16   /* parts per body */
#define MP_NAME_MAX          128  /* a part's name or filename */

enum mp_status {
	MP_OK = 0,
	MP_ERR_SYNTAX,     /* not a well-formed multipart body */
	MP_ERR_LIMIT,      /* a bound above was passed */
	MP_ERR_CALLBACK,   /* a callback returned non-zero: its reason stands */
};

struct mp_part_info {
	const char *name;         /* form field name (required by RFC 7578) */
	const char *filename;     /* NULL for a plain field */
	const char *content_type; /* NULL when the part did not say */
};

/* Each callback returns 0 to go on, non-zero to stop parsing (MP_ERR_CALLBACK). */
struct mp_callbacks {
	int (*part_begin)(void *ctx, const struct mp_part_info *part);
	int (*part_data)(void *ctx, const char *data, size_t len);
	int (*part_end)(void *ctx);
};

struct mp_parser;

/*
 * Extracts the boundary from a Content-Type header value
 * ("multipart/form-data; boundary=..."; quoted or not). Writes it NUL
 * terminated to `out` (at least MP_BOUNDARY_MAX + 1 bytes).
 * Returns 0, or -1 when the type is not multipart/form-data or the boundary
 * is missing or invalid.
 */
int mp_boundary_from_content_type(const char *content_type, char *out, size_t outlen);

/* NULL on allocation failure or an invalid boundary. Free with mp_parser_free(). */
struct mp_parser *mp_parser_new(const char *boundary, const struct mp_callbacks *cb, void *ctx);
void mp_parser_free(struct mp_parser *p);

/* Feeds the next chunk of the body. After an error, every call returns it again. */
enum mp_status mp_feed(struct mp_parser *p, const char *buf, size_t len);
/* The body ended: an error unless the closing boundary was seen. */
enum mp_status mp_finish(struct mp_parser *p);
/* A human sentence for the last error ("" when none). */
const char *mp_error(const struct mp_parser *p);

#endif
