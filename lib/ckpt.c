/* libckpt: ckpt_checkpoint and its helpers (include/ckpt/ckpt.h).
 *
 * How it returns twice (docs/architecture.md, "Checkpoint from inside"):
 * the caller makes a pipe and forks; the child forks the helper and exits
 * at once, so that the helper is no descendant of the caller (it would be
 * in the image). The helper runs `ckpt dump PID --copies-return TID:FD:V`
 * with its stderr on the pipe, waits for it, and writes one last byte, its
 * exit status. Meanwhile the calling thread waits in read(FD) on the pipe.
 * The dumper waits until it sees that read, dumps, and saves the thread as
 * if the read had returned V, with FD left out of the image; the original's
 * read goes on and brings the dumper's messages, the status byte, then EOF.
 * V is larger than any read here asks for, so no real read returns it.
 *
 * Between fork and exec only async-signal-safe calls are made: the caller
 * may have other threads.
 */
#define _GNU_SOURCE
#include "ckpt/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* _Fork (glibc 2.34): a fork that runs no pthread_atfork handler, so the
 * program's handlers never see libckpt's short-lived children, and is
 * async-signal-safe, as the middle child and the helper need. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define plain_fork _Fork
#else
#define plain_fork fork
#endif

#ifndef CKPT_INSTALLED_BIN
#define CKPT_INSTALLED_BIN "/usr/local/bin/ckpt"
#endif

enum {
  kChunk = 4096,                 /* the most any read of the pipe asks for */
  kRestoredValue = 0x636b7074,   /* "ckpt": what read returns in a restored copy */
  kMaxHooks = 64,
};

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static unsigned generation;
static uint64_t copy_id;

static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  void (*fn)(void *);
  void *arg;
} hooks[kMaxHooks];
static int hook_count;

static __thread int last_code;
static __thread char last_message[1024];

static int fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_message, sizeof last_message, fmt, ap);
  va_end(ap);
  last_code = code;
  return -1;
}

int ckpt_error(void) { return last_code; }
const char *ckpt_error_message(void) { return last_message; }
unsigned ckpt_generation(void) { return generation; }
uint64_t ckpt_copy_id(void) { return copy_id; }

const char *ckpt_strerror(int code) {
  switch (code) {
    case 0: return "no error";
    case CKPT_E_INVAL: return "invalid argument or unsupported caller";
    case CKPT_E_NODUMPER: return "ckpt (the dumper) not found";
    case CKPT_E_SYSTEM: return "a system call failed";
    case CKPT_E_DUMP: return "ckpt dump failed";
    case CKPT_E_BUSY: return "another checkpoint of this process is in progress";
    case CKPT_E_HOOKS: return "too many restore hooks";
    default: return "unknown libckpt error";
  }
}

int ckpt_on_restore(void (*fn)(void *arg), void *arg) {
  if (!fn) return fail(CKPT_E_INVAL, "ckpt_on_restore: no function given");
  pthread_mutex_lock(&hooks_lock);
  int full = hook_count == kMaxHooks;
  if (!full) {
    hooks[hook_count].fn = fn;
    hooks[hook_count].arg = arg;
    ++hook_count;
  }
  pthread_mutex_unlock(&hooks_lock);
  if (full) return fail(CKPT_E_HOOKS, "ckpt_on_restore: more than %d hooks", kMaxHooks);
  return 0;
}

/* The dumper: $CKPT_BIN, else the installed one, else `ckpt` on PATH. */
static int find_dumper(char *out, size_t size) {
  const char *env = getenv("CKPT_BIN");
  if (env && *env) {
    if (access(env, X_OK) != 0)
      return fail(CKPT_E_NODUMPER, "CKPT_BIN=%s is not an executable (%s)", env, strerror(errno));
    snprintf(out, size, "%s", env);
    return 0;
  }
  if (access(CKPT_INSTALLED_BIN, X_OK) == 0) {
    snprintf(out, size, "%s", CKPT_INSTALLED_BIN);
    return 0;
  }
  const char *path = getenv("PATH");
  while (path && *path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    if (n && (size_t)snprintf(out, size, "%.*s/ckpt", (int)n, path) < size && access(out, X_OK) == 0) return 0;
    path = end ? end + 1 : NULL;
  }
  return fail(CKPT_E_NODUMPER, "cannot find ckpt: CKPT_BIN is unset, %s is missing and PATH has none",
              CKPT_INSTALLED_BIN);
}

static void write_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* The helper, a grandchild of the caller: runs the dumper with its stderr
 * on the pipe (`out`, moved to fd 3 and kept from the dumper), then writes
 * the dumper's exit status as one byte. Async-signal-safe calls only. */
static void run_helper(int out, const char *exe, char *const argv[]) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, NULL); /* an ignored SIGCHLD would make waitpid fail */
  sigaction(SIGPIPE, &dfl, NULL);
  setsid(); /* a Ctrl-C at the caller's terminal is not for the dumper */
  if (out != 3) {
    if (dup2(out, 3) < 0) _exit(1);
  }
  int null = open("/dev/null", O_RDWR);
  if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(3, 2) < 0) _exit(1);
  /* Nothing of the caller's (its files, sockets, pipe ends) stays open in
   * the helper or the dumper: only 0-2 and the pipe. */
  syscall(SYS_close_range, 4u, ~0u, 0u);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  pid_t d = plain_fork();
  if (d == 0) {
    extern char **environ;
    execve(exe, argv, environ);
    static const char msg[] = "ckpt: cannot run the dumper ";
    write_all(2, msg, sizeof msg - 1);
    write_all(2, exe, strlen(exe));
    write_all(2, "\n", 1);
    _exit(127);
  }
  unsigned char status = 126;
  if (d > 0) {
    int st = 0;
    while (waitpid(d, &st, 0) < 0 && errno == EINTR) {
    }
    status = WIFEXITED(st) ? (unsigned char)WEXITSTATUS(st) : (unsigned char)(128 + WTERMSIG(st));
  }
  write_all(3, (const char *)&status, 1);
  _exit(0);
}

/* Yama ptrace_scope 1 lets only a declared tracer (or its descendants)
 * attach: the helper is declared, the dumper is its child. */
static int yama_restricted(void) {
  int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char c = '0';
  ssize_t n = read(fd, &c, 1);
  close(fd);
  return n == 1 && c != '0';
}

/* An fd at 3 or above, close-on-exec: the dumper leaves this fd out of the
 * image, which only an fd above 2 can be (0-2 are restore's own). */
static int above_stdio(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return moved;
}

static int after_restore(void) {
  ++generation;
  uint64_t id = 0;
  while (id == 0) {
    if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id) id = 0;
  }
  copy_id = id;
  pthread_mutex_unlock(&busy);
  pthread_mutex_lock(&hooks_lock);
  int n = hook_count;
  pthread_mutex_unlock(&hooks_lock);
  for (int i = 0; i < n; ++i) hooks[i].fn(hooks[i].arg);
  return CKPT_RESTORED;
}

static int checkpoint_once(const char *path, unsigned flags) {
  if (!path || !*path) return fail(CKPT_E_INVAL, "ckpt_checkpoint: no output path");
  if (flags & ~(CKPT_IGNORE_FDS | CKPT_NO_COMPRESS)) return fail(CKPT_E_INVAL, "ckpt_checkpoint: unknown flags %#x", flags);
  int subreaper = 0;
  if (getpid() == 1 || (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper))
    return fail(CKPT_E_INVAL,
                "ckpt_checkpoint: the caller is pid 1 or a child subreaper, so the dumper would be its child and in the image");
  char exe[PATH_MAX];
  if (find_dumper(exe, sizeof exe) < 0) return -1;
  if (pthread_mutex_trylock(&busy) != 0) return fail(CKPT_E_BUSY, "ckpt_checkpoint: another thread is checkpointing");

  int result = -1;
  int report[2] = {-1, -1}, pidpipe[2] = {-1, -1};
  if (pipe2(report, O_CLOEXEC) < 0 || (report[0] = above_stdio(report[0])) < 0 || pipe2(pidpipe, O_CLOEXEC) < 0) {
    fail(CKPT_E_SYSTEM, "ckpt_checkpoint: pipe: %s", strerror(errno));
    goto out;
  }
  char pid_text[16], spec[64];
  snprintf(pid_text, sizeof pid_text, "%d", (int)getpid());
  snprintf(spec, sizeof spec, "%d:%d:%d", (int)gettid(), report[0], (int)kRestoredValue);
  char *argv[16];
  int argc = 0;
  argv[argc++] = "ckpt";
  argv[argc++] = "dump";
  argv[argc++] = pid_text;
  argv[argc++] = "-o";
  argv[argc++] = (char *)path;
  argv[argc++] = "--copies-return";
  argv[argc++] = spec;
  if (flags & CKPT_IGNORE_FDS) argv[argc++] = "--ignore-fds";
  if (flags & CKPT_NO_COMPRESS) {
    argv[argc++] = "--compress";
    argv[argc++] = "none";
  }
  argv[argc] = NULL;

  pid_t middle = plain_fork();
  if (middle < 0) {
    fail(CKPT_E_SYSTEM, "ckpt_checkpoint: fork: %s", strerror(errno));
    goto out;
  }
  if (middle == 0) {
    pid_t helper = plain_fork();
    if (helper == 0) run_helper(report[1], exe, argv);
    write_all(pidpipe[1], (const char *)&helper, sizeof helper);
    _exit(helper < 0);
  }
  close(report[1]);
  report[1] = -1;
  close(pidpipe[1]);
  pidpipe[1] = -1;
  pid_t helper = -1;
  ssize_t got;
  while ((got = read(pidpipe[0], &helper, sizeof helper)) < 0 && errno == EINTR) {
  }
  while (waitpid(middle, NULL, __WALL) < 0 && errno == EINTR) {
  }
  /* Only the report pipe may be open while the image is taken. */
  close(pidpipe[0]);
  pidpipe[0] = -1;
  if (got != (ssize_t)sizeof helper || helper <= 0) {
    fail(CKPT_E_SYSTEM, "ckpt_checkpoint: could not start the dumper's helper process");
    goto out;
  }
  int declared = yama_restricted() && prctl(PR_SET_PTRACER, (unsigned long)helper, 0, 0, 0) == 0;

  /* The wait the image is taken in. Messages longer than the buffer keep
   * their end (the status byte and the last lines). */
  char buf[2 * kChunk + 1];
  size_t len = 0;
  for (;;) {
    if (len + kChunk > sizeof buf - 1) {
      memmove(buf, buf + kChunk, len - kChunk);
      len -= kChunk;
    }
    ssize_t n = read(report[0], buf + len, kChunk);
    if (n == kRestoredValue) {
      /* A restored copy: report[0] is not in it (the number is free), and
       * neither are the helper and the dumper. */
      return after_restore();
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  if (declared) prctl(PR_SET_PTRACER, 0, 0, 0, 0);
  if (len == 0) {
    fail(CKPT_E_DUMP, "ckpt_checkpoint: the dumper's helper died without a result");
    goto out;
  }
  unsigned char status = (unsigned char)buf[--len];
  if (status == 0) {
    result = CKPT_ORIGINAL;
    goto out;
  }
  /* The dumper's own line: the last non-empty one, without "ckpt: ". */
  buf[len] = 0;
  while (len && buf[len - 1] == '\n') buf[--len] = 0;
  char *line = strrchr(buf, '\n');
  line = line ? line + 1 : buf;
  if (!strncmp(line, "ckpt: ", 6)) line += 6;
  if (status > 128)
    fail(CKPT_E_DUMP, "ckpt dump died of signal %d%s%s", status - 128, *line ? ": " : "", line);
  else if (*line)
    fail(CKPT_E_DUMP, "%s", line);
  else
    fail(CKPT_E_DUMP, "ckpt dump failed with exit status %d", status);
out:
  for (int i = 0; i < 2; ++i) {
    if (report[i] >= 0) close(report[i]);
    if (pidpipe[i] >= 0) close(pidpipe[i]);
  }
  pthread_mutex_unlock(&busy);
  return result;
}

/* A signal the calling thread handles just as the dumper seizes it takes
 * the thread out of its read: the dump is refused, untouched, and taken
 * again (docs/architecture.md, "Known gaps"). */
int ckpt_checkpoint(const char *path, unsigned flags) {
  int r = -1;
  for (int attempt = 0; attempt < 3; ++attempt) {
    r = checkpoint_once(path, flags);
    if (r != -1 || last_code != CKPT_E_DUMP || !strstr(last_message, "is not waiting in read(")) break;
  }
  return r;
}
