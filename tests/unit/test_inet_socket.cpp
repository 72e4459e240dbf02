// The inet_sockets record (format/InetSocket.h): it round-trips, and every
// rule of docs/format.md §8 on sockets refuses a record that breaks it.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

#include "format/InetSocket.h"

using namespace ckpt::format;

namespace {

std::vector<uint8_t> in4(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto* p = reinterpret_cast<const uint8_t*>(&a);
  return {p, p + sizeof a};
}

// A table with one listening TCP socket and one UDP socket with a datagram.
FileTable valid() {
  FileTable t;
  InetSocket tcp;
  tcp.id = 10;
  tcp.family = AF_INET;
  tcp.type = SOCK_STREAM;
  tcp.protocol = IPPROTO_TCP;
  tcp.state = SocketState::Listening;
  tcp.local = in4(80);
  tcp.backlog = 128;
  tcp.options = {{SOL_SOCKET, SO_REUSEADDR, {1, 0, 0, 0}}};
  InetSocket udp = tcp;
  udp.id = 20;
  udp.type = SOCK_DGRAM;
  udp.protocol = IPPROTO_UDP;
  udp.state = SocketState::Connected;
  udp.backlog = 0;
  udp.peer = in4(53);
  udp.queue = {{in4(53), {'h', 'i'}}};
  t.inet_sockets = {tcp, udp};
  FdEntry a, b;
  a.fd = 3, a.kind = FdKind::InetSocket, a.object = 10;
  b.fd = 4, b.kind = FdKind::InetSocket, b.object = 20;
  t.fds = {a, b};
  return t;
}

std::string why(const FileTable& t) {
  try {
    validate_inet_sockets(t, [](const std::string& w) { throw std::runtime_error(w); });
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

void refused(const std::function<void(FileTable&)>& change, const char* words) {
  FileTable t = valid();
  change(t);
  std::string w = why(t);
  INFO(words << " -> " << w);
  CHECK(w.find(words) != std::string::npos);
}

}  // namespace

TEST_CASE("the record round-trips") {
  FileTable t = valid();
  t.inet_sockets[1].groups.clear();
  t.inet_sockets[1].multicast = {MulticastGroup{1, in4(0), 1, {in4(0)}}};
  std::vector<uint8_t> bytes = encode_inet_sockets(t.inet_sockets);
  std::vector<InetSocket> back = decode_inet_sockets(bytes.data(), bytes.size(), 0);
  REQUIRE(back.size() == 2);
  CHECK(back[0].local == t.inet_sockets[0].local);
  CHECK(back[0].backlog == 128);
  CHECK(back[0].options == t.inet_sockets[0].options);
  CHECK(back[1].peer == t.inet_sockets[1].peer);
  CHECK(back[1].queue[0].data == t.inet_sockets[1].queue[0].data);
  REQUIRE(back[1].multicast.size() == 1);
  CHECK(back[1].multicast[0].mode == 1);
  CHECK(back[1].multicast[0].sources == t.inet_sockets[1].multicast[0].sources);
  CHECK(why(t) == "");
  bytes.push_back(0);
  CHECK_THROWS(decode_inet_sockets(bytes.data(), bytes.size(), 0));
}

TEST_CASE("every rule refuses what breaks it") {
  refused([](FileTable& t) { t.inet_sockets[1].id = 10; }, "ascending");
  refused([](FileTable& t) { t.inet_sockets[0].family = AF_UNIX; }, "is not IPv4, IPv6 or netlink");
  refused([](FileTable& t) { t.inet_sockets[0].type = SOCK_RAW; }, "is not TCP, UDP or ping");
  refused([](FileTable& t) { t.inet_sockets[0].protocol = IPPROTO_ICMPV6; }, "is not TCP, UDP or ping");
  refused([](FileTable& t) { t.inet_sockets[0].groups = {1}; }, "only netlink sockets have groups");
  refused([](FileTable& t) { t.inet_sockets[1].state = SocketState::Listening; }, "only a TCP socket listens");
  refused([](FileTable& t) { t.inet_sockets[0].state = SocketState::Connected; }, "connected TCP");
  refused([](FileTable& t) { t.inet_sockets[0].queue = {{in4(1), {1}}}; }, "only a UDP socket has queued datagrams");
  refused([](FileTable& t) { t.inet_sockets[0].state = SocketState::Created; }, "local address is required");
  refused([](FileTable& t) { t.inet_sockets[0].local.pop_back(); }, "local address is not of its family");
  refused([](FileTable& t) { t.inet_sockets[1].peer.clear(); }, "peer address is required");
  refused([](FileTable& t) { t.inet_sockets[1].peer[0] = AF_INET6; }, "peer address is not of its family");
  refused([](FileTable& t) { t.inet_sockets[0].backlog = -1; }, "backlog out of range");
  refused([](FileTable& t) { t.inet_sockets[1].backlog = 5; }, "backlog out of range");
  refused([](FileTable& t) { t.inet_sockets[0].options.push_back({SOL_SOCKET, 9999, {}}); }, "unknown socket option");
  refused([](FileTable& t) { t.inet_sockets[1].queue[0].source.resize(28); }, "source is not of its family");
  refused([](FileTable& t) { t.inet_sockets[1].queue.assign(800, {in4(53), std::vector<uint8_t>(65536)}); },
          "more than 48 MiB");
  MulticastGroup g;
  g.ifindex = 1;
  g.group = in4(0);
  refused([&](FileTable& t) { t.inet_sockets[1].multicast = {g, g}; }, "joined twice");
  refused([&](FileTable& t) { t.inet_sockets[1].multicast = {g}, t.inet_sockets[1].multicast[0].ifindex = 0; },
          "without its interface");
  refused([&](FileTable& t) { t.inet_sockets[1].multicast = {g}, t.inet_sockets[1].multicast[0].mode = 2; },
          "neither include");
  refused([&](FileTable& t) { t.inet_sockets[1].multicast = {g}, t.inet_sockets[1].multicast[0].group.resize(28); },
          "not an address of its family");
  refused([&](FileTable& t) { t.inet_sockets[1].multicast = {g}, t.inet_sockets[1].multicast[0].sources = {{1, 2}}; },
          "source is not an address");
  refused([](FileTable& t) { t.fds[1].object = 99; }, "names no inet socket 99");
  refused([](FileTable& t) { t.fds[1].kind = FdKind::NetlinkSocket; }, "names no netlink socket");
  refused([](FileTable& t) { t.fds[1].object = 10; }, "named by two fd records");
  refused([](FileTable& t) { t.fds.pop_back(); }, "named by no fd");
}

TEST_CASE("netlink records") {
  FileTable t = valid();
  InetSocket& n = t.inet_sockets[1];
  n.family = AF_NETLINK, n.type = SOCK_RAW, n.protocol = NETLINK_ROUTE, n.state = SocketState::Bound;
  n.peer.clear(), n.queue.clear();
  sockaddr_nl nl{};
  nl.nl_family = AF_NETLINK;
  nl.nl_pid = 1234;
  auto* p = reinterpret_cast<const uint8_t*>(&nl);
  n.local.assign(p, p + sizeof nl);
  n.groups = {1, 0, 0, 0, 1};
  t.fds[1].kind = FdKind::NetlinkSocket;
  CHECK(why(t) == "");
  refused([&](FileTable& x) { x = t, x.inet_sockets[1].protocol = 16; }, "only netlink route (0) and uevent (15)");
  refused([&](FileTable& x) { x = t, x.inet_sockets[1].type = SOCK_STREAM; }, "SOCK_RAW or SOCK_DGRAM");
  refused([&](FileTable& x) { x = t, x.inet_sockets[1].state = SocketState::Listening; }, "created or bound");
  refused([&](FileTable& x) { x = t, x.inet_sockets[1].queue = {{n.local, {1}}}; }, "no queued datagrams");
  refused([&](FileTable& x) { x = t, x.fds[1].kind = FdKind::InetSocket; }, "names no inet socket");
  refused([&](FileTable& x) { x = t, x.inet_sockets[1].multicast = {MulticastGroup{1, in4(0), 0, {}}}; },
          "only an IPv4 or IPv6 socket joins");
  CHECK(inet_socket_text(n) == "netlink route port 1234");
  CHECK(inet_socket_text(valid().inet_sockets[0]) == "TCP 127.0.0.1:80");
}
