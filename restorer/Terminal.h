// The user's terminal on the restoring side: the image's terminal (the one
// its process was started from, format/Terminal.h) becomes the terminal
// `restore` runs in, its stdin. Every open file description the process had
// on the old terminal is made again on the new one (fds 0-2 stay restore's
// own, as always; fds above 2 are new opens, each with its own flags); the
// saved settings (termios) are applied as the very last step before the
// point of no return, and put back if restore fails before it; the new
// terminal keeps its window size and the process finds a SIGWINCH pending,
// so full-screen programs redraw at the new size. With restore --pid-ns a
// job-control shell leads its saved process group again and gets the
// terminal's foreground; the outer restore takes the terminal back when
// the shell's group is gone (lead_saved_group, take_terminal_back).
//
// Without a terminal on restore's stdin, one note says so and the old
// terminal's fds above 2 become dups of restore's fd 0 (read or read-write)
// or 1 (write-only); no settings are applied.
// docs/architecture.md, "The user's terminal".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::restorer {

class Terminal {
 public:
  // Phase 1: looks at restore's stdin and the image, changes nothing but
  // printing the notes (one line each) for a fallback. `members[0]` is the
  // process restore becomes, the others (a tree's) are forked from it.
  // Throws RestoreError.
  // `pid_ns`: restore --pid-ns, where the root gets its saved pid.
  static Terminal plan(const std::vector<const format::Image*>& members, bool pid_ns);
  static Terminal plan(const format::Image& image, bool pid_ns) {
    return plan(std::vector<const format::Image*>{&image}, pid_ns);
  }
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

  // Whether the process restore becomes finds SIGWINCH pending: the
  // settings are applied and it was in the terminal's foreground group.
  // (The kernel sends a resize's SIGWINCH to that group only.)
  bool sigwinch() const { return apply_ && root_in_front_; }
  // Whether a process of the saved foreground group other than restore's
  // (a tree's) does: `saved_pgid` is its group at the dump.
  bool sigwinch_for(int32_t saved_pgid, int32_t saved_foreground) const {
    return apply_ && saved_pgid == saved_foreground;
  }
  // When the saved foreground group is a group of the tree other than
  // restore's: its pgid now, made the terminal's foreground group by apply().
  void hand_foreground_to(int32_t pgid) { hand_to_ = pgid; }
  // restore --pid-ns, in the root (its saved pid already): a job-control
  // shell leads its saved process group again (its number is in the
  // shell's memory), in the caller's session, and apply() makes that group
  // the terminal's foreground group when it was in front at the dump.
  // SIGTTOU stays blocked from here to the trampoline (which sets the saved
  // mask): the group is in the background until apply() hands it the
  // terminal. Nothing when plan() did not choose it. Throws RestoreError.
  void lead_saved_group();
  bool leads_own_group() const { return own_group_; }
  // The saved settings onto restore's terminal, then the foreground group:
  // the last step before the point of no return. Throws RestoreError.
  void apply();

 private:
  bool fallback_ = false;  // the image had a terminal, restore's stdin is none
  bool apply_ = false;     // both were in the foreground of their terminals
  bool root_in_front_ = false;  // the saved foreground group was the root's
  bool is_ctty_ = false;   // restore's stdin is its controlling terminal
  bool applied_ = false;
  bool own_group_ = false;  // lead_saved_group() makes the root lead its saved group
  int32_t hand_to_ = 0;
  std::string path_;       // restore's terminal, as /proc/self/fd/0 names it
  format::Termios saved_;  // the image's settings
  format::Termios own_;    // restore's terminal's settings before apply()
};

// restore --pid-ns, in the outer restore once the restored process has
// ended: when its terminal's foreground group has no process left (a
// restored job-control shell's group, gone with the namespace), restore's
// own group takes the terminal back, as a shell does after a job; a caller
// without job control (a script) would otherwise be stopped by SIGTTIN at
// its next read of the terminal. Changes nothing else, never fails.
void take_terminal_back();

}  // namespace ckpt::restorer
