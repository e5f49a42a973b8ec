/*
 * The archive entry rules of an upload (upload_entry.h), shared by the
 * responder's check at submit time and the sandbox's unpacking. Names go
 * through path_normalize_relative(), the one place untrusted paths are
 * cleaned; what is added here is what only an archive has: a root entry,
 * entry types, hard and symbolic link targets, and names libarchive may
 * give in one charset or another.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "path.h"
#include "upload_entry.h"
#include "util.h"

const char *upload_entry_name(const char *name, const char *name_utf8)
{
	/* libarchive gives no locale form when the name cannot be converted
	 * to the locale's charset; its UTF-8 form may still exist (libarchive
	 * 3.7 falls back to it by itself). Both daemons run in C.UTF-8, so
	 * the two are the same bytes whenever both exist. */
	return name != NULL ? name : name_utf8;
}

bool upload_entry_is_root(const char *name)
{
	const char *p;

	if (name == NULL || name[0] == '\0' || name[0] == '/')
		return false;
	for (p = name; *p != '\0'; p++) {
		if (*p == '/')
			continue;
		if (*p != '.')
			return false;
		/* "." must be a whole component: ".." or ".x" is not the root */
		if (p[1] != '\0' && p[1] != '/')
			return false;
	}
	return true;
}

bool upload_entry_symlink_inside(const char *link_path, const char *target)
{
	long depth = 0;
	bool named = false;     /* a name has been met: no ".." may follow */
	const char *p;

	if (link_path == NULL || target == NULL || target[0] == '\0' || target[0] == '/')
		return false;
	for (p = link_path; *p != '\0'; p++)
		if (*p == '/')
			depth++;        /* "a/b/l" lives two levels down */
	p = target;
	while (*p != '\0') {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			/* "x/.." climbs from wherever x leads, which a name
			 * does not tell: x may be a link to "." */
			if (named || --depth < 0)
				return false;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			named = true;
			depth++;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return true;
}

const char *upload_entry_shown_name(const char *name, char *buf, size_t buflen)
{
	size_t n = 0, limit;

	if (buf == NULL || buflen == 0)
		return "";
	if (name == NULL)
		name = "";
	/* room for "..." and the NUL after what is shown */
	limit = buflen > 4 ? buflen - 4 : 0;
	if (limit > UPLOAD_ENTRY_NAME_SHOWN)
		limit = UPLOAD_ENTRY_NAME_SHOWN;
	for (; name[n] != '\0' && n < limit; n++) {
		unsigned char c = (unsigned char)name[n];

		buf[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (name[n] != '\0') {
		/* cut before a character, not inside its UTF-8 sequence */
		size_t back = 0;

		while (n > 0 && back < 4 && ((unsigned char)name[n] & 0xc0) == 0x80) {
			n--;
			back++;
		}
		if (buflen > n + 3) {
			memcpy(buf + n, "...", 3);
			n += 3;
		}
	}
	buf[n] = '\0';
	return buf;
}

static const char *upload_entry_kind(mode_t type)
{
	switch (type) {
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFIFO: return "FIFO";
	case S_IFSOCK: return "socket";
	case S_IFDIR: return "directory";
	case 0: return "entry of no type";
	default: return "special file";
	}
}

enum upload_entry_verdict upload_entry_check(const struct upload_entry *entry,
					     struct upload_entry_clean *clean,
					     char *err, size_t errlen)
{
	char shown[UPLOAD_ENTRY_SHOWN_SIZE];
	const char *name = upload_entry_name(entry->name, entry->name_utf8);

	clean->name[0] = clean->hardlink[0] = '\0';
	clean->regular = false;
	if (name == NULL) {
		error_format(err, errlen, "an archive entry has a name that cannot be read "
			     "(neither in UTF-8 nor otherwise)");
		return UPLOAD_ENTRY_REFUSED;
	}
	if (entry->type == S_IFDIR && entry->hardlink == NULL && upload_entry_is_root(name))
		return UPLOAD_ENTRY_ROOT;
	if (path_normalize_relative(name, strlen(name), clean->name, sizeof clean->name) < 0) {
		error_format(err, errlen, "archive entry \"%s\" is not a safe relative path "
			     "(empty, absolute, with \"..\", with control characters or too long)",
			     upload_entry_shown_name(name, shown, sizeof shown));
		return UPLOAD_ENTRY_REFUSED;
	}
	upload_entry_shown_name(clean->name, shown, sizeof shown);

	if (entry->hardlink != NULL) {
		/* A hard link is made with link(2) whatever type it claims: a
		 * tar gives none, cpio the linked file's own. */
		if (entry->type != 0 && entry->type != S_IFREG && entry->type != S_IFLNK) {
			error_format(err, errlen, "archive entry \"%s\" is a hard link that claims to be "
				     "a %s; only files and links may be linked", shown,
				     upload_entry_kind(entry->type));
			return UPLOAD_ENTRY_REFUSED;
		}
		if (path_normalize_relative(entry->hardlink, strlen(entry->hardlink), clean->hardlink,
					    sizeof clean->hardlink) < 0) {
			error_format(err, errlen, "archive entry \"%s\" is a hard link to an unsafe name "
				     "(outside the working directory or invalid)", shown);
			return UPLOAD_ENTRY_REFUSED;
		}
		clean->regular = entry->type != S_IFLNK;
	} else if (entry->type != S_IFREG && entry->type != S_IFDIR && entry->type != S_IFLNK) {
		error_format(err, errlen, "archive entry \"%s\" is a %s; only files, directories "
			     "and links are allowed", shown, upload_entry_kind(entry->type));
		return UPLOAD_ENTRY_REFUSED;
	} else {
		clean->regular = entry->type == S_IFREG;
	}
	/* A symbolic link's target, on whatever entry carries one (the writer
	 * makes a symbolic link of any entry that has a target). */
	if ((entry->symlink != NULL || (entry->type == S_IFLNK && entry->hardlink == NULL))
	    && !upload_entry_symlink_inside(clean->name, entry->symlink)) {
		error_format(err, errlen, "archive entry \"%s\" is a symbolic link pointing outside "
			     "the working directory (or absolute)", shown);
		return UPLOAD_ENTRY_REFUSED;
	}
	return UPLOAD_ENTRY_OK;
}
