// Unix sockets at dump (see UnixSocket.h).
#include "dumper/UnixSocket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "dumper/FdInfo.h"
#include "dumper/OpenFiles.h"
#include "dumper/ScopedFd.h"
#include "format/Limits.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

namespace ckpt::dumper {

using format::UnixMessage;
using format::UnixSocket;

namespace {

constexpr uint8_t kEstablished = 1, kClose = 7, kListen = 10;  // the kernel's TCP_* state numbers

std::string socket_text(const UnixSocketSet& set, uint64_t ino) {
  std::string s = "socket:[" + std::to_string(ino) + "]";
  auto it = set.table.find(ino);
  if (it != set.table.end() && !it->second.name.empty()) s += " " + format::unix_name_text(it->second.name);
  return s;
}

// The socket's own SO_PEEK_OFF, put back however the peeking ends.
class PeekOffset {
 public:
  PeekOffset(pid_t pid, int fd, int copy) : copy_(copy) {
    socklen_t l = sizeof saved_;
    if (getsockopt(copy, SOL_SOCKET, SO_PEEK_OFF, &saved_, &l) != 0)
      refuse_fd(pid, fd, std::string("unix socket: SO_PEEK_OFF: ") + std::strerror(errno));
  }
  ~PeekOffset() { setsockopt(copy_, SOL_SOCKET, SO_PEEK_OFF, &saved_, sizeof saved_); }
  int saved() const { return saved_; }
  bool seek(int off) { return setsockopt(copy_, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) == 0; }

 private:
  int copy_;
  int saved_ = -1;
};

// SO_PASSCRED on while peeking, so that each message shows who sent it;
// put back as it was.
class PassCred {
 public:
  PassCred(int copy) : copy_(copy) {
    socklen_t l = sizeof was_;
    if (getsockopt(copy, SOL_SOCKET, SO_PASSCRED, &was_, &l) != 0) was_ = 1;
    int on = 1;
    if (!was_) setsockopt(copy, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  }
  ~PassCred() {
    if (!was_) setsockopt(copy_, SOL_SOCKET, SO_PASSCRED, &was_, sizeof was_);
  }

 private:
  int copy_;
  int was_ = 1;
};

// A name as recvmsg gives it (msg_name, msg_namelen) in the record's form.
std::string sender_name(const sockaddr_un& a, socklen_t len) {
  const size_t off = offsetof(sockaddr_un, sun_path);
  if (len <= off) return {};
  std::string n(a.sun_path, std::min<size_t>(len - off, sizeof a.sun_path));
  if (!n.empty() && n[0] != '\0') n.resize(std::strlen(n.c_str()));
  return n;
}

// Every message in the receive queue, peeked at explicit offsets.
std::vector<UnixMessage> peek_queue(pid_t pid, int fd, int copy, const x86::UnixDiag& d, const UnixSocketSet& set) {
  auto refuse = [&](const std::string& why) { refuse_fd(pid, fd, "unix socket: " + why); };
  PeekOffset peek(pid, fd, copy);
  PassCred creds(copy);
  const bool stream = d.type == SOCK_STREAM;
  std::vector<UnixMessage> out;
  std::vector<uint8_t> buf(stream ? std::max<uint32_t>(d.rqueue, 1) : 65536);
  uint64_t off = 0;
  for (;;) {
    if (out.size() > format::kMaxUnixMessages) refuse("more than " + std::to_string(format::kMaxUnixMessages) + " queued messages");
    if (off > format::kMaxBlobBytes) refuse("more unread data than an image record holds");
    if (!peek.seek(int(off))) refuse(std::string("cannot set SO_PEEK_OFF: ") + std::strerror(errno));
    sockaddr_un from{};
    alignas(cmsghdr) char control[4096];
    iovec iov{buf.data(), buf.size()};
    msghdr m{};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n = recvmsg(copy, &m, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) refuse(std::string("cannot peek at its unread data: ") + std::strerror(errno));
    bool rights = false;
    uint32_t with_creds = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      // Restore sends the data again from the restored process itself, so
      // a receiver reading SCM_CREDENTIALS sees that process: exact only
      // for what a dumped process sent with the credentials it has now.
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && n > 0) {
        ucred u;
        std::memcpy(&u, CMSG_DATA(c), sizeof u);
        if (u.pid == 0) continue;  // sent without credentials
        with_creds = 1;
        if (!set.pids.count(u.pid) || u.uid != set.uid || u.gid != set.gid)
          refuse("a message in its receive queue was sent by pid " + std::to_string(u.pid) + " (uid " +
                 std::to_string(u.uid) + ", gid " + std::to_string(u.gid) +
                 "), not by a dumped process as it is now: its credentials could not be the same after restore");
      }
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        rights = true;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) ::close(reinterpret_cast<int*>(CMSG_DATA(c))[i]);
      }
    }
    if (rights || (m.msg_flags & MSG_CTRUNC))
      refuse("a message in its receive queue carries descriptors (SCM_RIGHTS in flight), which are not carried");
    if (n == 0 && (stream || (d.shutdown & 1))) break;  // end of the stream (or of a shut-down queue)
    if (!stream && size_t(n) > buf.size()) {  // longer than the buffer: again, whole
      buf.resize(size_t(n));
      continue;
    }
    UnixMessage msg;
    msg.data.assign(buf.begin(), buf.begin() + n);
    msg.creds = with_creds;
    if (d.type == SOCK_DGRAM) msg.sender = sender_name(from, m.msg_namelen);
    if (stream && !out.empty() && out.back().creds == msg.creds) {
      out.back().data.insert(out.back().data.end(), msg.data.begin(), msg.data.end());
    } else {
      out.push_back(std::move(msg));
    }
    off += uint64_t(n);
    if (stream && off >= d.rqueue) break;
  }
  uint64_t total = 0;
  for (const UnixMessage& m : out) total += m.data.size();
  if (d.type != SOCK_DGRAM && total != d.rqueue)
    refuse("peeking gave " + std::to_string(total) + " of its " + std::to_string(d.rqueue) +
           " unread bytes (out-of-band data?)");
  return out;
}

int int_option(pid_t pid, int fd, int copy, int opt, const char* name) {
  int v = 0;
  socklen_t l = sizeof v;
  if (getsockopt(copy, SOL_SOCKET, opt, &v, &l) != 0)
    refuse_fd(pid, fd, std::string("unix socket: ") + name + ": " + std::strerror(errno));
  return v;
}

int64_t timeout_option(pid_t pid, int fd, int copy, int opt, const char* name) {
  timeval tv{};
  socklen_t l = sizeof tv;
  if (getsockopt(copy, SOL_SOCKET, opt, &tv, &l) != 0)
    refuse_fd(pid, fd, std::string("unix socket: ") + name + ": " + std::strerror(errno));
  return int64_t(tv.tv_sec) * 1000000 + tv.tv_usec;
}

void read_options(pid_t pid, int fd, int copy, UnixSocket& s) {
  s.sndbuf = uint32_t(int_option(pid, fd, copy, SO_SNDBUF, "SO_SNDBUF"));
  s.rcvbuf = uint32_t(int_option(pid, fd, copy, SO_RCVBUF, "SO_RCVBUF"));
  s.passcred = int_option(pid, fd, copy, SO_PASSCRED, "SO_PASSCRED") != 0;
  s.passsec = int_option(pid, fd, copy, SO_PASSSEC, "SO_PASSSEC") != 0;
  int v = 0;
  socklen_t l = sizeof v;
  s.passpidfd = getsockopt(copy, SOL_SOCKET, SO_PASSPIDFD, &v, &l) == 0 && v;  // Linux 6.5+
  s.rcvtimeo_us = timeout_option(pid, fd, copy, SO_RCVTIMEO, "SO_RCVTIMEO");
  s.sndtimeo_us = timeout_option(pid, fd, copy, SO_SNDTIMEO, "SO_SNDTIMEO");
  s.rcvlowat = int_option(pid, fd, copy, SO_RCVLOWAT, "SO_RCVLOWAT");
  s.peek_off = int_option(pid, fd, copy, SO_PEEK_OFF, "SO_PEEK_OFF");
  s.priority = int_option(pid, fd, copy, SO_PRIORITY, "SO_PRIORITY");
  // Options a program can see that this version does not set again: refused
  // unless they have their default value.
  static const struct {
    int opt;
    const char* name;
    int normal;
  } kFixed[] = {
      {SO_KEEPALIVE, "SO_KEEPALIVE", 0},   {SO_OOBINLINE, "SO_OOBINLINE", 0},
      {SO_BROADCAST, "SO_BROADCAST", 0},   {SO_DONTROUTE, "SO_DONTROUTE", 0},
      {SO_TIMESTAMP, "SO_TIMESTAMP", 0},   {SO_TIMESTAMPNS, "SO_TIMESTAMPNS", 0},
      {SO_TIMESTAMPING, "SO_TIMESTAMPING", 0}, {SO_RXQ_OVFL, "SO_RXQ_OVFL", 0},
      {SO_MARK, "SO_MARK", 0},
  };
  for (const auto& o : kFixed)
    if (int_option(pid, fd, copy, o.opt, o.name) != o.normal)
      refuse_fd(pid, fd, std::string("unix socket: ") + o.name + " is set, which is not carried yet");
  if (getsockopt(copy, SOL_SOCKET, SO_PASSRIGHTS, &v, &(l = sizeof v)) == 0 && v != 1)
    refuse_fd(pid, fd, "unix socket: SO_PASSRIGHTS is off, which is not carried yet");
  linger lg{};
  socklen_t ll = sizeof lg;
  if (getsockopt(copy, SOL_SOCKET, SO_LINGER, &lg, &ll) == 0 && lg.l_onoff)
    refuse_fd(pid, fd, "unix socket: SO_LINGER is set, which is not carried yet");
  socklen_t fl = 0;
  if (getsockopt(copy, SOL_SOCKET, SO_GET_FILTER, nullptr, &fl) == 0 && fl != 0)
    refuse_fd(pid, fd, "unix socket: a socket filter (SO_ATTACH_FILTER) is attached, which is not carried");
}

// A path name: is its file still the one the socket is bound to? Keeps
// the file's mode and owner, or marks the name unlinked.
void read_socket_file(pid_t pid, int fd, const x86::UnixDiag& d, UnixSocket& s) {
  if (s.name.empty() || s.name[0] == '\0') return;
  // A relative name was resolved against the working directory of bind();
  // restore binds it from the saved one, so it must be found from there.
  const bool relative = s.name[0] != '/';
  const std::string path = relative ? proc_path(pid, "cwd/" + s.name) : s.name;
  struct stat st;
  const bool same = lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && d.has_vfs &&
                    uint64_t(st.st_ino) == d.vfs_ino && major(st.st_dev) == (d.vfs_dev >> 20) &&
                    minor(st.st_dev) == (d.vfs_dev & 0xfffff);
  if (same) {
    s.file_mode = st.st_mode & 0777;  // (set-id and sticky bits mean nothing on a socket)
    s.file_uid = st.st_uid;
    s.file_gid = st.st_gid;
    s.file_dev = st.st_dev;
    s.file_ino = st.st_ino;
  } else if (relative) {
    refuse_fd(pid, fd, "unix socket: bound to the relative name " + s.name +
                           ", whose file is not found from the working directory");
  } else {
    s.unlinked = 1;
  }
}

}  // namespace

UnixSocketSet read_unix_socket_set(pid_t pid, std::set<uint64_t> inside) {
  UnixSocketSet set;
  set.inside = std::move(inside);
  set.pids = {pid};
  std::ifstream status(proc_path(pid, "status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Uid:", 0) == 0) set.uid = uint32_t(std::stoul(line.substr(4)));
    if (line.rfind("Gid:", 0) == 0) set.gid = uint32_t(std::stoul(line.substr(4)));
  }
  struct stat mine, theirs;
  if (stat("/proc/self/ns/net", &mine) != 0 || stat(proc_path(pid, "ns/net").c_str(), &theirs) != 0)
    throw DumpError("pid " + std::to_string(pid) + ": cannot tell its network namespace: " + std::strerror(errno));
  try {
    if (mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev) {
      set.table = x86::read_unix_diag();
    } else {
      ScopedFd ns(::open(proc_path(pid, "ns/net").c_str(), O_RDONLY | O_CLOEXEC));
      if (ns.get() < 0) throw DumpError("cannot open its network namespace: " + std::string(std::strerror(errno)));
      set.table = x86::read_unix_diag(ns.get());
    }
  } catch (const std::runtime_error& e) {
    throw DumpError("pid " + std::to_string(pid) + ": " + e.what());
  }
  return set;
}

bool is_unix_socket(const UnixSocketSet& set, uint64_t ino) { return set.table.count(ino) != 0; }

std::vector<UnixSocket> read_unix_socket(pid_t pid, int fd, uint64_t ino, const UnixSocketSet& set, bool* outside) {
  auto refuse = [&](const std::string& why) { refuse_fd(pid, fd, "unix socket: " + why); };
  const x86::UnixDiag& d = set.table.at(ino);
  if (d.type != SOCK_STREAM && d.type != SOCK_DGRAM && d.type != SOCK_SEQPACKET)
    refuse("unknown socket type " + std::to_string(d.type));
  std::vector<UnixSocket> out(1 + d.icons.size());  // sized once: `s` stays valid
  UnixSocket& s = out[0];
  size_t queued_at = 1;
  s.ino = ino;
  s.type = d.type;
  s.name = d.name;
  s.shutdown = d.shutdown;
  const bool stream_like = d.type != SOCK_DGRAM;
  auto in_listener_queue = [&](uint64_t client) {
    for (uint64_t l : set.inside) {
      auto it = set.table.find(l);
      if (it != set.table.end() && it->second.state == kListen &&
          std::find(it->second.icons.begin(), it->second.icons.end(), client) != it->second.icons.end())
        return true;
    }
    return false;
  };

  if (d.state == kListen) {
    s.state = format::kUnixListening;
    s.backlog = d.wqueue;
    for (uint64_t client : d.icons) {
      if (client == 0) refuse("listening: a queued connection's client has closed (pending end of file)");
      if (!set.inside.count(client))
        refuse("listening: a queued connection comes from " + socket_text(set, client) +
               ", outside the dumped processes");
      // A connection not yet accepted has no file, so neither an inode nor a
      // row of the table: its id is derived from its client's inode
      // (socket inodes have 32 bits), and what its client sent it shows
      // as the client's bytes in flight.
      auto c = set.table.find(client);
      if (c == set.table.end()) refuse("listening: a queued connection vanished");
      const uint64_t embryo = format::unix_queued_id(client);
      if (c->second.wqueue)
        refuse("listening: a queued connection (from " + socket_text(set, client) +
               ") holds data its client sent before it was accepted, not carried");
      UnixSocket q;
      q.ino = embryo;
      q.type = d.type;
      q.state = format::kUnixQueued;
      q.name = d.name;
      q.peer = client;
      q.listener = ino;
      q.shutdown = ((c->second.shutdown & 1) << 1) | ((c->second.shutdown & 2) >> 1);  // the client's, mirrored
      s.queue.push_back(embryo);
      out[queued_at++] = std::move(q);
    }
  } else if (d.has_peer) {
    if (d.state != kEstablished) refuse("connection in state " + std::to_string(d.state) + " (being set up)");
    const bool queued = d.peer == 0 && stream_like && in_listener_queue(ino);
    if (d.peer == 0 && !queued)
      for (const auto& [l, ld] : set.table)  // queued on a listener of someone else's
        if (ld.state == kListen && std::find(ld.icons.begin(), ld.icons.end(), ino) != ld.icons.end()) {
          if (set.inherit_outside) return *outside = true, std::vector<UnixSocket>{};
          refuse("connecting to " + socket_text(set, l) + " (not yet accepted), outside the dumped processes");
        }
    if (d.peer == 0 && !queued)
      refuse(std::string("its peer has closed") +
             (stream_like ? " (a pending end of file or ECONNRESET cannot be read without consuming it)"
                          : " (its next send would fail with ECONNREFUSED)"));
    s.state = format::kUnixConnected;
    s.peer = queued ? format::unix_queued_id(ino) : d.peer;
    if (!queued && !set.inside.count(d.peer) && set.inherit_outside) return *outside = true, std::vector<UnixSocket>{};
    if (!queued && !set.inside.count(d.peer))
      refuse("connected to " + socket_text(set, d.peer) + ", outside the dumped processes");
    if (stream_like && !s.name.empty()) {
      // A named connected stream socket was accepted from the listener of
      // its name; or it is the connecting side, bound before (or autobound
      // by SO_PASSCRED when) connecting: its peer is then a connection
      // accepted from, or still queued on, a listener of the set.
      auto accepted_name = [&](const std::string& name) {
        for (uint64_t l : set.inside) {
          auto it = set.table.find(l);
          if (it != set.table.end() && it->second.state == kListen && it->second.type == d.type &&
              it->second.name == name)
            return l;
        }
        return uint64_t(0);
      };
      s.listener = accepted_name(d.name);
      auto p = queued ? set.table.end() : set.table.find(d.peer);
      const bool connector = queued || (p != set.table.end() && !p->second.name.empty() &&
                                        p->second.name != d.name && accepted_name(p->second.name));
      if (!s.listener && !connector)
        refuse("connected and named " + format::unix_name_text(s.name) +
               ", but no listener of the dumped processes has that name (accepted from a listener since closed, "
               "or bound before connecting): not carried");
    }
  } else {
    // (A datagram socket that another one connected to shows as established
    // too, without a peer of its own: the kernel sets both states.)
    if (d.state != kClose && !(d.type == SOCK_DGRAM && d.state == kEstablished))
      refuse("unexpected state " + std::to_string(d.state));
    s.state = format::kUnixUnconnected;
  }

  ScopedFd copy(copy_open_file(pid, fd));
  read_options(pid, fd, copy.get(), s);
  // Only a connected stream or seqpacket socket can hold data (peeking
  // another fails with EINVAL).
  if (s.state == format::kUnixConnected || !stream_like) s.messages = peek_queue(pid, fd, copy.get(), d, set);
  // Datagrams come back from their senders: each must be in the set.
  if (d.type == SOCK_DGRAM && s.peer) {
    auto p = set.table.find(s.peer);
    const bool pair = p != set.table.end() && p->second.has_peer && p->second.peer == ino;
    for (const UnixMessage& m : s.messages)
      if (pair && m.sender != p->second.name)
        refuse("a queued datagram came from " + format::unix_name_text(m.sender) + ", not from its connected peer " +
               socket_text(set, s.peer) + " as it is now (sent before the peer was bound?): not carried");
  }
  for (const UnixMessage& m : s.messages) {
    if (m.sender.empty()) {
      if (s.name.empty() && !(s.peer && set.table.count(s.peer) && set.table.at(s.peer).peer == ino))
        refuse("an unnamed socket holds a datagram from an unnamed sender other than its peer");
      continue;
    }
    bool found = false;
    for (uint64_t o : set.inside) {
      auto it = set.table.find(o);
      if (it != set.table.end() && it->second.type == SOCK_DGRAM && it->second.name == m.sender) found = true;
    }
    if (!found)
      refuse("a queued datagram came from " + format::unix_name_text(m.sender) +
             ", which no socket of the dumped processes is bound to (outside, or closed since): not carried");
  }
  read_socket_file(pid, fd, d, s);
  return out;
}

std::map<uint64_t, std::string> drop_orphaned_unix_sockets(std::vector<UnixSocket>& records) {
  std::map<uint64_t, std::string> dropped;
  for (bool again = true; again;) {
    again = false;
    std::set<uint64_t> have;
    std::set<std::string> names;
    for (const UnixSocket& s : records) {
      have.insert(s.ino);
      if (s.type == SOCK_DGRAM && !s.name.empty()) names.insert(s.name);
    }
    for (const UnixSocket& s : records) {
      std::string why;
      if (s.peer && !have.count(s.peer)) why = "its peer socket:[" + std::to_string(s.peer) + "] is left out";
      if (s.listener && !have.count(s.listener)) why = "its listener is left out";
      for (uint64_t q : s.queue)
        if (!have.count(q)) why = "a connection queued on it is left out";
      for (const UnixMessage& m : s.messages)
        if (!m.sender.empty() && !names.count(m.sender)) why = "the sender of a queued datagram is left out";
      if (!why.empty()) dropped.emplace(s.ino, why);
    }
    // A queued connection goes with its client, and the client with it.
    for (const UnixSocket& s : records)
      if (s.state == format::kUnixQueued && dropped.count(s.peer)) dropped.emplace(s.ino, "its client is left out");
    size_t before = records.size();
    std::erase_if(records, [&](const UnixSocket& s) { return dropped.count(s.ino) > 0; });
    again = records.size() != before;
  }
  return dropped;
}

}  // namespace ckpt::dumper
