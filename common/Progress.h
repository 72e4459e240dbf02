// The progress line of a long dump or restore: bytes done, rate and time
// left, redrawn in place on standard error (with \r, at most four times a
// second) once the operation has run for a second, and erased at the end,
// so that a short operation prints nothing extra.
//
// Shown when standard error is a terminal, or always with --progress; never
// with --no-progress. The environment variable CKPT_PROGRESS_AFTER_MS
// replaces the one-second delay (tests set it to 0 to see the line on a
// small image without depending on the machine's speed).
#pragma once

#include <atomic>
#include <cstdint>

namespace ckpt::common {

enum class ProgressMode { Auto, On, Off };

class Progress {
 public:
  // `what` ("dumping", "restoring") must outlive the object. `total`: the
  // bytes expected, or 0 if unknown (then no time left is shown); an
  // estimate may be exceeded.
  Progress(const char* program, const char* what, uint64_t total, ProgressMode mode);
  ~Progress();  // erases the line if one was drawn
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // From any thread: `bytes` more are done / `done` are done in all.
  void add(uint64_t bytes);
  void set(uint64_t done);
  // Erases the line now (before the caller prints its own).
  void finish();

  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

 private:
  void maybe_draw(uint64_t done);

  const char* program_;
  const char* what_;
  uint64_t total_;
  std::atomic<bool> enabled_;
  int64_t start_ns_, after_ns_;
  std::atomic<uint64_t> done_{0};
  std::atomic<int64_t> last_draw_ns_{0};
  // The first report: the rate is measured from it, not from the start
  // (a dump reads registers, descriptors and the rest before any page).
  std::atomic<int64_t> first_ns_{0};
  std::atomic<uint64_t> first_done_{0};
  std::atomic<bool> drawing_{false};
  std::atomic<bool> drawn_{false};
};

// Whether the line would be shown for `mode` (Auto: standard error is a terminal).
bool progress_wanted(ProgressMode mode);

// The progress of the operation now running in this process, if any: code
// deep below the command line (the restorer's staging workers) reports to
// it without being handed the object. set_current_progress(p) until p's
// finish() or destruction; progress_add does nothing when none is set.
void progress_add(uint64_t bytes);
void set_current_progress(Progress* p);

}  // namespace ckpt::common
