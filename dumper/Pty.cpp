// Pseudo-terminals inside the dumped set (see Pty.h).
#include "dumper/Pty.h"

#include <asm/termbits.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

#include "dumper/OpenFiles.h"
#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Limits.h"
#include "x86/FaultPoint.h"
#include "x86/ProcMaps.h"
#include "x86/TtyQueue.h"

namespace ckpt::dumper {

namespace {

constexpr unsigned kPtmxMajor = 5, kPtmxMinor = 2, kPtsMajor = 136;

bool is_master(const struct stat& st, const FdInfo& info) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == kPtmxMajor && minor(st.st_rdev) == kPtmxMinor &&
         !fdinfo_field(info, "tty-index").empty();
}
bool is_slave(const struct stat& st) { return S_ISCHR(st.st_mode) && major(st.st_rdev) == kPtsMajor; }
uint64_t master_index(const FdInfo& info) { return std::stoull(fdinfo_field(info, "tty-index")); }

std::string dev_text(dev_t d) { return std::to_string(major(d)) + ":" + std::to_string(minor(d)); }

// Where the devpts file system with device `dev` is mounted for `pid`, for messages.
std::string devpts_mount(pid_t pid, dev_t dev) {
  std::istringstream in(x86::read_proc_file("/proc/" + std::to_string(pid) + "/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point;
    if (f >> id >> parent >> devno >> root >> point && devno == dev_text(dev)) return point;
  }
  return "an unknown mount point";
}

// A pty this version cannot carry; with --ignore-fds its fds are left out.
struct PtyRefused : DumpError {
  PtyRefused(pid_t pid, uint64_t index, const std::string& why)
      : DumpError("pid " + std::to_string(pid) + ": cannot dump pty " + std::to_string(index) + ": " + why), why(why) {}
  std::string why;
};

[[noreturn]] void refuse_pty(pid_t pid, uint64_t index, const std::string& why) { throw PtyRefused(pid, index, why); }

// A process outside the dumped set that holds an end of pty `index`
// (slave on devpts `dev`): "pid P fd N", or "".
std::string holder_outside(uint64_t index, dev_t dev, const std::set<pid_t>& dumped) {
  DIR* proc = opendir("/proc");
  if (!proc) return "";
  std::string found;
  const std::string slave = "/dev/pts/" + std::to_string(index);
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long p = std::strtol(e->d_name, &end, 10);
    if (*end || p <= 0 || dumped.count(pid_t(p)) || p == getpid()) continue;  // the dumper holds copies
    const std::string dir = "/proc/" + std::to_string(p) + "/fd";
    DIR* fds = opendir(dir.c_str());
    if (!fds) continue;
    while (dirent* d = readdir(fds)) {
      if (d->d_name[0] == '.') continue;
      char link[256];
      ssize_t n = readlink((dir + "/" + d->d_name).c_str(), link, sizeof link - 1);
      if (n <= 0) continue;
      std::string target(link, size_t(n));
      struct stat st;
      bool holds = false;
      if (target == slave) {
        holds = stat((dir + "/" + d->d_name).c_str(), &st) == 0 && is_slave(st) && minor(st.st_rdev) == index &&
                st.st_dev == dev;
      } else if (target.size() >= 4 && target.compare(target.size() - 4, 4, "ptmx") == 0) {
        try {
          FdInfo info = read_fdinfo(pid_t(p), std::atoi(d->d_name));
          holds = fdinfo_field(info, "tty-index") == std::to_string(index);
        } catch (const std::exception&) {
        }
        // The same index on another devpts instance is another pty: told
        // apart by its slave's device, through a copy of the master. One
        // that cannot be looked at counts as a holder.
        if (holds) {
          try {
            ScopedFd copy(copy_open_file(pid_t(p), std::atoi(d->d_name)));
            ScopedFd peer(ioctl(copy.get(), TIOCGPTPEER, O_PATH | O_CLOEXEC));
            struct stat peer_st;
            if (peer.get() >= 0 && fstat(peer.get(), &peer_st) == 0 && peer_st.st_dev != dev) holds = false;
          } catch (const std::exception&) {
          }
        }
      }
      if (holds) {
        found = "pid " + std::to_string(p) + " fd " + d->d_name;
        break;
      }
    }
    closedir(fds);
    if (!found.empty()) break;
  }
  closedir(proc);
  return found;
}

int get_int(int fd, unsigned long req) {
  int v = 0;
  return ioctl(fd, req, &v) == 0 ? v : -1;
}

// The queues, read out and put back by a child of the dumper, so that once
// it has begun the put-back happens even if the dumper dies. The child
// reports through a pipe: what it took, then whether it put it all back.
struct Queues {
  std::vector<x86::TtyLine> input;
  std::vector<uint8_t> output;
};

void put_u32(int fd, uint32_t v) { (void)!::write(fd, &v, 4); }
void put_bytes(int fd, const void* p, size_t n) {
  put_u32(fd, uint32_t(n));
  const char* c = static_cast<const char*>(p);
  while (n) {
    ssize_t w = ::write(fd, c, n);
    if (w <= 0) return;
    c += w, n -= size_t(w);
  }
}

[[noreturn]] void queue_child(int out, int master, const x86::TtySettings& s, bool packet, bool may_clear_ixon) {
  signal(SIGPIPE, SIG_IGN);
  setsid();  // no controlling terminal: job control never stops the reads
  std::string why;
  // A locked pty's slave cannot be opened: unlocked for that open only.
  const int locked = get_int(master, TIOCGPTLCK);
  int unlock = 0, lock = 1;
  if (locked == 1) ioctl(master, TIOCSPTLCK, &unlock);
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  int open_errno = errno;
  if (locked == 1) ioctl(master, TIOCSPTLCK, &lock);
  if (slave < 0) {
    put_u32(out, 1);
    std::string m = std::string("cannot open its slave to read the queued input: ") + std::strerror(open_errno);
    put_bytes(out, m.data(), m.size());
    _exit(0);
  }
  Queues q;
  std::string taken = x86::take_tty_input(slave, s, q.input);
  std::string taken_out = x86::take_tty_output(master, packet, q.output);
  put_u32(out, 0);
  std::string m = taken.empty() ? taken_out : taken;
  put_bytes(out, m.data(), m.size());
  put_u32(out, uint32_t(q.input.size()));
  for (const x86::TtyLine& l : q.input) {
    put_u32(out, l.end);
    put_bytes(out, l.bytes.data(), l.bytes.size());
  }
  put_bytes(out, q.output.data(), q.output.size());
  std::string back = x86::put_tty_output(master, slave, s, q.output);
  std::string back_in = x86::put_tty_input(master, slave, s, q.input, may_clear_ixon);
  m = back.empty() ? back_in : back;
  put_bytes(out, m.data(), m.size());
  _exit(0);
}

class PipeReader {
 public:
  explicit PipeReader(int fd) : fd_(fd) {}
  bool u32(uint32_t& v) { return exact(&v, 4); }
  bool bytes(std::vector<uint8_t>& b, uint32_t max) {
    uint32_t n;
    if (!u32(n) || n > max) return false;
    b.resize(n);
    return exact(b.data(), n);
  }
  bool text(std::string& s) {
    std::vector<uint8_t> b;
    if (!bytes(b, 4096)) return false;
    s.assign(b.begin(), b.end());
    return true;
  }

 private:
  bool exact(void* p, size_t n) {
    char* c = static_cast<char*>(p);
    while (n) {
      ssize_t r = ::read(fd_, c, n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      c += r, n -= size_t(r);
    }
    return true;
  }
  int fd_;
};

// Takes the queues out and puts them back; throws naming what was lost if
// the put-back failed. Bounded by kMaxPtyQueueBytes per direction (an
// overflow is refused by the caller, after the put-back).
Queues move_queues(pid_t pid, uint64_t index, int master, const x86::TtySettings& s, bool packet,
                   bool may_clear_ixon) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) refuse_pty(pid, index, std::string("pipe: ") + std::strerror(errno));
  pid_t child = fork();
  if (child < 0) {
    ::close(p[0]), ::close(p[1]);
    refuse_pty(pid, index, std::string("fork: ") + std::strerror(errno));
  }
  if (child == 0) {
    ::close(p[0]);
    queue_child(p[1], master, s, packet, may_clear_ixon);
  }
  ::close(p[1]);
  ScopedFd in(p[0]);
  PipeReader r(in.get());
  Queues q;
  uint32_t status = 9, lines = 0;
  std::string why, back;
  bool ok = r.u32(status) && r.text(why);
  if (ok && status == 0) {
    ok = r.u32(lines) && lines <= 2 * format::kMaxPtyQueueBytes + 2;
    for (uint32_t i = 0; ok && i < lines; ++i) {
      x86::TtyLine l;
      ok = r.u32(l.end) && r.bytes(l.bytes, 1u << 20);
      q.input.push_back(std::move(l));
    }
    ok = ok && r.bytes(q.output, 1u << 24);
    // Taken out, maybe not yet put back: the dumper's death here leaves the child to finish.
    x86::fault_point("pty: its queues taken out");
    ok = ok && r.text(back);
  }
  int ws = 0;
  while (waitpid(child, &ws, 0) < 0 && errno == EINTR) {
  }
  if (!ok || !WIFEXITED(ws)) refuse_pty(pid, index, "the process reading its queued data failed");
  if (status == 1) refuse_pty(pid, index, why);
  size_t in_bytes = 0;
  for (const auto& l : q.input) in_bytes += l.bytes.size();
  if (!back.empty())  // not one to leave out: the process has lost it
    throw DumpError("pid " + std::to_string(pid) + ": pty " + std::to_string(index) + ": its queued data (" +
                    std::to_string(in_bytes) + " bytes of input, " + std::to_string(q.output.size()) +
                    " of output) could not be put back exactly: " + back);
  if (!why.empty()) refuse_pty(pid, index, "reading its queued data: " + why);
  return q;
}

// --ignore-fds: every fd of pty `index` goes, with one warning each, and
// epoll entries on them, as when a file is closed for good.
void leave_out_pty(format::FileTable& files, uint64_t index, const std::string& why, std::vector<std::string>& left_out) {
  std::set<int> gone;
  for (const format::FdEntry& f : files.fds) {
    if ((f.kind != format::FdKind::PtyMaster && f.kind != format::FdKind::PtySlave) || f.object != index) continue;
    gone.insert(f.fd);
    left_out.push_back("left out fd " + std::to_string(f.fd) + " (--ignore-fds): " + format::fd_kind_name(f.kind) +
                       " of pty " + std::to_string(index) + ": " + why);
    for (const format::FdNumber& d : f.dups)
      left_out.push_back("left out fd " + std::to_string(d.fd) + " (--ignore-fds): it shares fd " +
                         std::to_string(f.fd) + "'s open file, and it is a " + format::fd_kind_name(f.kind) +
                         " of pty " + std::to_string(index) + ": " + why);
  }
  std::erase_if(files.fds, [&](const format::FdEntry& f) { return gone.count(f.fd) > 0; });
  for (format::FdEntry& f : files.fds) {
    auto on_gone = [&](const format::EpollTarget& t) { return gone.count(t.file) > 0; };
    for (const format::EpollTarget& t : f.targets)
      if (on_gone(t))
        left_out.push_back("epoll fd " + std::to_string(f.fd) + " no longer watches left-out fd " + std::to_string(t.fd));
    std::erase_if(f.targets, on_gone);
  }
}

}  // namespace

void find_pty_ends(pid_t pid, bool with_stdio, PtyEnds& ends) {
  std::vector<int> fds;
  if (DIR* d = opendir(proc_path(pid, "fd").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') fds.push_back(std::atoi(e->d_name));
    closedir(d);
  }
  for (int n : fds) {
    if (n <= 2 && !with_stdio) continue;
    struct stat st;
    if (stat(proc_path(pid, "fd/" + std::to_string(n)).c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) continue;
    if (is_slave(st)) {
      ends.slaves.insert(minor(st.st_rdev));
    } else if (major(st.st_rdev) == kPtmxMajor && minor(st.st_rdev) == kPtmxMinor) {
      try {
        FdInfo info = read_fdinfo(pid, n);
        if (is_master(st, info)) ends.masters.insert(master_index(info));
      } catch (const std::exception&) {
      }
    }
  }
}

bool classify_pty_end(pid_t pid, int n, const struct stat& st, const FdInfo& info, const PtyEnds& ends,
                      format::FdEntry& f) {
  if (is_master(st, info)) {
    uint64_t index = master_index(info);
    if (!ends.slaves.count(index))
      refuse_fd(pid, n, "it is the master of pty " + std::to_string(index) +
                            ", whose slave is not open in the dump (the program on the other side is outside it, "
                            "or closed it)");
    f.kind = format::FdKind::PtyMaster;
    f.object = index;
    f.rdev = st.st_rdev;
    return true;
  }
  if (is_slave(st) && ends.masters.count(minor(st.st_rdev))) {
    f.kind = format::FdKind::PtySlave;
    f.object = minor(st.st_rdev);
    f.rdev = st.st_rdev;
    return true;
  }
  return false;
}

void refuse_pty_stdio(pid_t pid, int n, const struct stat& st, const FdInfo& info, const PtyEnds& ends) {
  std::string end;
  uint64_t index = 0;
  if (is_master(st, info) && ends.slaves.count(index = master_index(info))) end = "master";
  else if (is_slave(st) && ends.masters.count(index = minor(st.st_rdev))) end = "slave";
  if (!end.empty())
    refuse_fd(pid, n, "it is the " + end + " of pty " + std::to_string(index) +
                          ", whose other end is open in the dump too, but fds 0-2 are restore's own");
}

std::vector<format::Pty> read_ptys(const std::vector<PtyMember>& members, std::vector<std::string>* left_out) {
  using End = std::pair<pid_t, int>;  // (member pid, fd)
  std::map<uint64_t, End> master_fd, slave_fd;  // index -> an end in the dumped set
  std::set<pid_t> dumped;
  std::map<pid_t, pid_t> pgid_of;  // member -> its process group
  for (const PtyMember& m : members) {
    dumped.insert(m.pid);
    const std::string text = x86::read_proc_file(proc_path(m.pid, "stat"));
    std::string state;
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    long ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    pgid_of[m.pid] = pid_t(pgrp);
    for (const format::FdEntry& f : m.files->fds) {
      if (f.kind == format::FdKind::PtyMaster && !master_fd.count(f.object)) master_fd[f.object] = {m.pid, f.fd};
      if (f.kind == format::FdKind::PtySlave && !slave_fd.count(f.object)) slave_fd[f.object] = {m.pid, f.fd};
    }
  }
  struct stat pts;
  if (!master_fd.empty() && stat("/dev/pts", &pts) != 0)
    throw DumpError("pid " + std::to_string(master_fd.begin()->second.first) +
                    ": holds a pty, but /dev/pts cannot be reached here");
  std::vector<format::Pty> out;
  for (const auto& [index, mend] : master_fd) {
    const pid_t pid = mend.first;  // named in messages: the master's holder
    try {  // (body not indented: ends at the PtyRefused catch)
    if (!slave_fd.count(index))
      refuse_pty(pid, index, "its slave is not open in the dump (the program on the other side is outside it)");
    ScopedFd master(copy_open_file(pid, mend.second));
    ScopedFd slave(copy_open_file(slave_fd.at(index).first, slave_fd.at(index).second));
    // The devpts instance: restore creates ptys on /dev/pts.
    ScopedFd peer(ioctl(master.get(), TIOCGPTPEER, O_PATH | O_CLOEXEC));
    struct stat peer_st;
    if (peer.get() < 0 || fstat(peer.get(), &peer_st) != 0)
      refuse_pty(pid, index, std::string("cannot find its slave's devpts instance: ") + std::strerror(errno));
    if (peer_st.st_dev != pts.st_dev)
      refuse_pty(pid, index, "it belongs to the devpts instance mounted at " + devpts_mount(pid, peer_st.st_dev) +
                                 " (device " + dev_text(peer_st.st_dev) + "), not to /dev/pts (device " +
                                 dev_text(pts.st_dev) + "), where restore creates ptys");
    for (const PtyMember& m : members)
      for (const format::FdEntry& f : m.files->fds) {
        struct stat st;
        if (f.kind == format::FdKind::PtySlave && f.object == index &&
            (stat(proc_path(m.pid, "fd/" + std::to_string(f.fd)).c_str(), &st) != 0 || st.st_dev != peer_st.st_dev))
          refuse_pty(pid, index, "fd " + std::to_string(f.fd) + " of pid " + std::to_string(m.pid) + " is /dev/pts/" +
                                     std::to_string(index) + " of another devpts instance than its master's");
      }
    if (std::string h = holder_outside(index, peer_st.st_dev, dumped); !h.empty())
      refuse_pty(pid, index, "it is also open in " + h + ", outside the dump");
    if (get_int(master.get(), TIOCGETD) != 0 || get_int(slave.get(), TIOCGETD) != 0)
      refuse_pty(pid, index, "its line discipline is not N_TTY");

    format::Pty p;
    p.id = index;
    x86::TtySettings s;
    if (!x86::get_tty_settings(master.get(), s)) refuse_pty(pid, index, std::string("TCGETS2: ") + std::strerror(errno));
    p.iflag = s.iflag, p.oflag = s.oflag, p.cflag = s.cflag, p.lflag = s.lflag, p.line = s.line;
    p.cc.assign(s.cc, s.cc + sizeof s.cc);
    p.ispeed = s.ispeed, p.ospeed = s.ospeed;
    struct winsize ws {};
    if (ioctl(master.get(), TIOCGWINSZ, &ws) != 0) refuse_pty(pid, index, std::string("TIOCGWINSZ: ") + std::strerror(errno));
    p.rows = ws.ws_row, p.cols = ws.ws_col, p.xpixel = ws.ws_xpixel, p.ypixel = ws.ws_ypixel;
    int packet = get_int(master.get(), TIOCGPKT), locked = get_int(master.get(), TIOCGPTLCK);
    int excl_m = get_int(master.get(), TIOCGEXCL), excl_s = get_int(slave.get(), TIOCGEXCL);
    if (packet < 0 || locked < 0 || excl_m < 0 || excl_s < 0)
      refuse_pty(pid, index, std::string("cannot read its modes: ") + std::strerror(errno));
    p.packet = packet != 0, p.locked = locked != 0, p.excl_master = excl_m != 0, p.excl_slave = excl_s != 0;

    // Controlling terminal: of a session whose leader is in the dump, with
    // a foreground group of the dump (TIOCGSID and TIOCGPGRP through the
    // master answer whoever asks).
    pid_t sid = 0;
    if (ioctl(master.get(), TIOCGSID, &sid) == 0) {
      if (!dumped.count(sid))
        refuse_pty(pid, index, "it is the controlling terminal of session " + std::to_string(sid) +
                                   ", whose leader is not in the dump");
      pid_t fg = 0;
      bool fg_inside = false;
      if (ioctl(master.get(), TIOCGPGRP, &fg) == 0)
        for (const auto& [m, g] : pgid_of) fg_inside |= g == fg;
      if (!fg_inside)
        refuse_pty(pid, index, "it is the controlling terminal of session " + std::to_string(sid) +
                                   ", but its foreground process group (" + std::to_string(fg) + ") is not in the dump");
      p.session = sid, p.foreground = fg;
    }

    // Queued data, each way (x86/TtyQueue.h).
    const bool canonical = x86::tty_is_canonical(s);
    pollfd mp{master.get(), POLLIN | POLLPRI, 0}, sp{slave.get(), POLLOUT, 0};
    poll(&mp, 1, 0);
    poll(&sp, 1, 0);
    const bool writable = sp.revents & POLLOUT;
    const int in_now = x86::tty_queued(slave.get()), out_now = x86::tty_queued(master.get());
    if (packet && (mp.revents & POLLPRI))
      refuse_pty(pid, index, "a packet-mode status byte is waiting for the master's reader");
    if (out_now > 0 && !writable)
      refuse_pty(pid, index, std::to_string(out_now) + " bytes wait for the master's reader while the slave's output "
                                 "is stopped (^S or tcflow): they could not be put back");
    if (out_now > 0 && packet && (s.lflag & EXTPROC))
      refuse_pty(pid, index, std::to_string(out_now) + " bytes wait for the master's reader in packet mode with "
                                 "EXTPROC: putting them back would queue a status byte");
    if (in_now > 0 && !canonical && !x86::tty_input_is_raw(s) && packet && (s.lflag & EXTPROC))
      refuse_pty(pid, index, std::to_string(in_now) + " bytes of input wait for the slave's reader in packet mode "
                                 "with EXTPROC: putting them back would queue a status byte");
    const bool may_clear_ixon = !packet && writable;
    if (in_now > 0 && !canonical && !x86::tty_input_is_raw(s) && (s.iflag & IXON) && !may_clear_ixon)
      refuse_pty(pid, index, std::to_string(in_now) + " bytes of raw input wait for the slave's reader with flow "
                                 "control on " + (packet ? "in packet mode" : "and output stopped") +
                                 ": they could not be put back exactly");
    Queues q = move_queues(pid, index, master.get(), s, packet, may_clear_ixon);
    size_t in_bytes = 0;
    for (const x86::TtyLine& l : q.input) in_bytes += l.bytes.size();
    if (in_bytes > format::kMaxPtyQueueBytes || q.input.size() > format::kMaxPtyQueueBytes)
      refuse_pty(pid, index, std::to_string(in_bytes) + " bytes of input wait for the slave's reader, more than " +
                                 std::to_string(format::kMaxPtyQueueBytes) + " (one line discipline's buffer)");
    if (q.output.size() > format::kMaxPtyQueueBytes)
      refuse_pty(pid, index, std::to_string(q.output.size()) + " bytes wait for the master's reader, more than " +
                                 std::to_string(format::kMaxPtyQueueBytes) + " (one line discipline's buffer)");
    for (x86::TtyLine& l : q.input) p.input.push_back({std::move(l.bytes), l.end});
    p.output = std::move(q.output);
    out.push_back(std::move(p));
    } catch (const PtyRefused& r) {
      if (!left_out) throw;
      for (const PtyMember& m : members) leave_out_pty(*m.files, index, r.why, *left_out);
    }
  }
  return out;
}

}  // namespace ckpt::dumper
