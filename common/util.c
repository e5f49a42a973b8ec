/* Small helpers without side effects, shared by both daemons. */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_format_rfc3339(int64_t epoch_ms, char *out, size_t outlen)
{
	time_t secs = (time_t)(epoch_ms / 1000);
	struct tm tm;
	char day[24];

	gmtime_r(&secs, &tm);
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", day, (int)(epoch_ms % 1000));
}

int error_format(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	if (len > SIZE_MAX - b->len - 1)
		abort();
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_append_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one (RFC 3629). */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *utf8_sanitize(const char *s, size_t len, size_t *outlen)
{
	struct buf out = { 0 };
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	buf_append(&out, "", 0);
	while (i < len) {
		size_t start = i, n;

		while (i < len && (n = utf8_sequence(p + i, len - i)) > 0)
			i += n;
		buf_append(&out, s + start, i - start);
		if (i < len) {
			buf_append(&out, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	if (outlen)
		*outlen = out.len;
	return out.data;
}

int version_compare(const char *a, const char *b)
{
	while (*a || *b) {
		char *end_a, *end_b;
		unsigned long x = strtoul(a, &end_a, 10), y = strtoul(b, &end_b, 10);

		if (x != y)
			return x < y ? -1 : 1;
		/* past this number and its dot; anything else ends the version */
		a = *end_a == '.' ? end_a + 1 : end_a + strlen(end_a);
		b = *end_b == '.' ? end_b + 1 : end_b + strlen(end_b);
	}
	return 0;
}

/* UTF-8 character classes and nothing else of a language: present on every
 * Debian (libc-bin ships it), and what a job's own environment has (LANG). */
#define UTF_8_NAMES_LOCALE "C.UTF-8"

int locale_use_utf8_names(void)
{
	if (setlocale(LC_CTYPE, UTF_8_NAMES_LOCALE) == NULL)
		return -1;
	return strcmp(nl_langinfo(CODESET), "UTF-8") == 0 ? 0 : -1;
}

int fd_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int hex_digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
