/*
 * One logging helper for both daemons. Lines go to stderr: under systemd
 * that is the journal, under the test harness a log file per daemon.
 * Format: "program[pid]: level: [id] message".
 */
#include "config.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static const char *log_program = "sandrun";
static enum log_level log_threshold = LOG_LEVEL_INFO;

void log_init(const char *program, enum log_level level)
{
	log_program = program;
	log_threshold = level;
}

void log_msg(enum log_level level, const char *id, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	char line[1024], out[1400];
	va_list ap;
	int n;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (id)
		n = snprintf(out, sizeof out, "%s[%d]: %s: [%s] %s\n", log_program, (int)getpid(), names[level], id, line);
	else
		n = snprintf(out, sizeof out, "%s[%d]: %s: %s\n", log_program, (int)getpid(), names[level], line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof out) {            /* cut: still one line */
		n = (int)sizeof out - 1;
		out[n - 1] = '\n';
	}
	/* One write per line, so lines of concurrent processes do not
	 * interleave (dprintf cost an fstat and an lseek more per line: the
	 * runner writes two lines per job). */
	while (write(STDERR_FILENO, out, (size_t)n) < 0 && errno == EINTR)
		;
}
