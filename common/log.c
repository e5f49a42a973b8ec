/*
 * One logging helper for both daemons. Lines go to stderr: under systemd
 * that is the journal, under the test harness a log file per daemon.
 * Format: "program[pid]: level: [id] message".
 */
#include "config.h"
#include "log.h"

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
	char line[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One write per line, so lines of concurrent processes do not interleave. */
	if (id)
		dprintf(STDERR_FILENO, "%s[%d]: %s: [%s] %s\n", log_program, (int)getpid(), names[level], id, line);
	else
		dprintf(STDERR_FILENO, "%s[%d]: %s: %s\n", log_program, (int)getpid(), names[level], line);
}
