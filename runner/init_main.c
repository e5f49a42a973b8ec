/*
 * sandrun-init: the init of every job's sandbox, as a fresh image. The
 * runner's supervisor clones init into the job's namespaces and cgroup,
 * and the clone execs this program at once (runner/sandbox.c,
 * sandbox_exec_init), so that init and the job process, which unpacks
 * the user's upload, carry nothing of the supervisor's memory: no Redis
 * password, no connection buffers, no configuration, no key. Installed in
 * pkglibexecdir; not a command (it refuses to run as one).
 */
#include "sandbox.h"

int main(int argc, char **argv)
{
	sandbox_init_exec_main(argc, argv);
}
