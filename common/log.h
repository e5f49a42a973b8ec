/*
 * One logging helper for both daemons: stderr (under systemd that is the
 * journal) with a level, the program name and, where there is one, the job
 * or request id. Never log bodies, secrets or keys.
 */
#ifndef SANDRUN_LOG_H
#define SANDRUN_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *program, enum log_level level);
/* `id` is a job id or request id, or NULL. */
void log_msg(enum log_level level, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(id, ...) log_msg(LOG_LEVEL_ERROR, id, __VA_ARGS__)
#define log_warn(id, ...)  log_msg(LOG_LEVEL_WARN, id, __VA_ARGS__)
#define log_info(id, ...)  log_msg(LOG_LEVEL_INFO, id, __VA_ARGS__)
#define log_debug(id, ...) log_msg(LOG_LEVEL_DEBUG, id, __VA_ARGS__)

#endif
