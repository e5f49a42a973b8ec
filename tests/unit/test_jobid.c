/* Job ids: shape, alphabet, uniqueness, and the validator that guards every route. */
#include "config.h"
#include "jobid.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define SAMPLES 2000

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int main(void)
{
	static char ids[SAMPLES][JOBID_LEN + 1];
	int seen[32] = { 0 }, all_valid = 1, dups = 0, letters = 0;

	ok(jobid_generate(ids[0]) == 0, "an id is generated");
	is_int(strlen(ids[0]), JOBID_LEN, "an id is %d characters", JOBID_LEN);
	ok(strncmp(ids[0], "job-", 4) == 0, "an id starts with job-");
	ok(JOBID_RANDOM_CHARS * 5 >= 128, "an id carries at least 128 random bits (%d)", JOBID_RANDOM_CHARS * 5);

	for (int i = 0; i < SAMPLES; i++) {
		jobid_generate(ids[i]);
		all_valid &= jobid_valid(ids[i], strlen(ids[i]));
		for (int j = 4; j < JOBID_LEN; j++) {
			const char *alpha = "abcdefghijklmnopqrstuvwxyz234567";
			const char *at = strchr(alpha, ids[i][j]);
			if (at)
				seen[at - alpha]++;
		}
	}
	ok(all_valid, "every generated id passes jobid_valid");
	qsort(ids, SAMPLES, sizeof ids[0], cmp);
	for (int i = 1; i < SAMPLES; i++)
		dups += strcmp(ids[i - 1], ids[i]) == 0;
	is_int(dups, 0, "%d ids are all different", SAMPLES);
	for (int i = 0; i < 32; i++)
		letters += seen[i] > 0;
	is_int(letters, 32, "all 32 base32 characters occur");
	/* 2000 * 26 / 32 = 1625 expected per character; a broken generator is far off. */
	{
		int lo = 1 << 30, hi = 0;
		for (int i = 0; i < 32; i++) {
			lo = seen[i] < lo ? seen[i] : lo;
			hi = seen[i] > hi ? seen[i] : hi;
		}
		ok(lo > 1300 && hi < 1950, "characters are evenly spread (min %d, max %d)", lo, hi);
	}

	ok(!jobid_valid("job-", 4), "a bare prefix is not an id");
	ok(!jobid_valid("job-abc123def456", 16), "the seed's short example id is not one we issue");
	ok(!jobid_valid("job-AAAAAAAAAAAAAAAAAAAAAAAAAA", 30), "uppercase is refused");
	ok(!jobid_valid("job-aaaaaaaaaaaaaaaaaaaaaaaaa1", 30), "characters outside base32 are refused");
	ok(!jobid_valid("jab-aaaaaaaaaaaaaaaaaaaaaaaaaa", 30), "a wrong prefix is refused");
	ok(!jobid_valid("job-aaaaaaaaaaaaaaaaaaaaaaaaa\0", 30), "a NUL inside is refused");
	ok(!jobid_valid("job-aaaaaaaaaaaaaaaaaaaaaaaaa/", 30), "a slash is refused");
	ok(jobid_valid("job-aaaaaaaaaaaaaaaaaaaaaaaaaa", 30), "a well-formed id is accepted");
	ok(!jobid_valid("job-aaaaaaaaaaaaaaaaaaaaaaaaaaa", 31), "one character too many is refused");

	{
		char ses[JOBID_LEN + 1], wsp[JOBID_LEN + 1];
		ok(prefixed_id_generate(SESID_PREFIX, ses) == 0 && strncmp(ses, "ses-", 4) == 0, "a session id starts with ses-");
		ok(prefixed_id_valid(SESID_PREFIX, ses, strlen(ses)), "a generated session id is valid");
		ok(!jobid_valid(ses, strlen(ses)), "a session id is not a job id");
		ok(prefixed_id_generate(WSPID_PREFIX, wsp) == 0 && prefixed_id_valid(WSPID_PREFIX, wsp, strlen(wsp)),
		   "a workspace id is made and valid");
		ok(!prefixed_id_valid(SESID_PREFIX, wsp, strlen(wsp)), "a workspace id is not a session id");
	}
	return done_testing();
}
