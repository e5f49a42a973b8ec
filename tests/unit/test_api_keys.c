/*
 * The API keys file's parser and the lookup of a presented key
 * (common/api_keys.h): what an operator writes is read as written or
 * refused naming the line; a key is found by its SHA-256 only, and only
 * the exact key; the Authorization header's Bearer token is taken as sent.
 */
#include "tap.h"
#include "api_keys.h"

#include <openssl/sha.h>
#include <stdlib.h>

/* "sha256:" and the hex SHA-256 of `key`. */
static const char *hash_of(const char *key)
{
	static char out[7 + 64 + 1];
	unsigned char d[32];

	SHA256((const unsigned char *)key, strlen(key), d);
	strcpy(out, "sha256:");
	for (int i = 0; i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", d[i]);
	return out;
}

static int parse(const char *text, struct api_keys *k, char *err, size_t errlen)
{
	return api_keys_parse(text, strlen(text), k, err, errlen);
}

int main(void)
{
	struct api_keys k;
	char text[1024], err[300], h1[80], h2[80], h3[80];
	const struct api_key *f;
	const char *t;
	size_t len;

	strcpy(h1, hash_of("sr_alice"));
	strcpy(h2, hash_of("sr_bob"));
	strcpy(h3, hash_of("sr_carol"));
	snprintf(text, sizeof text,
		 "# the service's keys\n\n"
		 "alice %s quota_jobs_max=10 quota_cpu_seconds=60.5   # a comment\n"
		 "bob.ci-2 %s quota_storage_bytes=2097152 sessions_per_client=0\r\n"
		 "  carol\t%s\n", h1, h2, h3);
	if (parse(text, &k, err, sizeof err) != 0 || k.n != 3) {
		ok(0, "a file of three keys parses (%s)", err);
		return done_testing();
	}
	ok(1, "a file of three keys, comments, blank lines, CRLF and tabs parses");
	is_int((int)k.n, 3, "... three keys");
	is_str(k.keys[0].name, "alice", "... the first is alice");
	ok(k.keys[0].quota_jobs_max == 10 && k.keys[0].quota_cpu_seconds == 60.5 &&
	   k.keys[0].quota_storage_bytes == -1 && k.keys[0].sessions_per_client == -1,
	   "... with her two quotas, the others left to sandrun.conf");
	ok(k.keys[1].quota_storage_bytes == 2097152 && k.keys[1].sessions_per_client == 0 &&
	   k.keys[1].quota_jobs_max == -1, "bob.ci-2: storage and no sessions");
	is_str(k.keys[2].name, "carol", "carol, indented, with a tab");

	f = api_keys_find(&k, "sr_bob", 6);
	ok(f == &k.keys[1], "the key sr_bob finds bob.ci-2");
	ok(api_keys_find(&k, "sr_alice", 8) == &k.keys[0], "sr_alice finds alice");
	ok(api_keys_find(&k, "sr_alic", 7) == NULL, "a key cut short finds nothing");
	ok(api_keys_find(&k, "sr_alicee", 9) == NULL, "a key with a byte more finds nothing");
	ok(api_keys_find(&k, h1 + 7, 64) == NULL, "the hash itself is no key");
	api_keys_free(&k);
	ok(k.keys == NULL && k.n == 0, "freed");

	is_int(parse("", &k, err, sizeof err), 0, "an empty file parses");
	ok(k.n == 0 && api_keys_find(&k, "x", 1) == NULL, "... to no key: nothing is found");
	api_keys_free(&k);

	/* refusals name the line */
	snprintf(text, sizeof text, "ok %s\nbad name %s\n", h1, hash_of("x"));
	is_int(parse(text, &k, err, sizeof err), -1, "a name with a space is refused");
	ok(strncmp(err, "line 2: ", 8) == 0, "... naming line 2 (%s)", err);
	ok(k.keys == NULL && k.n == 0, "... leaving nothing parsed");
	is_int(parse("alice sha256:abc\n", &k, err, sizeof err), -1, "a short hash is refused");
	ok(strncmp(err, "line 1: expected sha256:", 24) == 0, "... saying what is expected");
	is_int(parse("alice\n", &k, err, sizeof err), -1, "a name without a hash is refused");
	snprintf(text, sizeof text, "a %s\na %s\n", h1, hash_of("y"));
	is_int(parse(text, &k, err, sizeof err), -1, "a name given twice is refused");
	ok(strncmp(err, "line 2: the name 'a' is given twice", 35) == 0, "... saying so (%s)", err);
	snprintf(text, sizeof text, "a %s\nb %s\n", h1, h1);
	is_int(parse(text, &k, err, sizeof err), -1, "one key under two names is refused");
	ok(strncmp(err, "line 2: the key of 'b' is 'a'", 29) == 0, "... naming both (%s)", err);
	snprintf(text, sizeof text, "a %s quota_jobs_max=0\n", h1);
	is_int(parse(text, &k, err, sizeof err), -1, "quota_jobs_max=0 is refused");
	snprintf(text, sizeof text, "a %s quota_storage_bytes=1\n", h1);
	is_int(parse(text, &k, err, sizeof err), -1, "quota_storage_bytes below 1 MiB is refused");
	snprintf(text, sizeof text, "a %s quota_cpu_seconds=nan\n", h1);
	is_int(parse(text, &k, err, sizeof err), -1, "quota_cpu_seconds=nan is refused");
	snprintf(text, sizeof text, "a %s timeout_max=5\n", h1);
	is_int(parse(text, &k, err, sizeof err), -1, "an option that is no key's quota is refused");
	ok(strstr(err, "unknown option 'timeout_max'") != NULL, "... naming it (%s)", err);
	is_int(api_keys_parse("a sha256:\0", 10, &k, err, sizeof err), -1, "a NUL byte is refused");

	/* the Authorization header */
	t = api_keys_bearer("Bearer sr_abc", &len);
	ok(t && len == 6 && memcmp(t, "sr_abc", 6) == 0, "Bearer sr_abc: the token sr_abc");
	t = api_keys_bearer("bearer \t  sr_abc", &len);
	ok(t && len == 6, "the scheme in any case, spaces and tabs after it");
	ok(api_keys_bearer("Bearer", &len) == NULL, "Bearer alone: no token");
	ok(api_keys_bearer("Bearer ", &len) == NULL, "Bearer and a space: no token");
	ok(api_keys_bearer("Bearersr_abc", &len) == NULL, "no space after the scheme: no token");
	ok(api_keys_bearer("Basic YWxhZGRpbjpvcGVu", &len) == NULL, "Basic: no token");
	ok(api_keys_bearer("Bearer a b", &len) == NULL, "two words: no token");
	ok(api_keys_bearer(NULL, &len) == NULL, "no header: no token");
	return done_testing();
}
