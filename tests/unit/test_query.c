/* Query strings against a route's allowed parameters (fcgi/query.c). */
#include "query.h"
#include "tap.h"

#include <string.h>

static const char *const wait_only[] = { "wait", NULL };
static const char *const logs[] = { "stream", "format", NULL };

static enum query_verdict check(const char *query, const char *const *allowed, char *name)
{
	return query_check(query, allowed, name, 64);
}

int main(void)
{
	char name[64], text[128], small[4];

	is_int(check("", NULL, name), QUERY_OK, "no query on a route that takes none");
	is_int(check("", wait_only, name), QUERY_OK, "no query on a route that takes some");
	is_int(check("wait=30", wait_only, name), QUERY_OK, "an allowed parameter");
	is_int(check("stream=stdout&format=json", logs, name), QUERY_OK, "two allowed parameters");
	is_int(check("format=text&stream=both", logs, name), QUERY_OK, "in any order");
	is_int(check("wait", wait_only, name), QUERY_OK, "a parameter without '=' is still that parameter");
	is_int(check("wait=1&", wait_only, name), QUERY_OK, "a trailing & is no parameter");
	is_int(check("&&wait=1&&", wait_only, name), QUERY_OK, "nor are empty pieces");
	is_int(check("wait=a%26b", wait_only, name), QUERY_OK, "an encoded & stays in the value");

	is_int(check("wiat=30", wait_only, name), QUERY_UNKNOWN, "a misspelt parameter is unknown");
	is_str(name, "wiat", "... and named");
	is_int(check("wait=1&colour=red", wait_only, name), QUERY_UNKNOWN, "an unknown one after an allowed one");
	is_str(name, "colour", "... is the one named");
	is_int(check("x", NULL, name), QUERY_UNKNOWN, "any parameter on a route that takes none");
	is_str(name, "x", "... named without a value");
	is_int(check("stream=stdout", wait_only, name), QUERY_UNKNOWN, "another route's parameter is unknown here");
	is_int(check("w%61it=1", wait_only, name), QUERY_UNKNOWN, "names compare as sent, not decoded");
	is_str(name, "w%61it", "... and are named as sent");
	is_int(check("WAIT=1", wait_only, name), QUERY_UNKNOWN, "names are case-sensitive");
	is_int(check("=1", wait_only, name), QUERY_UNKNOWN, "an empty name with a value is unknown");
	is_str(name, "", "... named as the empty string");
	is_int(check("waiting=1", wait_only, name), QUERY_UNKNOWN, "a longer name starting with an allowed one");
	is_int(check("wai=1", wait_only, name), QUERY_UNKNOWN, "a shorter one");

	is_int(check("wait=0&wait=30", wait_only, name), QUERY_REPEATED, "an allowed parameter given twice");
	is_str(name, "wait", "... is named");
	is_int(check("stream=stdout&format=json&stream=stderr", logs, name), QUERY_REPEATED,
	       "a repeat after another parameter");
	is_str(name, "stream", "... is named");

	is_int(query_check("averyveryverylongname=1", NULL, small, sizeof small), QUERY_UNKNOWN,
	       "a long unknown name");
	is_str(small, "ave", "... is cut to the buffer");

	query_allowed_text(logs, text, sizeof text);
	is_str(text, "stream, format", "the allowed list reads as a list");
	query_allowed_text(wait_only, text, sizeof text);
	is_str(text, "wait", "one allowed parameter");
	query_allowed_text(NULL, text, sizeof text);
	is_str(text, "none", "a route that takes none says so");
	return done_testing();
}
