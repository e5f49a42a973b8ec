/*
 * The API keys file and the lookup of a presented key (common/api_keys.h).
 * The key itself is never kept: only its SHA-256, which is all the file
 * holds and all a lookup compares, with CRYPTO_memcmp over every entry.
 */
#include "api_keys.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "line %u: %s", line, what);
	return -1;
}

/* "sha256:" and 64 hex digits. */
static int parse_hash(const char *w, size_t len, unsigned char out[32])
{
	if (len != 7 + 64 || strncmp(w, "sha256:", 7) != 0)
		return -1;
	for (int i = 0; i < 32; i++) {
		int hi = hex_digit_value(w[7 + 2 * i]), lo = hex_digit_value(w[8 + 2 * i]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi * 16 + lo);
	}
	return 0;
}

/* A whole non-negative integer up to `max`, or -1. */
static int64_t parse_count(const char *v, int64_t max)
{
	char *end;
	long long n;

	if (!*v || *v == '-' || *v == '+')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || n < 0 || n > max)
		return -1;
	return n;
}

static int parse_option(struct api_key *k, const char *w, size_t len, unsigned line, char *err, size_t errlen)
{
	char opt[96], *eq, *v;

	if (len >= sizeof opt)
		return fail(err, errlen, line, "'%.40s...' is too long", w);
	memcpy(opt, w, len);
	opt[len] = '\0';
	eq = strchr(opt, '=');
	if (!eq)
		return fail(err, errlen, line, "'%s' is not key=value", opt);
	*eq = '\0';
	v = eq + 1;
	if (strcmp(opt, "quota_jobs_max") == 0) {
		if ((k->quota_jobs_max = parse_count(v, 100000)) < 1)
			return fail(err, errlen, line, "quota_jobs_max must be a number from 1 to 100000");
	} else if (strcmp(opt, "quota_storage_bytes") == 0) {
		if ((k->quota_storage_bytes = parse_count(v, INT64_C(1099511627776))) < 1048576)
			return fail(err, errlen, line, "quota_storage_bytes must be a number from 1048576 to 1099511627776");
	} else if (strcmp(opt, "sessions_per_client") == 0) {
		if ((k->sessions_per_client = parse_count(v, 100000)) < 0)
			return fail(err, errlen, line, "sessions_per_client must be a number from 0 to 100000");
	} else if (strcmp(opt, "quota_cpu_seconds") == 0) {
		char *end;
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (!*v || *end || errno || !isfinite(d) || d < 0 || d > 1000000)
			return fail(err, errlen, line, "quota_cpu_seconds must be a number from 0 to 1000000");
		k->quota_cpu_seconds = d;
	} else {
		return fail(err, errlen, line, "unknown option '%s' (quota_jobs_max, quota_cpu_seconds, "
			    "quota_storage_bytes, sessions_per_client)", opt);
	}
	return 0;
}

static bool name_ok(const char *w, size_t len)
{
	if (len == 0 || len > API_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= 'A' && w[i] <= 'Z') || (w[i] >= '0' && w[i] <= '9') ||
		      w[i] == '.' || w[i] == '_' || w[i] == '-'))
			return false;
	return true;
}

/* Frees what was parsed so far; `rc` (fail's -1, made from that data first). */
static int drop(struct api_keys *out, int rc)
{
	api_keys_free(out);
	return rc;
}

int api_keys_parse(const char *text, size_t len, struct api_keys *out, char *err, size_t errlen)
{
	size_t cap = 0, pos = 0;
	unsigned line = 0;

	memset(out, 0, sizeof *out);
	while (pos < len) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - l) : len - pos, p = 0;
		struct api_key k = { .quota_jobs_max = -1, .quota_storage_bytes = -1, .sessions_per_client = -1,
				     .quota_cpu_seconds = -1 };
		int word = 0;

		pos += llen + (nl ? 1 : 0);
		line++;
		if (memchr(l, '\0', llen))
			return drop(out, fail(err, errlen, line, "a NUL byte"));
		{
			const char *hash = memchr(l, '#', llen);

			if (hash)
				llen = (size_t)(hash - l);
		}
		while (p < llen) {
			size_t wlen;

			while (p < llen && (l[p] == ' ' || l[p] == '\t' || l[p] == '\r'))
				p++;
			if (p >= llen)
				break;
			/* within the line: the text need not end in a NUL */
			for (wlen = 0; p + wlen < llen && l[p + wlen] != ' ' && l[p + wlen] != '\t' &&
				       l[p + wlen] != '\r'; wlen++)
				;
			if (word == 0) {
				if (!name_ok(l + p, wlen))
					return drop(out, fail(err, errlen, line, "a key's name is 1 to %d of "
									"[A-Za-z0-9._-]", API_KEY_NAME_MAX));
				memcpy(k.name, l + p, wlen);
				k.name[wlen] = '\0';
			} else if (word == 1) {
				if (parse_hash(l + p, wlen, k.sha256) < 0)
					return drop(out, fail(err, errlen, line, "expected sha256: and the key's "
									"SHA-256 in 64 hex digits"));
			} else if (parse_option(&k, l + p, wlen, line, err, errlen) < 0) {
				api_keys_free(out);
				return -1;
			}
			word++;
			p += wlen;
		}
		if (word == 0)
			continue;
		if (word == 1)
			return drop(out, fail(err, errlen, line, "'%s' has no sha256: hash", k.name));
		for (size_t i = 0; i < out->n; i++) {
			if (strcmp(out->keys[i].name, k.name) == 0)
				return drop(out, fail(err, errlen, line, "the name '%s' is given twice", k.name));
			if (memcmp(out->keys[i].sha256, k.sha256, 32) == 0)
				return drop(out, fail(err, errlen, line, "the key of '%s' is '%s''s too",
								k.name, out->keys[i].name));
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			out->keys = xrealloc(out->keys, cap * sizeof *out->keys);
		}
		out->keys[out->n++] = k;
	}
	return 0;
}

void api_keys_free(struct api_keys *k)
{
	if (k->keys)
		OPENSSL_cleanse(k->keys, k->n * sizeof *k->keys);
	free(k->keys);
	k->keys = NULL;
	k->n = 0;
}

const struct api_key *api_keys_find(const struct api_keys *k, const char *token, size_t len)
{
	unsigned char digest[32];
	const struct api_key *found = NULL;

	SHA256((const unsigned char *)token, len, digest);
	for (size_t i = 0; i < k->n; i++) {
		/* no early exit: every entry costs the same, matched or not */
		int differs = CRYPTO_memcmp(digest, k->keys[i].sha256, 32);
		const struct api_key *candidates[2] = { &k->keys[i], found };

		found = candidates[differs != 0];
	}
	OPENSSL_cleanse(digest, sizeof digest);
	return found;
}

const char *api_keys_bearer(const char *header, size_t *len)
{
	const char *t;
	size_t n;

	if (!header || strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
		return NULL;
	t = header + 6;
	while (*t == ' ' || *t == '\t')
		t++;
	n = strcspn(t, " \t\r\n");
	if (n == 0 || t[n] != '\0' || n > 512)
		return NULL;
	*len = n;
	return t;
}
