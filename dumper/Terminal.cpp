// The user's terminal on the dumping side (see Terminal.h).
#include "dumper/Terminal.h"

// The kernel's termios2 (TCGETS2), not glibc's termios: these headers stand alone.
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "dumper/FdInfo.h"
#include "dumper/OpenFiles.h"
#include "dumper/ScopedFd.h"

extern "C" int ioctl(int fd, unsigned long request, ...) noexcept;

namespace ckpt::dumper {

namespace {

constexpr uint32_t kPtySlaveMajor = 136;  // UNIX98_PTY_SLAVE_MAJOR; 136..143 hold indexes 0..2047

// The fields of /proc/PID/stat after the command name: [0] is the state.
// The name may hold any byte, ')' and newlines included: the last ')' ends it.
std::vector<std::string> stat_fields(pid_t pid) {
  std::ifstream in(proc_path(pid, "stat"));
  std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = line.rfind(')');
  if (close == std::string::npos) throw DumpError("pid " + std::to_string(pid) + ": cannot read /proc/PID/stat");
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  if (fields.size() < 6) throw DumpError("pid " + std::to_string(pid) + ": /proc/PID/stat is too short");
  return fields;
}

// new_encode_dev, as tty_nr and TIOCGDEV give a device number.
UserTerminal decode_dev(uint32_t d) { return {(d >> 8) & 0xfff, (d & 0xff) | ((d >> 12) & 0xfff00)}; }

}  // namespace

std::set<uint32_t> pty_masters_of(pid_t pid) {
  std::set<uint32_t> out;
  DIR* d = opendir(proc_path(pid, "fd").c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char link[64] = {};
    ssize_t n = readlink(proc_path(pid, std::string("fd/") + e->d_name).c_str(), link, sizeof link - 1);
    std::string target(link, n > 0 ? size_t(n) : 0);
    if (target != "/dev/ptmx" && target != "/dev/pts/ptmx") continue;
    std::string index = fdinfo_field(read_fdinfo(pid, std::atoi(e->d_name)), "tty-index");
    if (!index.empty()) out.insert(uint32_t(std::stoul(index)));
  }
  closedir(d);
  return out;
}

UserTerminal find_user_terminal(pid_t pid, const std::set<uint32_t>& pty_masters_inside) {
  std::vector<std::string> f = stat_fields(pid);
  UserTerminal t = decode_dev(uint32_t(std::stoul(f[4])));  // tty_nr
  if (t.major >= kPtySlaveMajor && t.major < kPtySlaveMajor + 8 &&
      pty_masters_inside.count((t.major - kPtySlaveMajor) * 256 + t.minor))
    return {};
  return t;
}

bool on_user_terminal(pid_t pid, int fd, const UserTerminal& term) {
  if (!term.present()) return false;
  ScopedFd copy(copy_open_file(pid, fd));
  unsigned int dev = 0;
  if (ioctl(copy.get(), TIOCGDEV, &dev) != 0) return false;
  UserTerminal t = decode_dev(dev);
  return t.major == term.major && t.minor == term.minor;
}

format::TerminalInfo read_terminal(pid_t pid, int fd) {
  const std::string where = "pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(fd) + " (its terminal): ";
  ScopedFd copy(copy_open_file(pid, fd));
  format::TerminalInfo t;
  termios2 m{};
  if (ioctl(copy.get(), TCGETS2, &m) != 0) throw DumpError(where + "TCGETS2: " + std::strerror(errno));
  if (m.c_line != 0)  // N_TTY
    throw DumpError(where + "it uses line discipline " + std::to_string(m.c_line) + ", not N_TTY");
  t.termios.iflag = m.c_iflag;
  t.termios.oflag = m.c_oflag;
  t.termios.cflag = m.c_cflag;
  t.termios.lflag = m.c_lflag;
  t.termios.line = m.c_line;
  static_assert(sizeof m.c_cc == 19);
  std::memcpy(t.termios.cc.data(), m.c_cc, sizeof m.c_cc);
  t.termios.ispeed = m.c_ispeed;
  t.termios.ospeed = m.c_ospeed;
  struct {
    unsigned short rows, cols, xpixel, ypixel;
  } ws{};
  if (ioctl(copy.get(), TIOCGWINSZ, &ws) == 0) {
    t.rows = ws.rows, t.cols = ws.cols, t.xpixel = ws.xpixel, t.ypixel = ws.ypixel;
  }
  // Its name: a pty slave's is known from its number (the fd may be /dev/tty).
  unsigned int dev = 0;
  if (ioctl(copy.get(), TIOCGDEV, &dev) != 0) throw DumpError(where + "TIOCGDEV: " + std::strerror(errno));
  UserTerminal d = decode_dev(dev);
  t.rdev = makedev(d.major, d.minor);
  if (d.major >= kPtySlaveMajor && d.major < kPtySlaveMajor + 8) {
    t.path = "/dev/pts/" + std::to_string((d.major - kPtySlaveMajor) * 256 + d.minor);
  } else {
    char link[256] = {};
    ssize_t n = readlink(proc_path(pid, "fd/" + std::to_string(fd)).c_str(), link, sizeof link - 1);
    t.path = n > 0 && link[0] == '/' ? std::string(link, size_t(n)) : "/dev/tty";
  }
  std::vector<std::string> f = stat_fields(pid);
  t.pgid = std::stoi(f[2]);
  t.sid = std::stoi(f[3]);
  t.foreground_pgid = std::stoi(f[5]);  // tpgid
  if (t.foreground_pgid == t.pgid) t.flags |= format::kTerminalForeground;
  if (t.sid == pid) t.flags |= format::kTerminalSessionLeader;
  return t;
}

}  // namespace ckpt::dumper
