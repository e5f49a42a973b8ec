/*
 * The signer (SECURITY.md, "Processes and what they hold"): the only
 * process that ever holds the runner's worker key. The runner starts it
 * before anything else, as a fresh image of its own binary (execve of
 * /proc/self/exe with SIGNER_PROCESS_ARG), so it carries nothing of the
 * runner's memory: no configuration, no Redis password. It reads the key
 * file itself, tells the runner the worker id (the public half), drops
 * what it does not need (every other descriptor, root, new privileges,
 * every system call but the few signing takes) and then only signs.
 *
 *   runner main ── socketpair (SEQPACKET) ──▶ signer
 *        │  fork: each supervisor inherits the runner's end
 *   supervisor: signer_sign(msg)
 *        memfd (sealed) with the canonical message  ┐ one datagram,
 *        reply socket: a socketpair made per request ┘ two descriptors
 *        ◀── on the reply socket: the signature, or why not
 *
 * One datagram per request (SOCK_SEQPACKET: never split, never merged)
 * and one reply socket per request: concurrent supervisors share the
 * request socket but can never read each other's replies. The message is
 * the canonical one of docs/signing.md, whole (Ed25519 signs the message
 * itself, not a digest), in a sealed memfd: any length, and it cannot
 * change while it is signed. The signer never blocks on a client: the
 * memfd is a sealed regular file and the reply a non-blocking send.
 *
 * Lifetime: the signer exits when every copy of the runner's end is
 * closed (the runner and its supervisors are gone) and dies with the
 * runner (PR_SET_PDEATHSIG). The runner reaps it like a child; when it
 * died, signer_restart() starts another one (same key file, same worker
 * id, or none). A supervisor whose signer is gone gets an error from
 * signer_sign(), never a signature: its result is recorded unsigned and
 * says nothing of a worker.
 */
#ifndef SANDRUN_SIGNER_H
#define SANDRUN_SIGNER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sign.h"

/* argv[1] of the signer's image: the runner's main() hands over to
 * signer_main() when it sees it (not an option anyone types). */
#define SIGNER_PROCESS_ARG "--signer-process"

/* The longest message the signer takes: the canonical message grows with
 * one line per output file (files_max of them, paths up to PATH_MAX,
 * escaped); this is far above any a runner builds. */
#define SIGNER_MESSAGE_MAX (256 * 1024 * 1024)

/* ---- the wire format (one request socket, one reply socket per request) */

#define SIGNER_MAGIC 0x53524731u  /* "SRG1": this protocol, first version */
#define SIGNER_ERROR_MAX 200

/* The signer's first and only message on the request socket. */
struct signer_hello {
	uint32_t magic;
	uint32_t ok;
	char worker_id[SIGN_WORKER_ID_LEN + 1];
	char error[SIGNER_ERROR_MAX];
};

/* One request: this datagram, with two descriptors attached (SCM_RIGHTS):
 * the sealed memfd holding the message (len bytes), then the reply socket. */
struct signer_request {
	uint32_t magic;
	uint32_t reserved;           /* 0 */
	uint64_t len;
};

/* The answer, one datagram on the request's reply socket. */
struct signer_reply {
	uint32_t magic;
	uint32_t ok;
	char signature[SIGN_SIGNATURE_LEN + 1];
	char error[SIGNER_ERROR_MAX];
};

/* ---- the runner's handle */

struct signer {
	pid_t pid;                   /* the signer process; 0 when none runs */
	int fd;                      /* the runner's end of the request socket, or -1 (O_CLOEXEC);
	                                supervisors inherit it and pass it to signer_sign() */
	char key_path[PATH_MAX];     /* the key file, read again by a restarted signer */
	char worker_id[SIGN_WORKER_ID_LEN + 1]; /* the key's public half, as the signer read it */
};

/*
 * In the runner, before any other process is forked: starts the signer
 * with the key at key_path and waits until it has read it. The signer's
 * image is /proc/self/exe, whose main() must call signer_main() for
 * SIGNER_PROCESS_ARG. 0 with s filled, or -1 with a sentence in err (a
 * key that cannot be read, a signer that did not start).
 */
int signer_start(struct signer *s, const char *key_path, char *err, size_t errlen);

/*
 * After the runner reaped s->pid: starts a new signer with the same key
 * file. Its worker id must be the one announced: a key file changed on
 * disk is refused (results would name another worker). Closes the old
 * request socket; the caller hands s->fd to the supervisors it starts
 * from now on. 0, or -1 with err (then s->fd is -1 and signing fails).
 */
int signer_restart(struct signer *s, char *err, size_t errlen);

/* Stops the signer (SIGTERM, then reaps it) and closes the socket. */
void signer_stop(struct signer *s);

/*
 * In a supervisor: the Ed25519 signature (base64) of msg, by the signer
 * at the other end of fd. 0, or -1 with a sentence in err (the signer is
 * gone, refused, or did not answer within SIGNER_REPLY_TIMEOUT_MS):
 * never a signature that was not made.
 */
int signer_sign(int fd, const void *msg, size_t len, char sig[SIGN_SIGNATURE_LEN + 1], char *err,
		size_t errlen);

/* The signer process: main() of the runner's binary hands over to it when
 * argv[1] is SIGNER_PROCESS_ARG (argv[2]: the key file). Never returns. */
_Noreturn void signer_main(int argc, char **argv);

#endif
