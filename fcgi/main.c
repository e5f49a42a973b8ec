/*
 * sandrun-fcgi: the FastCGI responder pool.
 *
 * The master binds the socket (as root if it must), drops to fcgi_user
 * for good, then preforks fcgi_workers responders that accept on the
 * shared socket. It restarts a responder that dies and, on SIGTERM, lets
 * every responder finish the request it is in before exiting. Responders
 * are stateless: all state is in Redis, so any responder on any host can
 * answer any request. They never run user code.
 */
#include "config.h"
#include "log.h"
#include "rconn.h"
#include "request.h"
#include "routes.h"
#include "util.h"

#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_BACKLOG 128
#define WORKERS_MAX 256
#define STOP_GRACE_SECONDS 30    /* a request in flight (a long-poll) gets this long to end */
#define RESPAWN_BACKOFF_MS 1000  /* a responder dying at once must not make the master spin */

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t in_request;

bool responder_stopping(void)
{
	return stop_requested != 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sandrun-fcgi [-c CONFIG] [-t] [-v]\n"
		   "  -c CONFIG  configuration file (default " SANDRUN_DEFAULT_CONFIG ")\n"
		   "  -t         check the configuration and exit\n"
		   "  -v         log debug lines\n");
}

static void worker_on_term(int sig)
{
	(void)sig;
	/* Idle in accept(): leave now. In a request: finish it, then leave. */
	if (!in_request)
		_exit(0);
	stop_requested = 1;
}

static void master_on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void worker_run(int listen_fd, const struct sandrun_config *cfg)
{
	struct responder srv = { .cfg = cfg };
	/* SA_RESTART: a SIGTERM must not cut short the body read of the request in flight. */
	struct sigaction sa = { .sa_handler = worker_on_term, .sa_flags = SA_RESTART };
	FCGX_Request fcgx;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rconn_init(&srv.redis, cfg->redis_address, cfg->redis_responder_user,
		   cfg->redis_responder_password, cfg->redis_timeout_ms);
	if (FCGX_InitRequest(&fcgx, listen_fd, 0) != 0) {
		log_error(NULL, "cannot set up a FastCGI request");
		_exit(1);
	}
	while (!stop_requested) {
		struct request req;

		if (FCGX_Accept_r(&fcgx) < 0)
			break;
		in_request = 1;
		request_init(&req, &fcgx, &srv);
		routes_dispatch(&req);
		FCGX_Finish_r(&fcgx);
		in_request = 0;
	}
	rconn_close(&srv.redis);
	_exit(0);
}

static pid_t worker_spawn(int listen_fd, const struct sandrun_config *cfg)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		worker_run(listen_fd, cfg);
	}
	if (pid < 0)
		log_error(NULL, "fork: %s", strerror(errno));
	return pid;
}

/* Binds fcgi_listen; for a unix socket, hands it to fcgi_socket_group with mode 0660. */
static int listen_open(const struct sandrun_config *cfg)
{
	const char *where = cfg->fcgi_listen;
	int fd;

	if (strncmp(where, "unix:", 5) == 0) {
		const char *path = where + 5;
		struct group *gr;

		unlink(path);
		fd = FCGX_OpenSocket(path, LISTEN_BACKLOG);
		if (fd < 0)
			return -1;
		gr = *cfg->fcgi_socket_group ? getgrnam(cfg->fcgi_socket_group) : NULL;
		if (gr && chown(path, getuid() == 0 ? 0 : (uid_t)-1, gr->gr_gid) < 0)
			log_warn(NULL, "chown %s: %s", path, strerror(errno));
		if (chmod(path, gr ? 0660 : 0666) < 0)
			log_warn(NULL, "chmod %s: %s", path, strerror(errno));
		return fd;
	}
	return FCGX_OpenSocket(where, LISTEN_BACKLOG);
}

/* Root only binds; everything after runs as fcgi_user, for good. */
static int privileges_drop(const struct sandrun_config *cfg)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(cfg->fcgi_user);
	if (!pw) {
		log_error(NULL, "fcgi_user '%s' does not exist (create it: useradd --system %s)",
			  cfg->fcgi_user, cfg->fcgi_user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_error(NULL, "fcgi_user '%s' is root: the responder never runs as root", cfg->fcgi_user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		log_error(NULL, "cannot drop privileges to %s: %s", cfg->fcgi_user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_error(NULL, "privileges could be regained after dropping them");
		return -1;
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	const char *config_path = SANDRUN_DEFAULT_CONFIG;
	struct sandrun_config cfg;
	struct sigaction sa = { .sa_handler = master_on_term };
	pid_t workers[WORKERS_MAX] = { 0 };
	time_t started[WORKERS_MAX] = { 0 };
	char err[512];
	int opt, check_only = 0, listen_fd, nworkers;
	enum log_level level = LOG_LEVEL_INFO;

	while ((opt = getopt(argc, argv, "c:tvh")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 't': check_only = 1; break;
		case 'v': level = LOG_LEVEL_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_init("sandrun-fcgi", level);
	if (locale_use_utf8_names() < 0)   /* UTF-8 file names in libarchive: common/util.h */
		log_warn(NULL, "no C.UTF-8 locale: archives with non-ASCII file names will be refused");
	if (config_load(config_path, &cfg, err, sizeof err) < 0) {
		log_error(NULL, "%s: %s", config_path, err);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration ok\n", config_path);
		config_free(&cfg);
		return 0;
	}
	FCGX_Init();
	listen_fd = listen_open(&cfg);
	if (listen_fd < 0) {
		log_error(NULL, "cannot listen on %s", cfg.fcgi_listen);
		return 1;
	}
	if (privileges_drop(&cfg) < 0)
		return 1;
	if (geteuid() == 0) {
		log_error(NULL, "refusing to serve as root");
		return 1;
	}
	nworkers = cfg.fcgi_workers < WORKERS_MAX ? cfg.fcgi_workers : WORKERS_MAX;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info(NULL, "listening on %s with %d responders as uid %d", cfg.fcgi_listen, nworkers,
		 (int)getuid());

	while (!stop_requested) {
		int status;
		pid_t pid;

		for (int i = 0; i < nworkers; i++) {
			if (workers[i] > 0)
				continue;
			if (started[i] && time(NULL) - started[i] < 1)
				sleep_ms(RESPAWN_BACKOFF_MS);
			if (stop_requested)
				break;
			workers[i] = worker_spawn(listen_fd, &cfg);
			started[i] = time(NULL);
		}
		pid = wait(&status);
		if (pid < 0)
			continue; /* EINTR: a signal; the loop condition decides */
		for (int i = 0; i < nworkers; i++) {
			if (workers[i] != pid)
				continue;
			workers[i] = 0;
			if (!stop_requested)
				log_warn(NULL, "responder %d ended (%s %d); starting another", (int)pid,
					 WIFSIGNALED(status) ? "signal" : "status",
					 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		}
	}

	log_info(NULL, "stopping: letting requests in flight finish");
	for (int i = 0; i < nworkers; i++)
		if (workers[i] > 0)
			kill(workers[i], SIGTERM);
	for (time_t deadline = time(NULL) + STOP_GRACE_SECONDS;;) {
		int live = 0;
		pid_t pid;

		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			for (int i = 0; i < nworkers; i++)
				if (workers[i] == pid)
					workers[i] = 0;
		for (int i = 0; i < nworkers; i++)
			live += workers[i] > 0;
		if (!live)
			break;
		if (time(NULL) >= deadline) {
			for (int i = 0; i < nworkers; i++)
				if (workers[i] > 0)
					kill(workers[i], SIGKILL);
		}
		sleep_ms(50);
	}
	if (strncmp(cfg.fcgi_listen, "unix:", 5) == 0)
		unlink(cfg.fcgi_listen + 5);
	config_free(&cfg);
	return 0;
}
