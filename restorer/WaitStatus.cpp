// Ending a process with a given wait status (see WaitStatus.h).
#include "restorer/WaitStatus.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ckpt::restorer {

void end_with_wait_status(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  if (!WIFSIGNALED(status)) _exit(1);
  const int sig = WTERMSIG(status);
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigprocmask(SIG_UNBLOCK, &one, nullptr);
  raise(sig);
  _exit(128 + sig);  // a signal whose default is not to end the process: cannot be a wait status
}

}  // namespace ckpt::restorer
