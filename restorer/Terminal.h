// The user's terminal on the restoring side: the image's terminal (the one
// its process was started from, format/Terminal.h) becomes the terminal
// `restore` runs in, its stdin. Every open file description the process had
// on the old terminal is made again on the new one (fds 0-2 stay restore's
// own, as always; fds above 2 are new opens, each with its own flags); the
// saved settings (termios) are applied as the very last step before the
// point of no return, and put back if restore fails before it; the new
// terminal keeps its window size and the process finds a SIGWINCH pending,
// so full-screen programs redraw at the new size.
//
// Without a terminal on restore's stdin, one note says so and the old
// terminal's fds above 2 become dups of restore's fd 0 (read or read-write)
// or 1 (write-only); no settings are applied.
// docs/architecture.md, "The user's terminal".
#pragma once

#include <cstdint>
#include <string>

#include "format/Image.h"

namespace ckpt::restorer {

class Terminal {
 public:
  // Phase 1: looks at restore's stdin and the image, changes nothing but
  // printing the notes (one line each) for a fallback. Throws RestoreError.
  static Terminal plan(const format::Image& image);
  Terminal() = default;
  Terminal(Terminal&& o) noexcept;
  Terminal& operator=(Terminal&&) = delete;
  Terminal(const Terminal&) = delete;
  ~Terminal();  // puts restore's own settings back if apply() ran and restore failed after it

  // A new open file description for FdEntry `f` (FdKind::Terminal) on
  // restore's terminal, close-on-exec, status flags not yet set. Throws
  // RestoreError. Only when !fallback().
  int open_for(const format::FdEntry& f) const;
  // No terminal at restore: `f` becomes a dup of restore's fd fallback_fd(f).
  bool fallback() const { return fallback_; }
  static int fallback_fd(const format::FdEntry& f);

  // Whether the restored process finds SIGWINCH pending (the settings are applied).
  bool sigwinch() const { return apply_; }
  // The saved settings onto restore's terminal: the last step before the
  // point of no return. Throws RestoreError (nothing changed then).
  void apply();

 private:
  bool fallback_ = false;  // the image had a terminal, restore's stdin is none
  bool apply_ = false;     // both were in the foreground of their terminals
  bool is_ctty_ = false;   // restore's stdin is its controlling terminal
  bool applied_ = false;
  std::string path_;       // restore's terminal, as /proc/self/fd/0 names it
  format::Termios saved_;  // the image's settings
  format::Termios own_;    // restore's terminal's settings before apply()
};

}  // namespace ckpt::restorer
