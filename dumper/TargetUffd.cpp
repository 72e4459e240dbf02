// A userfaultfd made inside the target and taken by ckpt (see TargetUffd.h).
#include "dumper/TargetUffd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Hex.h"

namespace ckpt::dumper {

static TargetUffd make_uffd(pid_t pid, pid_t tid, const x86::InjectionSite& site, uint64_t features);

// Returning to user space from an injected call, the kernel clears the
// thread's rseq_cs pointer (its rip is then outside any critical section):
// it is put back afterwards, as dumper/TaskState.cpp does, so that the
// process keeps the fact that it was inside one.
class KeepRseqCs {
 public:
  explicit KeepRseqCs(pid_t tid) : tid_(tid) {
    __ptrace_rseq_configuration conf{};
    if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, reinterpret_cast<void*>(sizeof conf), &conf) <= 0 ||
        !conf.rseq_abi_pointer)
      return;
    at_ = conf.rseq_abi_pointer + 8;
    iovec local{&value_, 8}, remote{reinterpret_cast<void*>(at_), 8};
    if (process_vm_readv(tid, &local, 1, &remote, 1, 0) != 8) at_ = 0;
  }
  void put_back() {
    if (!at_) return;
    iovec local{&value_, 8}, remote{reinterpret_cast<void*>(at_), 8};
    if (process_vm_writev(tid_, &local, 1, &remote, 1, 0) != 8)
      throw DumpError("thread " + std::to_string(tid_) + ": cannot restore its rseq_cs pointer: " + std::strerror(errno));
  }

 private:
  pid_t tid_;
  uint64_t at_ = 0, value_ = 0;
};

TargetUffd open_target_uffd(pid_t pid, pid_t tid, const x86::InjectionSite& site, uint64_t features) {
  KeepRseqCs rseq_cs(tid);
  TargetUffd result;
  try {
    result = make_uffd(pid, tid, site, features);
  } catch (...) {
    rseq_cs.put_back();
    throw;
  }
  ScopedFd owned(result.fd);
  rseq_cs.put_back();
  result.fd = owned.release();
  return result;
}

static TargetUffd make_uffd(pid_t pid, pid_t tid, const x86::InjectionSite& site, uint64_t features) {
  TargetUffd out;
  ScopedFd pidfd(int(syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0)
    throw DumpError("pid " + std::to_string(pid) + ": pidfd_open: " + std::strerror(errno));
  try {
    x86::RemoteSyscall rs(tid, site);
    const long target_fd = rs.call(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (target_fd < 0) {
      out.why = "it may not make a userfaultfd (" + std::string(std::strerror(int(-target_fd))) +
                (target_fd == -EPERM ? ": it lacks CAP_SYS_PTRACE and vm.unprivileged_userfaultfd is 0)" : ")");
      return out;
    }
    const int copy = int(syscall(SYS_pidfd_getfd, pidfd.get(), int(target_fd), 0));
    const int e = errno;
    const long closed = rs.call(SYS_close, target_fd);
    if (copy < 0)
      throw DumpError("pid " + std::to_string(pid) + ": cannot take its userfaultfd (pidfd_getfd): " + std::strerror(e));
    ScopedFd uffd(copy);
    if (closed != 0)
      throw DumpError("pid " + std::to_string(pid) + ": cannot close the userfaultfd made in it (fd " +
                      std::to_string(target_fd) + "): " + std::strerror(int(-closed)));
    uffdio_api api{};
    api.api = UFFD_API;
    api.features = features;
    if (ioctl(uffd.get(), UFFDIO_API, &api) != 0) {
      out.why = "the kernel does not offer the userfaultfd features " + format::hex(features) + " (" +
                std::strerror(errno) + ")";
      return out;
    }
    out.features = api.features;
    out.fd = uffd.release();
    return out;
  } catch (const x86::RemoteSyscallError& e) {
    throw DumpError("pid " + std::to_string(pid) + ": thread " + std::to_string(tid) + ": " + e.what());
  }
}

}  // namespace ckpt::dumper
