/*
 * bench_fcgi_floor: the floor under GET /status, for make bench.
 *
 * A FastCGI responder that does the least any responder behind our nginx
 * must do, put on the pool's port in place of sandrun-fcgi, so that the
 * bench can show how much of the gap between GET /status and a static file
 * is the shape itself (nginx -> FastCGI -> Redis) and how much is ours.
 *   -m fastcgi  answers every request with a fixed body (the /status body
 *               the bench saved) and the headers /status sends: the cost of
 *               the FastCGI hop alone.
 *   -m redis    the same after one pipelined round trip to Redis reading
 *               what a /status reads: the job's record (HGETALL) and the
 *               client's CPU window (the running sum, ZCARD, the oldest
 *               charge; fcgi/quota.c reads them through a script). The reply
 *               is checked; a Redis error answers 500, which wrk counts.
 * It serves connections as sandrun-fcgi does (libfcgi, a thread per
 * connection, nginx's kept connections included), with -w processes of -t
 * threads, enough threads for every connection nginx keeps.
 *
 * usage: bench_fcgi_floor -l HOST:PORT -b BODY_FILE [-m fastcgi|redis]
 *        [-w N] [-t N] [-r HOST:PORT -u USER -j JOB_KEY -c CPU_KEY]
 * The Redis password comes from $BENCH_REDIS_PASSWORD.
 */
#include <fcgiapp.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static struct {
	const char *listen, *mode, *redis, *user, *job_key, *cpu_key, *cpusum_key;
	int workers, threads, listen_fd;
	char *body;
	size_t body_len;
} opt = { .mode = "fastcgi", .workers = 4, .threads = 64 };

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;

static redisContext *redis_open(void)
{
	char host[256];
	const char *colon = strrchr(opt.redis, ':');
	const char *pass = getenv("BENCH_REDIS_PASSWORD");
	redisContext *c;
	redisReply *r;

	if (!colon || (size_t)(colon - opt.redis) >= sizeof host)
		return NULL;
	memcpy(host, opt.redis, (size_t)(colon - opt.redis));
	host[colon - opt.redis] = '\0';
	c = redisConnect(host, atoi(colon + 1));
	if (!c || c->err)
		return NULL;
	r = redisCommand(c, "AUTH %s %s", opt.user, pass ? pass : "");
	if (!r || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "bench_fcgi_floor: AUTH: %s\n", r ? r->str : c->errstr);
		return NULL;
	}
	freeReplyObject(r);
	return c;
}

/* One round trip: what a /status reads. 0 when every reply is what it should be. */
static int redis_read(redisContext *c)
{
	int bad = 0;

	redisAppendCommand(c, "HGETALL %s", opt.job_key);
	redisAppendCommand(c, "HMGET %s n us", opt.cpusum_key);
	redisAppendCommand(c, "ZCARD %s", opt.cpu_key);
	redisAppendCommand(c, "ZRANGE %s 0 0 WITHSCORES", opt.cpu_key);
	for (int i = 0; i < 4; i++) {
		redisReply *r;

		if (redisGetReply(c, (void **)&r) != REDIS_OK)
			return -1;
		bad |= r->type == REDIS_REPLY_ERROR || (i == 0 && r->elements == 0);
		freeReplyObject(r);
	}
	return bad ? -1 : 0;
}

static void *serve(void *arg)
{
	redisContext *c = NULL;
	FCGX_Request req;

	(void)arg;
	if (strcmp(opt.mode, "redis") == 0 && !(c = redis_open())) {
		fprintf(stderr, "bench_fcgi_floor: cannot reach Redis at %s\n", opt.redis);
		exit(1);
	}
	FCGX_InitRequest(&req, opt.listen_fd, 0);
	for (;;) {
		int locked = req.ipcFd < 0, rc;

		if (locked)
			pthread_mutex_lock(&accept_lock);
		rc = FCGX_Accept_r(&req);
		if (locked)
			pthread_mutex_unlock(&accept_lock);
		if (rc < 0)
			continue;
		if (c && redis_read(c) < 0) {
			FCGX_PutS("Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", req.out);
		} else {
			FCGX_FPrintF(req.out,
				     "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: %lu\r\n"
				     "Cache-Control: no-store\r\nRateLimit-Limit: 10\r\nRateLimit-Remaining: 10\r\n"
				     "RateLimit-Reset: 0\r\nRateLimit-Policy: 10;w=3600\r\n\r\n",
				     (unsigned long)opt.body_len);
			FCGX_PutStr(opt.body, (int)opt.body_len, req.out);
		}
		FCGX_Finish_r(&req);
	}
	return NULL;
}

static int body_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		return -1;
	opt.body = malloc((size_t)n + 1);
	if (!opt.body || fread(opt.body, 1, (size_t)n, f) != (size_t)n)
		return -1;
	opt.body_len = (size_t)n;
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static char cpusum[512];
	const char *body = NULL;
	pthread_t t;
	int o;

	while ((o = getopt(argc, argv, "l:b:m:w:t:r:u:j:c:")) != -1) {
		switch (o) {
		case 'l': opt.listen = optarg; break;
		case 'b': body = optarg; break;
		case 'm': opt.mode = optarg; break;
		case 'w': opt.workers = atoi(optarg); break;
		case 't': opt.threads = atoi(optarg); break;
		case 'r': opt.redis = optarg; break;
		case 'u': opt.user = optarg; break;
		case 'j': opt.job_key = optarg; break;
		case 'c': opt.cpu_key = optarg; break;
		default: return 2;
		}
	}
	if (!opt.listen || !body || opt.workers < 1 || opt.threads < 1 ||
	    (strcmp(opt.mode, "fastcgi") != 0 && strcmp(opt.mode, "redis") != 0) ||
	    (strcmp(opt.mode, "redis") == 0 && (!opt.redis || !opt.user || !opt.job_key || !opt.cpu_key ||
						 strncmp(opt.cpu_key, "sr:cpu:", 7) != 0))) {
		fprintf(stderr, "usage: bench_fcgi_floor -l HOST:PORT -b BODY_FILE [-m fastcgi|redis] [-w N] [-t N]"
				" [-r HOST:PORT -u USER -j JOB_KEY -c sr:cpu:{CLIENT}]\n");
		return 2;
	}
	if (opt.cpu_key) {   /* the running sum beside the window (redis/quota-lib.lua's key_cpusum) */
		snprintf(cpusum, sizeof cpusum, "sr:cpusum:%s", opt.cpu_key + 7);
		opt.cpusum_key = cpusum;
	}
	if (body_load(body) < 0) {
		fprintf(stderr, "bench_fcgi_floor: cannot read %s\n", body);
		return 1;
	}
	FCGX_Init();
	opt.listen_fd = FCGX_OpenSocket(opt.listen, 1024);
	if (opt.listen_fd < 0) {
		fprintf(stderr, "bench_fcgi_floor: cannot listen on %s\n", opt.listen);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < opt.workers; i++) {
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);   /* killing the first process ends them all */
			break;
		}
	}
	for (int i = 0; i < opt.threads; i++)
		if (pthread_create(&t, NULL, serve, NULL) != 0)
			return 1;
	pause();
	return 0;
}
