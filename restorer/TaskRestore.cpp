// Process-wide state: checks and application (see TaskRestore.h).
#include "restorer/TaskRestore.h"

#include <asm/ldt.h>
#include <asm/prctl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "format/Hex.h"
#include "restorer/DeletedFiles.h"
#include "restorer/PosixTimers.h"
#include "restorer/RestoreError.h"
#include "restorer/Scheduling.h"
#include "x86/Cpu.h"
#include "x86/Syscall.h"

namespace ckpt::restorer {

// prctl PR_GET_MDWE (Linux 6.3); PR_SET_MDWE is the trampoline's, last.
static constexpr int kPrGetMdwe = 66;

static const char* const kRlimitNames[format::kRlimitCount] = {
    "CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
    "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};

static constexpr long kMembarrierQuery = 0;

// Raising it is always allowed; lowering it below the floor this process
// inherited (oom_score_adj_min, what a privileged ancestor last set) takes
// CAP_SYS_RESOURCE, and an image never grants that: kept, with a warning.
static std::string set_oom_score_adj(int32_t want) {
  int fd = ::open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
  if (fd < 0) throw RestoreError(std::string("cannot open /proc/self/oom_score_adj: ") + std::strerror(errno));
  char now[16] = {};
  ssize_t n = ::read(fd, now, sizeof now - 1);
  std::string text = std::to_string(want);
  bool same = n > 0 && std::atoi(now) == want;
  bool ok = same || ::pwrite(fd, text.data(), text.size(), 0) == ssize_t(text.size());
  int err = errno;
  ::close(fd);
  if (ok) return "";
  if (err != EACCES) throw RestoreError("cannot set oom_score_adj to " + text + ": " + std::strerror(err));
  return "restore: warning: oom_score_adj kept at " + std::to_string(std::atoi(now)) + ", above the saved " + text +
         " (lowering it needs CAP_SYS_RESOURCE)\n";
}

// The XSAVE features the saved process had been granted on request (AMX tile
// data) are asked for here, by the launcher, which the restored process will
// be: the request is the only way to learn that the kernel grants them, and
// it changes nothing outside this process. It comes first because it raises
// the smallest alternate signal stack the kernel accepts.
static void claim_xsave_permission(const format::TaskState& t) {
  const uint64_t on_request = x86::xfeatures_on_request(x86::xcr0());
  const uint64_t wanted = t.xcomp_perm & on_request;
  const uint64_t missing = t.xcomp_perm & ~x86::xcr0();
  if (missing)
    throw RestoreError("the process was granted XSAVE features this CPU lacks (" + format::hex(missing) + ")");
  for (unsigned bit = 0; bit < 64; ++bit)
    if ((wanted >> bit & 1) && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, bit) != 0)
      throw RestoreError("the kernel refuses the XSAVE feature " + x86::xfeature_name(bit) + " the process was granted: " +
                         std::strerror(errno));
}

void check_task(const format::Image& image) {
  check_scheduling(image);
  // LDT entries and segment selectors are the format's rules (format/Validate.cpp).
  const format::TaskState& t = image.task;
  claim_xsave_permission(t);
  for (const format::ThreadState& th : image.threads) {
    // The kernel's rule for a stack's size depends on its configuration
    // (strict_sas_size) and on the task's XSAVE permissions, not only on
    // AT_MINSIGSTKSZ, which only says what a signal frame may need: most
    // kernels accept a SIGSTKSZ-sized stack where AT_MINSIGSTKSZ is larger
    // (AVX-512, AMX). So ask the kernel itself, on this launcher, which the
    // restored process becomes (same permissions): the trampoline's
    // rt_sigreturn applies the very same rule. The pointer is not accessed.
    if (!(th.altstack_flags & SS_DISABLE)) {
      stack_t probe{}, old{};
      probe.ss_sp = reinterpret_cast<void*>(th.altstack_sp);
      probe.ss_size = th.altstack_size;
      probe.ss_flags = th.altstack_flags & int(1u << 31);  // SS_AUTODISARM
      if (sigaltstack(&probe, &old) != 0)
        throw RestoreError("the alternate signal stack of thread " + std::to_string(th.tid) + " (" +
                           std::to_string(th.altstack_size) + " bytes) is refused by this kernel: " +
                           std::strerror(errno));
      sigaltstack(&old, nullptr);
    }
  }
  check_posix_timers(image);
  if (t.membarrier) {
    long offered = syscall(SYS_membarrier, kMembarrierQuery, 0, 0);
    if (offered < 0 || (uint32_t(offered) & t.membarrier) != t.membarrier)
      throw RestoreError("the process registered for membarrier commands (" + std::to_string(t.membarrier) +
                         ") this kernel does not offer (" + std::to_string(offered < 0 ? 0 : offered) + ")");
  }
  if (t.mdwe && prctl(kPrGetMdwe, 0, 0, 0, 0) < 0)
    throw RestoreError("the process ran under memory-deny-write-execute (prctl PR_SET_MDWE), which this kernel "
                       "does not offer (Linux 6.3)");
  if (deleted_cwd(image)) return;  // recreated with the deleted files (DeletedFiles.h)
  struct stat st;
  if (stat(t.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw RestoreError("working directory " + t.cwd + " is missing here");
  if (access(t.cwd.c_str(), X_OK) != 0) throw RestoreError("working directory " + t.cwd + " is not accessible");
}

namespace {

struct RlimitTrial {
  unsigned resource;
  trampoline::Rlimit want;
};

// Runs in a CLONE_VM|CLONE_VFORK child: raw system calls only. Its limits
// are its own (no CLONE_THREAD), so trying them changes nothing here.
int try_rlimit(void* arg) {
  auto* t = static_cast<const RlimitTrial*>(arg);
  long r = x86::syscall4(SYS_prlimit64, 0, long(t->resource), long(&t->want), 0);
  x86::syscall1(SYS_exit, r == 0 ? 0 : 1);
  return 1;
}

// Whether prlimit64(resource, want) would succeed for this process now.
bool rlimit_acceptable(unsigned resource, const trampoline::Rlimit& want) {
  static std::vector<uint8_t> stack(64 * 1024);
  RlimitTrial trial{resource, want};
  pid_t child = clone(try_rlimit, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &trial);
  if (child < 0) throw RestoreError(std::string("cannot try the saved resource limits: ") + std::strerror(errno));
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::string plan_rlimits(const format::Image& image, trampoline::Rlimit* out, uint32_t* mask) {
  const format::TaskState& t = image.task;
  std::string warnings;
  *mask = 0;
  for (unsigned r = 0; r < format::kRlimitCount; ++r) {
    rlimit now;
    getrlimit(__rlimit_resource(r), &now);
    trampoline::Rlimit want{t.rlimits[r].cur, t.rlimits[r].max};
    if (now.rlim_cur == want.cur && now.rlim_max == want.max) continue;  // usually: nothing to set
    if (!rlimit_acceptable(r, want)) {
      // Raising a hard limit takes privilege; an image never grants it.
      if (want.max > now.rlim_max) want.max = now.rlim_max;
      if (want.cur > want.max) want.cur = want.max;
      if (!rlimit_acceptable(r, want))
        throw RestoreError(std::string("cannot set RLIMIT_") + kRlimitNames[r] + " to the saved value");
      warnings += std::string("restore: warning: RLIMIT_") + kRlimitNames[r] +
                  " hard limit kept at the caller's, below the saved one\n";
    }
    out[r] = want;
    *mask |= 1u << r;
  }
  return warnings;
}

std::string apply_process_state(const format::Image& image) {
  const format::TaskState& t = image.task;
  std::string warnings;
  auto fail = [](const std::string& what) { throw RestoreError(what + ": " + std::strerror(errno)); };
  // A deleted one was entered when it was recreated (prepare_files).
  if (!deleted_cwd(image) && chdir(t.cwd.c_str()) != 0) fail("cannot enter " + t.cwd);
  umask(t.umask);
  if (personality(t.personality) < 0) fail("cannot set the personality");
  prctl(PR_SET_NAME, image.process.comm.c_str(), 0, 0, 0);
  if (t.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("cannot set no_new_privs");
  if (prctl(PR_SET_PDEATHSIG, t.pdeath_signal, 0, 0, 0) != 0) fail("cannot set the parent-death signal");
  if (prctl(PR_SET_THP_DISABLE, t.thp_disable, 0, 0, 0) != 0) fail("cannot set THP-disable");
  if (prctl(PR_SET_DUMPABLE, t.dumpable == 2 ? 0 : t.dumpable, 0, 0, 0) != 0) fail("cannot set dumpable");
  // Registrations belong to the mm, which the restored process keeps.
  for (uint32_t cmd = 1; cmd <= t.membarrier; cmd <<= 1)
    if ((t.membarrier & cmd) && syscall(SYS_membarrier, long(cmd), 0, 0) != 0)
      fail("cannot register for membarrier command " + std::to_string(cmd));
  warnings += set_oom_score_adj(t.oom_score_adj);
  apply_scheduling(image);  // last: a nice or real-time launcher from here on
  return warnings;
}

}  // namespace ckpt::restorer
