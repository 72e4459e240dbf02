// The restored process's clocks (see TimeNamespace.h).
//
// Offsets of a time namespace are relative to the host's clocks (the
// initial namespace). This process may itself live in a namespace with
// offsets already (restore run by a restored process), so the host's
// value is its own clock minus its own offset: /proc/self/timens_offsets.
#include "restorer/TimeNamespace.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "restorer/RestoreError.h"
#include "x86/ProcMaps.h"

namespace ckpt::restorer {

namespace {

constexpr int64_t kNs = 1000000000;

bool has_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

int64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t(ts.tv_sec) * kNs + ts.tv_nsec;
}

struct Offsets {
  int64_t monotonic = 0, boottime = 0;
};

// Lines "monotonic SEC NSEC" and "boottime SEC NSEC"; all zero where the
// file does not exist (a kernel without time namespaces).
Offsets own_offsets() {
  Offsets o;
  std::string text;
  try {
    text = x86::read_proc_file("/proc/self/timens_offsets");
  } catch (const std::exception&) {
    return o;
  }
  char name[32];
  long long sec, nsec;
  for (const char* p = text.c_str(); std::sscanf(p, "%31s %lld %lld", name, &sec, &nsec) == 3;) {
    int64_t v = int64_t(sec) * kNs + nsec;
    if (std::strcmp(name, "monotonic") == 0) o.monotonic = v;
    if (std::strcmp(name, "boottime") == 0) o.boottime = v;
    p = std::strchr(p, '\n');
    if (!p) break;
    ++p;
  }
  return o;
}

std::string seconds(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", double(ns) / double(kNs));
  return buf;
}

}  // namespace

ClockPlan plan_clocks(const format::Image& image, bool host_clocks) {
  const format::TaskState& t = image.task;
  ClockPlan plan;
  if (!t.monotonic_ns && !t.boottime_ns) return plan;  // not recorded: nothing to continue from
  // Not asked with --host-clocks (a lookup in /proc costs a small restore more than the rest of this).
  const bool can = !host_clocks && has_capability(CAP_SYS_ADMIN) && has_capability(CAP_SYS_TIME) &&
                   access("/proc/self/ns/time_for_children", F_OK) == 0;
  if (can && !host_clocks) {
    plan.time_namespace = true;
    return plan;
  }
  const int64_t ahead = now_ns(CLOCK_MONOTONIC) - t.monotonic_ns;
  const int64_t boot_ahead = now_ns(CLOCK_BOOTTIME) - t.boottime_ns;
  const std::string why = host_clocks ? "without --host-clocks, restore would keep them in a time namespace"
                                      : "keeping them needs a time namespace (CAP_SYS_ADMIN and CAP_SYS_TIME)";
  if (ahead < 0 || boot_ahead < 0)
    throw RestoreError("with this machine's clocks, CLOCK_MONOTONIC would go back by " + seconds(-ahead) +
                       " and CLOCK_BOOTTIME by " + seconds(-boot_ahead) +
                       " (the image comes from another boot or machine); " + why);
  if (!host_clocks)
    plan.warning = "restore: warning: CLOCK_MONOTONIC jumps ahead by " + seconds(ahead) +
                   " (the time since the dump); " + why + "; --host-clocks accepts the jump\n";
  return plan;
}

void enter_time_namespace(const format::Image& image) {
  const format::TaskState& t = image.task;
  auto fail = [](const std::string& what) {
    throw RestoreError("time namespace: " + what + ": " + std::strerror(errno) +
                       " (restore --host-clocks does without one)");
  };
  const Offsets own = own_offsets();
  if (unshare(CLONE_NEWTIME) != 0) fail("cannot create one");
  // The host's clocks now, and how far the saved values are from them.
  const int64_t mono = t.monotonic_ns - (now_ns(CLOCK_MONOTONIC) - own.monotonic);
  const int64_t boot = t.boottime_ns - (now_ns(CLOCK_BOOTTIME) - own.boottime);
  auto line = [](const char* name, int64_t v) {
    int64_t sec = v / kNs, nsec = v % kNs;
    if (nsec < 0) sec -= 1, nsec += kNs;  // the kernel wants 0 <= nsec < 1e9
    return std::string(name) + " " + std::to_string(sec) + " " + std::to_string(nsec) + "\n";
  };
  const std::string offsets = line("monotonic", mono) + line("boottime", boot);
  int fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open /proc/self/timens_offsets");
  bool written = ::write(fd, offsets.data(), offsets.size()) == ssize_t(offsets.size());
  int err = errno;
  ::close(fd);
  errno = err;
  if (!written) fail("cannot set its offsets");
  fd = ::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open /proc/self/ns/time_for_children");
  bool joined = setns(fd, CLONE_NEWTIME) == 0;
  err = errno;
  ::close(fd);
  errno = err;
  if (!joined) fail("cannot join it");
}

}  // namespace ckpt::restorer
