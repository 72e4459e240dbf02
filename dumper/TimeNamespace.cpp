// Time namespace offsets at dump time (see TimeNamespace.h).
#include "dumper/TimeNamespace.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "dumper/Tracee.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

namespace {

std::string link(const std::string& path) {
  char buf[256];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// /proc/P/timens_offsets: lines "monotonic SEC NSEC", "boottime SEC NSEC",
// for the namespace P's children get; P's own when the two are the same.
int64_t offset_ns(const std::string& proc, const char* which) {
  if (link(proc + "/ns/time") != link(proc + "/ns/time_for_children"))
    throw DumpError("its time namespace is not the one its children get (it called unshare(CLONE_NEWTIME)), "
                    "so the offsets its clocks run with cannot be read");
  std::string text;
  try {
    text = x86::read_proc_file(proc + "/timens_offsets");
  } catch (const std::exception&) {
    return 0;  // no time namespaces in this kernel: no offsets
  }
  char name[32];
  long long sec, nsec;
  for (const char* p = text.c_str(); p && std::sscanf(p, "%31s %lld %lld", name, &sec, &nsec) == 3;) {
    if (std::strcmp(name, which) == 0) return int64_t(sec) * 1000000000 + nsec;
    p = std::strchr(p, '\n');
    if (p) ++p;
  }
  return 0;
}

}  // namespace

int64_t clock_shift_ns(pid_t pid, clockid_t clock) {
  const char* which = clock == CLOCK_MONOTONIC || clock == CLOCK_MONOTONIC_RAW || clock == CLOCK_MONOTONIC_COARSE
                          ? "monotonic"
                      : clock == CLOCK_BOOTTIME || clock == CLOCK_BOOTTIME_ALARM ? "boottime"
                                                                                  : nullptr;
  if (!which) return 0;
  return offset_ns("/proc/" + std::to_string(pid), which) - offset_ns("/proc/self", which);
}

}  // namespace ckpt::dumper
