// Network sockets, restored (see InetSocket.h).
#include "restorer/InetSocket.h"

#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "format/InetSocket.h"
#include "format/Limits.h"
#include "restorer/Multicast.h"
#include "restorer/RestoreError.h"
#include "restorer/SocketOptions.h"

namespace ckpt::restorer {

using format::FdEntry;
using format::InetSocket;
using format::SocketState;

namespace {

// Closes a descriptor of the launcher's on every way out.
struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() { return std::exchange(fd, -1); }
};

const InetSocket& socket_of(const format::Image& image, const FdEntry& f) {
  const auto& all = image.files.inet_sockets;
  auto it = std::lower_bound(all.begin(), all.end(), f.object, [](const InetSocket& s, uint64_t id) { return s.id < id; });
  return *it;  // validation made sure it is there
}

std::string what(const FdEntry& f, const InetSocket& s) {
  return "fd " + std::to_string(f.fd) + " (" + format::inet_socket_text(s) + ")";
}

[[noreturn]] void fail(const FdEntry& f, const InetSocket& s, const std::string& why) {
  throw RestoreError(what(f, s) + ": " + why);
}

const sockaddr* sa(const std::vector<uint8_t>& a) { return reinterpret_cast<const sockaddr*>(a.data()); }

// The port of an IPv4 or IPv6 sockaddr (0 for anything else).
uint16_t port_of(const std::vector<uint8_t>& a) {
  if (a.size() < 4) return 0;
  uint16_t p;
  std::memcpy(&p, a.data() + 2, 2);  // sin_port and sin6_port sit at the same offset
  return ntohs(p);
}

// socket(), the options, and the bind: what check and make share.
int create_bound(const FdEntry& f, const InetSocket& s) {
  Fd fd(socket(int(s.family), int(s.type) | SOCK_CLOEXEC, int(s.protocol)));
  if (fd.fd < 0 && errno == EACCES && s.family != AF_NETLINK && s.type == SOCK_DGRAM && s.protocol != IPPROTO_UDP)
    fail(f, s, "cannot create a ping socket here: net.ipv4.ping_group_range does not include this caller's group");
  if (fd.fd < 0) fail(f, s, std::string("cannot create it: ") + std::strerror(errno));
  put_socket_options(fd.fd, s.options, what(f, s));
  if (s.state == SocketState::Created) return fd.release();
  if (s.family == AF_NETLINK) {
    if (bind(fd.fd, sa(s.local), socklen_t(s.local.size())) != 0)
      fail(f, s, std::string("cannot bind its port id again here: ") + std::strerror(errno));
    for (size_t byte = 0; byte < s.groups.size(); ++byte)
      for (int bit = 0; bit < 8; ++bit)
        if (s.groups[byte] & (1u << bit)) {
          int group = int(byte * 8 + size_t(bit) + 1);
          if (setsockopt(fd.fd, 270 /*SOL_NETLINK*/, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0)
            fail(f, s, "cannot join group " + std::to_string(group) + ": " + std::strerror(errno));
        }
    return fd.release();
  }
  if (bind(fd.fd, sa(s.local), socklen_t(s.local.size())) != 0) {
    if (errno == EADDRINUSE)
      fail(f, s, "port " + std::to_string(port_of(s.local)) + " is taken here (another socket is bound to " +
                     format::sockaddr_text(s.local) + ")");
    fail(f, s, std::string("cannot bind it to ") + format::sockaddr_text(s.local) + " here: " + std::strerror(errno));
  }
  return fd.release();
}

// A socket bound to a queued datagram's source, to send it again from there.
int bound_sender(const FdEntry& f, const InetSocket& s, const std::vector<uint8_t>& source) {
  const int family = source.size() == sizeof(sockaddr_in6) ? AF_INET6 : AF_INET;
  Fd fd(socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
  if (fd.fd < 0) fail(f, s, std::string("cannot create a socket to send its queued datagrams: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // An address that is not this machine's (a sender elsewhere) can be
  // bound with IP_FREEBIND and used as a source with IP_TRANSPARENT
  // (CAP_NET_ADMIN); without them such a source is refused below.
  if (family == AF_INET) {
    setsockopt(fd.fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    setsockopt(fd.fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof one);
  } else {
    setsockopt(fd.fd, IPPROTO_IPV6, 78 /*IPV6_FREEBIND*/, &one, sizeof one);
    setsockopt(fd.fd, IPPROTO_IPV6, 75 /*IPV6_TRANSPARENT*/, &one, sizeof one);
  }
  if (bind(fd.fd, sa(source), socklen_t(source.size())) != 0)
    fail(f, s, "cannot send a queued datagram again from its source " + format::sockaddr_text(source) + ": " +
                   std::strerror(errno));
  return fd.release();
}

// A sockaddr reduced to what tells senders apart: family, port, address
// (and IPv6 scope), so that lookups are exact comparisons.
std::string address_key(const std::vector<uint8_t>& a, bool any_address = false) {
  std::string key(reinterpret_cast<const char*>(a.data()), std::min<size_t>(a.size(), 4));  // family, port
  if (a.size() == sizeof(sockaddr_in)) {
    if (!any_address) key.append(reinterpret_cast<const char*>(a.data()) + offsetof(sockaddr_in, sin_addr), 4);
    else key.append(4, '\0');
  } else if (a.size() == sizeof(sockaddr_in6)) {
    if (!any_address) key.append(reinterpret_cast<const char*>(a.data()) + offsetof(sockaddr_in6, sin6_addr), 16 + 4);
    else key.append(20, '\0');
  }
  return key;
}

// The image's UDP sockets by the address they send from: datagrams one of
// the process's own sockets sent are sent again by that socket. One bound
// to the unspecified address sends from any address with its port (the
// address is then given with each send, IP_PKTINFO).
class Senders {
 public:
  explicit Senders(const format::Image& image) {
    for (const FdEntry& g : image.files.fds) {
      if (g.kind != format::FdKind::InetSocket) continue;
      const InetSocket& t = socket_of(image, g);
      if (t.protocol == IPPROTO_UDP && t.state != SocketState::Created) by_address_.emplace(address_key(t.local), &g);
    }
  }
  const FdEntry* find(const std::vector<uint8_t>& source) const {
    auto it = by_address_.find(address_key(source));
    if (it == by_address_.end()) it = by_address_.find(address_key(source, true));
    return it == by_address_.end() ? nullptr : it->second;
  }

 private:
  std::map<std::string, const FdEntry*> by_address_;
};

// Sends `data` from `fd` to `to`, from the address of `source`.
ssize_t send_from(int fd, const std::vector<uint8_t>& data, const std::vector<uint8_t>& to,
                  const std::vector<uint8_t>& source) {
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  msghdr m{};
  m.msg_name = const_cast<uint8_t*>(to.data());
  m.msg_namelen = socklen_t(to.size());
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  m.msg_control = control;
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
  if (source.size() == sizeof(sockaddr_in)) {
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, source.data() + offsetof(sockaddr_in, sin_addr), sizeof info.ipi_spec_dst);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    m.msg_controllen = CMSG_SPACE(sizeof info);
  } else {
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, source.data() + offsetof(sockaddr_in6, sin6_addr), sizeof info.ipi6_addr);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    m.msg_controllen = CMSG_SPACE(sizeof info);
  }
  return sendmsg(fd, &m, MSG_NOSIGNAL);  // an EPIPE is a refusal, not a death by SIGPIPE
}

// Where a datagram is sent to reach `s`: its own address, with loopback
// for "any" (as an IPv4-mapped address when the source is one).
std::vector<uint8_t> destination(const InetSocket& s, const std::vector<uint8_t>& source) {
  std::vector<uint8_t> to = s.local;
  if (to.size() == sizeof(sockaddr_in)) {
    sockaddr_in in;
    std::memcpy(&in, to.data(), sizeof in);
    if (in.sin_addr.s_addr == htonl(INADDR_ANY)) in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::memcpy(to.data(), &in, sizeof in);
  } else {
    sockaddr_in6 in6, from{};
    std::memcpy(&in6, to.data(), sizeof in6);
    if (source.size() == sizeof from) std::memcpy(&from, source.data(), sizeof from);
    if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) {
      if (IN6_IS_ADDR_V4MAPPED(&from.sin6_addr)) {
        static const uint8_t kMapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
        std::memcpy(&in6.sin6_addr, kMapped, 16);
      } else {
        in6.sin6_addr = in6addr_loopback;
      }
    }
    std::memcpy(to.data(), &in6, sizeof in6);
  }
  return to;
}

// How many datagrams wait in `fd` (peeked with the peek offset from 0,
// which is put back as it was).
size_t queued_count(int fd) {
  int saved = -1, zero = 0;
  socklen_t len = sizeof saved;
  getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &saved, &len);
  setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero);
  size_t n = 0;
  static char buf[format::kMaxDatagramBytes + 1];
  while (recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT) > 0) ++n;
  setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &saved, sizeof saved);
  return n;
}

}  // namespace

void check_inet_sockets(const format::Image& image) {
  int somaxconn = 4096;
  if (FILE* p = std::fopen("/proc/sys/net/core/somaxconn", "r")) {
    if (std::fscanf(p, "%d", &somaxconn) != 1) somaxconn = 4096;
    std::fclose(p);
  }
  const Senders senders(image);
  std::set<std::string> tried;  // datagram sources bound once each
  for (const FdEntry& f : image.files.fds) {
    if (f.kind != format::FdKind::InetSocket && f.kind != format::FdKind::NetlinkSocket) continue;
    const InetSocket& s = socket_of(image, f);
    if (s.state == SocketState::Listening && s.backlog > somaxconn)
      fail(f, s, "its listen backlog " + std::to_string(s.backlog) + " is above net.core.somaxconn (" +
                     std::to_string(somaxconn) + ") here");
    Fd scratch(create_bound(f, s));  // closed at once: the port is free, the options take
    if (std::string why = multicast_problem(s.multicast); !why.empty()) fail(f, s, why);
    for (const format::QueuedDatagram& d : s.queue)
      if (!senders.find(d.source) && tried.insert(address_key(d.source)).second) Fd sender(bound_sender(f, s, d.source));
  }
}

int make_inet_socket(const format::Image& image, const FdEntry& f) {
  const InetSocket& s = socket_of(image, f);
  Fd fd(create_bound(f, s));
  if (s.state == SocketState::Listening && listen(fd.fd, s.backlog) != 0)
    fail(f, s, std::string("cannot listen: ") + std::strerror(errno));
  if (s.state == SocketState::Connected && connect(fd.fd, sa(s.peer), socklen_t(s.peer.size())) != 0)
    fail(f, s, "cannot connect it to " + format::sockaddr_text(s.peer) + " again: " + std::strerror(errno));
  join_multicast_groups(fd.fd, s.multicast, what(f, s));
  return fd.release();
}

void fill_inet_queues(const format::Image& image, const std::map<int32_t, int>& created,
                      const std::set<int32_t>& reused) {
  const Senders senders(image);
  std::map<std::string, Fd> helpers;  // source -> a socket bound there for the purpose
  for (const FdEntry& f : image.files.fds) {
    if (f.kind != format::FdKind::InetSocket || reused.count(f.fd)) continue;
    const InetSocket& s = socket_of(image, f);
    if (s.queue.empty()) continue;
    const int target = created.at(f.fd);
    for (const format::QueuedDatagram& d : s.queue) {
      int from = -1;
      if (const FdEntry* own = senders.find(d.source)) {
        from = created.at(own->fd);
      } else {
        auto it = helpers.find(address_key(d.source));
        if (it == helpers.end()) it = helpers.try_emplace(address_key(d.source), bound_sender(f, s, d.source)).first;
        from = it->second.fd;
      }
      if (send_from(from, d.data, destination(s, d.source), d.source) != ssize_t(d.data.size()))
        fail(f, s, "cannot send a queued datagram again from " + format::sockaddr_text(d.source) + ": " +
                       std::strerror(errno));
    }
    // Loopback delivers through a softirq, possibly later under load: wait
    // until every datagram is in the queue, for as long as more keep
    // arriving (2 s without one: the rest were dropped).
    size_t have = 0;
    for (int idle = 0; idle < 200 && have < s.queue.size(); ++idle) {
      size_t now = queued_count(target);
      if (now > have) idle = 0;
      have = now;
      if (have < s.queue.size()) poll(nullptr, 0, 10);
    }
    if (have != s.queue.size())
      fail(f, s, std::to_string(s.queue.size()) + " datagrams were sent to it again but " + std::to_string(have) +
                     " arrived (a full receive buffer, or a filter)");
  }
}

}  // namespace ckpt::restorer
