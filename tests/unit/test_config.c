/* sandrun.conf parsing: defaults, overrides, and errors that name the line;
 * each role keeping only its own password, with no copy of the other's left
 * anywhere in the process's memory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memmem */
#endif
#include "config.h"
#include "tap.h"
#include "util.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SCAN_CHUNK (1 << 20)

/*
 * How many times `needle` occurs in this process's readable memory, apart
 * from inside `skip` (skiplen bytes: where the test keeps the needle itself);
 * -1 if it cannot look. Through /proc/self/mem, which reads any mapped page
 * without faulting; into a buffer of its own mapping, skipped as well.
 */
static long memory_count(const char *needle, size_t len, const char *skip, size_t skiplen)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	size_t buflen = SCAN_CHUNK + len;
	char *buf = mmap(NULL, buflen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[512];
	long hits = -1;

	if (!maps || mem < 0 || buf == MAP_FAILED)
		goto fail;
	hits = 0;
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    strstr(line, "[vvar") || strstr(line, "[vsyscall]") || hi - lo > (1UL << 32))
			continue;   /* unreadable, or a sanitizer's shadow: reserved, never written */
		for (unsigned long at = lo; at < hi; at += SCAN_CHUNK) {
			/* Each read overlaps the next by len - 1 bytes; a hit starting
			 * in the overlap is counted by the next one. */
			size_t want = hi - at < buflen - 1 ? hi - at : buflen - 1;
			ssize_t n = pread(mem, buf, want, (off_t)at);

			for (char *p = buf; n > 0 && (p = memmem(p, (size_t)(buf + n - p), needle, len)); p++) {
				uintptr_t where = at + (uintptr_t)(p - buf);

				if (p - buf >= SCAN_CHUNK ||
				    (where >= (uintptr_t)skip && where < (uintptr_t)skip + skiplen) ||
				    (where >= (uintptr_t)buf && where < (uintptr_t)buf + buflen))
					continue;
				hits++;
			}
		}
	}
fail:
	if (maps)
		fclose(maps);
	if (mem >= 0)
		close(mem);
	if (buf != MAP_FAILED)
		munmap(buf, buflen);
	return hits;
}

/* 64 random hex digits into out (65 bytes). */
static int random_password(char *out)
{
	unsigned char raw[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	int rc = fd >= 0 && read(fd, raw, sizeof raw) == (ssize_t)sizeof raw ? 0 : -1;

	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof raw; i++) {
		out[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	out[64] = '\0';
	explicit_bzero(raw, sizeof raw);
	return rc;
}

/* Writes `key = value` lines with write(2), so no stdio buffer keeps a copy. */
static int write_line(int fd, const char *key, const char *value)
{
	return write(fd, key, strlen(key)) == (ssize_t)strlen(key) && write(fd, " = ", 3) == 3 &&
	       write(fd, value, strlen(value)) == (ssize_t)strlen(value) && write(fd, "\n", 1) == 1 ? 0 : -1;
}

/*
 * config_load, then config_keep_role(role): the kept password is there (the
 * scan finds what is there), the other is nowhere in memory, not even in
 * what config_load read and freed.
 */
static void check_keep_role(enum config_role role, const char *name)
{
	/* The passwords live in a mapping of their own, which the scan skips. */
	size_t pagelen = 4096;
	char *secrets = mmap(NULL, pagelen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *responder_pw = secrets, *runner_pw = secrets + 128;
	const char *kept = role == CONFIG_ROLE_RESPONDER ? responder_pw : runner_pw;
	const char *other = role == CONFIG_ROLE_RESPONDER ? runner_pw : responder_pw;
	char path[] = "/tmp/sandrun-config-XXXXXX", err[256];
	struct sandrun_config c;
	int fd;

	if (secrets == MAP_FAILED || random_password(responder_pw) < 0 || random_password(runner_pw) < 0) {
		ok(0, "%s: random passwords", name);
		return;
	}
	fd = mkstemp(path);
	ok(fd >= 0 && write_line(fd, "redis_responder_password", responder_pw) == 0 &&
	   write_line(fd, "redis_runner_password", runner_pw) == 0, "%s: a config file with both passwords", name);
	close(fd);
	ok(config_load(path, &c, err, sizeof err) == 0, "%s: it loads", name);
	unlink(path);
	ok(memory_count(other, 64, secrets, pagelen) >= 1,
	   "%s: before config_keep_role the other role's password is in memory (the scan finds it)", name);
	config_keep_role(&c, role);
	is_str(role == CONFIG_ROLE_RESPONDER ? c.redis_responder_password : c.redis_runner_password, kept,
	       "%s: its own password is kept", name);
	ok((role == CONFIG_ROLE_RESPONDER ? c.redis_runner_password : c.redis_responder_password) == NULL,
	   "%s: the other role's password is gone from the config", name);
	ok(memory_count(kept, 64, secrets, pagelen) >= 1, "%s: its own password is found in memory", name);
	is_int(memory_count(other, 64, secrets, pagelen), 0,
	       "%s: the other role's password is nowhere in memory (no copy left by config_load either)", name);
	config_free(&c);
	is_int(memory_count(kept, 64, secrets, pagelen), 0, "%s: after config_free, neither is", name);
	munmap(secrets, pagelen);
}

static int parse(const char *text, struct sandrun_config *c, char *err)
{
	return config_parse(text, strlen(text), c, err, 256);
}

int main(void)
{
	struct sandrun_config c;
	char err[256];

	ok(parse("", &c, err) == 0, "an empty file gives the defaults");
	is_int(c.limits.timeout_default, 300, "default timeout is 300 s");
	is_int(c.limits.memory_mb_default, 512, "default memory is 512 MB");
	is_int(c.limits.upload_max_bytes, 100000000, "default upload limit is 100 MB");
	is_int(c.limits.files_max, 10000, "default file count limit is 10,000");
	is_int(c.limits.log_max_bytes, 1048576, "default log cap is 1 MiB per stream");
	is_int(c.limits.pids_max, 64, "default process limit is 64");
	is_str(c.redis_responder_user, "sandrun-fcgi", "default responder Redis user");
	config_free(&c);

	ok(parse("# a comment\n\n  redis_address = unix:/run/x.sock  # trailing comment\n"
		 "timeout_max=7200\nfcgi_workers = 8\njob_uid_base = 2000000\n", &c, err) == 0,
	   "a file with comments, blanks and spacing parses");
	is_str(c.redis_address, "unix:/run/x.sock", "string values are trimmed");
	is_int(c.limits.timeout_max, 7200, "a limit is overridden");
	is_int(c.fcgi_workers, 8, "an int is overridden");
	is_int(c.job_uid_base, 2000000, "an unsigned is overridden");
	config_free(&c);

	ok(parse("timeout_max = 10\nbogus_key = 1\n", &c, err) < 0, "an unknown key is an error");
	ok(strstr(err, "line 2") && strstr(err, "bogus_key"), "the error names the line and key: %s", err);
	ok(parse("", &c, err) == 0, "defaults again");
	is_int(c.fcgi_threads, 64, "default: 64 threads per responder");
	is_int(c.fcgi_hold_max, 48, "default: 48 of them may hold a request (a quarter stays for quick ones)");
	config_free(&c);
	ok(parse("fcgi_threads = 2\n", &c, err) == 0, "two threads parse");
	is_int(c.fcgi_hold_max, 1, "... and one of them may hold");
	config_free(&c);
	ok(parse("fcgi_threads = 400\nfcgi_hold_max = 350\n", &c, err) == 0, "threads and a hold cap parse");
	is_int(c.fcgi_hold_max, 350, "the hold cap is taken as given");
	config_free(&c);
	ok(parse("fcgi_threads = 8\nfcgi_hold_max = 8\n", &c, err) < 0, "a hold cap that leaves no thread is an error");
	ok(strstr(err, "fcgi_hold_max") != NULL, "the error names the key: %s", err);
	ok(parse("fcgi_threads = 1\n", &c, err) < 0, "one thread is refused");
	ok(parse("fcgi_threads = 5000\n", &c, err) < 0, "too many threads are refused");
	ok(parse("fcgi_workers = many\n", &c, err) < 0, "a non-number is an error");
	ok(strstr(err, "fcgi_workers") != NULL, "the error names the key: %s", err);
	ok(parse("fcgi_workers = 0\n", &c, err) < 0, "a value below the range is an error");
	ok(parse("job_uid_base = 1000\n", &c, err) < 0, "job uids among real users are refused");
	ok(parse("runner_slots = 4\njob_uid_base = 2000000\nsession_uid_base = 2000002\n", &c, err) < 0 &&
	   strstr(err, "session_uid_base") != NULL, "session uids inside the job slots' are refused: %s", err);
	ok(parse("runner_slots = 4\njob_uid_base = 2000000\nsession_uid_base = 2000004\n", &c, err) == 0,
	   "session uids right after the job slots' are accepted");
	config_free(&c);
	ok(parse("session_ttl_default = 7200\n", &c, err) < 0, "a session ttl above its maximum is an error");
	ok(parse("just words\n", &c, err) < 0, "a line without '=' is an error");
	ok(parse("timeout_default = 600\ntimeout_max = 300\n", &c, err) < 0,
	   "a default above its maximum is an error");
	ok(config_parse("a = 1\0b", 7, &c, err, sizeof err) < 0 && strstr(err, "NUL"),
	   "a NUL byte in the file is an error");

	{
		char path[] = "/tmp/sandrun-config-XXXXXX";
		int fd = mkstemp(path);
		const char *text = "retention_seconds = 60\n";

		ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "a config file is written");
		close(fd);
		ok(config_load(path, &c, err, sizeof err) == 0, "config_load reads a file");
		is_int(c.limits.retention_seconds, 60, "the file's value is used");
		is_str(c.path, path, "the path is remembered");
		config_free(&c);
		unlink(path);
		ok(config_load(path, &c, err, sizeof err) < 0 && strstr(err, "cannot open"),
		   "a missing file is an error naming it");
	}
	/* The GPU keys (runner/gpu.c reads them) */
	ok(parse("gpu_name = Fake GPU\ngpu_vram_gb = 24.5\ngpu_cuda_version = 12.2\n"
		 "gpu_devices = /dev/null /dev/zero\n", &c, err) == 0, "the GPU keys parse");
	is_str(c.gpu_detect, "auto", "GPU detection defaults to auto");
	ok(c.gpu_vram_gb == 24.5, "gpu_vram_gb is a number of GB");
	is_str(c.gpu_devices, "/dev/null /dev/zero", "gpu_devices keeps its list");
	config_free(&c);
	ok(parse("gpu_vram_gb = -1\n", &c, err) < 0, "a negative GPU memory is refused");

	check_keep_role(CONFIG_ROLE_RESPONDER, "responder");
	check_keep_role(CONFIG_ROLE_RUNNER, "runner");
	/* The WebSocket gateway (ws/main.c): its own user and password, neither other. */
	ok(parse("redis_responder_password = r1\nredis_runner_password = r2\nredis_ws_password = w3\n"
		 "ws_listen = 127.0.0.1:9200\nws_max_connections = 7\n", &c, err) == 0, "the gateway's keys parse");
	is_str(c.redis_ws_user, "sandrun-ws", "the gateway's Redis user defaults to sandrun-ws");
	ok(c.ws_max_connections == 7 && strcmp(c.ws_listen, "127.0.0.1:9200") == 0, "... ws_listen and ws_max_connections");
	config_keep_role(&c, CONFIG_ROLE_WS);
	ok(c.redis_responder_password == NULL && c.redis_runner_password == NULL &&
	   strcmp(c.redis_ws_password, "w3") == 0, "config_keep_role(WS) keeps the gateway's password only");
	config_free(&c);
	ok(parse("ws_max_connections = 0\n", &c, err) < 0, "ws_max_connections 0 is refused");
	ok(parse("redis_ws_password = w\n", &c, err) == 0, "a responder's config with the gateway's password");
	config_keep_role(&c, CONFIG_ROLE_RESPONDER);
	ok(c.redis_ws_password == NULL, "... a responder drops the gateway's password");
	config_free(&c);
	/* The same password given twice: the first value is wiped as well. */
	ok(parse("redis_runner_password = first\nredis_runner_password = second\n", &c, err) == 0,
	   "a key given twice parses");
	is_str(c.redis_runner_password, "second", "... the last value counts");
	config_keep_role(&c, CONFIG_ROLE_RESPONDER);
	ok(c.redis_runner_password == NULL && strcmp(c.redis_responder_password, "") == 0,
	   "config_keep_role on defaults: the responder keeps its (empty) password");
	config_free(&c);

	/* Versions compare by number, part by part (GPU CUDA versions). */
	ok(version_compare("12.2", "12.2") == 0, "12.2 == 12.2");
	ok(version_compare("12", "12.0") == 0, "12 == 12.0");
	ok(version_compare("11.10", "11.8") > 0, "11.10 > 11.8");
	ok(version_compare("11.8", "12.1") < 0, "11.8 < 12.1");
	ok(version_compare("12.1.1", "12.1") > 0, "12.1.1 > 12.1");
	ok(version_compare("9", "10") < 0, "9 < 10");
	return done_testing();
}
