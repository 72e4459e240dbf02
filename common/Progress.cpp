// The progress line (see Progress.h). Written with write(2) and snprintf
// only: restore is a static binary that starts in milliseconds.
#include "common/Progress.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ckpt::common {

namespace {

constexpr int64_t kNs = 1000000000;
constexpr int64_t kRedrawNs = kNs / 4;
constexpr int64_t kDefaultAfterNs = kNs;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * kNs + ts.tv_nsec;
}

// "512 B", "3.4 MiB", "1.21 GiB".
void size_text(char* out, size_t n, double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  if (u == 0) std::snprintf(out, n, "%.0f %s", bytes, units[u]);
  else std::snprintf(out, n, bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

void write_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(2, p, n);
    if (w <= 0) return;  // a progress line is not worth failing for
    p += w;
    n -= size_t(w);
  }
}

std::atomic<Progress*> current{nullptr};

}  // namespace

bool progress_wanted(ProgressMode mode) {
  if (mode == ProgressMode::On) return true;
  if (mode == ProgressMode::Off) return false;
  return isatty(2) == 1;
}

Progress::Progress(const char* program, const char* what, uint64_t total, ProgressMode mode)
    : program_(program), what_(what), total_(total), enabled_(progress_wanted(mode)), start_ns_(now_ns()),
      after_ns_(kDefaultAfterNs) {
  if (const char* e = std::getenv("CKPT_PROGRESS_AFTER_MS")) {
    char* end = nullptr;
    long ms = std::strtol(e, &end, 10);
    if (*e && !*end && ms >= 0) after_ns_ = int64_t(ms) * 1000000;
  }
}

Progress::~Progress() { finish(); }

void Progress::add(uint64_t bytes) {
  uint64_t done = done_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (enabled_.load(std::memory_order_relaxed)) maybe_draw(done);
}

void Progress::set(uint64_t done) {
  done_.store(done, std::memory_order_relaxed);
  if (enabled_.load(std::memory_order_relaxed)) maybe_draw(done);
}

void Progress::maybe_draw(uint64_t done) {
  const int64_t now = now_ns(), elapsed = now - start_ns_;
  int64_t unset = 0;
  if (first_ns_.load(std::memory_order_relaxed) == 0 && first_ns_.compare_exchange_strong(unset, now))
    first_done_.store(done, std::memory_order_relaxed);
  if (elapsed < after_ns_) return;
  int64_t last = last_draw_ns_.load(std::memory_order_relaxed);
  if (last && now - last < kRedrawNs) return;
  if (drawing_.exchange(true, std::memory_order_acquire)) return;  // another thread draws
  last_draw_ns_.store(now, std::memory_order_relaxed);
  char done_s[32], total_s[32], rate_s[32], line[192];
  // Over the time since the first report once that is long enough to
  // mean something, else over the whole operation.
  const int64_t since_first = now - first_ns_.load(std::memory_order_relaxed);
  const uint64_t first_done = first_done_.load(std::memory_order_relaxed);
  const double rate = since_first >= kRedrawNs && done > first_done
                          ? double(done - first_done) * double(kNs) / double(since_first)
                          : elapsed > 0 ? double(done) * double(kNs) / double(elapsed) : 0;
  size_text(done_s, sizeof done_s, double(done));
  size_text(rate_s, sizeof rate_s, rate);
  int n;
  if (total_ && done <= total_) {
    size_text(total_s, sizeof total_s, double(total_));
    const double left = rate > 0 ? double(total_ - done) / rate : 0;
    n = std::snprintf(line, sizeof line, "\r%s: %s %s of %s (%.0f%%), %s/s, %.0f s left\033[K", program_, what_, done_s,
                      total_s, 100.0 * double(done) / double(total_), rate_s, left + 0.5);
  } else {
    n = std::snprintf(line, sizeof line, "\r%s: %s %s, %s/s\033[K", program_, what_, done_s, rate_s);
  }
  if (n > 0) write_all(line, size_t(n) < sizeof line ? size_t(n) : sizeof line - 1);
  drawn_.store(true, std::memory_order_relaxed);
  drawing_.store(false, std::memory_order_release);
}

void Progress::finish() {
  Progress* self = this;
  current.compare_exchange_strong(self, nullptr);
  enabled_.store(false);
  if (!drawn_.exchange(false)) return;
  while (drawing_.exchange(true, std::memory_order_acquire)) {
  }
  write_all("\r\033[K", 4);
  drawing_.store(false, std::memory_order_release);
}

void progress_add(uint64_t bytes) {
  if (Progress* p = current.load(std::memory_order_relaxed)) p->add(bytes);
}

void set_current_progress(Progress* p) { current.store(p); }

}  // namespace ckpt::common
