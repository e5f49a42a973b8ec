/*
 * Who is asking (fcgi/negotiate.c): GET /logs/{id}'s format by Accept and
 * User-Agent (SPEC §2), and the Origin checks CORS rests on. The agents
 * are the ones the original Sandrun's clients send (python-requests,
 * aiohttp, httpx) and the terminal tools our own examples use.
 */
#include "negotiate.h"
#include "tap.h"

#define JSON 1
#define TEXT 0

int main(void)
{
	/* Accept decides where it names one of the forms */
	is_int(logs_want_json("application/json", "curl/8.5.0"), JSON, "Accept: application/json from curl: JSON");
	is_int(logs_want_json("text/plain", "python-requests/2.31.0"), TEXT, "Accept: text/plain from requests: text");
	is_int(logs_want_json("text/html,application/xhtml+xml,*/*;q=0.8", "Mozilla/5.0"), TEXT,
	       "a browser's navigation Accept (text/html first): text");
	is_int(logs_want_json("text/plain, application/json", "python-requests/2.31.0"), TEXT,
	       "text/plain before application/json: text");
	is_int(logs_want_json("application/json, text/plain, */*", "axios/1.6"), JSON,
	       "axios's Accept (application/json first): JSON");
	is_int(logs_want_json("application/json;q=0, text/plain", "x"), TEXT, "application/json with q=0 is not wanted");
	is_int(logs_want_json("text/plain;q=0.0, application/json", "curl/8"), JSON, "text/plain with q=0.0 neither");
	is_int(logs_want_json(" Application/JSON ; charset=utf-8", "curl/8"), JSON, "case and parameters aside");
	is_int(logs_want_json("application/jsonx", "curl/8"), TEXT, "a longer type is another type");

	/* Accept: any, or none: by the client */
	is_int(logs_want_json("*/*", "curl/7.88.1"), TEXT, "curl with */*: text (the seed's examples)");
	is_int(logs_want_json("", "curl/8.5.0"), TEXT, "curl without Accept: text");
	is_int(logs_want_json("*/*", "Wget/1.21.4"), TEXT, "Wget: text");
	is_int(logs_want_json("*/*", "HTTPie/3.2.2"), TEXT, "HTTPie: text");
	is_int(logs_want_json("*/*", "xh/0.20.0"), TEXT, "xh: text");
	is_int(logs_want_json("*/*", "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) PowerShell/7.4.0"),
	       TEXT, "PowerShell 7: text");
	is_int(logs_want_json("*/*", "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041"), TEXT,
	       "Windows PowerShell 5: text");
	is_int(logs_want_json("*/*", "fetch libfetch/2.0"), TEXT, "FreeBSD fetch: text");
	is_int(logs_want_json("*/*", "python-requests/2.31.0"), JSON, "python-requests with */*: JSON (every original client)");
	is_int(logs_want_json("*/*", "Python/3.11 aiohttp/3.9.1"), JSON, "aiohttp: JSON (the pool coordinator)");
	is_int(logs_want_json("*/*", "python-httpx/0.27.0"), JSON, "httpx: JSON (the MCP server)");
	is_int(logs_want_json("", "Python-urllib/3.11"), JSON, "urllib: JSON");
	is_int(logs_want_json("*/*", "node"), JSON, "node's fetch: JSON");
	is_int(logs_want_json("*/*", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"), JSON, "a browser's fetch(): JSON");
	is_int(logs_want_json("", ""), JSON, "no Accept, no User-Agent: a program, JSON");
	is_int(logs_want_json(NULL, NULL), JSON, "NULLs: JSON");
	is_int(logs_want_json("*/*", "my-curl-wrapper/1"), JSON, "curl/ only as the first product counts");
	is_int(logs_want_json(",,,;;;q=", "curl/8"), TEXT, "a mangled Accept falls back to the agent");

	/* origins */
	is_int(origin_listed("http://localhost:5173 http://localhost:8000", "http://localhost:8000"), 1, "a listed origin");
	is_int(origin_listed("http://localhost:5173, http://localhost:8000", "http://localhost:5173"), 1, "commas separate too");
	is_int(origin_listed("http://localhost:5173", "http://localhost:51734"), 0, "a prefix is not the origin");
	is_int(origin_listed("http://localhost:5173", "http://localhost:517"), 0, "nor is a shorter one");
	is_int(origin_listed("http://localhost:5173", "https://localhost:5173"), 0, "the scheme counts");
	is_int(origin_listed("", "http://localhost:5173"), 0, "an empty list allows none");
	is_int(origin_listed("http://a", ""), 0, "an empty origin is never listed");
	is_int(origin_listed("HTTP://LOCALHOST:8000", "http://localhost:8000"), 1, "ASCII case aside");
	is_int(origin_listed("http://localhost:8000", "null"), 0, "\"null\" (file://, sandboxed frames) unless listed");

	is_int(origin_is_self("https://localhost:8443", "https", "localhost:8443"), 1, "our own origin");
	is_int(origin_is_self("https://LOCALHOST:8443", "https", "localhost:8443"), 1, "... in any case");
	is_int(origin_is_self("http://localhost:8443", "https", "localhost:8443"), 0, "another scheme is another origin");
	is_int(origin_is_self("https://localhost:8444", "https", "localhost:8443"), 0, "another port too");
	is_int(origin_is_self("https://localhost:8443.evil.example", "https", "localhost:8443"), 0, "a longer host too");
	is_int(origin_is_self("https://localhost:8443", "https", ""), 0, "no Host: not ours");
	return done_testing();
}
