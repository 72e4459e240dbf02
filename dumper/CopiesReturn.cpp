// `--copies-return`: see CopiesReturn.h. The register rewrite relies on the
// restorer's restart rule (x86/SyscallRestart.h): a thread whose orig_rax
// is -1 is not inside a system call and resumes with rax as saved, at the
// instruction after its `syscall`, that is, exactly as if read had
// returned rax.
#include "dumper/CopiesReturn.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "dumper/Tracee.h"
#include "x86/ProcMaps.h"
#include "x86/SyscallRestart.h"

namespace ckpt::dumper {

CopiesReturn parse_copies_return(const std::string& text) {
  CopiesReturn r;
  if (text.empty()) return r;
  long long tid = 0, fd = 0, value = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%lld:%lld:%lld%n", &tid, &fd, &value, &used) != 3 || size_t(used) != text.size() ||
      tid <= 0 || tid > 0x3fffffff || fd <= 2 || fd > 0x7fffffff || value <= 0)
    throw DumpError("--copies-return takes TID:FD:VALUE (a thread id, an fd above 2, a value above 0), not '" + text +
                    "'");
  r.tid = pid_t(tid);
  r.fd = int(fd);
  r.value = value;
  return r;
}

static std::string who(pid_t pid, const CopiesReturn& r) {
  return "--copies-return: thread " + std::to_string(r.tid) + " of pid " + std::to_string(pid);
}

void wait_for_read(pid_t pid, const CopiesReturn& r) {
  const std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(r.tid) + "/syscall";
  char want[32];
  std::snprintf(want, sizeof want, "0 0x%x ", unsigned(r.fd));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    std::string line;
    try {
      line = x86::read_proc_file(path);
    } catch (const std::exception&) {
      throw DumpError(who(pid, r) + " does not exist");
    }
    if (line.rfind(want, 0) == 0) return;
    if (std::chrono::steady_clock::now() > deadline)
      throw DumpError(who(pid, r) + " did not wait in read(" + std::to_string(r.fd) + ") within 60 s");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void apply_copies_return(format::Image& image, const CopiesReturn& r) {
  const pid_t pid = image.process.pid;
  auto t = std::find_if(image.threads.begin(), image.threads.end(),
                        [&](const format::ThreadState& s) { return s.tid == r.tid; });
  if (t == image.threads.end()) throw DumpError(who(pid, r) + " is not a thread of the dumped process");
  x86::UserRegs regs;
  static_assert(sizeof regs == sizeof t->gpr);
  std::memcpy(&regs, t->gpr.data(), sizeof regs);
  // The read must be the one that waits for this dump: inside the call,
  // on fd, and about to be restarted (interrupted by the seize, not done).
  if (regs.orig_rax != SYS_read || regs.rdi != uint64_t(r.fd) ||
      x86::restart_action(regs) != x86::RestartAction::Restart)
    throw DumpError(who(pid, r) + " is not waiting in read(" + std::to_string(r.fd) + ")");
  auto f = std::find_if(image.files.fds.begin(), image.files.fds.end(),
                        [&](const format::FdEntry& e) { return e.fd == r.fd; });
  if (f == image.files.fds.end() || f->kind != format::FdKind::Pipe || !f->external ||
      (f->flags & O_ACCMODE) != O_RDONLY || !f->dups.empty() || !f->locks.empty())
    throw DumpError("--copies-return: fd " + std::to_string(r.fd) + " of pid " + std::to_string(pid) +
                    " is not a lone pipe read end whose writer is outside the process");
  for (const format::FdEntry& e : image.files.fds)
    for (const format::EpollTarget& target : e.targets)
      if (target.fd == r.fd || target.file == r.fd)
        throw DumpError("--copies-return: fd " + std::to_string(r.fd) + " of pid " + std::to_string(pid) +
                        " is watched by epoll fd " + std::to_string(e.fd));
  image.files.fds.erase(f);
  t->gpr[format::ORIG_RAX] = uint64_t(-1);
  t->gpr[format::RAX] = uint64_t(r.value);
}

}  // namespace ckpt::dumper
