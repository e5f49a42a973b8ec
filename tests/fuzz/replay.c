/*
 * Replays fuzz inputs through a libFuzzer target without libFuzzer, so
 * `make check` runs every seed and every past crash through each harness
 * with the normal compiler (and the sanitizers, when configured with them).
 *
 * Usage: replay_TARGET FILE-OR-DIRECTORY...
 * A directory means every regular file in it (not recursive, in name
 * order, so runs are repeatable). Prints how many inputs ran; exits 0,
 * or 1 when an argument cannot be read. A harness that finds a bug
 * aborts, which fails the run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a harness: libFuzzer calls it once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Reads all of `path` into a malloc'd buffer (the caller frees it). */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *grown;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			if (cap > SIZE_MAX / 2 - 4096)
				goto fail;
			cap = cap * 2 + 4096;
			grown = realloc(buf, cap);
			if (grown == NULL)
				goto fail;
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	/* Exactly `len` bytes, so ASan catches a harness reading past the end. */
	grown = realloc(buf, len > 0 ? len : 1);
	if (grown == NULL)
		goto fail;
	buf = grown;
	fclose(f);
	*data = buf;
	*size = len;
	return 0;
fail:
	free(buf);
	fclose(f);
	return -1;
}

/* Runs one file through the target; -1 if it cannot be read. */
static int replay_file(const char *path)
{
	uint8_t *data;
	size_t size;

	if (read_file(path, &data, &size) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

/* Runs every regular file in dir; adds them to *count. */
static int replay_dir(const char *dir, unsigned long *count)
{
	struct dirent **names;
	struct stat st;
	char *path;
	int n, i, rc = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0) {
			if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
				fprintf(stderr, "replay: out of memory\n");
				rc = -1;
			} else {
				if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
					if (replay_file(path) != 0)
						rc = -1;
					else
						(*count)++;
				}
				free(path);
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	struct stat st;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) != 0)
				rc = 1;
		} else if (replay_file(argv[i]) != 0) {
			rc = 1;
		} else {
			count++;
		}
	}
	printf("replay: ran %lu input%s\n", count, count == 1 ? "" : "s");
	return rc;
}
