/*
 * Reading an upload with libarchive (upload_reader.h): the one list of
 * formats, the one verdict on a header, the one mapping from a libarchive
 * entry to the rules' struct upload_entry. Nothing here opens a file or
 * logs; the callers own their readers.
 */
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include "upload_reader.h"

/* struct upload_entry takes libarchive's entry types as they are. */
_Static_assert(AE_IFREG == S_IFREG && AE_IFDIR == S_IFDIR && AE_IFLNK == S_IFLNK
	       && AE_IFCHR == S_IFCHR && AE_IFBLK == S_IFBLK && AE_IFIFO == S_IFIFO
	       && AE_IFSOCK == S_IFSOCK, "libarchive's entry types are not st_mode's");

void upload_reader_support(struct archive *reader)
{
	archive_read_support_filter_all(reader);
	/*
	 * archive_read_support_format_all() but mtree (it names host files) and
	 * xar (its XML parser would bring libxml2 and ICU into sandrun-init, which
	 * is linked statically: configure.ac), so listed one by one.
	 */
	archive_read_support_format_7zip(reader);
	archive_read_support_format_ar(reader);
	archive_read_support_format_cab(reader);
	archive_read_support_format_cpio(reader);
	archive_read_support_format_empty(reader);     /* a zero-byte upload is an empty tree */
	archive_read_support_format_iso9660(reader);
	archive_read_support_format_lha(reader);
	archive_read_support_format_rar(reader);
	archive_read_support_format_rar5(reader);
	archive_read_support_format_tar(reader);       /* ustar, pax, GNU tar */
	archive_read_support_format_warc(reader);
	archive_read_support_format_zip(reader);
}

int upload_reader_next(struct archive *reader, struct archive_entry **entry)
{
	int r = archive_read_next_header(reader, entry);

	if (r == ARCHIVE_OK)
		return 1;
	if (r == ARCHIVE_EOF)
		return 0;
	return -1;
}

void upload_reader_describe(struct archive_entry *entry, struct upload_entry *out)
{
	out->name = archive_entry_pathname(entry);
	/* only asked for when wanted: it converts, and may fail, every time */
	out->name_utf8 = out->name == NULL ? archive_entry_pathname_utf8(entry) : NULL;
	out->type = archive_entry_filetype(entry);
	out->symlink = archive_entry_symlink(entry);
	out->hardlink = archive_entry_hardlink(entry);
}
