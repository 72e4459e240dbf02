// POSIX timers at dump time (see PosixTimers.h).
//
// /proc/PID/timers lists each timer in four lines:
//   ID: 4
//   signal: 32/000055b62a94e460        sigev_signo / sigev_value (hex)
//   notify: signal/tid.26790           kind (signal, none, thread) / pid or tid
//   ClockID: 1
#include "dumper/PosixTimers.h"

#include <sys/syscall.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <string>

#include "dumper/Tracee.h"
#include "format/Limits.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

using format::PosixTimer;

namespace {

[[noreturn]] void refuse(pid_t pid, int32_t id, const std::string& why) {
  throw DumpError("pid " + std::to_string(pid) + ": POSIX timer " + std::to_string(id) + " " + why);
}

const char* clock_problem(int32_t c) {
  if (c == CLOCK_THREAD_CPUTIME_ID || (c < 0 && (c & 4)))
    return "counts one thread's CPU time (CLOCK_THREAD_CPUTIME_ID), and the kernel does not say which thread's";
  if (c < 0) return "counts another process's CPU time";
  return "uses a clock timer_create does not take";
}

std::vector<PosixTimer> parse(pid_t pid, const std::string& text) {
  std::vector<PosixTimer> timers;
  std::istringstream in(text);
  std::string line;
  auto bad = [&](const std::string& what) {
    throw DumpError("pid " + std::to_string(pid) + ": cannot parse /proc/" + std::to_string(pid) + "/timers (" + what +
                    ")");
  };
  while (std::getline(in, line)) {
    auto value = [&](const char* key) -> std::string {
      size_t n = std::strlen(key);
      if (line.compare(0, n, key) != 0) bad("expected '" + std::string(key) + "', got '" + line + "'");
      return line.substr(n);
    };
    if (line.empty()) continue;
    PosixTimer t;
    try {
      t.id = int32_t(std::stol(value("ID: ")));
      if (!std::getline(in, line)) bad("truncated");
      std::string sig = value("signal: ");
      size_t slash = sig.find('/');
      if (slash == std::string::npos) bad("signal line '" + sig + "'");
      t.signo = int32_t(std::stol(sig.substr(0, slash)));
      t.sigev_value = std::stoull(sig.substr(slash + 1), nullptr, 16);
      if (!std::getline(in, line)) bad("truncated");
      std::string notify = value("notify: ");
      slash = notify.find('/');
      size_t dot = notify.find('.', slash == std::string::npos ? 0 : slash);
      if (slash == std::string::npos || dot == std::string::npos) bad("notify line '" + notify + "'");
      std::string kind = notify.substr(0, slash), whom = notify.substr(slash + 1, dot - slash - 1);
      int32_t who = int32_t(std::stol(notify.substr(dot + 1)));
      if (kind == "signal") t.notify = format::kNotifySignal;
      else if (kind == "none") t.notify = format::kNotifyNone;
      else if (kind == "thread") t.notify = format::kNotifyThread;
      else bad("notification '" + kind + "'");
      if (whom == "tid") {
        if (t.notify != format::kNotifySignal) bad("'" + notify + "'");
        t.notify = format::kNotifyThreadId;
        t.target_tid = who;
      } else if (whom != "pid") {
        bad("'" + notify + "'");
      }
      if (!std::getline(in, line)) bad("truncated");
      t.clock = int32_t(std::stol(value("ClockID: ")));
    } catch (const std::logic_error&) {  // stol/stoull on something not a number
      bad("'" + line + "'");
    }
    timers.push_back(t);
  }
  std::sort(timers.begin(), timers.end(), [](const PosixTimer& a, const PosixTimer& b) { return a.id < b.id; });
  return timers;
}

}  // namespace

std::vector<PosixTimer> read_posix_timers(pid_t pid, x86::RemoteSyscall& rs, uint64_t buf) {
  std::string path = "/proc/" + std::to_string(pid) + "/timers";
  std::string text;
  try {
    text = x86::read_proc_file(path);
  } catch (const std::exception&) {
    // Without the list (a kernel built without CONFIG_CHECKPOINT_RESTORE)
    // nobody can tell whether the process has timers: never guess none.
    throw DumpError("pid " + std::to_string(pid) + ": cannot read " + path + ", so its POSIX timers cannot be saved");
  }
  std::vector<PosixTimer> timers = parse(pid, text);
  if (timers.size() > format::kMaxPosixTimers)
    throw DumpError("pid " + std::to_string(pid) + " has " + std::to_string(timers.size()) +
                    " POSIX timers, more than the format's limit of " + std::to_string(format::kMaxPosixTimers));
  for (PosixTimer& t : timers) {
    if (!format::timer_clock_is_restorable(t.clock)) refuse(pid, t.id, clock_problem(t.clock));
    long r = rs.call(SYS_timer_gettime, t.id, long(buf));
    if (r < 0) refuse(pid, t.id, std::string("cannot be read: timer_gettime: ") + std::strerror(int(-r)));
    itimerspec its;
    rs.read(buf, &its, sizeof its);
    t.interval_ns = int64_t(its.it_interval.tv_sec) * 1000000000 + its.it_interval.tv_nsec;
    t.value_ns = int64_t(its.it_value.tv_sec) * 1000000000 + its.it_value.tv_nsec;
    r = rs.call(SYS_timer_getoverrun, t.id);
    t.overrun = r < 0 ? 0 : int32_t(r);
  }
  return timers;
}

void check_timer_targets(pid_t pid, const std::vector<PosixTimer>& timers,
                         const std::vector<format::ThreadState>& threads) {
  for (const PosixTimer& t : timers)
    if (t.target_tid && std::none_of(threads.begin(), threads.end(),
                                     [&](const format::ThreadState& th) { return th.tid == t.target_tid; }))
      refuse(pid, t.id, "signals thread " + std::to_string(t.target_tid) + ", which is not one of its threads");
}

}  // namespace ckpt::dumper
