// Network sockets that are not live connections (see InetSocket.h).
#include "dumper/InetSocket.h"

#include <netinet/in.h>
#include <linux/tcp.h>  // the kernel's tcp_info (glibc's lacks tcpi_segs_*)
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "dumper/FdInfo.h"
#include "dumper/NetlinkSocket.h"
#include "dumper/Multicast.h"
#include "dumper/NetlinkDiag.h"
#include "dumper/OpenFiles.h"
#include "dumper/ScopedFd.h"
#include "dumper/SocketOptions.h"
#include "format/InetSocket.h"
#include "format/Limits.h"

namespace ckpt::dumper {

using format::InetSocket;
using format::SocketState;

namespace {

constexpr int kTcpClose = 7, kTcpListen = 10;  // the kernel's TCP_CLOSE, TCP_LISTEN

const char* tcp_state_name(int state) {
  static const char* const kNames[] = {"?",         "ESTABLISHED", "SYN-SENT",   "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
                                       "TIME-WAIT", "CLOSE",       "CLOSE-WAIT", "LAST-ACK", "LISTEN",     "CLOSING",
                                       "NEW-SYN-RECV"};
  return state >= 0 && state < int(std::size(kNames)) ? kNames[state] : "?";
}

// The one place that refuses TCP connections (every state but CLOSE and
// LISTEN); live connections are a separate record (--tcp-established).
[[noreturn]] void refuse_tcp_connection(pid_t pid, int fd, int state) {
  refuse_fd(pid, fd, std::string("a TCP connection in state ") + tcp_state_name(state) +
                         " is not carried (only created, bound and listening TCP sockets are)");
}

int sockopt_int(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  return getsockopt(fd, level, name, &v, &len) == 0 ? v : -1;
}

std::vector<uint8_t> address(int fd, bool peer) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) : getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  if (r != 0) return {};
  auto* p = reinterpret_cast<const uint8_t*>(&a);
  return std::vector<uint8_t>(p, p + len);
}

// An address with no host and no port: what an unbound socket reports.
bool is_unbound(const std::vector<uint8_t>& a) {
  if (a.size() == sizeof(sockaddr_in)) {
    sockaddr_in in;
    std::memcpy(&in, a.data(), sizeof in);
    return in.sin_port == 0 && in.sin_addr.s_addr == 0;
  }
  if (a.size() == sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    std::memcpy(&in6, a.data(), sizeof in6);
    return in6.sin6_port == 0 && IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr);
  }
  return a.empty();
}

// Puts a socket's SO_PEEK_OFF back to what it was when this goes out of
// scope: peeking past the first datagram needs it, and the socket is the
// target's own.
class PeekOffset {
 public:
  PeekOffset(int fd, int saved) : fd_(fd), saved_(saved) {}
  ~PeekOffset() { setsockopt(fd_, SOL_SOCKET, SO_PEEK_OFF, &saved_, sizeof saved_); }
  PeekOffset(const PeekOffset&) = delete;
  PeekOffset& operator=(const PeekOffset&) = delete;

 private:
  int fd_, saved_;
};

// The datagrams waiting in a UDP socket, oldest first, peeked (nothing is
// consumed): the peek offset walks the queue and is put back afterwards.
std::vector<format::QueuedDatagram> peek_datagrams(pid_t pid, int fd, int copy) {
  std::vector<format::QueuedDatagram> out;
  std::vector<uint8_t> buf(format::kMaxDatagramBytes + 1);
  const int saved = sockopt_int(copy, SOL_SOCKET, SO_PEEK_OFF);
  PeekOffset restore_offset(copy, saved);
  int zero = 0;
  if (setsockopt(copy, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) != 0)
    refuse_fd(pid, fd, std::string("cannot walk its queued datagrams (SO_PEEK_OFF): ") + std::strerror(errno));
  uint64_t total = 0;
  for (;;) {
    sockaddr_storage from{};
    iovec iov{buf.data(), buf.size()};
    msghdr m{};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(copy, &m, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) refuse_fd(pid, fd, std::string("cannot peek at its queued datagrams: ") + std::strerror(errno));
    // A datagram of no bytes does not move the peek offset: the walk could not go past it.
    if (n == 0) refuse_fd(pid, fd, "an empty datagram is queued in it; queues holding one are not carried");
    if (size_t(n) > format::kMaxDatagramBytes)
      refuse_fd(pid, fd, "a queued datagram of " + std::to_string(n) + " bytes is larger than the format carries");
    if (out.size() >= format::kMaxQueuedDatagrams || (total += uint64_t(n)) > format::kMaxBlobBytes)
      refuse_fd(pid, fd, "more queued datagrams than the format carries (" + std::to_string(format::kMaxQueuedDatagrams) +
                             " or 48 MiB)");
    auto* a = reinterpret_cast<const uint8_t*>(&from);
    out.push_back({std::vector<uint8_t>(a, a + m.msg_namelen), std::vector<uint8_t>(buf.begin(), buf.begin() + n)});
  }
  return out;
}

}  // namespace

bool read_inet_socket(pid_t pid, int fd, format::FdEntry& f, std::vector<InetSocket>& sockets) {
  ScopedFd copy(copy_open_file(pid, fd));
  const int domain = sockopt_int(copy.get(), SOL_SOCKET, SO_DOMAIN);
  const int type = sockopt_int(copy.get(), SOL_SOCKET, SO_TYPE);
  const int protocol = sockopt_int(copy.get(), SOL_SOCKET, SO_PROTOCOL);
  if (domain == AF_PACKET) refuse_fd(pid, fd, "packet sockets (AF_PACKET) are not carried");
  if (domain != AF_INET && domain != AF_INET6 && domain != AF_NETLINK) return false;

  struct stat st, ours, theirs;
  if (fstat(copy.get(), &st) != 0) refuse_fd(pid, fd, std::string("cannot stat the socket: ") + std::strerror(errno));
  // sock_diag, the scratch sockets that check options, and restore all
  // work in the caller's network namespace.
  if (stat(proc_path(pid, "ns/net").c_str(), &theirs) != 0 || stat("/proc/self/ns/net", &ours) != 0 ||
      theirs.st_ino != ours.st_ino)
    refuse_fd(pid, fd, "its socket lives in another network namespace than ckpt's; dump from inside it (nsenter -n -t " +
                           std::to_string(pid) + ")");
  // A pending error (sk_err, which SO_ERROR would clear) or an error
  // queue (IP_RECVERR, timestamps) shows as POLLERR: neither is carried.
  pollfd events{copy.get(), POLLIN, 0};
  if (poll(&events, 1, 0) == 1 && (events.revents & POLLERR))
    refuse_fd(pid, fd, "an error is pending on the socket (SO_ERROR, or its error queue); it is not carried");
  InetSocket s;
  s.id = st.st_ino;
  s.family = uint32_t(domain);
  s.type = uint32_t(type);
  s.protocol = uint32_t(protocol);
  f.object = s.id;

  if (domain == AF_NETLINK) {
    f.kind = format::FdKind::NetlinkSocket;
    read_netlink_socket(pid, fd, copy.get(), s);
  } else {
    f.kind = format::FdKind::InetSocket;
    const std::string v = domain == AF_INET6 ? "IPv6 " : "IPv4 ";
    if (type == SOCK_RAW) refuse_fd(pid, fd, "raw " + v + "sockets (protocol " + std::to_string(protocol) + ") are not carried");
    bool tcp = type == SOCK_STREAM && protocol == IPPROTO_TCP, udp = type == SOCK_DGRAM && protocol == IPPROTO_UDP;
    bool ping = type == SOCK_DGRAM && (protocol == (domain == AF_INET ? int(IPPROTO_ICMP) : int(IPPROTO_ICMPV6)));
    if (!tcp && !udp && !ping)
      refuse_fd(pid, fd, v + "sockets of type " + std::to_string(type) + " and protocol " + std::to_string(protocol) +
                             " are not carried (only TCP, UDP and ping sockets are)");
    s.local = address(copy.get(), false);
    if (s.local.empty()) refuse_fd(pid, fd, std::string("getsockname: ") + std::strerror(errno));
    s.state = is_unbound(s.local) ? SocketState::Created : SocketState::Bound;
    if (s.state == SocketState::Created) s.local.clear();
    if (tcp) {
      tcp_info info{};
      socklen_t len = sizeof info;
      if (getsockopt(copy.get(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        refuse_fd(pid, fd, std::string("cannot read its TCP state (TCP_INFO): ") + std::strerror(errno));
      // TCP_MD5SIG keys cannot be read back (the kernel shows that there
      // are some, to CAP_NET_ADMIN only): refused when seen.
      if (tcp_md5_keys(domain, s.id))
        refuse_fd(pid, fd, "it has TCP MD5 signature keys (TCP_MD5SIG), which cannot be read back and are not carried");
      if (info.tcpi_state == kTcpListen) {
        // For a listener the kernel reports its accept queue in tcpi_unacked
        // and its backlog (sk_max_ack_backlog) in tcpi_sacked.
        if (info.tcpi_unacked)
          refuse_fd(pid, fd, "listening on " + format::sockaddr_text(s.local) + " with " + std::to_string(info.tcpi_unacked) +
                                 " connection(s) waiting to be accepted; they are not carried");
        s.state = SocketState::Listening;
        s.backlog = int32_t(info.tcpi_sacked);
      } else if (info.tcpi_state == kTcpClose) {
        // Created or bound, or a connection that ended (its segments
        // count), which is not a socket restore could make again.
        if (info.tcpi_segs_out || info.tcpi_segs_in)
          refuse_fd(pid, fd, "a TCP socket whose connection has ended (CLOSE) is not carried");
      } else {
        refuse_tcp_connection(pid, fd, info.tcpi_state);
      }
    } else {
      s.peer = address(copy.get(), true);
      if (!s.peer.empty()) s.state = SocketState::Connected;
      if (udp) {
        s.queue = peek_datagrams(pid, fd, copy.get());
      } else {
        char byte;
        if (recv(copy.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
          refuse_fd(pid, fd, "a ping socket with replies queued is not carried");
      }
    }
    // After peeking: the peek offset is the program's again.
    s.options = read_socket_options(pid, fd, copy.get(), domain, type, protocol);
    s.multicast = read_multicast_groups(pid, fd, copy.get(), domain);
  }
  sockets.push_back(std::move(s));  // read_files sorts them by id
  return true;
}

}  // namespace ckpt::dumper
