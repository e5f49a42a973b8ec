/*
 * The session agent (runner/session_agent.c) as a function: the sandbox's
 * job process calls it, after it dropped privileges and loaded seccomp,
 * instead of exec'ing a command. It serves the supervisor's requests
 * (runner/session_proto.h) read from in_fd, answering on out_fd, until
 * in_fd ends or out_fd breaks; then it kills the shell and interpreter it
 * started, removes its private directory in /tmp and returns 0 (1 when it
 * could not start). It never exits the process. Both fds are made
 * close-on-exec, SIGPIPE is ignored; the current directory is where
 * the shell starts (/work).
 */
#ifndef SANDRUN_SESSION_AGENT_H
#define SANDRUN_SESSION_AGENT_H

/* With the session's roots: /work and /tmp. pty_fd: the terminal's
 * channel (runner/session_pty.h), or -1 for none (`pty` is then a 409). */
int session_agent_serve(int in_fd, int out_fd, int pty_fd);

/* With other roots for the file ops: tests on the host, where /work may
 * not exist (session_agent_main.c, only when told by its environment). */
int session_agent_serve_roots(int in_fd, int out_fd, int pty_fd, const char *work_root, const char *tmp_root);

#endif
