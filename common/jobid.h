/*
 * Job ids are the only key to a job's data (there are no accounts), so
 * they carry 130 bits from the kernel's CSPRNG: "job-" + 26 characters of
 * lowercase RFC 4648 base32.
 */
#ifndef SANDRUN_JOBID_H
#define SANDRUN_JOBID_H

#include <stdbool.h>
#include <stddef.h>

#define JOBID_RANDOM_CHARS 26
#define JOBID_LEN (4 + JOBID_RANDOM_CHARS)   /* strlen("job-") + 26 */

/* Writes a new id (JOBID_LEN + 1 bytes with the NUL). Returns 0, or -1 if the CSPRNG failed. */
int jobid_generate(char out[JOBID_LEN + 1]);
/* true when `s` has exactly the shape of an id we issue (checked before any Redis lookup). */
bool jobid_valid(const char *s, size_t len);

/*
 * The same shape with another four-character prefix: sessions ("ses-",
 * the only key to a session, SPEC §7) and saved workspaces ("wsp-").
 * jobid_generate/jobid_valid are these with "job-".
 */
#define SESID_PREFIX "ses-"
#define WSPID_PREFIX "wsp-"
int prefixed_id_generate(const char prefix[5], char out[JOBID_LEN + 1]);
bool prefixed_id_valid(const char prefix[5], const char *s, size_t len);

#endif
