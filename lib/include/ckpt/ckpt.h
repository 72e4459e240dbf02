/* libckpt: checkpoint the calling process from inside.
 *
 *   int r = ckpt_checkpoint("app.ckpt", 0);
 *   if (r < 0) fprintf(stderr, "%s\n", ckpt_error_message());
 *   else if (r == CKPT_RESTORED) ...   // a copy made by `restore app.ckpt`
 *   else ...                           // the original: the image is on disk
 *
 * ckpt_checkpoint runs `ckpt dump` on the calling process (every thread and
 * every descendant goes into the image) and returns twice, like fork: 0 in
 * the original once the image is safely on disk (written, synced, renamed),
 * 1 in every copy `restore` makes of it, -1 on error. The dumper is found
 * through $CKPT_BIN, else the ckpt installed beside this library's install
 * prefix, else `ckpt` on PATH. If the dumper fails or dies, the caller goes
 * on with -1, never stopped or traced. Details: docs/architecture.md,
 * "Checkpoint from inside (libckpt)".
 */
#ifndef CKPT_CKPT_H
#define CKPT_CKPT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CKPT_ORIGINAL 0 /* ckpt_checkpoint: the original, image on disk */
#define CKPT_RESTORED 1 /* ckpt_checkpoint: a restored copy */

/* flags of ckpt_checkpoint */
#define CKPT_IGNORE_FDS 1u  /* ckpt dump --ignore-fds: leave out the fds it would refuse */
#define CKPT_NO_COMPRESS 2u /* ckpt dump --compress none: page data stored raw */

/* error codes (ckpt_error) */
#define CKPT_E_INVAL 1     /* a bad argument, or a caller ckpt_checkpoint cannot serve (a child subreaper) */
#define CKPT_E_NODUMPER 2  /* ckpt not found or not executable */
#define CKPT_E_SYSTEM 3    /* a system call of the library failed (pipe, fork) */
#define CKPT_E_DUMP 4      /* ckpt dump refused, failed or died; the message is its line */
#define CKPT_E_BUSY 5      /* another thread of this process is checkpointing */
#define CKPT_E_HOOKS 6     /* ckpt_on_restore: too many hooks */

/* Checkpoints the calling process to `path`. Returns CKPT_ORIGINAL,
 * CKPT_RESTORED, or -1 with ckpt_error() and ckpt_error_message() set. In
 * a restored copy the hooks registered with ckpt_on_restore have run, in
 * the order of registration, on this thread, before it returns. Blocks
 * only the calling thread; the others run on until the dumper stops them
 * for the few moments it reads the process. */
int ckpt_checkpoint(const char *path, unsigned flags);

/* The code and the one-line message of this thread's last failure. */
int ckpt_error(void);
const char *ckpt_error_message(void);
/* A fixed description of an error code. */
const char *ckpt_strerror(int code);

/* 0 in a process that ckpt_checkpoint never returned CKPT_RESTORED in;
 * in a restored copy, the number of restores along its line (a copy of a
 * copy: 2). */
unsigned ckpt_generation(void);
/* 0 in the original; in a restored copy a random non-zero number of its
 * own (getrandom), told apart from every other copy's. */
uint64_t ckpt_copy_id(void);

/* Registers fn(arg) to run in every restored copy, right after the restore
 * (reseed random number generators, reopen logs, refresh cached pids).
 * Up to 64 hooks; returns 0, or -1 (CKPT_E_HOOKS, CKPT_E_INVAL). */
int ckpt_on_restore(void (*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif

#endif
