// A process under memory-deny-write-execute (prctl PR_SET_MDWE, Linux
// 6.3): no mapping of it may be writable and executable, or become
// executable later. Prints "ready mdwe=N", then answers each line on stdin
// with "alive mdwe=N" (PR_GET_MDWE again). Used by check_mdwe_injection.sh.
#include <stdio.h>
#include <sys/prctl.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

int main(void) {
  if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0) {
    perror("prctl(PR_SET_MDWE)");
    return 1;
  }
  printf("ready mdwe=%d\n", prctl(PR_GET_MDWE, 0, 0, 0, 0));
  fflush(stdout);
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    printf("alive mdwe=%d\n", prctl(PR_GET_MDWE, 0, 0, 0, 0));
    fflush(stdout);
  }
  return 0;
}
