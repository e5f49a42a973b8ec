/*
 * sandrun-fcgi: the FastCGI responder pool.
 *
 * The master binds the socket (as root if it must), drops to fcgi_user
 * for good, then preforks fcgi_workers responders that accept on the
 * shared socket. It restarts a responder that dies and, on SIGTERM, lets
 * every responder finish the requests it is in before exiting. Responders
 * are stateless: all state is in Redis, so any responder on any host can
 * answer any request. They never run user code.
 *
 * Each responder serves fcgi_threads requests at once, one thread each
 * (libfcgi's FCGX_Accept_r, as its examples/threaded.c does), because
 * some requests hold their thread for long (?wait long-polls, live log
 * streams: up to an hour) while doing nothing but wait on Redis. A thread
 * owns its FCGX_Request and its Redis connection (struct responder); one
 * thread of a process at a time is in accept (accept_lock), the others
 * wait for their turn; a thread whose connection nginx keeps (FCGI_KEEP_CONN)
 * waits on it instead, and gives it up for a connection waiting to be
 * accepted when no other thread is accepting (fcgi/keepalive.c). At most
 * fcgi_hold_max threads per process, counted
 * over the pool (fcgi/request.h), may hold a request, so quick requests
 * always find one.
 *
 * SIGTERM: a responder with no request in flight exits at once; otherwise
 * it stops taking requests and exits when the last one in flight ends
 * (held ones end early: responder_stopping). The handler and the threads
 * meet on two atomics (stop_requested, in_flight), sequentially
 * consistent, so one of them always sees the other's change.
 */
#include "api_keys.h"
#include "config.h"
#include "keepalive.h"
#include "log.h"
#include "rconn.h"
#include "request.h"
#include "routes.h"
#include "util.h"

#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* nginx opens one connection per request: a burst of held requests must
 * queue in the kernel, not be refused (the kernel caps it at somaxconn). */
#define LISTEN_BACKLOG 1024
#define WORKERS_MAX 256
#define STOP_GRACE_SECONDS 30    /* a request in flight (a long-poll) gets this long to end */
#define RESPAWN_BACKOFF_MS 1000  /* a responder dying at once must not make the master spin */
/* A request's deepest path is an upload: a 64 KiB block (fcgi/upload.c)
 * under libarchive's decoders, plus sanitizer redzones in test builds.
 * Only the pages a thread touches cost memory. */
#define THREAD_STACK_BYTES (512 * 1024)
#define ACCEPT_RETRY_MS 1000     /* accept failing (out of descriptors): try again after this */
/* Descriptors per thread: its FastCGI connection and its Redis connection;
 * plus the process's own (log, listen socket, libraries). */
#define FDS_PER_THREAD 2
#define FDS_SPARE 64

static atomic_int stop_requested;
static atomic_int in_flight;     /* requests this responder is serving now */
static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

bool responder_stopping(void)
{
	return atomic_load(&stop_requested) != 0;
}

/*
 * A new API key for api_keys_file (fcgi/auth.c): 32 random bytes, printed
 * once on the first line (the key is kept nowhere), and on the second the
 * line for the file, which holds its SHA-256 only.
 */
static int api_key_generate(const char *name)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32], digest[32];
	char key[3 + 2 * sizeof raw + 1], line[API_KEY_NAME_MAX + 8 + 2 * sizeof digest + 1];
	struct api_keys check;
	char err[200];

	if (RAND_bytes(raw, sizeof raw) != 1) {
		fprintf(stderr, "sandrun-fcgi: no random bytes for a key\n");
		return 1;
	}
	memcpy(key, "sr_", 3);
	for (size_t i = 0; i < sizeof raw; i++) {
		key[3 + 2 * i] = hex[raw[i] >> 4];
		key[4 + 2 * i] = hex[raw[i] & 15];
	}
	key[sizeof key - 1] = '\0';
	SHA256((const unsigned char *)key, strlen(key), digest);
	snprintf(line, sizeof line, "%.*s sha256:", API_KEY_NAME_MAX, name);
	for (size_t i = 0, n = strlen(line); i < sizeof digest; i++, n += 2) {
		line[n] = hex[digest[i] >> 4];
		line[n + 1] = hex[digest[i] & 15];
		line[n + 2] = '\0';
	}
	/* the name as the file would take it */
	if (strlen(name) > API_KEY_NAME_MAX || api_keys_parse(line, strlen(line), &check, err, sizeof err) < 0) {
		fprintf(stderr, "sandrun-fcgi: '%s': a key's name is 1 to %d of [A-Za-z0-9._-]\n", name,
			API_KEY_NAME_MAX);
		OPENSSL_cleanse(key, sizeof key);
		return 2;
	}
	api_keys_free(&check);
	printf("%s\n%s\n", key, line);
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sandrun-fcgi [-c CONFIG] [-t] [-v]\n"
		   "       sandrun-fcgi --generate-api-key NAME\n"
		   "  -c CONFIG  configuration file (default " SANDRUN_DEFAULT_CONFIG ")\n"
		   "  -t         check the configuration and exit\n"
		   "  -v         log debug lines\n"
		   "  --generate-api-key NAME  print a new API key, then its line for api_keys_file\n");
}

static void worker_on_term(int sig)
{
	(void)sig;
	/* Nothing in flight: leave now. Else the last request to end leaves. */
	atomic_store(&stop_requested, 1);
	if (atomic_load(&in_flight) == 0)
		_exit(0);
}

static void master_on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

struct worker_thread {
	pthread_t thread;
	int listen_fd;
	struct responder srv;    /* this thread's own: its Redis connection */
};

/* One thread: accept (one at a time per process), serve, again. */
static void *worker_thread_run(void *arg)
{
	struct worker_thread *w = arg;
	FCGX_Request fcgx;

	if (FCGX_InitRequest(&fcgx, w->listen_fd, 0) != 0) {
		log_error(NULL, "cannot set up a FastCGI request");
		return NULL;
	}
	while (!responder_stopping()) {
		struct request req;
		bool locked = false;
		int rc;

		/* A connection nginx keeps (fcgi/keepalive.c): its next request
		 * is read without the accept lock, unless it is given up. */
		if (fcgx.ipcFd >= 0) {
			enum keepalive_wait kw = keepalive_wait(&fcgx, w->listen_fd, &accept_lock);

			if (kw == KEEPALIVE_CLOSED)
				break;
			locked = kw == KEEPALIVE_YIELDED;
		}
		if (fcgx.ipcFd < 0 && !locked) {
			pthread_mutex_lock(&accept_lock);
			locked = true;
		}
		if (locked && responder_stopping()) {
			pthread_mutex_unlock(&accept_lock);
			break;
		}
		/* A request accepted after SIGTERM (this thread was already in
		 * accept) is served all the same: nginx sent it to us. */
		rc = FCGX_Accept_r(&fcgx);
		if (rc == 0)
			atomic_fetch_add(&in_flight, 1);
		if (locked)
			pthread_mutex_unlock(&accept_lock);
		if (rc < 0) {
			log_warn(NULL, "accept: %s; trying again", strerror(errno));
			sleep_ms(ACCEPT_RETRY_MS);
			continue;
		}
		request_init(&req, &fcgx, &w->srv);
		routes_dispatch(&req);
		keepalive_finish(&fcgx);
		FCGX_Finish_r(&fcgx);
		if (atomic_fetch_sub(&in_flight, 1) == 1 && responder_stopping())
			_exit(0);
	}
	FCGX_Free(&fcgx, 1);
	return NULL;
}

/* The process may need two descriptors per thread: raise the soft limit as far as allowed. */
static void worker_fd_limit(const struct sandrun_config *cfg)
{
	rlim_t want = (rlim_t)cfg->fcgi_threads * FDS_PER_THREAD + FDS_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warn(NULL, "fcgi_threads %d may need %llu descriptors; the limit is %llu", cfg->fcgi_threads,
			 (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

/* The pool's held-request counters, one per responder, shared (fcgi/request.h). */
static atomic_int *hold_slots;
static int hold_nslots;

static void worker_run(int listen_fd, const struct sandrun_config *cfg, int index)
{
	/* SA_RESTART: a SIGTERM must not cut short the body read of a request in flight. */
	struct sigaction sa = { .sa_handler = worker_on_term, .sa_flags = SA_RESTART };
	struct worker_thread *threads = calloc((size_t)cfg->fcgi_threads, sizeof *threads);
	pthread_attr_t attr;
	int started = 0;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (hold_slots)
		request_hold_share(hold_slots, hold_nslots, index, hold_nslots * cfg->fcgi_hold_max);
	if (!threads || pthread_attr_init(&attr) != 0) {
		log_error(NULL, "out of memory for %d threads", cfg->fcgi_threads);
		_exit(1);
	}
	pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
	for (int i = 0; i < cfg->fcgi_threads; i++) {
		struct worker_thread *w = &threads[i];
		int err;

		w->listen_fd = listen_fd;
		w->srv.cfg = cfg;
		rconn_init(&w->srv.redis, cfg->redis_address, cfg->redis_responder_user,
			   cfg->redis_responder_password, cfg->redis_timeout_ms);
		err = pthread_create(&w->thread, &attr, worker_thread_run, w);
		if (err != 0) {
			log_warn(NULL, "thread %d of %d: %s; serving with fewer", i + 1, cfg->fcgi_threads,
				 strerror(err));
			rconn_close(&w->srv.redis);
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	/* Threads leave only when told to stop with nothing in flight; then _exit. */
	for (int i = 0; i < started; i++)
		pthread_join(threads[i].thread, NULL);
	for (int i = 0; i < started; i++)
		rconn_close(&threads[i].srv.redis);
	free(threads);
	_exit(started ? 0 : 1);
}

static pid_t worker_spawn(int listen_fd, const struct sandrun_config *cfg, int index)
{
	pid_t pid;

	/* A new responder in this place: what the one before held is gone. */
	if (hold_slots)
		atomic_store(&hold_slots[index], 0);
	pid = fork();
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		worker_run(listen_fd, cfg, index);
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

	static const struct option longopts[] = {
		{ "generate-api-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "c:tvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'K': return api_key_generate(optarg);
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
	/* Wipes the runner's password: never needed here, and a compromised
	 * responder must not get the runner's ACL user (common/config.h); before
	 * any fork, so no responder ever holds it. */
	config_keep_role(&cfg, CONFIG_ROLE_RESPONDER);
	if (check_only) {
		printf("%s: configuration ok\n", config_path);
		config_free(&cfg);
		return 0;
	}
	FCGX_Init();
	/* jansson seeds its hash function on first use: do it before any thread. */
	json_object_seed(0);
	worker_fd_limit(&cfg);
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
	/* Held requests are counted over the pool: one shared counter per responder. */
	hold_slots = mmap(NULL, (size_t)nworkers * sizeof *hold_slots, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (hold_slots == MAP_FAILED) {
		log_warn(NULL, "no shared memory for the held-request counters: each responder counts its own");
		hold_slots = NULL;
	} else {
		hold_nslots = nworkers;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info(NULL, "listening on %s with %d responders of %d threads (%d may hold a request) as uid %d",
		 cfg.fcgi_listen, nworkers, cfg.fcgi_threads, nworkers * cfg.fcgi_hold_max, (int)getuid());

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
			workers[i] = worker_spawn(listen_fd, &cfg, i);
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
