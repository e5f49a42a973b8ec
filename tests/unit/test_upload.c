/*
 * upload_inspect() and upload_from_json_files() (fcgi/upload.c): the
 * checks a responder makes on an upload before it accepts a job. Each
 * refusal must name the field to fix: "entrypoint" or "requirements" when
 * the file the manifest names is not a regular file of the archive,
 * "files" when the archive itself is at fault.
 */
#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "upload.h"
#include "util.h"

static const struct sandrun_limits limits = {
	.upload_max_bytes = 1 << 20,
	.unpacked_max_bytes = 1 << 20,
	.files_max = 16,              /* small, so a test can go past it */
};

/* One entry of a test archive: a name and a type; files hold "x\n". */
struct test_entry {
	const char *name;
	mode_t type;                  /* AE_IFREG, AE_IFDIR or AE_IFLNK (to "target") */
	const char *link;             /* a symlink's target instead of "target"; with
				       * AE_IFREG: a hard link to this name */
};

static la_ssize_t test_write(struct archive *a, void *ctx, const void *data, size_t len)
{
	(void)a;
	buf_append(ctx, data, len);
	return (la_ssize_t)len;
}

/* A pax tar of the entries, in `out` (the caller frees out->data). */
static void test_archive(const struct test_entry *entries, size_t n, struct buf *out)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	memset(out, 0, sizeof *out);
	archive_write_set_format_pax_restricted(a);
	archive_write_open(a, out, NULL, test_write, NULL);
	for (size_t i = 0; i < n; i++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, entries[i].name);
		archive_entry_set_filetype(e, entries[i].type);
		archive_entry_set_perm(e, entries[i].type == AE_IFDIR ? 0755 : 0644);
		if (entries[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, entries[i].link ? entries[i].link : "target");
		else if (entries[i].link)
			archive_entry_set_hardlink(e, entries[i].link);
		archive_entry_set_size(e, entries[i].type == AE_IFREG && !entries[i].link ? 2 : 0);
		archive_write_header(a, e);
		if (entries[i].type == AE_IFREG && !entries[i].link)
			archive_write_data(a, "x\n", 2);
	}
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
}

/* upload_inspect on the entries with this entrypoint and requirements:
 * checks the status, the field and that the reason holds `reason_has`. */
static void expect(const struct test_entry *entries, size_t n, const char *entrypoint,
		   const char *requirements, int want_status, const char *want_field,
		   const char *reason_has, const char *what)
{
	struct manifest m = { .entrypoint = (char *)entrypoint, .requirements = (char *)requirements };
	struct buf tar;
	char field[64] = "", reason[512] = "";
	int rc;

	test_archive(entries, n, &tar);
	rc = upload_inspect(tar.data, tar.len, &limits, &m, field, sizeof field, reason, sizeof reason);
	is_int(rc, want_status, "%s: status %d", what, want_status);
	if (want_status != 0 && want_field != NULL && reason_has != NULL) {
		is_str(field, want_field, "%s: field %s", what, want_field);
		if (!ok(strstr(reason, reason_has) != NULL, "%s: the reason says '%s'", what, reason_has))
			printf("#   reason: '%s'\n", reason);
	}
	free(tar.data);
}

#define N(a) (sizeof (a) / sizeof (a)[0])

static void test_named_files(void)
{
	static const struct test_entry good[] = {
		{ "main.py", AE_IFREG }, { "requirements.txt", AE_IFREG }, { "src", AE_IFDIR },
		{ "src/lib.py", AE_IFREG }, { "link", AE_IFLNK }, { "pkg/deps/x", AE_IFREG },
	};

	expect(good, N(good), "main.py", "requirements.txt", 0, NULL, NULL, "a good upload");
	expect(good, N(good), "src/lib.py", NULL, 0, NULL, NULL, "an entrypoint in a subdirectory");
	expect(good, N(good), "missing.py", NULL, 400, "entrypoint", "is not in the archive",
	       "an entrypoint the archive lacks");
	expect(good, N(good), "src", NULL, 400, "entrypoint", "is a directory",
	       "an entrypoint naming a directory entry");
	expect(good, N(good), "pkg/deps", NULL, 400, "entrypoint", "is a directory",
	       "an entrypoint naming a directory the archive only implies");
	expect(good, N(good), "link", NULL, 400, "entrypoint", "not a regular file",
	       "an entrypoint naming a link");
	expect(good, N(good), "main.py", "missing.txt", 400, "requirements", "is not in the archive",
	       "a requirements file the archive lacks");
	expect(good, N(good), "main.py", "src", 400, "requirements", "is a directory",
	       "requirements naming a directory entry");
	expect(good, N(good), "main.py", "pkg", 400, "requirements", "is a directory",
	       "requirements naming a directory the archive only implies");
	expect(good, N(good), "main.py", "link", 400, "requirements", "not a regular file",
	       "requirements naming a link");
}

static void test_archive_faults(void)
{
	static const struct test_entry dotdot[] = { { "main.py", AE_IFREG }, { "../evil", AE_IFREG } };
	struct test_entry many[32];
	char names[32][16];
	struct manifest m = { .entrypoint = (char *)"main.py" };
	char field[64] = "", reason[512] = "";
	int rc;

	/* the archive's own faults name "files", even with the entrypoint missing */
	expect(dotdot, N(dotdot), "nothere.py", NULL, 400, "files", "not a safe relative path",
	       "an entry with '..'");
	for (size_t i = 0; i < N(many); i++) {
		snprintf(names[i], sizeof names[i], "f%zu", i);
		many[i] = (struct test_entry){ names[i], AE_IFREG };
	}
	expect(many, N(many), "nothere.py", NULL, 413, "files", "more than 16 entries", "too many entries");
	rc = upload_inspect("not an archive at all", 21, &limits, &m, field, sizeof field,
			    reason, sizeof reason);
	is_int(rc, 400, "bytes that are no archive: 400");
	is_str(field, "files", "... naming files");
	{
		/* mtree takes contents from the reading machine's files: the
		 * responder must not open its own /etc/hostname for anyone */
		const char *mtree = "#mtree\nmain.py type=file contents=/etc/hostname\n";

		rc = upload_inspect(mtree, strlen(mtree), &limits, &m, field, sizeof field,
				    reason, sizeof reason);
		is_int(rc, 400, "an mtree listing is no upload: 400, as the sandbox refuses it");
		is_str(field, "files", "... naming files");
	}
}

/*
 * The entry rules (common/upload_entry.h, tested on their own in
 * test_upload_entry) as the responder applies them: the same the sandbox
 * applies when it unpacks.
 */
static void test_entry_rules(void)
{
	static const struct test_entry hard[] = {
		{ "main.py", AE_IFREG, NULL }, { "run.py", AE_IFREG, "./main.py" },
	};
	static const struct test_entry hard_out[] = {
		{ "main.py", AE_IFREG, NULL }, { "h", AE_IFREG, "../../etc/passwd" },
	};
	static const struct test_entry dot_link[] = { { "main.py", AE_IFREG, NULL }, { ".", AE_IFLNK, "../.." } };
	static const struct test_entry climb[] = { { "main.py", AE_IFREG, NULL }, { "sub/up", AE_IFLNK, "../../x" } };
	static const struct test_entry inside[] = { { "main.py", AE_IFREG, NULL }, { "sub/up", AE_IFLNK, "../main.py" } };
	static const struct test_entry chain[] = {
		{ "main.py", AE_IFREG, NULL }, { "x", AE_IFLNK, "." }, { "l", AE_IFLNK, "x/.." },
	};
	struct test_entry rooted[17];
	char names[16][16];

	expect(hard, 2, "run.py", NULL, 0, NULL, NULL, "a hard link to a file of the archive, as the entrypoint");
	expect(hard_out, 2, "main.py", NULL, 400, "files", "hard link to an unsafe name", "a hard link to ../../etc/passwd");
	expect(dot_link, 2, "main.py", NULL, 400, "files", "not a safe relative path",
	       "a symlink named \".\" (only a directory \".\" is the archive's root)");
	expect(climb, 2, "main.py", NULL, 400, "files", "pointing outside", "a symlink climbing out");
	expect(inside, 2, "main.py", NULL, 0, NULL, NULL, "a symlink sub/up -> ../main.py");
	expect(chain, 3, "main.py", NULL, 400, "files", "pointing outside",
	       "a chain x -> . and l -> x/.. (the tree's parent)");

	/* the root "./" is not an entry to unpack: files_max entries beside it pass */
	rooted[0] = (struct test_entry){ "./", AE_IFDIR, NULL };
	for (size_t i = 0; i < 16; i++) {
		snprintf(names[i], sizeof names[i], "./f%zu", i);
		rooted[i + 1] = (struct test_entry){ names[i], AE_IFREG, NULL };
	}
	expect(rooted, 17, "f0", NULL, 0, NULL, NULL, "\"./\" and files_max files");
}

static void test_json_files(void)
{
	json_t *files = json_pack("{s:s, s:s}", "main.py", "print(1)\n", "data/in.txt", "x");
	struct manifest m = { .entrypoint = (char *)"main.py" };
	struct buf tar = { 0 };
	char field[64] = "", reason[512] = "";
	int rc;

	rc = upload_from_json_files(files, &limits, &tar, field, sizeof field, reason, sizeof reason);
	is_int(rc, 0, "inline files become an archive");
	rc = upload_inspect(tar.data, tar.len, &limits, &m, field, sizeof field, reason, sizeof reason);
	is_int(rc, 0, "... that passes inspection");
	m.entrypoint = (char *)"data";
	rc = upload_inspect(tar.data, tar.len, &limits, &m, field, sizeof field, reason, sizeof reason);
	is_int(rc, 400, "inline files: an entrypoint naming their directory is refused");
	is_str(field, "entrypoint", "... naming entrypoint");
	free(tar.data);
	json_decref(files);
}

/*
 * UTF-8 names: inline files become a pax archive that names them in UTF-8,
 * and a pax tar written in a UTF-8 locale (as Python's tarfile writes one
 * whatever the locale) passes inspection, with the LC_CTYPE the responder
 * sets at start (main below does the same).
 */
static void test_utf8_names(void)
{
	json_t *files = json_pack("{s:s, s:s}", "données.py", "print(1)\n", "données/entrée.txt", "ça\n");
	static const struct test_entry pax[] = { { "données.py", AE_IFREG }, { "café/crème.txt", AE_IFREG } };
	struct manifest m = { .entrypoint = (char *)"données.py" };
	struct buf tar = { 0 };
	char field[64] = "", reason[512] = "";
	locale_t utf8;
	int rc;

	rc = upload_from_json_files(files, &limits, &tar, field, sizeof field, reason, sizeof reason);
	if (!ok(rc == 0, "inline files with UTF-8 names become an archive"))
		printf("#   %d %s: %s\n", rc, field, reason);
	rc = upload_inspect(tar.data, tar.len, &limits, &m, field, sizeof field, reason, sizeof reason);
	if (!ok(rc == 0, "... whose entrypoint données.py is found"))
		printf("#   %d %s: %s\n", rc, field, reason);
	free(tar.data);
	json_decref(files);

	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (!ok(utf8 != (locale_t)0, "C.UTF-8 exists (to write a UTF-8 pax tar in)"))
		return;
	{
		locale_t before = uselocale(utf8);   /* libarchive's writer reads nl_langinfo */

		test_archive(pax, N(pax), &tar);
		uselocale(before);
		freelocale(utf8);
	}
	rc = upload_inspect(tar.data, tar.len, &limits, &m, field, sizeof field, reason, sizeof reason);
	if (!ok(rc == 0, "a pax tar naming données.py in UTF-8 is readable, its entrypoint found"))
		printf("#   %d %s: %s\n", rc, field, reason);
	m.entrypoint = (char *)"café";
	rc = upload_inspect(tar.data, tar.len, &limits, &m, field, sizeof field, reason, sizeof reason);
	is_str(field, "entrypoint", "... and café (a directory there) is refused naming entrypoint");
	free(tar.data);
}

int main(void)
{
	if (locale_use_utf8_names() < 0)   /* as the responder does first: UTF-8 names */
		diag("no C.UTF-8 locale: the UTF-8 name tests will fail");
	test_named_files();
	test_archive_faults();
	test_entry_rules();
	test_json_files();
	test_utf8_names();
	return done_testing();
}
