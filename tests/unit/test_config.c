/* sandrun.conf parsing: defaults, overrides, and errors that name the line. */
#include "config.h"
#include "tap.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

	/* Versions compare by number, part by part (GPU CUDA versions). */
	ok(version_compare("12.2", "12.2") == 0, "12.2 == 12.2");
	ok(version_compare("12", "12.0") == 0, "12 == 12.0");
	ok(version_compare("11.10", "11.8") > 0, "11.10 > 11.8");
	ok(version_compare("11.8", "12.1") < 0, "11.8 < 12.1");
	ok(version_compare("12.1.1", "12.1") > 0, "12.1.1 > 12.1");
	ok(version_compare("9", "10") < 0, "9 < 10");
	return done_testing();
}
