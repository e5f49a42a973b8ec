/*
 * Optional API keys (sandrun.conf's api_keys_file): the keys file's
 * parser, and the lookup of a presented key. common/api_keys.c.
 *
 * The file holds one key per line, never the key itself but its SHA-256:
 *   NAME sha256:HEX [quota_jobs_max=N] [quota_cpu_seconds=X]
 *        [quota_storage_bytes=N] [sessions_per_client=N]
 * NAME is [A-Za-z0-9._-], 1 to 64 bytes, once in the file; a quota given
 * replaces sandrun.conf's for that key; '#' starts a comment. Keys are long
 * random tokens (sandrun-fcgi --generate-api-key), so one SHA-256 suffices:
 * no password-style stretching is needed to make a stolen file useless.
 */
#ifndef SANDRUN_API_KEYS_H
#define SANDRUN_API_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define API_KEY_NAME_MAX 64

struct api_key {
	char name[API_KEY_NAME_MAX + 1];
	unsigned char sha256[32];
	/* the key's own quotas; -1 (or < 0): sandrun.conf's */
	int64_t quota_jobs_max, quota_storage_bytes, sessions_per_client;
	double quota_cpu_seconds;
};

struct api_keys {
	struct api_key *keys;
	size_t n;
};

/* Parses a keys file's text: 0, or -1 with err naming the line. */
int api_keys_parse(const char *text, size_t len, struct api_keys *out, char *err, size_t errlen);
void api_keys_free(struct api_keys *k);

/* The entry whose hash is the SHA-256 of `token`, or NULL. Every entry is
 * compared, each in constant time, whether one matched or not. */
const struct api_key *api_keys_find(const struct api_keys *k, const char *token, size_t len);

/* The token of an Authorization header's value "Bearer TOKEN" (the scheme
 * in any case, one or more spaces): its start and length, or NULL. */
const char *api_keys_bearer(const char *header, size_t *len);

#endif
