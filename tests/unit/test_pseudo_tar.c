/*
 * The original Sandrun's pseudo-archive (common/pseudo_tar.c): the exact
 * bytes its MCP server and its web frontend upload (queelius/sandrun
 * 380a328c: integrations/mcp-server/sandrun_mcp.py:191,
 * integrations/web-frontend/app.js:199-205 and :246), and what is refused.
 */
#include "pseudo_tar.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

struct got {
	int n;
	char path[4][64];
	char data[4][64];
	size_t len[4];
};

static int collect(void *ctx, const struct pseudo_tar_file *f)
{
	struct got *g = ctx;

	if (g->n >= 4)
		return 7;
	snprintf(g->path[g->n], sizeof g->path[0], "%.*s", (int)f->path_len, f->path);
	snprintf(g->data[g->n], sizeof g->data[0], "%.*s", (int)f->len, f->data);
	g->len[g->n] = f->len;
	g->n++;
	return 0;
}

static int parse(const char *s, size_t len, size_t max, struct got *g, char *reason)
{
	memset(g, 0, sizeof *g);
	return pseudo_tar_parse(s, len, max, collect, g, reason, 256);
}

#define P(s, max, g, r) parse(s, sizeof s - 1, max, g, r)

int main(void)
{
	struct got g;
	char reason[256];

	/* sandrun_mcp.py: Size is len(code), characters; the original took the rest as the content */
	is_int(P("----Tar\nPath: main.py\nSize: 13\n\nprint(\"h\xc3\xa9\")\n", 10, &g, reason), 0,
	       "the MCP server's single file (Size in characters)");
	is_int(g.n, 1, "... one file");
	is_str(g.path[0], "main.py", "... main.py");
	is_str(g.data[0], "print(\"h\xc3\xa9\")\n", "... all the rest is its content");
	is_int(P("----Tar\nPath: main.py\nSize: 0\n\n", 10, &g, reason), 0, "an empty file");
	is_int((int)g.len[0], 0, "... of no bytes");
	is_int(P("----Tar\nPath: run.sh\nSize: 9\n\necho hi\n\n\n", 10, &g, reason), 0, "content with blank lines");
	is_str(g.data[0], "echo hi\n\n\n", "... kept whole");

	/* app.js createTarGz: several records, each led by the same boundary */
	is_int(P("----TarBoundary1733312345\nPath: src/main.py\nSize: 6\n\nimport\n"
		 "----TarBoundary1733312345\nPath: data.txt\nSize: 2\n\nab\n", 10, &g, reason), 0,
	       "the web frontend's folder form");
	is_int(g.n, 2, "... two files");
	is_str(g.path[0], "src/main.py", "... the first");
	is_str(g.data[0], "import", "... its Size bytes");
	is_str(g.path[1], "data.txt", "... the second");
	is_str(g.data[1], "ab", "... its bytes");

	is_int(P("----TarBoundary1\nPath: a\nSize: 1\n\nx\n----TarBoundary1\nPath: b\nSize: 1\n\ny\n", 1, &g, reason),
	       -1, "more files than allowed");
	ok(strstr(reason, "more than 1 files") != NULL, "... says so");
	is_int(P("----Tar\nPath: a\nSize: 1\n\nx", 0, &g, reason), -1, "max 0 refuses even one");
	is_int(P("----TarBoundary1\nPath: a\nSize: 9\n\nshort\n", 10, &g, reason), -1, "a file shorter than its Size");
	ok(strstr(reason, "shorter than its Size") != NULL, "... says so");
	is_int(P("----TarBoundary1\nPath: a\nSize: 1\n\nxy", 10, &g, reason), -1, "no newline after a file");
	is_int(P("----TarBoundary1\nPath: a\nSize: 1\n\nx\n----TarBoundary2\nPath: b\nSize: 1\n\ny\n", 10, &g, reason),
	       -1, "another boundary");
	is_int(P("----TarBoundaryX\nPath: a\nSize: 1\n\nx\n", 10, &g, reason), -1, "a boundary without digits");
	is_int(P("----Tar\nPath: \nSize: 1\n\nx", 10, &g, reason), -1, "an empty Path");
	is_int(P("----Tar\nPath: a\r\nSize: 1\n\nx", 10, &g, reason), -1, "a CR in the Path");
	is_int(parse("----Tar\nPath: a\0b\nSize: 1\n\nx", 26, 10, &g, reason), -1, "a NUL in the Path");
	is_int(P("----Tar\nPath: a\nSize: x\n\nx", 10, &g, reason), -1, "a Size that is no number");
	is_int(P("----Tar\nPath: a\nSize: 99999999999999999999999\n\nx", 10, &g, reason), -1, "a Size too long");
	is_int(P("----Tar\nPath: a\nSize: 1\nx", 10, &g, reason), -1, "no empty line after Size");
	is_int(P("----Tar\nPath: a\nSize: 1", 10, &g, reason), -1, "cut off after Size");
	is_int(P("----Tar\nPath: a", 10, &g, reason), -1, "cut off in the Path");
	is_int(P("----Tar\nName: a\nSize: 1\n\nx", 10, &g, reason), -1, "a line other than Path");
	is_int(P("tar? no", 10, &g, reason), -1, "not a pseudo-archive at all");

	is_int(pseudo_tar_detect("----Tar\nPath: x", 15), 1, "detected: the single form");
	is_int(pseudo_tar_detect("----TarBoundary1", 16), 1, "detected: the folder form");
	is_int(pseudo_tar_detect("----Tar\nPath", 12), 0, "not: cut short");
	is_int(pseudo_tar_detect("\x1f\x8b\x08", 3), 0, "not: a gzip");
	is_int(P("----TarBoundary1\nPath: a\nSize: 0\n\n\n----TarBoundary1\nPath: b\nSize: 0\n\n\n"
		 "----TarBoundary1\nPath: c\nSize: 0\n\n\n----TarBoundary1\nPath: d\nSize: 0\n\n\n"
		 "----TarBoundary1\nPath: e\nSize: 0\n\n\n", 10, &g, reason), 7, "the callback's refusal is returned");
	return done_testing();
}
