// Test-only fault points (see FaultPoint.h).
#include "x86/FaultPoint.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "x86/RemoteSyscall.h"

namespace ckpt::x86 {

namespace {

enum class Mode { Off, Kill, Fail, Stop, Trace, Time, Wait };

struct Config {
  Mode mode = Mode::Off;
  unsigned long at = 0;
  unsigned long reached = 0;
  std::string name;  // CKPT_FAULT_AT not a number: the first point of that name
  Config() {
    const char* m = std::getenv("CKPT_FAULT");
    if (!m) return;
    if (std::strcmp(m, "kill") == 0) mode = Mode::Kill;
    else if (std::strcmp(m, "fail") == 0) mode = Mode::Fail;
    else if (std::strcmp(m, "stop") == 0) mode = Mode::Stop;
    else if (std::strcmp(m, "trace") == 0) mode = Mode::Trace;
    else if (std::strcmp(m, "time") == 0) mode = Mode::Time;
    else if (std::strcmp(m, "wait") == 0) mode = Mode::Wait;
    if (const char* n = std::getenv("CKPT_FAULT_AT")) {
      char* end = nullptr;
      at = std::strtoul(n, &end, 10);
      if (*n == '\0' || *end != '\0') at = 0, name = n;
    }
  }
};

Config& config() {
  static Config c;
  return c;
}

}  // namespace

void time_point(const char* where) {
  Config& c = config();
  if (c.mode != Mode::Time) return;
  static const auto t0 = std::chrono::steady_clock::now();
  std::fprintf(stderr, "ckpt time %.3f ms: %s\n",
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(), where);
}

void fault_point(const char* where, bool may_throw) {
  Config& c = config();
  if (c.mode == Mode::Off) return;
  if (c.mode == Mode::Time) return time_point(where);
  ++c.reached;
  if (c.mode == Mode::Trace) {
    std::fprintf(stderr, "ckpt fault point %lu: %s\n", c.reached, where);
    return;
  }
  if (!c.name.empty() && c.name == where) c.at = c.reached, c.name.clear();
  if (c.reached != c.at) return;
  if (c.mode == Mode::Kill) raise(SIGKILL);
  if (c.mode == Mode::Stop) raise(SIGSTOP);
  if (c.mode == Mode::Wait) {
    const char* path = std::getenv("CKPT_FAULT_FILE");
    if (!path) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
    while (access(path, F_OK) == 0) usleep(10000);
  }
  if (c.mode == Mode::Fail && may_throw)
    throw RemoteSyscallError("injected failure at fault point " + std::to_string(c.at) + " (" + where + ")");
}

}  // namespace ckpt::x86
