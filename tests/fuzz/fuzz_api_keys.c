/*
 * libFuzzer target for the API keys (common/api_keys.h): the keys file's
 * parser (an operator's file, read by every responder), and an
 * Authorization header's "Bearer TOKEN" (any client's) looked up in what
 * was parsed. The input is split at its first NUL: the file before it,
 * the header after. A parsed table holds names of [A-Za-z0-9._-] only, no
 * two alike; a found key is one of the table's; a token found has the
 * bounds the header parser gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nul = memchr(text, '\0', size);
	size_t flen = nul ? (size_t)(nul - text) : size;
	struct api_keys k;
	char err[300], *header;
	const char *token;
	size_t tlen;

	if (api_keys_parse(text, flen, &k, err, sizeof err) == 0) {
		for (size_t i = 0; i < k.n; i++) {
			size_t n = strlen(k.keys[i].name);

			if (n == 0 || n > API_KEY_NAME_MAX || strspn(k.keys[i].name, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
				abort();
			for (size_t j = 0; j < i; j++)
				if (strcmp(k.keys[i].name, k.keys[j].name) == 0)
					abort();
		}
	} else if (k.n != 0 || k.keys != NULL || strncmp(err, "line ", 5) != 0) {
		abort();   /* a refused file leaves nothing, and says which line */
	}
	header = malloc(nul ? size - flen : 1);
	if (!header)
		abort();
	memcpy(header, nul ? nul + 1 : "", nul ? size - flen - 1 : 0);
	header[nul ? size - flen - 1 : 0] = '\0';
	token = api_keys_bearer(header, &tlen);
	if (token) {
		const struct api_key *found;

		if (tlen == 0 || tlen > 512 || token < header || token + tlen > header + strlen(header))
			abort();
		found = api_keys_find(&k, token, tlen);
		if (found && (found < k.keys || found >= k.keys + k.n))
			abort();
	}
	free(header);
	api_keys_free(&k);
	return 0;
}
