// The user's terminal on the restoring side (see Terminal.h).
#include "restorer/Terminal.h"

// The kernel's termios2 (TCSETS2), not glibc's termios: these headers stand alone.
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "restorer/RestoreError.h"

extern "C" int ioctl(int fd, unsigned long request, ...) noexcept;

namespace ckpt::restorer {

namespace {

termios2 to_kernel(const format::Termios& t) {
  termios2 m{};
  m.c_iflag = t.iflag;
  m.c_oflag = t.oflag;
  m.c_cflag = t.cflag;
  m.c_lflag = t.lflag;
  m.c_line = t.line;
  std::memcpy(m.c_cc, t.cc.data(), sizeof m.c_cc);
  m.c_ispeed = t.ispeed;
  m.c_ospeed = t.ospeed;
  return m;
}

format::Termios from_kernel(const termios2& m) {
  format::Termios t;
  t.iflag = m.c_iflag;
  t.oflag = m.c_oflag;
  t.cflag = m.c_cflag;
  t.lflag = m.c_lflag;
  t.line = m.c_line;
  std::memcpy(t.cc.data(), m.c_cc, sizeof m.c_cc);
  t.ispeed = m.c_ispeed;
  t.ospeed = m.c_ospeed;
  return t;
}

bool is_dev_tty(const format::FdEntry& f) { return f.rdev == makedev(5, 0); }

// The fds the image had on its terminal beside restore's stdio, for the notes.
std::string terminal_fds(const std::vector<const format::Image*>& members) {
  std::string out;
  for (const format::Image* m : members)
    for (const format::FdEntry& f : m->files.fds)
      if (f.kind == format::FdKind::Terminal)
        out += (out.empty() ? "" : ", ") + std::to_string(f.fd) +
               (m == members[0] ? "" : " of pid " + std::to_string(m->process.pid));
  return out;
}

}  // namespace

Terminal::Terminal(Terminal&& o) noexcept
    : fallback_(o.fallback_), apply_(o.apply_), root_in_front_(o.root_in_front_), is_ctty_(o.is_ctty_),
      applied_(std::exchange(o.applied_, false)), own_group_(o.own_group_), hand_to_(o.hand_to_),
      path_(std::move(o.path_)), saved_(o.saved_), own_(o.own_) {}

Terminal Terminal::plan(const std::vector<const format::Image*>& members, bool pid_ns) {
  Terminal t;
  // The record of the root, else of the first member that has one: all
  // were read from the one terminal while the whole set was stopped.
  const format::TerminalInfo* record = nullptr;
  bool was_in_front = false;
  for (const format::Image* m : members)
    if (m->terminal) {
      if (!record) record = &*m->terminal;
      was_in_front |= (m->terminal->flags & format::kTerminalForeground) != 0;
    }
  if (!record) return t;
  const format::Image& image = *members[0];
  const format::TerminalInfo& info = *record;
  t.root_in_front_ = info.foreground_pgid == (image.terminal ? image.terminal->pgid : -1);
  const std::string fds = terminal_fds(members);
  if (!isatty(0)) {
    t.fallback_ = true;
    std::fprintf(stderr,
                 "restore: note: the process was on a terminal (%s) but restore's stdin is not one: fds 0-2 are "
                 "restore's own%s, and the terminal settings are not applied\n",
                 info.path.c_str(),
                 fds.empty() ? ""
                             : (", its fds " + fds + " on the terminal become dups of restore's fd 0 (1 if write-only)")
                                   .c_str());
    return t;
  }
  char link[256] = {};
  ssize_t n = readlink("/proc/self/fd/0", link, sizeof link - 1);
  if (n <= 0) throw RestoreError(std::string("cannot name restore's terminal (its stdin): ") + std::strerror(errno));
  t.path_.assign(link, size_t(n));
  pid_t foreground = -1;
  t.is_ctty_ = ioctl(0, TIOCGPGRP, &foreground) == 0;  // ENOTTY: not restore's controlling terminal
  const bool restore_in_front = t.is_ctty_ && foreground == getpgrp();
  termios2 own{};
  if (ioctl(0, TCGETS2, &own) != 0)
    throw RestoreError("cannot read the settings of restore's terminal " + t.path_ + ": " + std::strerror(errno));
  t.own_ = from_kernel(own);
  t.saved_ = info.termios;
  t.apply_ = was_in_front && restore_in_front;
  if (was_in_front && !restore_in_front)
    std::fprintf(stderr,
                 "restore: note: restore is not in the foreground of its terminal %s%s: the process's saved terminal "
                 "settings are not applied\n",
                 t.path_.c_str(), t.is_ctty_ ? "" : " (not its controlling terminal)");
  // A job-control shell (it ignores SIGTSTP, SIGTTIN and SIGTTOU, where
  // full-screen programs catch SIGTSTP, and leads its process group) keeps
  // that group's number in its memory and hands the terminal back to it
  // after each foreground job. With --pid-ns that number can be had again
  // (lead_saved_group); without, the shell is in restore's group under
  // another number and cannot (docs/architecture.md, "Job control").
  const auto ignored = [&](int sig) { return image.task.sigactions[size_t(sig - 1)].handler == 1; };  // SIG_IGN
  const int32_t saved_pgid = image.terminal ? image.terminal->pgid : 0;
  const bool job_shell = ignored(SIGTSTP) && ignored(SIGTTIN) && ignored(SIGTTOU) && saved_pgid == image.process.pid;
  if (job_shell && pid_ns && t.apply_) {
    t.own_group_ = true;
  } else if (job_shell && pid_ns) {
    std::fprintf(stderr,
                 "restore: note: the process is a job-control shell and %s: the shell stays in restore's process "
                 "group, without the terminal\n",
                 restore_in_front ? "its group was not in the foreground of its terminal at the dump"
                                  : "restore is not in the foreground of its terminal");
  } else if (job_shell && saved_pgid != getpgrp()) {
    std::fprintf(stderr,
                 "restore: note: the process is a job-control shell that led process group %d; restored as a job "
                 "in group %d, it cannot take the terminal back after a foreground job (builtins and history "
                 "work): restore it with `restore --pid-ns` instead\n",
                 saved_pgid, int(getpgrp()));
  }
  // Each description is opened for real only in prepare_fds; one open here
  // (no controlling-terminal side effect: O_NOCTTY) finds what would refuse.
  for (const format::Image* m : members)
    for (const format::FdEntry& f : m->files.fds)
      if (f.kind == format::FdKind::Terminal) ::close(t.open_for(f));
  return t;
}

int Terminal::open_for(const format::FdEntry& f) const {
  // /dev/tty stands for the controlling terminal: restore's is its stdin,
  // or, when its stdin is not its controlling terminal, that stdin.
  const std::string path = is_dev_tty(f) && is_ctty_ ? "/dev/tty" : "/proc/self/fd/0";
  int fd = ::open(path.c_str(), int((f.flags & O_ACCMODE) | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (fd < 0)
    throw RestoreError("fd " + std::to_string(f.fd) + " (terminal " + f.file.path + "): cannot open restore's terminal " +
                       (path == "/dev/tty" ? path : path_) + ": " + std::strerror(errno));
  if (!isatty(fd)) {
    ::close(fd);
    throw RestoreError("fd " + std::to_string(f.fd) + ": restore's terminal " + path_ + " is no longer a terminal");
  }
  return fd;
}

int Terminal::fallback_fd(const format::FdEntry& f) { return (f.flags & O_ACCMODE) == O_WRONLY ? 1 : 0; }

void Terminal::apply() {
  if (!apply_) return;
  termios2 m = to_kernel(saved_);
  // TCSETS2, not TCSETSW2: draining would wait for a terminal that does not read.
  if (ioctl(0, TCSETS2, &m) != 0)
    throw RestoreError("cannot apply the saved terminal settings to " + path_ + ": " + std::strerror(errno));
  applied_ = true;
  // Last: once another group is in front, this one may not change the settings.
  if (hand_to_ > 0 && ioctl(0, TIOCSPGRP, &hand_to_) != 0)
    throw RestoreError("cannot make process group " + std::to_string(hand_to_) + " the foreground group of " + path_ +
                       ": " + std::strerror(errno));
}

void Terminal::lead_saved_group() {
  if (!own_group_) return;
  sigset_t ttou;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, nullptr);
  // In the caller's session (never setsid: the terminal is that session's,
  // and a shell needs it as its controlling terminal for tcsetpgrp).
  if (setpgid(0, 0) != 0)
    throw RestoreError(std::string("cannot lead process group ") + std::to_string(getpid()) + " again: " +
                       std::strerror(errno));
  if (root_in_front_) hand_to_ = getpid();
}

void take_terminal_back() {
  int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;  // no controlling terminal
  pid_t front = -1;
  // A group with no process left: kill() of it says ESRCH.
  if (ioctl(fd, TIOCGPGRP, &front) == 0 && front > 0 && front != getpgrp() && kill(-front, 0) != 0 &&
      errno == ESRCH) {
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);  // from a background group, TIOCSPGRP would stop restore
    pid_t own = getpgrp();
    ioctl(fd, TIOCSPGRP, &own);
    sigprocmask(SIG_SETMASK, &old, nullptr);
  }
  ::close(fd);
}

Terminal::~Terminal() {
  if (!applied_) return;
  termios2 m = to_kernel(own_);
  ioctl(0, TCSETS2, &m);
}

}  // namespace ckpt::restorer
