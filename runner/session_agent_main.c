/*
 * sandrun-session-agent: the session agent (runner/session_agent.h) as a
 * program of its own, serving frames on stdin/stdout. The sandbox runs
 * the same function in-process (sandrun-init); this is for tests and
 * for running the agent by hand.
 */
#include "session_agent.h"

#include <unistd.h>

int main(void)
{
	return session_agent_serve(STDIN_FILENO, STDOUT_FILENO);
}
