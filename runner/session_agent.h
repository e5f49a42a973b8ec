/*
 * The session agent as a function (runner/session_agent.c): a session's
 * sandbox runs it in its job process, in sandrun-init's image, once the
 * process is the session's user under the job's seccomp filter
 * (runner/sandbox.c, spec.session); sandrun-session-agent
 * (runner/session_agent_main.c) is the same as a program, for tests.
 */
#ifndef SANDRUN_SESSION_AGENT_H
#define SANDRUN_SESSION_AGENT_H

/* Serves the supervisor's frames (runner/session_proto.h) read from in_fd,
 * answering on out_fd (moved to 0 and 1 first), until EOF between frames.
 * Returns the process's exit status. */
int session_agent_serve(int in_fd, int out_fd);

#endif
