/*
 * The outputs stream parser (runner/outputs_parse.c): streams built here
 * record by record, as init writes them, then cut, lengthened past their
 * end, given bad names and too many records.
 */
#include "outputs_parse.h"
#include "sandbox.h"
#include "tap.h"
#include "util.h"

#include <stdlib.h>

/* Appends one record: header, path, and for a file `content` (size bytes). */
static void rec(struct buf *b, uint32_t kind, const char *path, size_t path_len, uint64_t size,
		const char *content)
{
	struct sandbox_out_header h = { .kind = kind, .path_len = (uint32_t)path_len, .size = size };

	buf_append(b, &h, sizeof h);
	buf_append(b, path, path_len);
	if (content)
		buf_append(b, content, (size_t)size);
}

static void file(struct buf *b, const char *path, const char *content)
{
	rec(b, SANDBOX_OUT_FILE, path, strlen(path), strlen(content), content);
}

static void end(struct buf *b)
{
	rec(b, SANDBOX_OUT_END, "", 0, 0, NULL);
}

static int parse(const struct buf *b, size_t len, size_t max, struct outputs_parsed *p)
{
	return outputs_parse(b->data ? b->data : "", len, max, p);
}

static int path_is(const struct outputs_entry *e, const char *want)
{
	return e->path_len == strlen(want) && memcmp(e->path, want, e->path_len) == 0;
}

static void test_valid(void)
{
	struct buf b = { 0 };
	struct outputs_parsed p;

	file(&b, "results/a.txt", "hello");
	rec(&b, SANDBOX_OUT_SYMLINK, "link", 4, 0, NULL);
	file(&b, "empty", "");
	rec(&b, SANDBOX_OUT_FIFO, "fifo", 4, 0, NULL);
	rec(&b, SANDBOX_OUT_DEVICE, "dev", 3, 0, NULL);
	rec(&b, SANDBOX_OUT_SOCKET, "sock", 4, 0, NULL);
	rec(&b, SANDBOX_OUT_UNREADABLE, "secret", 6, 0, NULL);
	file(&b, "b", "xyz");
	end(&b);
	buf_append(&b, "trailing bytes after END", 24);
	is_int(parse(&b, b.len, 100, &p), 0, "valid stream parses");
	is_int(p.n, 8, "8 entries (END and what follows it are not)");
	ok(!p.incomplete && !p.over_limit && !p.too_many, "no flags");
	ok(p.entries[0].kind == SANDBOX_OUT_FILE && path_is(&p.entries[0], "results/a.txt") &&
	   p.entries[0].size == 5 && memcmp(p.entries[0].content, "hello", 5) == 0 && !p.entries[0].bad_name,
	   "first file: path, size, content");
	ok(p.entries[1].kind == SANDBOX_OUT_SYMLINK && path_is(&p.entries[1], "link") && !p.entries[1].content,
	   "symlink listed, no content");
	ok(p.entries[2].kind == SANDBOX_OUT_FILE && p.entries[2].size == 0 && p.entries[2].content,
	   "empty file has content of 0 bytes");
	ok(p.entries[3].kind == SANDBOX_OUT_FIFO && p.entries[4].kind == SANDBOX_OUT_DEVICE &&
	   p.entries[5].kind == SANDBOX_OUT_SOCKET && p.entries[6].kind == SANDBOX_OUT_UNREADABLE,
	   "every skipped kind kept in order");
	ok(p.entries[7].kind == SANDBOX_OUT_FILE && memcmp(p.entries[7].content, "xyz", 3) == 0,
	   "last file's content");
	outputs_parsed_free(&p);
	ok(p.entries == NULL && p.n == 0, "free empties");

	/* every prefix of the stream before END: incomplete, and only whole records */
	{
		size_t end_at = b.len - 24 - sizeof(struct sandbox_out_header);
		int all = 1;

		for (size_t cut = 0; cut < end_at; cut++) {
			if (parse(&b, cut, 100, &p) != 0 || !p.incomplete || p.n > 8)
				all = 0;
			for (size_t i = 0; i < p.n; i++)
				if (p.entries[i].path + p.entries[i].path_len > b.data + cut ||
				    (p.entries[i].content && p.entries[i].content + p.entries[i].size > b.data + cut))
					all = 0;
			outputs_parsed_free(&p);
		}
		ok(all, "every cut before END is incomplete, with only whole records");
		is_int(parse(&b, end_at + sizeof(struct sandbox_out_header), 100, &p), 0, "cut right after END");
		ok(!p.incomplete && p.n == 8, "complete");
		outputs_parsed_free(&p);
	}
	free(b.data);
}

static void test_empty_and_end(void)
{
	struct buf b = { 0 };
	struct outputs_parsed p;

	is_int(parse(&b, 0, 10, &p), 0, "empty stream parses");
	ok(p.incomplete && p.n == 0, "empty stream: incomplete, no entries");
	outputs_parsed_free(&p);
	end(&b);
	is_int(parse(&b, b.len, 10, &p), 0, "END alone parses");
	ok(!p.incomplete && p.n == 0 && !p.too_many, "END alone: complete, no entries");
	outputs_parsed_free(&p);
	is_int(parse(&b, b.len - 1, 10, &p), 0, "END cut by one byte parses");
	ok(p.incomplete && p.n == 0, "a truncated header is incomplete");
	outputs_parsed_free(&p);
	free(b.data);
}

static void test_lengths_past_end(void)
{
	struct buf b = { 0 };
	struct outputs_parsed p;
	char big[OUTPUTS_PATH_MAX + 1];

	file(&b, "ok", "1");
	rec(&b, SANDBOX_OUT_FILE, "f", 1, 10, NULL);
	buf_append(&b, "123456789", 9);  /* one byte short */
	is_int(parse(&b, b.len, 10, &p), 0, "file past the end parses");
	ok(p.incomplete && p.n == 1 && path_is(&p.entries[0], "ok"), "file past the end: incomplete, not returned");
	outputs_parsed_free(&p);
	free(b.data);

	b = (struct buf){ 0 };
	rec(&b, SANDBOX_OUT_FILE, "f", 1, UINT64_MAX, NULL);
	buf_append(&b, "x", 1);
	is_int(parse(&b, b.len, 10, &p), 0, "size 2^64-1 parses");
	ok(p.incomplete && p.n == 0, "size 2^64-1: incomplete");
	outputs_parsed_free(&p);
	free(b.data);

	b = (struct buf){ 0 };
	rec(&b, SANDBOX_OUT_SYMLINK, "abc", 3, 0, NULL);
	((struct sandbox_out_header *)b.data)->path_len = UINT32_MAX;
	is_int(parse(&b, b.len, 10, &p), 0, "path_len 2^32-1 parses");
	ok(p.incomplete && p.n == 0, "path past the end: incomplete");
	outputs_parsed_free(&p);
	free(b.data);

	/* a path of OUTPUTS_PATH_MAX bytes, all there: still refused */
	memset(big, 'a', sizeof big);
	for (size_t i = 100; i < OUTPUTS_PATH_MAX; i += 100)
		big[i] = '/';
	b = (struct buf){ 0 };
	rec(&b, SANDBOX_OUT_FILE, big, OUTPUTS_PATH_MAX - 1, 0, "");
	rec(&b, SANDBOX_OUT_FILE, big, OUTPUTS_PATH_MAX, 0, "");
	end(&b);
	is_int(parse(&b, b.len, 10, &p), 0, "long paths parse");
	ok(p.incomplete && p.n == 1 && p.entries[0].path_len == OUTPUTS_PATH_MAX - 1 && !p.entries[0].bad_name,
	   "a path of %d bytes is kept, one of %d ends the stream", OUTPUTS_PATH_MAX - 1, OUTPUTS_PATH_MAX);
	outputs_parsed_free(&p);
	free(b.data);
}

static void test_names(void)
{
#define NAME(s, bad) { s, sizeof s - 1, bad }
	static const struct { const char *path; size_t len; int bad; } names[] = {
		NAME("a.txt", 0),
		NAME("dir/sub/\xc3\xa9t\xc3\xa9.csv", 0),
		NAME(".hidden", 0),
		NAME("a..b", 0),
		NAME("", 1),
		NAME("/etc/passwd", 1),
		NAME("../x", 1),
		NAME("a/../b", 1),
		NAME("./a", 1),
		NAME("a//b", 1),
		NAME("a/", 1),
		NAME(".", 1),
		NAME("a\0b", 1),
		NAME("bad\xff", 1),
		NAME("\xc3", 1),             /* a UTF-8 sequence cut short */
		NAME("\xed\xa0\x80", 1),     /* a UTF-16 surrogate */
		NAME("line\nbreak", 1),
	};
#undef NAME
	size_t n = sizeof names / sizeof names[0];
	struct buf b = { 0 };
	struct outputs_parsed p;

	for (size_t i = 0; i < n; i++)
		rec(&b, SANDBOX_OUT_FILE, names[i].path, names[i].len, 1, "z");
	/* a skipped kind is never marked: its name is listed, sanitized, as is */
	rec(&b, SANDBOX_OUT_SYMLINK, "../up", 5, 0, NULL);
	end(&b);
	is_int(parse(&b, b.len, 100, &p), 0, "names parse");
	is_int(p.n, n + 1, "every name is an entry");
	for (size_t i = 0; i < n && i < p.n; i++)
		ok(p.entries[i].bad_name == names[i].bad && p.entries[i].content && p.entries[i].content[0] == 'z',
		   "name %zu is %s", i, names[i].bad ? "bad_name" : "good");
	ok(p.n == n + 1 && !p.entries[n].bad_name, "a symlink's name is not judged");
	outputs_parsed_free(&p);
	free(b.data);
}

static void test_limits(void)
{
	struct buf b = { 0 };
	struct outputs_parsed p;

	file(&b, "a", "1");
	rec(&b, SANDBOX_OUT_TOO_LARGE, "huge", 4, (uint64_t)1 << 40, NULL);
	end(&b);
	is_int(parse(&b, b.len, 10, &p), 0, "too_large parses");
	ok(p.over_limit && !p.too_many && !p.incomplete && p.n == 2, "too_large: over_limit");
	ok(p.entries[1].kind == SANDBOX_OUT_TOO_LARGE && p.entries[1].size == (uint64_t)1 << 40 &&
	   !p.entries[1].content, "too_large keeps the file's size, no content");
	outputs_parsed_free(&p);
	free(b.data);

	b = (struct buf){ 0 };
	file(&b, "a", "1");
	rec(&b, SANDBOX_OUT_TOO_MANY, "b", 1, 0, NULL);
	end(&b);
	is_int(parse(&b, b.len, 10, &p), 0, "too_many parses");
	ok(p.too_many && !p.over_limit && !p.incomplete && p.n == 2, "too_many record: too_many");
	outputs_parsed_free(&p);
	free(b.data);

	/* max_entries */
	b = (struct buf){ 0 };
	file(&b, "a", "1");
	file(&b, "b", "2");
	file(&b, "c", "3");
	end(&b);
	is_int(parse(&b, b.len, 3, &p), 0, "exactly max_entries parses");
	ok(p.n == 3 && !p.too_many && !p.incomplete, "exactly max_entries: all, no flag");
	outputs_parsed_free(&p);
	is_int(parse(&b, b.len, 2, &p), 0, "over max_entries parses");
	ok(p.n == 2 && p.too_many && !p.incomplete && path_is(&p.entries[1], "b"),
	   "over max_entries: the first ones, too_many");
	outputs_parsed_free(&p);
	is_int(parse(&b, b.len, 0, &p), 0, "max_entries 0 parses");
	ok(p.n == 0 && p.too_many, "max_entries 0: nothing, too_many");
	outputs_parsed_free(&p);
	free(b.data);

	/* many zero-size records: the array grows, bounded */
	b = (struct buf){ 0 };
	for (int i = 0; i < 1000; i++)
		rec(&b, SANDBOX_OUT_FIFO, "f", 1, 0, NULL);
	end(&b);
	is_int(parse(&b, b.len, 5000, &p), 0, "1000 records parse");
	ok(p.n == 1000 && !p.too_many && !p.incomplete, "1000 records");
	outputs_parsed_free(&p);
	is_int(parse(&b, b.len, 999, &p), 0, "1000 records, max 999, parse");
	ok(p.n == 999 && p.too_many, "1000 records, max 999: too_many");
	outputs_parsed_free(&p);
	free(b.data);
}

static void test_unknown_kind(void)
{
	struct buf b = { 0 };
	struct outputs_parsed p;

	/* an unknown kind carries no content, whatever its size says */
	rec(&b, 42, "what", 4, 1000, NULL);
	file(&b, "next", "n");
	end(&b);
	is_int(parse(&b, b.len, 10, &p), 0, "unknown kind parses");
	ok(p.n == 2 && p.entries[0].kind == 42 && p.entries[0].size == 1000 && !p.entries[0].content &&
	   path_is(&p.entries[1], "next") && !p.incomplete, "unknown kind: listed, next record right after its path");
	outputs_parsed_free(&p);
	free(b.data);
}

int main(void)
{
	test_valid();
	test_empty_and_end();
	test_lengths_past_end();
	test_names();
	test_limits();
	test_unknown_kind();
	return done_testing();
}
