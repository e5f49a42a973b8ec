/* Ids: "job-" (or "ses-", "wsp-") + 26 base32 characters = 130 bits from getrandom(2). */
#include "config.h"
#include "jobid.h"

#include <string.h>
#include <sys/random.h>

static const char jobid_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

int prefixed_id_generate(const char prefix[5], char out[JOBID_LEN + 1])
{
	unsigned char bytes[JOBID_RANDOM_CHARS];
	size_t got = 0;

	/* One random byte per character, 5 bits of it used: simple and unbiased (32 divides 256). */
	while (got < sizeof bytes) {
		ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
		if (n < 0)
			return -1;
		got += (size_t)n;
	}
	memcpy(out, prefix, 4);
	for (size_t i = 0; i < JOBID_RANDOM_CHARS; i++)
		out[4 + i] = jobid_alphabet[bytes[i] & 31];
	out[JOBID_LEN] = '\0';
	return 0;
}

bool prefixed_id_valid(const char prefix[5], const char *s, size_t len)
{
	if (len != JOBID_LEN || memcmp(s, prefix, 4) != 0)
		return false;
	for (size_t i = 4; i < len; i++)
		if (!memchr(jobid_alphabet, s[i], sizeof jobid_alphabet - 1) || s[i] == '\0')
			return false;
	return true;
}

int jobid_generate(char out[JOBID_LEN + 1])
{
	return prefixed_id_generate("job-", out);
}

bool jobid_valid(const char *s, size_t len)
{
	return prefixed_id_valid("job-", s, len);
}
