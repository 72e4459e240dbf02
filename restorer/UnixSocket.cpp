// Unix sockets at restore (see UnixSocket.h).
#include "restorer/UnixSocket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <set>
#include <tuple>

#include "restorer/DeletedFiles.h"
#include "restorer/RestoreError.h"
#include "x86/UnixDiag.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

namespace ckpt::restorer {

using format::UnixMessage;
using format::UnixSocket;

namespace {

std::string what(const UnixSocket& s) {
  return std::string("unix ") + format::unix_type_name(s.type) + " socket " + std::to_string(s.ino) +
         (s.name.empty() ? "" : " (" + format::unix_name_text(s.name) + ")");
}

[[noreturn]] void fail(const UnixSocket& s, const std::string& why) { throw RestoreError(what(s) + ": " + why); }
[[noreturn]] void fail_errno(const UnixSocket& s, const std::string& why) {
  fail(s, why + ": " + std::strerror(errno));
}

bool is_path(const std::string& name) { return !name.empty() && name[0] != '\0'; }

socklen_t address(const std::string& name, sockaddr_un& a) {
  a = {};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, name.data(), std::min(name.size(), sizeof a.sun_path));
  return socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + (is_path(name) ? 1 : 0));
}

// The file a path name binds, as restore sees it (relative names from the
// saved working directory, where bind will run).
std::string file_of(const format::Image& image, const std::string& name) {
  return name[0] == '/' ? name : image.task.cwd + "/" + name;
}

// Whether a socket file is stale: no socket of this network namespace is
// bound to it any more (what is left after its server was killed).
bool is_stale(const struct stat& st, const std::map<uint64_t, x86::UnixDiag>& table) {
  for (const auto& [ino, d] : table)
    if (d.has_vfs && d.vfs_ino == uint64_t(st.st_ino) && (d.vfs_dev >> 20) == major(st.st_dev) &&
        (d.vfs_dev & 0xfffff) == minor(st.st_dev))
      return false;
  return true;
}

// net.core.somaxconn, 4096 where it cannot be read. A plain read: a C++
// stream would set up the locales, which costs restore's start-up more than
// the read (docs/benchmarks.md, "i").
int somaxconn() {
  int fd = ::open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 4096;
  char buf[32];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 4096;
  buf[n] = '\0';
  char* end = nullptr;
  long v = std::strtol(buf, &end, 10);
  return end == buf || v < 0 || v > INT_MAX ? 4096 : int(v);
}

// The records that bind their name (all named ones but those sharing a listener's).
bool owns_name(const UnixSocket& s) { return !s.name.empty() && !s.listener; }

// Sets the saved options on `f` (what differs from its present values).
void apply_options(int f, const UnixSocket& s) {
  auto get = [&](int opt) {
    int v = 0;
    socklen_t l = sizeof v;
    return getsockopt(f, SOL_SOCKET, opt, &v, &l) == 0 ? v : INT_MIN;
  };
  auto set = [&](int opt, int v, const char* name) {
    if (get(opt) == v) return;
    if (setsockopt(f, SOL_SOCKET, opt, &v, sizeof v) != 0 || get(opt) != v)
      fail_errno(s, std::string("cannot set ") + name + " to " + std::to_string(v));
  };
  // The kernel stores twice what it is given; FORCE passes net.core.*mem_max (CAP_NET_ADMIN).
  auto buffer = [&](int opt, int force, uint32_t want, const char* name) {
    if (get(opt) == int(want)) return;
    int half = int(want / 2);
    if (setsockopt(f, SOL_SOCKET, opt, &half, sizeof half) == 0 && get(opt) == int(want)) return;
    if (setsockopt(f, SOL_SOCKET, force, &half, sizeof half) == 0 && get(opt) == int(want)) return;
    fail(s, std::string("cannot make ") + name + " " + std::to_string(want) + " here (it is " +
                std::to_string(get(opt)) + "; sizes above net.core.*mem_max need CAP_NET_ADMIN)");
  };
  buffer(SO_SNDBUF, SO_SNDBUFFORCE, s.sndbuf, "SO_SNDBUF");
  buffer(SO_RCVBUF, SO_RCVBUFFORCE, s.rcvbuf, "SO_RCVBUF");
  set(SO_PASSCRED, int(s.passcred), "SO_PASSCRED");
  set(SO_PASSSEC, int(s.passsec), "SO_PASSSEC");
  if (s.passpidfd || get(SO_PASSPIDFD) > 0) set(SO_PASSPIDFD, int(s.passpidfd), "SO_PASSPIDFD");
  set(SO_PEEK_OFF, s.peek_off, "SO_PEEK_OFF");
  set(SO_RCVLOWAT, s.rcvlowat, "SO_RCVLOWAT");
  set(SO_PRIORITY, s.priority, "SO_PRIORITY");
  for (auto [opt, us, name] : {std::tuple{SO_RCVTIMEO, s.rcvtimeo_us, "SO_RCVTIMEO"},
                               std::tuple{SO_SNDTIMEO, s.sndtimeo_us, "SO_SNDTIMEO"}}) {
    timeval tv{time_t(us / 1000000), suseconds_t(us % 1000000)};
    if (us && setsockopt(f, SOL_SOCKET, opt, &tv, sizeof tv) != 0) fail_errno(s, std::string("cannot set ") + name);
  }
}

}  // namespace

UnixSockets::UnixSockets(UnixSockets&& o) noexcept
    : fds_(std::move(o.fds_)), bound_paths_(std::move(o.bound_paths_)) {
  o.fds_.clear();
  o.bound_paths_.clear();
}

UnixSockets::~UnixSockets() {
  for (const auto& [ino, fd] : fds_) ::close(fd);
  for (const std::string& p : bound_paths_) ::unlink(p.c_str());
}

void check_unix_sockets(const std::vector<UnixSocket>& sockets, const format::Image& image) {
  if (sockets.empty()) return;
  std::map<uint64_t, x86::UnixDiag> table;
  bool have_table = false;
  int backlog_limit = -1;  // read at the first listening socket
  auto max_backlog = [&] { return backlog_limit < 0 ? (backlog_limit = somaxconn()) : backlog_limit; };
  // The options, tried once per distinct combination on a scratch socket
  // (what this caller may set: buffer sizes above net.core.*mem_max and
  // priorities above 6 need CAP_NET_ADMIN).
  std::set<std::vector<int64_t>> tried;
  for (const UnixSocket& s : sockets) {
    if (s.state == format::kUnixQueued ||
        !tried.insert({s.type, s.sndbuf, s.rcvbuf, s.passsec, s.passpidfd, s.peek_off, s.rcvlowat, s.priority,
                       s.rcvtimeo_us, s.sndtimeo_us})
             .second)
      continue;
    int scratch = socket(AF_UNIX, int(s.type) | SOCK_CLOEXEC, 0);
    if (scratch < 0) fail_errno(s, "cannot create a socket");
    try {
      apply_options(scratch, s);
    } catch (...) {
      ::close(scratch);
      throw;
    }
    ::close(scratch);
  }
  for (const UnixSocket& s : sockets) {
    if (s.state == format::kUnixListening && int64_t(s.backlog) > max_backlog())
      fail(s, "its backlog " + std::to_string(s.backlog) + " is above this machine's net.core.somaxconn " +
                  std::to_string(max_backlog()));
    if (!owns_name(s)) continue;
    if (!is_path(s.name)) {
      // Free now? A bind of the very name, undone at once, tells.
      int probe = socket(AF_UNIX, int(s.type) | SOCK_CLOEXEC, 0);
      if (probe < 0) fail_errno(s, "cannot create a socket");
      sockaddr_un a;
      socklen_t len = address(s.name, a);
      int r = bind(probe, reinterpret_cast<sockaddr*>(&a), len);
      int e = errno;
      ::close(probe);
      if (r != 0)
        fail(s, std::string("cannot bind its abstract name here: ") + std::strerror(e) +
                    (e == EADDRINUSE ? " (another socket has it: is the original still running?)" : ""));
      continue;
    }
    if (s.name[0] != '/' && deleted_cwd(image)) fail(s, "a relative name in a working directory that was deleted");
    const std::string path = file_of(image, s.name);
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) fail(s, "its path exists and is not a socket");
      if (!have_table) {
        try {
          table = x86::read_unix_diag();
        } catch (const std::exception& e) {
          throw RestoreError(what(s) + ": cannot tell whether its socket file is in use: " + e.what());
        }
        have_table = true;
      }
      if (!is_stale(st, table)) fail(s, "its path is bound by a live socket (is the original still running?)");
      // Only the original's own file is removed (a killed server leaves it):
      // never a socket file of someone else's that looks unused from here
      // (its socket may live in another network namespace).
      if (s.unlinked || uint64_t(st.st_ino) != s.file_ino || uint64_t(st.st_dev) != s.file_dev)
        fail(s, "its path holds a socket file that is not the one it was bound to");
      continue;  // stale: removed and bound again (create_unix_sockets)
    }
    if (errno != ENOENT) fail_errno(s, "cannot look at its path");
    const std::string dir = path.substr(0, path.rfind('/') + 1);
    if (stat(dir.empty() ? "." : dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      fail(s, "the directory of its path is missing");
  }
}

namespace {

class Creator {
 public:
  Creator(const std::vector<UnixSocket>& records, const format::Image& image, UnixSockets& out)
      : records_(records), image_(image), out_(out) {
    for (const UnixSocket& s : records) by_ino_[s.ino] = &s;
  }
  ~Creator() {
    if (scratch_ >= 0) ::close(scratch_);
  }
  void run();

 private:
  const UnixSocket& rec(uint64_t ino) const { return *by_ino_.at(ino); }
  int fd(uint64_t ino) const { return out_.fds_.at(ino); }
  bool is_pair(const UnixSocket& s) const {
    return s.state == format::kUnixConnected && !s.listener && rec(s.peer).peer == s.ino && !rec(s.peer).listener &&
           rec(s.peer).state == format::kUnixConnected;
  }
  void create();
  void bind_names();
  void connect_listeners();
  void send_data();
  void connect_one_way();
  void shut_down();
  void set_options();
  void finish_files();
  int sender_for(const UnixSocket& to, const UnixMessage& m);
  void send_all(const UnixSocket& to, int from, const UnixMessage& m, bool by_name);
  void connect_to(const UnixSocket& s, const UnixSocket& target);

  const std::vector<UnixSocket>& records_;
  const format::Image& image_;  // whose working directory relative names are bound from
  UnixSockets& out_;
  std::map<uint64_t, const UnixSocket*> by_ino_;
  int scratch_ = -1;  // an unnamed datagram socket for unnamed senders
};

void Creator::run() {
  // bind() and connect() of a relative name resolve it from the working
  // directory: the saved one (a deleted one was entered already).
  int saved_cwd = -1;
  bool relative = false;
  for (const UnixSocket& s : records_) relative |= is_path(s.name) && s.name[0] != '/';
  if (relative && !deleted_cwd(image_)) {
    saved_cwd = ::open(".", O_PATH | O_CLOEXEC);
    if (saved_cwd < 0 || chdir(image_.task.cwd.c_str()) != 0)
      throw RestoreError("unix sockets: cannot enter " + image_.task.cwd + " to bind relative names: " +
                         std::strerror(errno));
  }
  struct Back {
    int fd;
    ~Back() {
      if (fd >= 0) (void)!fchdir(fd), ::close(fd);
    }
  } back{saved_cwd};
  create();
  bind_names();
  connect_listeners();
  send_data();
  connect_one_way();
  shut_down();
  set_options();
  finish_files();
}

void Creator::create() {
  for (const UnixSocket& s : records_) {
    if (out_.fds_.count(s.ino) || s.state == format::kUnixQueued || s.listener) continue;  // made by the kernel
    const int type = int(s.type) | SOCK_CLOEXEC;
    if (is_pair(s)) {
      int sv[2];
      if (socketpair(AF_UNIX, type, 0, sv) != 0) fail_errno(s, "socketpair");
      out_.fds_[s.ino] = sv[0];
      out_.fds_[s.peer] = sv[1];
      continue;
    }
    int fd = socket(AF_UNIX, type, 0);
    if (fd < 0) fail_errno(s, "socket");
    out_.fds_[s.ino] = fd;
  }
}

void Creator::bind_names() {
  for (const UnixSocket& s : records_) {
    if (!owns_name(s)) continue;
    if (is_path(s.name)) {
      struct stat st;
      // A stale socket file (check_unix_sockets made sure) goes first.
      if (lstat(s.name.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && !s.unlinked &&
          uint64_t(st.st_ino) == s.file_ino && uint64_t(st.st_dev) == s.file_dev && unlink(s.name.c_str()) != 0)
        fail_errno(s, "cannot remove the stale socket file at its path");
    }
    sockaddr_un a;
    socklen_t len = address(s.name, a);
    if (bind(fd(s.ino), reinterpret_cast<sockaddr*>(&a), len) != 0) fail_errno(s, "cannot bind its name");
    if (is_path(s.name)) out_.bound_paths_.push_back(s.name);
  }
}

void Creator::connect_to(const UnixSocket& s, const UnixSocket& target) {
  sockaddr_un a;
  socklen_t len = address(target.name, a);
  if (connect(fd(s.ino), reinterpret_cast<sockaddr*>(&a), len) != 0)
    fail_errno(s, "cannot connect to " + format::unix_name_text(target.name));
}

void Creator::connect_listeners() {
  std::map<uint64_t, std::vector<const UnixSocket*>> accepted;  // listener -> its accepted connections
  for (const UnixSocket& s : records_)
    if (s.listener && s.state == format::kUnixConnected) accepted[s.listener].push_back(&s);
  for (const UnixSocket& l : records_) {
    if (l.state != format::kUnixListening) continue;
    // Room for every connection made here; the saved backlog is set last.
    const int room = int(std::max<size_t>(l.backlog, accepted[l.ino].size() + l.queue.size()));
    if (listen(fd(l.ino), room) != 0) fail_errno(l, "listen");
    for (const UnixSocket* a : accepted[l.ino]) {
      connect_to(rec(a->peer), l);
      int got = accept4(fd(l.ino), nullptr, nullptr, SOCK_CLOEXEC);
      if (got < 0) fail_errno(*a, "cannot accept it again");
      out_.fds_[a->ino] = got;
    }
    for (uint64_t q : l.queue) connect_to(rec(rec(q).peer), l);
    if (listen(fd(l.ino), int(l.backlog)) != 0) fail_errno(l, "listen");
  }
}

// Who sends a datagram again: the socket bound to the sender's name, the
// connected peer (an unnamed sender to a pair), or an unnamed scratch socket.
int Creator::sender_for(const UnixSocket& to, const UnixMessage& m) {
  if (!m.sender.empty()) {
    for (const UnixSocket& s : records_)
      if (s.type == 2 && owns_name(s) && s.name == m.sender) return fd(s.ino);
    fail(to, "the sender " + format::unix_name_text(m.sender) + " of a queued datagram is not in the image");
  }
  if (to.peer && rec(to.peer).peer == to.ino) return fd(to.peer);
  if (scratch_ < 0) {
    scratch_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (scratch_ < 0) fail_errno(to, "socket");
  }
  return scratch_;
}

void Creator::send_all(const UnixSocket& to, int from, const UnixMessage& m, bool by_name) {
  // The kernel attaches credentials when either end has SO_PASSCRED (or
  // SO_PASSPIDFD) at the time of sending: the receiver's decides here (a
  // sender's would autobind an unnamed datagram sender); both are set to
  // their saved values afterwards.
  const int on = int(m.creds), off = 0;
  setsockopt(from, SOL_SOCKET, SO_PASSCRED, &off, sizeof off);
  setsockopt(from, SOL_SOCKET, SO_PASSPIDFD, &off, sizeof off);
  setsockopt(fd(to.ino), SOL_SOCKET, SO_PASSPIDFD, &off, sizeof off);
  if (setsockopt(fd(to.ino), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
    fail_errno(to, "cannot set SO_PASSCRED to queue its data again");
  // Room in the sender's buffer for all it sends here: what it held at
  // the dump was charged under sizes the options step sets back.
  int big = INT_MAX / 2;
  if (setsockopt(from, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0)
    setsockopt(from, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  sockaddr_un a;
  socklen_t len = by_name ? address(to.name, a) : 0;
  size_t done = 0;
  do {
    ssize_t n = sendto(from, m.data.data() + done, m.data.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL,
                       by_name ? reinterpret_cast<sockaddr*>(&a) : nullptr, len);
    if (n < 0)
      fail_errno(to, "cannot queue its " + std::to_string(m.data.size()) + " unread bytes again");
    done += size_t(n);
  } while (to.type == 1 && done < m.data.size());
  if (done != m.data.size()) fail(to, "a queued message was cut short when sent again");
}

void Creator::send_data() {
  for (const UnixSocket& s : records_)
    for (const UnixMessage& m : s.messages) {
      if (s.type != 2) {
        send_all(s, fd(s.peer), m, false);
        continue;
      }
      const int from = sender_for(s, m);
      const bool pair = s.peer && rec(s.peer).peer == s.ino && from == fd(s.peer);
      send_all(s, from, m, !pair);
    }
}

void Creator::connect_one_way() {
  for (const UnixSocket& s : records_)
    if (s.type == 2 && s.peer && rec(s.peer).peer != s.ino) connect_to(s, rec(s.peer));
}

void Creator::shut_down() {
  for (const UnixSocket& s : records_) {
    if (!s.shutdown || s.state == format::kUnixQueued) continue;
    const int how = s.shutdown == 3 ? SHUT_RDWR : s.shutdown == 1 ? SHUT_RD : SHUT_WR;
    if (shutdown(fd(s.ino), how) != 0) fail_errno(s, "shutdown");
  }
}

void Creator::set_options() {
  for (const UnixSocket& s : records_)
    if (s.state != format::kUnixQueued) apply_options(fd(s.ino), s);
}

void Creator::finish_files() {
  for (const UnixSocket& s : records_) {
    if (!owns_name(s) || !is_path(s.name)) continue;
    if (s.unlinked) {
      if (unlink(s.name.c_str()) != 0) fail_errno(s, "cannot unlink its path again");
      std::erase(out_.bound_paths_, s.name);
      continue;
    }
    // Through a descriptor of the file itself: a symbolic link put at the
    // path meanwhile must not pass the owner and mode on to its target.
    const int file = ::open(s.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (file < 0 || fstat(file, &st) != 0 || !S_ISSOCK(st.st_mode)) {
      if (file >= 0) ::close(file);
      fail(s, "its socket file vanished or was replaced");
    }
    const std::string self = "/proc/self/fd/" + std::to_string(file);
    bool ok = (st.st_uid == s.file_uid && st.st_gid == s.file_gid) ||
              fchownat(file, "", s.file_uid, s.file_gid, AT_EMPTY_PATH) == 0;
    ok = ok && ((st.st_mode & 07777) == s.file_mode || chmod(self.c_str(), s.file_mode) == 0);
    int e = errno;
    ::close(file);
    errno = e;
    if (!ok)
      fail_errno(s, "cannot give its socket file its owner " + std::to_string(s.file_uid) + ":" +
                        std::to_string(s.file_gid) + " and mode " + std::to_string(s.file_mode));
  }
}

}  // namespace

UnixSockets create_unix_sockets(const std::vector<UnixSocket>& records, const format::Image& image) {
  UnixSockets out;
  Creator(records, image, out).run();
  return out;
}

}  // namespace ckpt::restorer
