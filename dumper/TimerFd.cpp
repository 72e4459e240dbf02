// timerfd state (see TimerFd.h).
#include "dumper/TimerFd.h"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dumper/OpenFiles.h"
#include "dumper/ScopedFd.h"
#include "dumper/TimeNamespace.h"
#include "dumper/Tracee.h"

namespace ckpt::dumper {

namespace {

int64_t ns_of(const timespec& t) { return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; }

}  // namespace

void read_timerfd(pid_t pid, format::FdEntry& f) {
  ScopedFd timer(copy_open_file(pid, f.fd));
  itimerspec its{};
  if (timerfd_gettime(timer.get(), &its) != 0) refuse_fd(pid, f.fd, std::string("timerfd_gettime: ") + std::strerror(errno));
  timespec now{};
  // After gettime, fdinfo's ticks include the periods it caught up on.
  FdInfo info = read_fdinfo(getpid(), timer.get());
  auto number = [&](const char* key, int base) {
    std::string v = fdinfo_field(info, key);
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v.c_str(), &end, base);
    if (v.empty() || *end || errno) refuse_fd(pid, f.fd, std::string("the timer's fdinfo has no readable \"") + key + "\"");
    return n;
  };
  f.clockid = int32_t(number("clockid", 10));
  f.ticks = number("ticks", 10);
  f.timer_flags = uint32_t(number("settime flags", 8)) & 3u;
  f.value_ns = ns_of(its.it_value);
  f.interval_ns = ns_of(its.it_interval);
  f.expiry_ns = 0;
  if ((f.timer_flags & TFD_TIMER_ABSTIME) && f.value_ns) {
    // The alarm clocks read as their base clocks.
    clockid_t c = f.clockid == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : f.clockid == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : f.clockid;
    if (clock_gettime(c, &now) != 0) refuse_fd(pid, f.fd, "cannot read the timer's clock " + std::to_string(f.clockid));
    // On the process's clock, which a time namespace may shift from ours.
    int64_t shift = 0;
    try {
      shift = clock_shift_ns(pid, c);
    } catch (const DumpError& e) {
      refuse_fd(pid, f.fd, std::string("an absolute timer: ") + e.what());
    }
    f.expiry_ns = ns_of(now) + f.value_ns + shift;
  }
}

}  // namespace ckpt::dumper
