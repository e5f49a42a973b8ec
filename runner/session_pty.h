/*
 * The agent's side of a session's terminal (docs/sessions.md, "Terminal").
 * The agent (session_agent.c) stays serial: its `pty` op only starts a
 * relay when none runs and answers at once. The relay, a child of the
 * agent with the agent's uids (so no process of the session can signal
 * or trace it), owns the pty master and moves bytes between it and the
 * channel root handed the sandbox (a SOCK_SEQPACKET socket, messages in
 * runner/pty_proto.h); it forks the shell on the slave: the session's
 * uid alone, a session of its own with the slave as controlling tty,
 * `bash --norc --noprofile -i` with PS1 '\w\$ ' and TERM=xterm-256color,
 * in the exec shell's cwd, with the agent's environment (the session's
 * init env included).
 *
 * The relay drops root's input until root's 'g' (root has put the
 * terminal's `s` entry in the stream; output before it would land ahead
 * of it), reads the master only while its last output message is out
 * (root reads at its own pace: a program that prints faster blocks as on
 * a slow line), and keeps taking input meanwhile (Ctrl-C gets through).
 * When the shell exits it drains what is left (at most 500 ms), sends
 * 'x' and exits; the next `pty` op starts a new terminal.
 */
#ifndef SANDRUN_SESSION_PTY_H
#define SANDRUN_SESSION_PTY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The `pty` op. chan: the channel (-1: this agent has none, a 409).
 * A relay that is alive answers started=false, unless reap: then root saw
 * its 'x' and it is waited for (a second at most, then killed) and a new
 * one starts. cwd: where the shell starts. 0 with *started; or -1 with
 * *status (409, 500) and err.
 */
int session_pty_open(int chan, unsigned cols, unsigned rows, bool reap, const char *cwd, bool *started,
		     int *status, char *err, size_t errlen);

/* Kills the relay (and with its master gone, the terminal's session gets
 * SIGHUP) and reaps it. */
void session_pty_stop(void);

#endif
