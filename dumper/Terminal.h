// The user's terminal on the dumping side: which terminal a process was
// started from (its controlling terminal), which of its fds are on it, and
// the terminal's settings, read through the dumper's own copy of such an
// fd (pidfd_getfd: nothing is changed, nothing read from the terminal).
// docs/architecture.md, "The user's terminal".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>

#include "format/Image.h"

namespace ckpt::dumper {

struct UserTerminal {
  uint32_t major = 0, minor = 0;  // of the controlling terminal; both 0: none
  bool present() const { return major || minor; }
};

// The controlling terminal of `pid` (/proc/PID/stat tty_nr), unless it is
// the slave of a pty whose master the dumped set holds (that pair is the
// dumped set's own: `pty_masters_inside` holds such ptys' indexes), in
// which case there is no user's terminal.
UserTerminal find_user_terminal(pid_t pid, const std::set<uint32_t>& pty_masters_inside);

// The indexes of the ptys whose master `pid` holds (fdinfo "tty-index").
std::set<uint32_t> pty_masters_of(pid_t pid);

// Whether fd `fd` of `pid`, a terminal device (/dev/tty and /dev/console
// included, which stand for another), is on `term` (TIOCGDEV on a copy).
bool on_user_terminal(pid_t pid, int fd, const UserTerminal& term);

// The terminal record, read through fd `fd` of `pid` (on the terminal).
// Throws DumpError naming the fd.
format::TerminalInfo read_terminal(pid_t pid, int fd);

}  // namespace ckpt::dumper
