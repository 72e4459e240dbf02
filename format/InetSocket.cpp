// Network socket records (see InetSocket.h).
#include "format/InetSocket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>

#include "format/Codec.h"
#include "format/Limits.h"

namespace ckpt::format {

namespace {

size_t sockaddr_size(uint32_t family) {
  return family == AF_INET ? sizeof(sockaddr_in) : family == AF_INET6 ? sizeof(sockaddr_in6)
                                                                       : family == AF_NETLINK ? sizeof(sockaddr_nl) : 0;
}

bool is_inet(uint32_t family) { return family == AF_INET || family == AF_INET6; }

// What a sockaddr of `family` must look like: its size and its sa_family.
bool sockaddr_fits(const std::vector<uint8_t>& a, uint32_t family) {
  if (a.size() != sockaddr_size(family)) return false;
  uint16_t f;
  std::memcpy(&f, a.data(), 2);
  return f == family;
}

const char* protocol_name(const InetSocket& s) {
  if (s.family == AF_NETLINK) return s.protocol == 0 ? "netlink route" : s.protocol == 15 ? "netlink uevent" : "netlink";
  bool v6 = s.family == AF_INET6;
  switch (s.protocol) {
    case IPPROTO_TCP: return v6 ? "TCPv6" : "TCP";
    case IPPROTO_UDP: return v6 ? "UDPv6" : "UDP";
    case IPPROTO_ICMP: return "ping";
    case IPPROTO_ICMPV6: return "pingv6";
  }
  return "socket";
}

}  // namespace

const char* socket_state_name(SocketState state) {
  switch (state) {
    case SocketState::Created: return "created";
    case SocketState::Bound: return "bound";
    case SocketState::Listening: return "listening";
    case SocketState::Connected: return "connected";
  }
  return "unknown";
}

std::string sockaddr_text(const std::vector<uint8_t>& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (a.size() == sizeof(sockaddr_in)) {
    sockaddr_in in;
    std::memcpy(&in, a.data(), sizeof in);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (a.size() == sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    std::memcpy(&in6, a.data(), sizeof in6);
    inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
  }
  if (a.size() == sizeof(sockaddr_nl)) {
    sockaddr_nl nl;
    std::memcpy(&nl, a.data(), sizeof nl);
    return "port " + std::to_string(nl.nl_pid);
  }
  return "";
}

std::string inet_socket_text(const InetSocket& s) {
  std::string t = protocol_name(s);
  if (!s.local.empty()) t += " " + sockaddr_text(s.local);
  if (!s.peer.empty()) t += " to " + sockaddr_text(s.peer);
  return t;
}

std::vector<uint8_t> encode_inet_sockets(const std::vector<InetSocket>& sockets) {
  ByteWriter w;
  w.u32(uint32_t(sockets.size()));
  for (const InetSocket& s : sockets) {
    w.u64(s.id);
    w.u32(s.family);
    w.u32(s.type);
    w.u32(s.protocol);
    w.u32(uint32_t(s.state));
    w.blob(s.local);
    w.blob(s.peer);
    w.i32(s.backlog);
    put_socket_options(w, s.options);
    w.u32(uint32_t(s.queue.size()));
    for (const QueuedDatagram& d : s.queue) {
      w.blob(d.source);
      w.blob(d.data);
    }
    w.blob(s.groups);
    w.u32(uint32_t(s.multicast.size()));
    for (const MulticastGroup& g : s.multicast) {
      w.u32(g.ifindex);
      w.blob(g.group);
      w.u32(g.mode);
      w.u32(uint32_t(g.sources.size()));
      for (const auto& a : g.sources) w.blob(a);
    }
  }
  return w.bytes();
}

std::vector<InetSocket> decode_inet_sockets(const uint8_t* p, size_t n, uint64_t base) {
  ByteReader r(p, n, base);
  // Minimum record: id, family, type, protocol, state, two empty blobs,
  // backlog, no options, no datagrams, no groups, no multicast groups.
  std::vector<InetSocket> out(r.count("inet socket count", kMaxInetSockets, 8 + 4 * 4 + 4 + 4 + 4 + 4 + 4 + 4 + 4));
  for (InetSocket& s : out) {
    s.id = r.u64("socket id");
    s.family = r.u32("socket family");
    s.type = r.u32("socket type");
    s.protocol = r.u32("socket protocol");
    uint64_t at = r.offset();
    uint32_t state = r.u32("socket state");
    if (state < 1 || state > uint32_t(SocketState::Connected))
      throw FormatError(at, "unknown socket state " + std::to_string(state));
    s.state = SocketState(state);
    s.local = r.blob("socket local address", kMaxSockaddrBytes);
    s.peer = r.blob("socket peer address", kMaxSockaddrBytes);
    s.backlog = r.i32("listen backlog");
    s.options = get_socket_options(r);
    s.queue.resize(r.count("queued datagram count", kMaxQueuedDatagrams, 8));
    for (QueuedDatagram& d : s.queue) {
      d.source = r.blob("datagram source", kMaxSockaddrBytes);
      d.data = r.blob("datagram", kMaxDatagramBytes);
    }
    s.groups = r.blob("netlink groups", kMaxNetlinkGroupBytes);
    s.multicast.resize(r.count("multicast group count", kMaxMulticastGroups, 16));
    for (MulticastGroup& g : s.multicast) {
      g.ifindex = r.u32("multicast interface");
      g.group = r.blob("multicast group", kMaxSockaddrBytes);
      g.mode = r.u32("multicast filter mode");
      g.sources.resize(r.count("multicast source count", kMaxMulticastSources, 4));
      for (auto& a : g.sources) a = r.blob("multicast source", kMaxSockaddrBytes);
    }
  }
  r.expect_end("inet_sockets section");
  return out;
}

void validate_inet_sockets(const FileTable& files, const std::function<void(const std::string&)>& bad) {
  const std::vector<InetSocket>& all = files.inet_sockets;
  for (size_t i = 0; i < all.size(); ++i) {
    const InetSocket& s = all[i];
    auto bad_socket = [&](const std::string& why) { bad("socket " + std::to_string(s.id) + ": " + why); };
    if (i && s.id <= all[i - 1].id) bad_socket("ids must be ascending and unique");
    if (s.family == AF_NETLINK) {
      if (s.type != SOCK_RAW && s.type != SOCK_DGRAM) bad_socket("a netlink socket must be SOCK_RAW or SOCK_DGRAM");
      if (s.protocol != 0 && s.protocol != 15) bad_socket("only netlink route (0) and uevent (15) sockets are restored");
      if (s.state != SocketState::Created && s.state != SocketState::Bound) bad_socket("a netlink socket is created or bound");
      if (!s.queue.empty()) bad_socket("a netlink socket has no queued datagrams");
    } else if (is_inet(s.family)) {
      bool ok = (s.type == SOCK_STREAM && s.protocol == IPPROTO_TCP) ||
                (s.type == SOCK_DGRAM && s.protocol == IPPROTO_UDP) ||
                (s.type == SOCK_DGRAM && s.protocol == IPPROTO_ICMP && s.family == AF_INET) ||
                (s.type == SOCK_DGRAM && s.protocol == IPPROTO_ICMPV6 && s.family == AF_INET6);
      if (!ok) bad_socket("type " + std::to_string(s.type) + " protocol " + std::to_string(s.protocol) + " is not TCP, UDP or ping");
      if (!s.groups.empty()) bad_socket("only netlink sockets have groups");
      if (s.state == SocketState::Listening && s.type != SOCK_STREAM) bad_socket("only a TCP socket listens");
      if (s.state == SocketState::Connected && s.type != SOCK_DGRAM) bad_socket("a connected TCP socket is not this record");
      if (!s.queue.empty() && s.protocol != IPPROTO_UDP) bad_socket("only a UDP socket has queued datagrams");
    } else {
      bad_socket("family " + std::to_string(s.family) + " is not IPv4, IPv6 or netlink");
    }
    if ((s.state == SocketState::Created) != s.local.empty())
      bad_socket("a local address is required exactly when it is bound, listening or connected");
    if (!s.local.empty() && !sockaddr_fits(s.local, s.family)) bad_socket("its local address is not of its family");
    if ((s.state == SocketState::Connected) != !s.peer.empty()) bad_socket("a peer address is required exactly when connected");
    if (!s.peer.empty() && !sockaddr_fits(s.peer, s.family)) bad_socket("its peer address is not of its family");
    if (s.backlog < 0 || (s.backlog && s.state != SocketState::Listening)) bad_socket("backlog out of range");
    validate_socket_options(s.options, bad_socket);
    uint64_t bytes = 0;
    for (const QueuedDatagram& d : s.queue) {
      if (!sockaddr_fits(d.source, s.family)) bad_socket("a queued datagram's source is not of its family");
      bytes += d.data.size();
    }
    if (bytes > kMaxBlobBytes) bad_socket("more than 48 MiB of queued datagrams");
    if (!s.multicast.empty() && !is_inet(s.family)) bad_socket("only an IPv4 or IPv6 socket joins multicast groups");
    std::vector<std::pair<uint32_t, std::vector<uint8_t>>> joined;
    for (const MulticastGroup& g : s.multicast) {
      uint32_t f = g.group.size() == sizeof(sockaddr_in6) ? AF_INET6 : AF_INET;
      if (!sockaddr_fits(g.group, f) || (f == AF_INET6 && s.family != AF_INET6))
        bad_socket("a multicast group is not an address of its family");
      if (g.ifindex == 0) bad_socket("a multicast group without its interface");
      if (g.mode > 1) bad_socket("a multicast filter mode is neither include (1) nor exclude (0)");
      for (const auto& a : g.sources)
        if (!sockaddr_fits(a, f)) bad_socket("a multicast source is not an address of its group's family");
      joined.emplace_back(g.ifindex, g.group);
    }
    std::sort(joined.begin(), joined.end());
    if (std::adjacent_find(joined.begin(), joined.end()) != joined.end()) bad_socket("a multicast group is joined twice");
  }
  // Each socket is one open file description: named by exactly one fd record.
  std::vector<uint32_t> named(all.size(), 0);
  for (const FdEntry& f : files.fds) {
    bool inet = f.kind == FdKind::InetSocket, netlink = f.kind == FdKind::NetlinkSocket;
    if (!inet && !netlink) continue;
    auto it = std::lower_bound(all.begin(), all.end(), f.object, [](const InetSocket& s, uint64_t id) { return s.id < id; });
    if (it == all.end() || it->id != f.object || (it->family == AF_NETLINK) != netlink)
      bad("fd " + std::to_string(f.fd) + ": names no " + (netlink ? "netlink" : "inet") + " socket " + std::to_string(f.object));
    if (named[size_t(it - all.begin())]++) bad("socket " + std::to_string(f.object) + " is named by two fd records");
  }
  for (size_t i = 0; i < all.size(); ++i)
    if (!named[i]) bad("socket " + std::to_string(all[i].id) + " is named by no fd");
}

}  // namespace ckpt::format
