/* vmread: the dump baseline. Copies every private writable anonymous area
 * of PID (heap, stack and anonymous mappings, i.e. the pages `ckpt dump`
 * saves for the hog) with process_vm_readv into a new file, 4 MiB at a time
 * (ckpt's batch size), then fsyncs it, because `ckpt dump` fsyncs its image.
 *
 *   vmread PID OUT     (prints the number of bytes copied) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: vmread PID OUT\n"), 2;
  pid_t pid = atoi(argv[1]);
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  FILE *maps = fopen(path, "r");
  int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (!maps || out < 0) return perror("open"), 1;
  enum { kBatch = 4 << 20 };
  static char buf[kBatch];
  unsigned long long total = 0;
  while (fgets(line, sizeof line, maps)) {
    unsigned long lo, hi;
    char perms[8], name[256] = "";
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi, perms, name) < 3) continue;
    if (strcmp(perms, "rw-p") || (name[0] && strcmp(name, "[heap]") && strcmp(name, "[stack]"))) continue;
    for (unsigned long a = lo; a < hi; a += kBatch) {
      size_t n = hi - a < kBatch ? hi - a : kBatch;
      struct iovec l = {buf, n}, r = {(void *)a, n};
      if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)n) return perror("process_vm_readv"), 1;
      for (size_t w = 0; w < n;) {
        ssize_t k = write(out, buf + w, n - w);
        if (k <= 0) return perror("write"), 1;
        w += (size_t)k;
      }
      total += n;
    }
  }
  if (fsync(out) != 0) return perror("fsync"), 1;
  printf("%llu\n", total);
  return 0;
}
