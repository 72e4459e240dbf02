// timerfds (see TimerFd.h).
#include "restorer/TimerFd.h"

#include <fcntl.h>
#include <linux/ioctl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "restorer/RestoreError.h"

namespace ckpt::restorer {

namespace {

// linux/timerfd.h (not in every libc's headers).
constexpr unsigned long kSetTicks = _IOW('T', 0, uint64_t);

timespec ts(int64_t ns) { return {time_t(ns / 1000000000), long(ns % 1000000000)}; }

// Expirations of our own timerfd not read yet ("ticks:" of its fdinfo).
uint64_t fired_since(int fd) {
  char path[64], buf[512];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  FILE* in = std::fopen(path, "re");
  uint64_t ticks = 0;
  if (!in) return 0;
  while (std::fgets(buf, sizeof buf, in))
    if (std::strncmp(buf, "ticks:", 6) == 0) ticks = std::strtoull(buf + 6, nullptr, 10);
  std::fclose(in);
  return ticks;
}

[[noreturn]] void fail(const format::FdEntry& f, const std::string& why) {
  throw RestoreError("fd " + std::to_string(f.fd) + " (timerfd): " + why);
}

}  // namespace

void check_timerfds(const format::Image& image) {
  for (const format::FdEntry& f : image.files.fds) {
    if (f.kind != format::FdKind::TimerFd || f.ticks == 0) continue;
    int probe = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    uint64_t one = 1;
    int r = probe < 0 ? -1 : ioctl(probe, kSetTicks, &one);
    int e = errno;
    if (probe >= 0) ::close(probe);
    if (r != 0)
      fail(f, std::to_string(f.ticks) + " unread expirations cannot be put back: TFD_IOC_SET_TICKS " + std::strerror(e) +
                  (e == ENOTTY ? " (this kernel lacks CONFIG_CHECKPOINT_RESTORE)" : ""));
    return;  // one probe says it for all
  }
}

int make_timerfd(const format::FdEntry& f) {
  int fd = timerfd_create(f.clockid, TFD_CLOEXEC | ((f.flags & O_NONBLOCK) ? TFD_NONBLOCK : 0));
  if (fd < 0) fail(f, "timerfd_create(clock " + std::to_string(f.clockid) + "): " + std::strerror(errno));
  if (f.value_ns || f.timer_flags) {  // a disarmed timer keeps its flags too
    const bool absolute = f.timer_flags & TFD_TIMER_ABSTIME;
    itimerspec its{ts(f.interval_ns), ts(!f.value_ns ? 0 : absolute ? f.expiry_ns : f.value_ns)};
    if (timerfd_settime(fd, int(f.timer_flags), &its, nullptr) != 0) {
      int e = errno;
      ::close(fd);
      fail(f, std::string("timerfd_settime: ") + std::strerror(e));
    }
  }
  if (f.ticks) {
    // TFD_IOC_SET_TICKS replaces the count, so an expiration since
    // timerfd_settime is added to it, not lost. An absolute timer whose
    // expiry passed while the process was saved fires at once: wait for it.
    if ((f.timer_flags & TFD_TIMER_ABSTIME) && f.value_ns) {
      timespec now{};
      clockid_t c = f.clockid == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : f.clockid == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : f.clockid;
      if (clock_gettime(c, &now) == 0 && int64_t(now.tv_sec) * 1000000000 + now.tv_nsec >= f.expiry_ns) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1) {
          ::close(fd);
          fail(f, "its absolute expiry has passed, but it did not fire when re-armed");
        }
      }
    }
    uint64_t ticks = f.ticks + fired_since(fd);
    if (ioctl(fd, kSetTicks, &ticks) != 0) {
      int e = errno;
      ::close(fd);
      fail(f, std::string("TFD_IOC_SET_TICKS: ") + std::strerror(e));
    }
  }
  return fd;
}

}  // namespace ckpt::restorer
