// Checks of the carried seccomp filters before the point of no return (see Seccomp.h).
#include "restorer/Seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <new>
#include <cstring>
#include <string>

#include "format/Hex.h"
#include "format/Image.h"
#include "restorer/RestoreError.h"
#include "trampoline/Plan.h"

namespace ckpt::restorer {

namespace {

constexpr uint32_t kActionMask = 0xffff0000, kAllow = 0x7fff0000, kLog = 0x7ffc0000;

std::string call_text(const format::SeccompData& d) {
  const char* name = d.nr == SYS_seccomp ? "seccomp" : d.nr == SYS_munmap ? "munmap"
                     : d.nr == SYS_close ? "close" : "rt_sigreturn";
  std::string s = std::string(name) + "(";
  for (int a = 0; a < 6; ++a) s += (a ? ", " : "") + format::hex(d.args[a]);
  return s + ")";
}

// Every filter of chain[0, upto) must let `d` through.
void must_pass(const format::Image& image, size_t upto, const format::SeccompData& d, const char* when) {
  for (size_t f = 0; f < upto; ++f) {
    const uint32_t r = format::run_seccomp_program(image.seccomp[f].program, d);
    if ((r & kActionMask) != kAllow && (r & kActionMask) != kLog)
      throw RestoreError("the process's seccomp filter " + std::to_string(f) + " (of " +
                         std::to_string(image.seccomp.size()) + ", oldest first) answers " + format::hex(r) +
                         " to restore's last " + call_text(d) + ", " + when +
                         ": attached last, it would stop the restore half-way");
  }
}

format::SeccompData call(long nr, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0) {
  format::SeccompData d;
  d.nr = int32_t(nr);
  d.args[0] = a, d.args[1] = b, d.args[2] = c;
  return d;
}

}  // namespace

void check_seccomp_finish(const format::Image& image, const SeccompFinish& f) {
  const size_t n = image.seccomp.size();
  for (size_t i = 0; i < n; ++i)
    if (format::seccomp_reads_instruction_pointer(image.seccomp[i].program))
      throw RestoreError("the process's seccomp filter " + std::to_string(i) +
                         " reads the calling instruction's address, which restore cannot tell it for its last calls");
  const uint32_t tsync = f.tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0;
  for (size_t i = 1; i < n; ++i)
    must_pass(image, i,
              call(SYS_seccomp, SECCOMP_SET_MODE_FILTER, image.seccomp[i].flags | tsync,
                   f.filters_at + i * sizeof(trampoline::SeccompPlan)),
              "attaching the next filter");
  if (f.unmap_home) must_pass(image, n, call(SYS_munmap, f.home_start, f.home_length), "leaving its code");
  must_pass(image, n, call(SYS_rt_sigreturn, f.unmap_home ? f.home_start : 0, f.unmap_home ? f.home_length : 0),
            "resuming the process");
  for (int32_t fd = f.first_done_fd; fd < f.first_done_fd + f.done_fds; ++fd)
    must_pass(image, n, call(SYS_rt_sigreturn, uint64_t(fd)), "resuming a thread");
}

void probe_seccomp(const format::Image& image) {
  if (image.seccomp.empty()) return;
  std::vector<std::vector<sock_filter>> programs;
  for (const format::SeccompFilter& f : image.seccomp) {
    std::vector<sock_filter> p;
    for (const format::SeccompInsn& i : f.program) p.push_back({i.code, i.jt, i.jf, i.k});
    programs.push_back(std::move(p));
  }
  // The child reports through shared memory: once a filter is attached, it
  // may forbid write() or even exit_group().
  struct Report {
    std::atomic<int> done;
    int filter, error;
  };
  void* shared = mmap(nullptr, sizeof(Report), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) throw RestoreError(std::string("cannot probe the seccomp filters: ") + std::strerror(errno));
  auto* report = new (shared) Report{{0}, -1, 0};
  const pid_t child = fork();
  if (child < 0) {
    munmap(shared, sizeof(Report));
    throw RestoreError(std::string("cannot probe the seccomp filters: ") + std::strerror(errno));
  }
  if (child == 0) {
    if (image.task.no_new_privs) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    for (size_t i = 0; i < programs.size(); ++i) {
      sock_fprog prog{uint16_t(programs[i].size()), programs[i].data()};
      if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, image.seccomp[i].flags, &prog) != 0) {
        report->filter = int(i), report->error = errno;
        break;
      }
    }
    report->done = 1;
    for (;;) syscall(SYS_exit_group, 0);
  }
  // Reaped, or killed once it has reported (a filter may keep it from exiting).
  int status = 0;
  for (int waited_ms = 0;; ++waited_ms) {
    const pid_t w = waitpid(child, &status, WNOHANG);
    if (w == child || (w < 0 && errno != EINTR)) break;
    if (report->done || waited_ms >= 5000) {
      kill(child, SIGKILL);
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    usleep(1000);
  }
  const bool done = report->done;
  const int filter = report->filter, error = report->error;
  munmap(shared, sizeof(Report));
  if (!done) throw RestoreError("the probe that attaches the process's seccomp filters died before saying how it went");
  if (filter >= 0)
    throw RestoreError("the kernel refuses the process's seccomp filter " + std::to_string(filter) + ": " +
                       std::strerror(error) +
                       (error == EACCES ? " (the process had neither no_new_privs nor CAP_SYS_ADMIN)" : ""));
}

void check_seccomp(const format::Image& image) {
  if (image.seccomp.empty()) return;
  SeccompFinish finish;
  finish.filters_at = 0x7ffffff00000;
  finish.tsync = image.threads.size() > 1;
  finish.unmap_home = image.mm.syscall_gadget && image.mm.sigreturn_gadget;
  finish.home_start = 0x7fffffe00000;
  finish.home_length = 0x20000;
  finish.first_done_fd = 1000;
  finish.done_fds = finish.tsync ? int32_t(std::min<size_t>(image.threads.size(), 64)) : 0;
  check_seccomp_finish(image, finish);
  probe_seccomp(image);
}

}  // namespace ckpt::restorer
