/*
 * upload_entry_check() and its parts (common/upload_entry.h): the archive
 * entry rules the responder and the sandbox share. Every way an entry is
 * refused, every way it is cleaned, and what the error sentence shows.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tap.h"
#include "upload_entry.h"

static struct upload_entry_clean clean;
static char err[512];

/* upload_entry_check on an entry; `err` and `clean` hold what it said. */
static enum upload_entry_verdict check(const char *name, mode_t type, const char *symlink,
				       const char *hardlink)
{
	struct upload_entry e = { .name = name, .type = type, .symlink = symlink, .hardlink = hardlink };

	err[0] = '\0';
	return upload_entry_check(&e, &clean, err, sizeof err);
}

/* Refused, with a sentence holding `has`. */
static void refused(enum upload_entry_verdict v, const char *has, const char *what)
{
	if (!ok(v == UPLOAD_ENTRY_REFUSED && strstr(err, has) != NULL, "%s is refused, saying '%s'",
		what, has))
		printf("#   verdict %d, err '%s'\n", (int)v, err);
}

static void test_names(void)
{
	is_int(check("./a//b/./c", S_IFREG, NULL, NULL), UPLOAD_ENTRY_OK, "\"./a//b/./c\" is accepted");
	is_str(clean.name, "a/b/c", "... as a/b/c");
	ok(clean.regular && clean.hardlink[0] == '\0', "... a regular file, no hard link");
	is_int(check("./src/", S_IFDIR, NULL, NULL), UPLOAD_ENTRY_OK, "\"./src/\" (a directory) is accepted");
	is_str(clean.name, "src", "... as src");
	ok(!clean.regular, "... and is no regular file");
	is_int(check("...", S_IFREG, NULL, NULL), UPLOAD_ENTRY_OK, "\"...\" is a name");
	is_int(check("..a/b..", S_IFREG, NULL, NULL), UPLOAD_ENTRY_OK, "\"..a/b..\" is a name");

	refused(check("../x", S_IFREG, NULL, NULL), "not a safe relative path", "\"../x\"");
	ok(strstr(err, "\"../x\"") != NULL, "... naming the entry");
	refused(check("a/../../x", S_IFREG, NULL, NULL), "not a safe relative path", "\"a/../../x\"");
	refused(check("a/../b", S_IFREG, NULL, NULL), "not a safe relative path",
		"\"a/../b\" (\"..\" is refused, not resolved)");
	refused(check("/abs", S_IFREG, NULL, NULL), "not a safe relative path", "an absolute name");
	refused(check("//abs", S_IFDIR, NULL, NULL), "not a safe relative path", "\"//abs\"");
	refused(check("", S_IFREG, NULL, NULL), "not a safe relative path", "an empty name");
	refused(check("", S_IFDIR, NULL, NULL), "not a safe relative path",
		"an empty directory name (not the root)");
	refused(check("a\nb", S_IFREG, NULL, NULL), "not a safe relative path", "a name with a newline");
	ok(strstr(err, "\"a?b\"") != NULL, "... shown with '?' for the newline");
	refused(check("a\x7f", S_IFREG, NULL, NULL), "not a safe relative path", "a name with DEL");
	refused(check("a\tb/c", S_IFDIR, NULL, NULL), "not a safe relative path", "a name with a tab");
	{
		char name[300];

		memset(name, 'x', 256);
		name[256] = '\0';
		refused(check(name, S_IFREG, NULL, NULL), "not a safe relative path",
			"a component of 256 bytes");
		ok(strstr(err, "...\"") != NULL && strlen(err) < 250, "... shown cut short");
	}
	{
		/* PATH_MAX counts the NUL: 4095 bytes is the longest name */
		static char name[PATH_MAX + 2];
		size_t i;

		for (i = 0; i < PATH_MAX - 1; i++)
			name[i] = i % 100 == 99 ? '/' : 'a';
		name[PATH_MAX - 1] = '\0';
		is_int(check(name, S_IFREG, NULL, NULL), UPLOAD_ENTRY_OK, "a name of PATH_MAX-1 bytes is accepted");
		name[PATH_MAX - 1] = 'a';
		name[PATH_MAX] = '\0';
		refused(check(name, S_IFREG, NULL, NULL), "not a safe relative path", "a name of PATH_MAX bytes");
	}
}

static void test_root(void)
{
	static const char *const roots[] = { ".", "./", "./.", ".//", "././" };
	size_t i;

	for (i = 0; i < sizeof roots / sizeof roots[0]; i++) {
		ok(upload_entry_is_root(roots[i]), "\"%s\" is the archive's root", roots[i]);
		is_int(check(roots[i], S_IFDIR, NULL, NULL), UPLOAD_ENTRY_ROOT, "... skipped as a directory");
	}
	ok(!upload_entry_is_root("") && !upload_entry_is_root("..") && !upload_entry_is_root("./..")
	   && !upload_entry_is_root(".x") && !upload_entry_is_root("/") && !upload_entry_is_root("/.")
	   && !upload_entry_is_root(NULL), "\"\", \"..\", \"./..\", \".x\", \"/\", \"/.\" are not the root");
	refused(check("./", S_IFREG, NULL, NULL), "not a safe relative path", "a regular file named \"./\"");
	refused(check(".", S_IFLNK, "../..", NULL), "not a safe relative path", "a symlink named \".\"");
	refused(check("./", S_IFDIR, NULL, "x"), "not a safe relative path", "a hard link named \"./\"");
	refused(check("./..", S_IFDIR, NULL, NULL), "not a safe relative path", "a directory \"./..\"");
}

static void test_types(void)
{
	static const struct {
		mode_t type;
		const char *kind;
	} specials[] = {
		{ S_IFCHR, "character device" }, { S_IFBLK, "block device" }, { S_IFIFO, "FIFO" },
		{ S_IFSOCK, "socket" }, { 0, "entry of no type" },
	};
	size_t i;

	for (i = 0; i < sizeof specials / sizeof specials[0]; i++) {
		char what[64];

		snprintf(what, sizeof what, "a %s", specials[i].kind);
		refused(check("dev/x", specials[i].type, NULL, NULL), specials[i].kind, what);
		ok(strstr(err, "\"dev/x\"") != NULL, "... naming the entry");
	}
}

static void test_symlinks(void)
{
	static const struct {
		const char *link, *target;
		bool inside;
	} cases[] = {
		{ "l", "x", true },
		{ "l", "./x", true },
		{ "l", "a/b/c", true },
		{ "l", ".", true },                 /* the root itself */
		{ "a/l", "..", true },              /* the root, from a/ */
		{ "a/l", "../x", true },
		{ "a/b/l", "../../x", true },
		{ "a/l", "../../a/x", false },      /* climbs out before it comes back */
		{ "a/l", "../b/../c", false },      /* ".." after a name: b may be a link */
		{ "l", "x/..", false },
		{ "a/b/l", "../x/../y", false },
		{ "a/b/l", "../.././x/./y", true },  /* "." is no name */
		{ "l", "..", false },
		{ "l", "../x", false },
		{ "l", "./../x", false },
		{ "l", "a/../../x", false },
		{ "a/l", "../../x", false },
		{ "a/b/l", "../../../x", false },
		{ "l", "/etc/passwd", false },      /* absolute */
		{ "l", "/", false },
		{ "l", "", false },                 /* no target */
		{ "l", NULL, false },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ok(upload_entry_symlink_inside(cases[i].link, cases[i].target) == cases[i].inside,
		   "a link at %s to \"%s\" %s", cases[i].link, cases[i].target ? cases[i].target : "(none)",
		   cases[i].inside ? "stays inside" : "leaves the tree");

	is_int(check("./sub/up", S_IFLNK, "../hello.py", NULL), UPLOAD_ENTRY_OK,
	       "a symlink sub/up -> ../hello.py is accepted");
	is_str(clean.name, "sub/up", "... as sub/up");
	ok(!clean.regular, "... and is no regular file");
	refused(check("pw", S_IFLNK, "/etc/passwd", NULL), "symbolic link pointing outside",
		"a symlink to /etc/passwd");
	refused(check("sub/l", S_IFLNK, "../../x", NULL), "symbolic link pointing outside",
		"a symlink climbing out with ../..");
	refused(check("l", S_IFLNK, NULL, NULL), "symbolic link pointing outside", "a symlink with no target");
	/* the link's place is its cleaned name: "./a//l" is one level down */
	is_int(check("./a//l", S_IFLNK, "../x", NULL), UPLOAD_ENTRY_OK, "\"./a//l\" -> ../x is accepted");
	refused(check("./a//l", S_IFLNK, "../../x", NULL), "symbolic link pointing outside",
		"\"./a//l\" -> ../../x");
	refused(check("f", S_IFREG, "/etc", NULL), "symbolic link pointing outside",
		"a regular file carrying an outside symlink target (the writer would make the link)");

	/* Chains: each link is judged where it stands, so a chain of inside
	 * links stays inside, and one climbing link anywhere is refused. */
	ok(check("x", S_IFLNK, "a/y", NULL) == UPLOAD_ENTRY_OK && check("a/y", S_IFLNK, "../z", NULL) == UPLOAD_ENTRY_OK
	   && check("z", S_IFLNK, "a/b", NULL) == UPLOAD_ENTRY_OK,
	   "a chain x -> a/y -> ../z -> a/b of inside links is accepted");
	refused(check("a/y", S_IFLNK, "../../z", NULL), "symbolic link pointing outside",
		"a chain whose second link a/y -> ../../z climbs out");
	/* x -> "." is inside, and l -> "x/.." by name too, but through x it
	 * is the tree's parent: a ".." after a name is refused */
	is_int(check("x", S_IFLNK, ".", NULL), UPLOAD_ENTRY_OK, "x -> . (the root) is accepted");
	refused(check("l", S_IFLNK, "x/..", NULL), "symbolic link pointing outside",
		"l -> x/.. (the tree's parent, through x -> .)");
	refused(check("l", S_IFLNK, "x/../y", NULL), "symbolic link pointing outside", "l -> x/../y");
	ok(check("loop1", S_IFLNK, "loop2", NULL) == UPLOAD_ENTRY_OK
	   && check("loop2", S_IFLNK, "loop1", NULL) == UPLOAD_ENTRY_OK,
	   "a loop of links stays inside (the kernel ends it with ELOOP)");
}

static void test_hard_links(void)
{
	is_int(check("h", 0, NULL, "./main.py"), UPLOAD_ENTRY_OK, "a tar hard link (no type) to ./main.py is accepted");
	is_str(clean.hardlink, "main.py", "... its target cleaned to main.py");
	ok(clean.regular, "... and it is a regular file");
	is_int(check("d/h", S_IFREG, NULL, "src//lib.py"), UPLOAD_ENTRY_OK, "a hard link with a file's type");
	is_str(clean.hardlink, "src/lib.py", "... target src/lib.py");
	is_int(check("h", S_IFLNK, "x", "l"), UPLOAD_ENTRY_OK, "a hard link to a symlink (cpio), inside");
	ok(!clean.regular, "... is no regular file");
	refused(check("h", 0, NULL, "../../etc/passwd"), "hard link to an unsafe name", "a hard link to ../../etc/passwd");
	refused(check("h", 0, NULL, "/etc/passwd"), "hard link to an unsafe name", "a hard link to /etc/passwd");
	refused(check("h", 0, NULL, ""), "hard link to an unsafe name", "a hard link to \"\"");
	refused(check("h", 0, NULL, "a\x01"), "hard link to an unsafe name", "a hard link to a name with ^A");
	refused(check("../h", 0, NULL, "main.py"), "not a safe relative path", "a hard link named ../h");
	refused(check("h", S_IFCHR, NULL, "main.py"), "character device", "a hard link claiming to be a device");
	refused(check("h", S_IFDIR, NULL, "src"), "directory", "a hard link claiming to be a directory");
	refused(check("h", S_IFLNK, "/etc", "l"), "symbolic link pointing outside",
		"a hard link carrying an outside symlink target");
}

static void test_utf8(void)
{
	struct upload_entry e = { .name = NULL, .name_utf8 = "café/crème.py", .type = S_IFREG };

	is_str(upload_entry_name("a", "b"), "a", "the locale's name comes first");
	is_str(upload_entry_name(NULL, "b"), "b", "... then the UTF-8 one");
	ok(upload_entry_name(NULL, NULL) == NULL, "... or none");
	is_int(upload_entry_check(&e, &clean, err, sizeof err), UPLOAD_ENTRY_OK,
	       "an entry with only a UTF-8 name is accepted");
	is_str(clean.name, "café/crème.py", "... under that name");
	e.name_utf8 = "../café";
	refused(upload_entry_check(&e, &clean, err, sizeof err), "not a safe relative path",
		"a UTF-8 name with \"..\" (the fallback is checked like any name)");
	e.name_utf8 = NULL;
	refused(upload_entry_check(&e, &clean, err, sizeof err), "cannot be read", "an entry with no name at all");

	/* Names are bytes to the rules: what is not UTF-8 (a Latin-1 GNU tar)
	 * is kept as it is, never refused for that alone nor rewritten. */
	is_int(check("caf\xe9.py", S_IFREG, NULL, NULL), UPLOAD_ENTRY_OK, "a Latin-1 name is accepted");
	is_str(clean.name, "caf\xe9.py", "... byte for byte");
	is_int(check("\xff\xfe/\xc3", S_IFREG, NULL, NULL), UPLOAD_ENTRY_OK, "invalid UTF-8 bytes are accepted");
	refused(check("\xff/../x", S_IFREG, NULL, NULL), "not a safe relative path",
		"invalid UTF-8 with \"..\"");
}

static void test_shown_name(void)
{
	char buf[UPLOAD_ENTRY_SHOWN_SIZE], small[8], name[200];
	size_t i;

	is_str(upload_entry_shown_name("a\x01\x1f\x7f" "b", buf, sizeof buf), "a???b",
	       "control characters and DEL are shown as '?'");
	is_str(upload_entry_shown_name(NULL, buf, sizeof buf), "", "no name is shown as nothing");
	memset(name, 'x', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	upload_entry_shown_name(name, buf, sizeof buf);
	ok(strlen(buf) == UPLOAD_ENTRY_NAME_SHOWN + 3 && strcmp(buf + UPLOAD_ENTRY_NAME_SHOWN, "...") == 0,
	   "a long name is cut to %d bytes and \"...\"", UPLOAD_ENTRY_NAME_SHOWN);
	/* "é" is two bytes: after one 'x' the cut falls inside one */
	name[0] = 'x';
	for (i = 1; i + 1 < sizeof name - 1; i += 2)
		memcpy(name + i, "\xc3\xa9", 2);
	name[i] = '\0';
	upload_entry_shown_name(name, buf, sizeof buf);
	ok(strlen(buf) == UPLOAD_ENTRY_NAME_SHOWN - 1 + 3 && (unsigned char)buf[strlen(buf) - 4] == 0xa9,
	   "... at a character, never inside a UTF-8 sequence");
	is_str(upload_entry_shown_name("abcdefghij", small, sizeof small), "abcd...", "a small buffer is respected");
}

int main(void)
{
	test_names();
	test_root();
	test_types();
	test_symlinks();
	test_hard_links();
	test_utf8();
	test_shown_name();
	return done_testing();
}
