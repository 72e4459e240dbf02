// Task and thread state beyond memory (see TaskState.h).
#include "dumper/TaskState.h"

#include <asm/ldt.h>
#include <asm/prctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "dumper/Credentials.h"
#include "dumper/PosixTimers.h"
#include "dumper/Scheduling.h"
#include "x86/ProcMaps.h"
#include "x86/RemoteSyscall.h"

namespace ckpt::dumper {

using format::SigInfo;

namespace {

std::string proc(pid_t pid, const char* leaf) { return "/proc/" + std::to_string(pid) + "/" + leaf; }

[[noreturn]] void fail(pid_t pid, const std::string& what) {
  throw DumpError("pid " + std::to_string(pid) + ": " + what);
}

long checked(pid_t pid, long r, const char* what) {
  if (r < 0 && r > -4096) fail(pid, std::string("cannot read ") + what + ": " + std::strerror(int(-r)));
  return r;
}

std::string status_field(const std::string& status, const char* key) {
  std::istringstream in(status);
  std::string line;
  size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') return line.substr(n + 1);
  return "";
}

// PTRACE_PEEKSIGINFO, all of one queue, in order.
std::vector<SigInfo> peek_pending(pid_t tid, bool shared) {
  std::vector<SigInfo> out;
  for (;;) {
    __ptrace_peeksiginfo_args args{out.size(), shared ? uint32_t(PTRACE_PEEKSIGINFO_SHARED) : 0u, 32};
    SigInfo batch[32];
    long n = ptrace(PTRACE_PEEKSIGINFO, tid, &args, batch);
    if (n < 0) fail(tid, std::string("cannot read pending signals: ") + std::strerror(errno));
    for (long i = 0; i < n; ++i) out.push_back(batch[i]);
    if (n < 32) return out;
  }
}

// glibc keeps the thread id in its thread descriptor, which starts at the
// thread pointer (fs base; tcbhead_t.self at +16 points to itself). Find
// the one slot holding the tid; refuse when it is ambiguous. Only 8-byte
// aligned slots count (glibc's pid_t tid is one): the upper halves of
// pointers into the mmap area (0x7fXX...) would otherwise match any tid
// between 0x7f00 and 0x7fff.
uint64_t find_cached_tid(const x86::RemoteSyscall& rs, pid_t tid, uint64_t fs_base) {
  if (!fs_base) return 0;
  uint8_t tcb[2048];
  try {
    rs.read(fs_base, tcb, sizeof tcb);
  } catch (const std::exception&) {
    return 0;  // no readable descriptor there: not glibc's layout
  }
  uint64_t self;
  std::memcpy(&self, tcb + 16, 8);
  if (self != fs_base) return 0;
  uint64_t found = 0;
  int hits = 0;
  for (size_t off = 24; off + 4 <= sizeof tcb; off += 8) {
    int32_t v;
    std::memcpy(&v, tcb + off, 4);
    if (v == tid) ++hits, found = fs_base + off;
  }
  if (hits > 1)
    fail(tid, "cannot tell where the C library caches the thread id (" + std::to_string(hits) +
                  " candidates in its thread descriptor)");
  return found;
}

bool read_word(pid_t pid, uint64_t addr, uint64_t* value) {
  iovec local{value, 8}, remote{reinterpret_cast<void*>(addr), 8};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == 8;
}

void write_word(pid_t pid, uint64_t addr, uint64_t value) {
  iovec local{&value, 8}, remote{reinterpret_cast<void*>(addr), 8};
  if (process_vm_writev(pid, &local, 1, &remote, 1, 0) != 8)
    fail(pid, std::string("cannot restore its rseq_cs pointer: ") + std::strerror(errno));
}

// MEMBARRIER_CMD_GET_REGISTRATIONS (Linux 6.3) names the REGISTER_*
// commands the process's mm went through. Where the kernel cannot say, it
// is refused unless this kernel offers no registration at all.
constexpr long kMembarrierGetRegistrations = 1 << 9;
constexpr long kPrGetMdwe = 66;  // PR_GET_MDWE, Linux 6.3

uint32_t membarrier_registrations(pid_t pid, long r) {
  if (r >= 0) {
    if (uint32_t(r) & ~format::kMembarrierRegistrations)
      fail(pid, "has membarrier registrations this ckpt does not know (" + std::to_string(r) + ")");
    return uint32_t(r);
  }
  long offered = syscall(SYS_membarrier, 0 /* MEMBARRIER_CMD_QUERY */, 0, 0);
  if (offered <= 0 || !(offered & format::kMembarrierRegistrations)) return 0;
  fail(pid, "this kernel cannot tell its membarrier registrations (MEMBARRIER_CMD_GET_REGISTRATIONS needs Linux 6.3)");
}

}  // namespace

static void inject_getters(pid_t pid, const x86::InjectionSite& site, format::TaskState* t, format::ThreadState& th,
                           uint32_t* subreaper, uint32_t* securebits, uint64_t* timer_slack);

void read_task_state(const Tracee& tracee, const x86::InjectionSite& site, format::Image& image, uint32_t* subreaper) {
  const pid_t pid = tracee.pid();
  format::TaskState& t = image.task;

  char cwd[4096];
  ssize_t n = readlink(proc(pid, "cwd").c_str(), cwd, sizeof cwd - 1);
  if (n <= 0) fail(pid, "cannot read its working directory");
  t.cwd.assign(cwd, size_t(n));
  // Restore enters it by this path, shown as in the target's mount
  // namespace: it must name the same folder here (a deleted one is left
  // to the check below it).
  struct stat real, named;
  const std::string deleted = " (deleted)";
  bool is_deleted = t.cwd.size() > deleted.size() && t.cwd.compare(t.cwd.size() - deleted.size(), deleted.size(), deleted) == 0;
  if (!is_deleted && stat(proc(pid, "cwd").c_str(), &real) == 0) {
    if (stat(t.cwd.c_str(), &named) != 0)
      fail(pid, "its working directory " + t.cwd + " cannot be reached here: " + std::strerror(errno));
    if (named.st_dev != real.st_dev || named.st_ino != real.st_ino)
      fail(pid, "its working directory " + t.cwd +
                    " names another folder here (the target's mount namespace differs, or it was replaced)");
  }

  std::string status = x86::read_proc_file(proc(pid, "status"));
  t.umask = uint32_t(std::stoul(status_field(status, "Umask"), nullptr, 8));
  t.no_new_privs = uint32_t(std::stoul(status_field(status, "NoNewPrivs")));
  t.personality = uint32_t(std::stoul(x86::read_proc_file(proc(pid, "personality")), nullptr, 16));
  // /proc/PID/limits rather than prlimit(), which wants CAP_SYS_RESOURCE for
  // another user's process; its rows are in RLIMIT_* order.
  {
    std::istringstream limits(x86::read_proc_file(proc(pid, "limits")));
    std::string line;
    std::getline(limits, line);  // header
    for (unsigned r = 0; r < format::kRlimitCount; ++r) {
      if (!std::getline(limits, line) || line.size() < 26) fail(pid, "cannot read its resource limits");
      std::istringstream values(line.substr(25));
      std::string soft, hard;
      values >> soft >> hard;
      auto value = [](const std::string& v) { return v == "unlimited" ? RLIM_INFINITY : std::stoull(v); };
      t.rlimits[r] = {value(soft), value(hard)};
    }
  }
  t.shared_pending = peek_pending(pid, true);
  t.oom_score_adj = int32_t(std::stol(x86::read_proc_file(proc(pid, "oom_score_adj"))));

  for (format::ThreadState& th : image.threads) {
    th.pending = peek_pending(th.tid, false);
    // Returning to user space from an injected call, the kernel clears the
    // rseq area's rseq_cs pointer (the thread is then outside any critical
    // section); it is put back afterwards so that neither the process nor
    // the image loses it.
    const uint64_t rseq_cs_at = th.rseq.address ? th.rseq.address + 8 : 0;
    uint64_t rseq_cs = 0;
    bool have_rseq_cs = rseq_cs_at && read_word(pid, rseq_cs_at, &rseq_cs);
    uint32_t securebits = 0;
    uint64_t slack = 0;
    inject_getters(pid, site, th.tid == pid ? &t : nullptr, th, th.tid == pid ? subreaper : nullptr, &securebits,
                   &slack);
    if (image.scheduling) check_timer_slack(pid, th.tid, slack, *image.scheduling, &th == &image.threads.front());
    if (image.credentials) {  // per thread, like all credentials: the leader's, which every thread must share
      if (&th == &image.threads.front()) image.credentials->securebits = securebits;
      else if (securebits != image.credentials->securebits)
        refuse_securebits(pid, th.tid, securebits, image.credentials->securebits);
    }
    if (have_rseq_cs) write_word(pid, rseq_cs_at, rseq_cs);
  }
  check_timer_targets(pid, t.timers, image.threads);
  // One C library, one layout: the cached tid sits at the same offset in
  // every thread's descriptor, or the search was fooled.
  const format::ThreadState& leader = image.threads.at(0);
  for (const format::ThreadState& th : image.threads)
    if (th.cached_tid_address && leader.cached_tid_address &&
        th.cached_tid_address - th.gpr[format::FS_BASE] != leader.cached_tid_address - leader.gpr[format::FS_BASE])
      fail(pid, "the C library's cached thread id is not at the same place in every thread");
}

// The getters' calls, gathered so that they run as one injected batch:
// each call's output gets its own slice of the scratch buffer (the
// argument kOut stands for it), read back in one go once every call ran.
class Getters {
 public:
  static constexpr long kOut = -0x4f7574;  // an argument no getter takes: replaced by the output slice
  Getters(pid_t pid, x86::RemoteSyscall& rs) : pid_(pid), rs_(rs), buf_(rs.scratch()) {}
  // Queues a call with `out_size` bytes of output; `what` names it in a
  // failure ("its securebits").
  size_t add(const char* what, size_t out_size, long nr, long a = 0, long b = 0, long c = 0, long d = 0) {
    const uint64_t at = buf_ + used_;
    used_ += (out_size + 15) & ~size_t(15);
    if (used_ > x86::RemoteSyscall::kScratchSize) throw std::logic_error("injected getters outgrow the scratch buffer");
    x86::RemoteSyscall::Call call{nr, {a, b, c, d, 0, 0}};
    for (long& arg : call.args)
      if (arg == kOut) arg = long(at);
    calls_.push_back(call);
    out_.push_back({what, at});
    return calls_.size() - 1;
  }
  void run() {
    results_ = rs_.call_batch(calls_);
    bytes_.resize(used_);
    if (used_) rs_.read(buf_, bytes_.data(), used_);
  }
  long raw(size_t call) const { return results_.at(call); }
  // The call's result, checked, and its first `size` bytes of output in `to`.
  long take(size_t call, void* to = nullptr, size_t size = 0) const {
    const long r = checked(pid_, results_.at(call), out_.at(call).what);
    if (to) std::memcpy(to, bytes_.data() + (out_[call].at - buf_), size);
    return r;
  }

 private:
  struct Out {
    const char* what;
    uint64_t at;
  };
  pid_t pid_;
  x86::RemoteSyscall& rs_;
  uint64_t buf_;
  size_t used_ = 0;
  std::vector<x86::RemoteSyscall::Call> calls_;
  std::vector<Out> out_;
  std::vector<long> results_;
  std::vector<uint8_t> bytes_;
};

static void inject_getters(pid_t pid, const x86::InjectionSite& site, format::TaskState* t, format::ThreadState& th,
                           uint32_t* subreaper, uint32_t* securebits, uint64_t* timer_slack) {
  using G = Getters;
  x86::RemoteSyscall rs(th.tid, site);
  G g(pid, rs);
  const size_t bits = g.add("its securebits", 0, SYS_prctl, PR_GET_SECUREBITS);
  const size_t slack = g.add("its timer slack", 0, SYS_prctl, PR_GET_TIMERSLACK);
  const size_t reaper = subreaper ? g.add("the child-subreaper flag", 4, SYS_prctl, PR_GET_CHILD_SUBREAPER, G::kOut) : 0;
  const size_t ss = g.add("the alternate signal stack", sizeof(stack_t), SYS_sigaltstack, 0, G::kOut);
  const size_t tid_address = g.add("the clear-child-tid address", 8, SYS_prctl, PR_GET_TID_ADDRESS, G::kOut);

  // Per process, once (the leader's injection): signal actions, interval
  // timers, flags and clocks.
  size_t actions = 0, itimers = 0, pdeath = 0, perm = 0, dumpable = 0, thp = 0, membarrier = 0, mdwe = 0, mono = 0,
         boot = 0;
  if (t) {
    actions = g.add("a signal handler", sizeof(format::SigAction), SYS_rt_sigaction, 1, 0, G::kOut, 8);
    for (unsigned sig = 2; sig <= format::kSignalCount; ++sig)
      g.add("a signal handler", sizeof(format::SigAction), SYS_rt_sigaction, sig, 0, G::kOut, 8);
    itimers = g.add("an interval timer", sizeof(itimerval), SYS_getitimer, 0, G::kOut);
    for (int which = 1; which < 3; ++which) g.add("an interval timer", sizeof(itimerval), SYS_getitimer, which, G::kOut);
    pdeath = g.add("the parent-death signal", 4, SYS_prctl, PR_GET_PDEATHSIG, G::kOut);
    perm = g.add("the XSAVE feature permission", 8, SYS_arch_prctl, ARCH_GET_XCOMP_PERM, G::kOut);
    dumpable = g.add("the dumpable flag", 0, SYS_prctl, PR_GET_DUMPABLE);
    thp = g.add("the THP-disable flag", 0, SYS_prctl, PR_GET_THP_DISABLE);
    membarrier = g.add("the membarrier registrations", 0, SYS_membarrier, kMembarrierGetRegistrations, 0, 0);
    mdwe = g.add("the memory-deny-write-execute flags", 0, SYS_prctl, kPrGetMdwe);
    // The clocks as the process sees them (it may live in a time namespace).
    mono = g.add("CLOCK_MONOTONIC", sizeof(timespec), SYS_clock_gettime, CLOCK_MONOTONIC, G::kOut);
    boot = g.add("CLOCK_BOOTTIME", sizeof(timespec), SYS_clock_gettime, CLOCK_BOOTTIME, G::kOut);
  }
  g.run();

  *securebits = uint32_t(g.take(bits));
  *timer_slack = uint64_t(g.take(slack));
  if (subreaper) {
    int on = 0;
    g.take(reaper, &on, 4);
    *subreaper = on ? 1 : 0;
  }
  stack_t stack;
  g.take(ss, &stack, sizeof stack);
  th.altstack_sp = reinterpret_cast<uint64_t>(stack.ss_sp);
  th.altstack_size = stack.ss_size;
  th.altstack_flags = stack.ss_flags;
  g.take(tid_address, &th.clear_child_tid, 8);
  if (t) {
    for (size_t i = 0; i < format::kSignalCount; ++i) g.take(actions + i, &t->sigactions[i], sizeof(format::SigAction));
    for (size_t i = 0; i < 3; ++i) {
      itimerval v;
      g.take(itimers + i, &v, sizeof v);
      t->itimers[i] = {v.it_interval.tv_sec, v.it_interval.tv_usec, v.it_value.tv_sec, v.it_value.tv_usec};
    }
    g.take(pdeath, &t->pdeath_signal, 4);
    // The XSAVE features granted on request (AMX tile data) are a
    // per-process permission the restored process must hold again.
    // EINVAL: a kernel older than 5.16, where there are none.
    if (g.raw(perm) != -EINVAL) g.take(perm, &t->xcomp_perm, 8);
    t->dumpable = int32_t(g.take(dumpable));
    t->thp_disable = uint32_t(g.take(thp));
    t->membarrier = membarrier_registrations(pid, g.raw(membarrier));
    // Memory-deny-write-execute (Linux 6.3; EINVAL before: never set).
    if (g.raw(mdwe) != -EINVAL) t->mdwe = uint32_t(g.take(mdwe));
    if (t->mdwe & ~format::kMdweFlags)
      fail(pid, "has memory-deny-write-execute flags this ckpt does not know (" + std::to_string(t->mdwe) + ")");
    timespec ts;
    g.take(mono, &ts, sizeof ts);
    t->monotonic_ns = int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    g.take(boot, &ts, sizeof ts);
    t->boottime_ns = int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    // Calls that need the whole buffer or depend on what /proc says, after
    // the batch (they reuse the buffer from its start).
    const uint64_t buf = rs.scratch();
    // modify_ldt returns an int: only the low 32 bits of rax are meaningful.
    int ldt_bytes =
        int(checked(pid, int(rs.call(SYS_modify_ldt, 0, long(buf), LDT_ENTRIES * LDT_ENTRY_SIZE)), "the LDT"));
    if (ldt_bytes > 0) {
      std::vector<uint64_t> ldt(size_t(ldt_bytes) / 8);
      rs.read(buf, ldt.data(), ldt.size() * 8);
      while (!ldt.empty() && ldt.back() == 0) ldt.pop_back();
      t->ldt = std::move(ldt);
    }
    t->timers = read_posix_timers(pid, rs, buf);
  }
  th.cached_tid_address = find_cached_tid(rs, th.tid, th.gpr[format::FS_BASE]);
}

}  // namespace ckpt::dumper
