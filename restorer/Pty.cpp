// Pseudo-terminals at restore (see Pty.h).
#include "restorer/Pty.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "format/Pty.h"
#include "restorer/RestoreError.h"
#include "x86/TtyQueue.h"

namespace ckpt::restorer {

namespace {

constexpr long kDevptsMagic = 0x1cd1;

[[noreturn]] void fail(const format::Pty& p, const std::string& why) {
  throw RestoreError("pty " + std::to_string(p.id) + ": " + why);
}
std::string errtext(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

x86::TtySettings settings_of(const format::Pty& p) {
  x86::TtySettings s;
  s.iflag = p.iflag, s.oflag = p.oflag, s.cflag = p.cflag, s.lflag = p.lflag, s.line = uint8_t(p.line);
  std::memcpy(s.cc, p.cc.data(), sizeof s.cc);
  s.ispeed = p.ispeed, s.ospeed = p.ospeed;
  return s;
}

// The launcher's controlling terminal (tty_nr of /proc/self/stat), 0: none.
long own_tty() {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string state;
  long ppid = 0, pgrp = 0, session = 0, tty = 0;
  rest >> state >> ppid >> pgrp >> session >> tty;
  return tty;
}

const format::Pty* controlling(const format::Image& image) {
  for (const format::Pty& p : image.ptys)
    if (p.session) return &p;
  return nullptr;
}

}  // namespace

void check_ptys(const format::Image& image, bool root) {
  if (image.ptys.empty()) return;
  struct stat st;
  if (stat("/dev/ptmx", &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(5, 2))
    fail(image.ptys[0], "/dev/ptmx is missing or is not the pty multiplexer (5:2)");
  struct statfs fs;
  if (statfs("/dev/pts", &fs) != 0 || fs.f_type != kDevptsMagic) fail(image.ptys[0], "/dev/pts is not a devpts file system");
  if (const format::Pty* p = controlling(image); p && root && p->session == image.process.pid) {
    // The process led its session, with this pty as its controlling
    // terminal: the launcher, which becomes it, must start a session.
    bool leader = getsid(0) == getpid();
    if (leader && own_tty() != 0)
      fail(*p, "it was the controlling terminal of the process, which led its session; restore leads a session "
               "that has a controlling terminal already (run restore under setsid)");
    if (!leader && getpgrp() == getpid())
      fail(*p, "it was the controlling terminal of the process, which led its session; restore cannot start a "
               "session, since it leads its process group (run it as: setsid restore ...)");
  }
}

void make_ptys(const format::Image& image, PreparedPtys& out) {
  for (const format::Pty& p : image.ptys) {
    if (out.count(p.id)) continue;  // made for another member of the tree
    PtyPair& pair = out[p.id];
    pair.record = &p;
    pair.master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (pair.master < 0) fail(p, errtext("cannot open /dev/ptmx"));
    int unlock = 0;
    if (ioctl(pair.master, TIOCSPTLCK, &unlock) != 0) fail(p, errtext("unlockpt"));
    pair.slave = ioctl(pair.master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (pair.slave < 0) fail(p, errtext("cannot open its slave"));
    const x86::TtySettings s = settings_of(p);
    if (!x86::set_tty_settings(pair.slave, s)) fail(p, errtext("cannot apply its terminal settings (TCSETS2)"));
    struct winsize ws {};
    ws.ws_row = uint16_t(p.rows), ws.ws_col = uint16_t(p.cols), ws.ws_xpixel = uint16_t(p.xpixel),
    ws.ws_ypixel = uint16_t(p.ypixel);
    if (ioctl(pair.master, TIOCSWINSZ, &ws) != 0) fail(p, errtext("TIOCSWINSZ"));
    // A new pty has nothing queued and its output runs, so flow control
    // may be off while the input goes in; packet mode is set after, so the
    // settings changes queue no status byte.
    std::vector<x86::TtyLine> lines;
    for (const format::PtyLine& l : p.input) lines.push_back({l.bytes, l.end});
    if (std::string e = x86::put_tty_output(pair.master, pair.slave, s, p.output); !e.empty())
      fail(p, "cannot put back the " + std::to_string(p.output.size()) + " bytes waiting for the master's reader: " + e);
    if (std::string e = x86::put_tty_input(pair.master, pair.slave, s, lines, true); !e.empty())
      fail(p, "cannot put back the input waiting for the slave's reader: " + e);
    int on = 1;
    if (p.packet && ioctl(pair.master, TIOCPKT, &on) != 0) fail(p, errtext("TIOCPKT"));
  }
}

int open_pty_end(const format::FdEntry& f, const PreparedPtys& ptys) {
  auto it = ptys.find(f.object);
  if (it == ptys.end()) throw RestoreError("fd " + std::to_string(f.fd) + ": its pty was not made");
  if (f.kind == format::FdKind::PtyMaster) return fcntl(it->second.master, F_DUPFD_CLOEXEC, 0);
  return ioctl(it->second.master, TIOCGPTPEER, int((f.flags & O_ACCMODE) | O_NOCTTY | O_CLOEXEC));
}

void take_controlling_terminal(const format::Image& image, const std::vector<trampoline::FdMove>& moves) {
  const format::Pty* p = controlling(image);
  if (!p || p->session != image.process.pid) return;
  int slave = -1;
  for (const format::FdEntry& f : image.files.fds)
    if (f.kind == format::FdKind::PtySlave && f.object == p->id)
      for (const trampoline::FdMove& m : moves)
        if (m.to == f.fd && slave < 0) slave = m.from;
  if (slave < 0) fail(*p, "none of the process's fds is its slave");
  if (getsid(0) != getpid() && setsid() < 0) fail(*p, errtext("setsid"));
  if (ioctl(slave, TIOCSCTTY, 0) != 0) fail(*p, errtext("cannot make it the controlling terminal (TIOCSCTTY)"));
}

void take_foreground(const format::Image& image) {
  for (const format::Pty& p : image.ptys) {
    if (!p.session || p.foreground != image.process.pid || p.session == image.process.pid) continue;
    int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (tty < 0) fail(p, errtext("cannot reach the controlling terminal to give its group the foreground"));
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    pid_t group = getpgrp();
    int rc = ioctl(tty, TIOCSPGRP, &group);
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    ::close(tty);
    errno = e;
    if (rc != 0) fail(p, errtext("cannot make the process's group the foreground one (TIOCSPGRP)"));
  }
}

void finish_ptys(PreparedPtys& ptys) {
  for (auto& [id, pair] : ptys) {
    const format::Pty& p = *pair.record;
    int one = 1;
    if (p.locked && ioctl(pair.master, TIOCSPTLCK, &one) != 0) fail(p, errtext("TIOCSPTLCK"));
    if (p.excl_master && ioctl(pair.master, TIOCEXCL) != 0) fail(p, errtext("TIOCEXCL (master)"));
    if (p.excl_slave && ioctl(pair.slave, TIOCEXCL) != 0) fail(p, errtext("TIOCEXCL (slave)"));
  }
  for (auto& [id, pair] : ptys) {
    ::close(pair.master);
    ::close(pair.slave);
    pair.master = pair.slave = -1;
  }
}

}  // namespace ckpt::restorer
