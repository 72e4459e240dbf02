/* tlaunch: start a program and time it, with CLOCK_MONOTONIC on both sides.
 *
 *   tlaunch [--wall] [--hold] -- PROGRAM ARGS...
 *
 * Default mode (restore latency): the child's stdin is a pipe that already
 * holds "go\n" and its stdout a pipe back to us. We read the clock just
 * before fork, the child prints "T <ns>" (read with the same clock) as soon
 * as it runs again, and the difference is the latency. That covers fork,
 * exec, and everything the program (e.g. `restore`) does until the restored
 * code runs; the child's exit and teardown come after and are not counted.
 * Measuring this in C rather than in the Python driver keeps interpreter
 * overhead out of sub-millisecond results.
 *
 * --hold: after "SUM", while the restored program waits in read(0) having
 * touched no new memory, read VmRSS and VmHWM from /proc/PID/status (see
 * docs/benchmarks.md, "peak memory").
 *
 * --wall: just fork, exec, wait; report the wall time (for `ckpt dump`).
 *
 * A "SUM <hex>" line after the timestamp (the hog's checksum of its whole
 * memory, the floor's of what it read) is reported as sum=, and the time
 * from the start until that line arrived as sum_ns=: until the program has
 * read all its memory once.
 *
 * Output, one line: lat_ns=N status=S [sum=HEX sum_ns=N] [vmrss_kb=N vmhwm_kb=N] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Reads one line from fd into buf (without the newline); 0 at EOF. */
static int read_line(int fd, char *buf, size_t cap) {
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r <= 0) {
      buf[n] = 0;
      return n > 0;
    }
    if (c == '\n') {
      buf[n] = 0;
      return 1;
    }
    if (n + 1 < cap) buf[n++] = c;
  }
}

static long status_kb(pid_t pid, const char *key) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  long v = -1;
  size_t k = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, k) && line[k] == ':') v = strtol(line + k + 1, 0, 10);
  if (f) fclose(f);
  return v;
}

int main(int argc, char **argv) {
  int wall = 0, hold = 0, i = 1;
  for (; i < argc && strcmp(argv[i], "--"); ++i) {
    if (!strcmp(argv[i], "--wall")) wall = 1;
    else if (!strcmp(argv[i], "--hold")) hold = 1;
    else return fprintf(stderr, "tlaunch: unknown option %s\n", argv[i]), 2;
  }
  if (i + 1 >= argc) return fprintf(stderr, "usage: tlaunch [--wall] [--hold] -- PROGRAM ARGS...\n"), 2;
  char **cmd = argv + i + 1;
  alarm(120); /* never hang a benchmark run forever */
  /* CKPT_BENCH_RT=1: run ourselves and the child (it inherits the policy, as
   * do restore's worker threads) as SCHED_FIFO, so that CPU hogs of other
   * users of a shared machine, which run under the normal policy, cannot
   * take the cores during a measurement. Baseline and ckpt get the same. */
  const char *rt = getenv("CKPT_BENCH_RT");
  if (rt && *rt && strcmp(rt, "0")) {
    struct sched_param sp = {.sched_priority = 10};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) return perror("tlaunch: SCHED_FIFO"), 1;
  }

  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) return perror("pipe"), 1;
  if (!wall && write(in[1], "go\n", 3) != 3) return 1; /* waiting before the child exists */

  long long t0 = now_ns();
  pid_t pid = fork();
  if (pid == 0) {
    if (!wall) {
      dup2(in[0], 0);
      dup2(out[1], 1);
    } else {
      dup2(2, 1); /* our stdout carries only the result line */
    }
    execv(cmd[0], cmd);
    _exit(127);
  }
  if (pid < 0) return perror("fork"), 1;
  close(in[0]);
  close(out[1]);

  long long lat = -1, sum_lat = -1;
  char sum[64] = "", line[256];
  long rss = -1, hwm = -1;
  if (!wall) {
    while (read_line(out[0], line, sizeof line))
      if (!strncmp(line, "T ", 2)) {
        lat = atoll(line + 2) - t0;
        break;
      }
    /* The hog goes on with "SUM"; programs that just exit give EOF. */
    while (lat >= 0 && read_line(out[0], line, sizeof line))
      if (!strncmp(line, "SUM ", 4)) {
        sum_lat = now_ns() - t0;
        snprintf(sum, sizeof sum, "%.60s", line + 4);
        break;
      }
    if (hold) {
      rss = status_kb(pid, "VmRSS");
      hwm = status_kb(pid, "VmHWM");
    }
    close(in[1]); /* EOF: the hog exits */
    while (read_line(out[0], line, sizeof line)) {
    }
  }
  int st;
  if (waitpid(pid, &st, 0) != pid) return perror("waitpid"), 1;
  if (wall) lat = now_ns() - t0;
  printf("lat_ns=%lld status=%d", lat, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  if (sum[0]) printf(" sum=%s sum_ns=%lld", sum, sum_lat);
  if (hold) printf(" vmrss_kb=%ld vmhwm_kb=%ld", rss, hwm);
  printf("\n");
  return lat >= 0 ? 0 : 1;
}
