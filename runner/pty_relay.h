/*
 * Root's side of a session's terminal (docs/sessions.md, "Terminal"): two
 * small processes per session, forked by its supervisor at the first
 * `pty` request and killed at its end, so the terminal flows while the
 * supervisor's serial loop waits on a long exec:
 *
 *   input pump   BLPOP sr:{SID}:pty:in (1 s slices); each element parsed
 *                strictly (pty_input_parse; anything else dropped and
 *                logged) and sent on the channel as 'd' or 'r'
 *   output pump  the channel's messages (pty_relay_parse): 'o' -> XADD
 *                sr:{SID}:pty MAXLEN ~ 256 t=o d=BYTES, 'x' -> t=x
 *                d=STATUS and DEL sr:{SID}:pty:in; PEXPIRE as the record.
 *                It reads at most pty_output_bytes_per_second: past it, it
 *                stops reading until the next second, and the relay, then
 *                the program, block (honest backpressure)
 *
 * The channel is the sandbox's terminal socket (sandbox.pty_fd): both
 * pumps and the supervisor hold root's end; a SOCK_SEQPACKET socket keeps
 * each message whole, so their writes never interleave. The supervisor
 * itself writes 'g' (after the `s` entry is in) and 'r' (a re-attach's
 * size). Every socket call on it is MSG_DONTWAIT: the file's flags are
 * shared by the three.
 */
#ifndef SANDRUN_PTY_RELAY_H
#define SANDRUN_PTY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rconn.h"
#include "store.h"

#define PTY_STREAM_MAXLEN "256"      /* entries a terminal's stream keeps, about (XADD MAXLEN ~) */

struct pty_pump_config {
	const char *redis_address, *redis_user, *redis_password;
	int redis_timeout_ms;
	const struct session_keys *keys;
	const char *label;               /* the session id, for log lines */
	int chan;                        /* root's end of the channel */
	int64_t bytes_per_second;        /* pty_output_bytes_per_second */
};

struct pty_pumps {
	pid_t in_pid, out_pid;           /* 0: not running */
	int32_t *exits;                  /* shared page: 'x' messages the output pump passed on */
};

/* Forks both pumps (PDEATHSIG SIGKILL). 0, or -1 with err (none left running). */
int pty_pumps_start(struct pty_pumps *p, const struct pty_pump_config *c, char *err, size_t errlen);
/* SIGKILLs and reaps them; safe to call when they never started. */
void pty_pumps_stop(struct pty_pumps *p);
/* How many terminals the output pump saw end. */
int32_t pty_pumps_exits(const struct pty_pumps *p);

/* The agent's `pty` frame: {"id","op":"pty","cols","rows","reap"}; malloc'd. */
char *pty_agent_frame(int64_t id, unsigned cols, unsigned rows, bool reap, size_t *len);

/* XADD t=type d=data (MAXLEN ~) to the terminal's stream and PEXPIRE it as the
 * record; the entry's id into id (when not NULL). 0, or -1 (r->error). */
int pty_stream_add(struct rconn *r, const struct session_keys *k, const char *type, const char *data, size_t len,
		   char *id, size_t idlen);

/* One message to the relay on root's end (waits up to 2 s for room). 0, or -1. */
int pty_chan_send(int chan, const char *msg, size_t len);

#endif
