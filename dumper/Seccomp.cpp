// Reading the seccomp filter chain (see Seccomp.h).
#include "dumper/Seccomp.h"

#include <linux/filter.h>
#include <sys/ptrace.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "dumper/Tracee.h"
#include "x86/ProcMaps.h"
#include "x86/RemoteSyscall.h"

namespace ckpt::dumper {

namespace {

std::string who(pid_t pid, pid_t tid) {
  return "pid " + std::to_string(pid) + (tid == pid ? "" : ": thread " + std::to_string(tid));
}

// struct __ptrace_seccomp_metadata (linux/ptrace.h, which glibc's sys/ptrace.h clashes with).
struct Metadata {
  uint64_t filter_off;
  uint64_t flags;
};
constexpr int kGetFilter = 0x420c;    // PTRACE_SECCOMP_GET_FILTER
constexpr int kGetMetadata = 0x420d;  // PTRACE_SECCOMP_GET_METADATA

// Thread `tid`'s chain, oldest first (as PTRACE_SECCOMP_GET_FILTER counts).
std::vector<format::SeccompFilter> read_chain(pid_t pid, pid_t tid, long count) {
  std::vector<format::SeccompFilter> chain(static_cast<size_t>(count));
  for (long i = 0; i < count; ++i) {
    format::SeccompFilter& f = chain[size_t(i)];
    long n = ptrace(__ptrace_request(kGetFilter), tid, reinterpret_cast<void*>(i), nullptr);
    if (n <= 0 || n > long(format::kMaxSeccompInsns))
      throw DumpError(who(pid, tid) + " runs under seccomp filters, and ckpt cannot read filter " + std::to_string(i) +
                      " (PTRACE_SECCOMP_GET_FILTER: " + std::strerror(n < 0 ? errno : EINVAL) +
                      "; it needs CAP_SYS_ADMIN and no seccomp filter of its own, and a kernel with "
                      "CONFIG_CHECKPOINT_RESTORE)");
    std::vector<sock_filter> prog(static_cast<size_t>(n));
    if (ptrace(__ptrace_request(kGetFilter), tid, reinterpret_cast<void*>(i), prog.data()) != n)
      throw DumpError(who(pid, tid) + ": its seccomp filter " + std::to_string(i) + " changed while being read");
    for (const sock_filter& s : prog) f.program.push_back({s.code, s.jt, s.jf, s.k});
    Metadata md{uint64_t(i), 0};
    if (ptrace(__ptrace_request(kGetMetadata), tid, reinterpret_cast<void*>(sizeof md), &md) < 0)
      throw DumpError(who(pid, tid) + ": cannot read the flags of its seccomp filter " + std::to_string(i) + ": " +
                      std::strerror(errno));
    f.flags = uint32_t(md.flags);
    if (f.flags & ~format::kSeccompFlagLog)
      throw DumpError(who(pid, tid) + ": its seccomp filter " + std::to_string(i) + " has flags " +
                      std::to_string(md.flags) + " ckpt does not know");
    const std::string why = format::seccomp_uncarried_action(f.program);
    if (!why.empty())
      throw DumpError(who(pid, tid) + ": its seccomp filter " + std::to_string(i) + " cannot be carried: " + why);
    const std::string bad = format::check_seccomp_program(f.program);
    if (!bad.empty())
      throw DumpError(who(pid, tid) + ": its seccomp filter " + std::to_string(i) + " is not one the kernel takes back: " + bad);
  }
  return chain;
}

}  // namespace

std::vector<format::SeccompFilter> read_seccomp(pid_t pid, const std::vector<pid_t>& tids) {
  const x86::Seccomp self = x86::seccomp_of(x86::read_proc_file("/proc/thread-self/status"));
  std::vector<format::SeccompFilter> chain;
  bool have = false;
  for (pid_t tid : tids) {
    const x86::Seccomp m = x86::seccomp_of(x86::read_proc_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status"));
    if (m.mode == 1)
      throw DumpError(who(pid, tid) + " runs in seccomp strict mode: ckpt can neither inject system calls there "
                                      "(they would kill it) nor restore that mode");
    if (m.mode != 2 || m.filters <= 0) {
      if (have && !chain.empty())
        throw DumpError(who(pid, tid) + " runs under no seccomp filter, where thread " + std::to_string(tids[0]) +
                        " has some: a restored process's threads share one chain");
      have = true;
      continue;
    }
    // The environment's filters, which ckpt runs under too (a container's):
    // not carried; restore compares their number with its own.
    if (self.mode == 2 && m.filters <= self.filters) {
      if (have && !chain.empty())
        throw DumpError(who(pid, tid) + " runs under fewer seccomp filters than thread " + std::to_string(tids[0]));
      have = true;
      continue;
    }
    std::vector<format::SeccompFilter> own = read_chain(pid, tid, m.filters);
    if (have && own != chain)
      throw DumpError(who(pid, tid) + " runs under other seccomp filters than thread " + std::to_string(tids[0]) +
                      ": a restored process's threads share one chain");
    chain = std::move(own);
    have = true;
  }
  return chain;
}

}  // namespace ckpt::dumper
