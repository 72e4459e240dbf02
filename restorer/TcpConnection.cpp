// TCP connections brought back with TCP_REPAIR (see TcpConnection.h).
#include "restorer/TcpConnection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "restorer/RestoreError.h"
#include "restorer/SocketOptions.h"

namespace ckpt::restorer {

using format::TcpConnection;

namespace {

}  // namespace

const TcpConnection& tcp_record(const format::Image& image, const format::FdEntry& f) {
  auto it = std::lower_bound(image.tcp.begin(), image.tcp.end(), f.object,
                             [](const TcpConnection& c, uint64_t id) { return c.id < id; });
  if (it == image.tcp.end() || it->id != f.object)  // validation makes sure it is there
    throw RestoreError("fd " + std::to_string(f.fd) + ": its TCP connection is missing from the image");
  return *it;
}

namespace {

std::string text(const TcpConnection& c) {
  return "TCP connection " + format::tcp_endpoint(c.family, c.local_addr, c.local_port) + " -> " +
         format::tcp_endpoint(c.family, c.peer_addr, c.peer_port);
}

sockaddr_storage address(const TcpConnection& c, const std::array<uint8_t, 16>& addr, uint32_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (c.family == AF_INET6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(uint16_t(port));
    std::memcpy(&a.sin6_addr, addr.data(), 16);
    *len = sizeof a;
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(ss);
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    std::memcpy(&a.sin_addr, addr.data(), 4);
    *len = sizeof a;
  }
  return ss;
}

int set_int(int s, int level, int name, int v) { return setsockopt(s, level, name, &v, sizeof v); }

// Closes the socket unless released: a socket in repair mode closes
// without a packet, so every failure below leaves the peer untouched.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

// socket(), repair mode, the ordinary options, the queues' sequence
// numbers, bind and connect: what the phase-1 probe and the restore share.
void open_repaired(const TcpConnection& c, Socket& s, bool probe) {
  const std::string what = text(c);
  auto fail = [&](const std::string& step) {
    throw RestoreError(what + ": " + step + ": " + std::strerror(errno));
  };
  s.fd = socket(int(c.family), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (s.fd < 0) fail("cannot create its socket");
  if (set_int(s.fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) != 0) {
    if (errno == EPERM)
      throw RestoreError(what + ": restoring a TCP connection (TCP_REPAIR) needs CAP_NET_ADMIN in this network namespace");
    fail("cannot put its socket in repair mode");
  }
  // Options before connect: the window clamp follows the receive buffer,
  // and the queued data below must fit the buffers (SocketOptions.h: only
  // what a fresh socket lacks is set, then everything is read back).
  put_socket_options(s.fd, c.options, what);
  if (!probe) {
    if (set_int(s.fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) != 0 ||
        set_int(s.fd, IPPROTO_TCP, TCP_QUEUE_SEQ, int(c.send_seq)) != 0 ||
        set_int(s.fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) != 0 ||
        set_int(s.fd, IPPROTO_TCP, TCP_QUEUE_SEQ, int(c.recv_seq)) != 0)
      fail("cannot set its sequence numbers");
  }
  socklen_t len = 0;
  sockaddr_storage local = address(c, c.local_addr, c.local_port, &len);
  if (bind(s.fd, reinterpret_cast<sockaddr*>(&local), len) != 0)
    fail("cannot bind " + format::tcp_endpoint(c.family, c.local_addr, c.local_port) +
         (errno == EADDRNOTAVAIL ? " (the address is not on this machine)" : ""));
  sockaddr_storage peer = address(c, c.peer_addr, c.peer_port, &len);
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&peer), len) != 0) {
    if (errno == EADDRNOTAVAIL)
      throw RestoreError(what + ": the connection still exists here (the dumped process, or its restored copy, "
                                "still holds it; dump with --kill to move it)");
    fail("cannot connect it in repair mode");
  }
}

// Writes `n` bytes into the queue repair mode has selected (or, with repair
// mode off, sends them), all of them or an error.
void write_queue(int s, const uint8_t* p, size_t n, const std::string& what) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = send(s, p + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0)
      throw RestoreError(what + ": only " + std::to_string(done) + " of " + std::to_string(n) + " bytes fit (" +
                         (w < 0 ? std::strerror(errno) : "no progress") + ")");
    done += size_t(w);
  }
}

// The kernel charges queued bytes with their buffers' overhead, which for
// the restore's large writes is not the original's: while `bytes` are
// written, the buffer (SO_SNDBUF or SO_RCVBUF, as the options left it) is
// raised to hold them twice over, then set back. Raising it only where it
// was too small, which happens only for a queue larger than a fresh
// socket's buffer, so for a buffer the options had already set (locked).
class RoomFor {
 public:
  RoomFor(int s, int option, int force, size_t bytes) : s_(s), force_(force) {
    socklen_t len = sizeof before_;
    if (getsockopt(s, SOL_SOCKET, option, &before_, &len) != 0) return;
    const uint64_t need = uint64_t(bytes) * 2 + 65536;
    if (need <= uint64_t(before_) || need / 2 > uint64_t(INT32_MAX)) return;
    raised_ = set_int(s, SOL_SOCKET, force, int(need / 2)) == 0;
  }
  ~RoomFor() {
    if (raised_) set_int(s_, SOL_SOCKET, force_, before_ / 2);  // as the options left it
  }

 private:
  int s_, force_, before_ = 0;
  bool raised_ = false;
};

// A raw socket that writes whole IP packets (IPPROTO_RAW: the header is ours).
int raw_socket(uint32_t family) { return socket(int(family), SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW); }

uint32_t add16(const uint8_t* p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  return sum;
}

int tcp_state_of(int s) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return getsockopt(s, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? info.tcpi_state : -1;
}

// The peer's FIN, received before the dump, delivered again: TCP_REPAIR
// has no setting for it, so it comes as the segment the peer sent, FIN|ACK
// from the peer's address and port at the sequence number after the
// receive queue, acknowledging nothing new (snd_una), with the peer's
// window and no timestamp; a socket in repair mode takes it like any segment. It is sent
// through a raw socket (CAP_NET_RAW) to the local address, which is this
// machine's; the kernel may drop a packet whose source it finds impossible
// there (a remote peer seen on loopback): the state is checked, and a
// restore whose FIN did not arrive fails here, before the point of no return.
// An IPv6 socket talking to an IPv4 peer (a dual-stack listener's
// connection) holds IPv4-mapped addresses (::ffff:a.b.c.d), but the
// packets on the wire are IPv4.
bool v4_mapped(const std::array<uint8_t, 16>& a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), prefix, 12) == 0;
}

TcpConnection on_the_wire(const TcpConnection& c) {
  if (c.family != AF_INET6 || !v4_mapped(c.local_addr) || !v4_mapped(c.peer_addr)) return c;
  TcpConnection w = c;
  w.family = AF_INET;
  w.local_addr = {}, w.peer_addr = {};
  std::memcpy(w.local_addr.data(), c.local_addr.data() + 12, 4);
  std::memcpy(w.peer_addr.data(), c.peer_addr.data() + 12, 4);
  return w;
}

void deliver_peer_fin(const TcpConnection& saved, int sock, const std::string& what) {
  const TcpConnection c = on_the_wire(saved);
  const int before = tcp_state_of(sock);
  const int want = before == format::kTcpFinWait1 ? format::kTcpClosing : format::kTcpCloseWait;
  // No timestamp option: a repaired socket has no ts_recent yet, and the
  // one the option set would make PAWS drop the peer's next segments
  // whenever its clock reads "before" it; without the option the kernel
  // skips PAWS for this segment and leaves ts_recent to the peer's own.
  uint8_t tcp[20] = {};
  const size_t tcp_len = 20;
  auto put16 = [](uint8_t* p, uint32_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); };
  auto put32 = [](uint8_t* p, uint32_t v) { p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v); };
  put16(tcp, c.peer_port);
  put16(tcp + 2, c.local_port);
  put32(tcp + 4, c.recv_seq + uint32_t(c.recv_queue.size()));
  put32(tcp + 8, c.send_seq);
  tcp[12] = uint8_t((tcp_len / 4) << 4);
  tcp[13] = 0x11;  // FIN | ACK
  put16(tcp + 14, std::min<uint32_t>(c.snd_wnd >> c.snd_wscale, 65535));
  uint8_t packet[40 + 20] = {};
  size_t ip_len = 0, addr_len = c.family == AF_INET6 ? 16 : 4;
  uint32_t sum = add16(c.peer_addr.data(), addr_len, 0);
  sum = add16(c.local_addr.data(), addr_len, sum);
  sum += 6 + uint32_t(tcp_len);
  sum = add16(tcp, tcp_len, sum);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(tcp + 16, ~sum & 0xffff);
  if (c.family == AF_INET6) {
    ip_len = 40;
    packet[0] = 0x60;
    put16(packet + 4, uint32_t(tcp_len));
    packet[6] = 6, packet[7] = 64;
    std::memcpy(packet + 8, c.peer_addr.data(), 16);
    std::memcpy(packet + 24, c.local_addr.data(), 16);
  } else {
    ip_len = 20;
    packet[0] = 0x45;
    put16(packet + 2, uint32_t(ip_len + tcp_len));
    packet[6] = 0x40, packet[8] = 64, packet[9] = 6;  // DF, TTL, TCP; id and checksum filled in by the kernel
    std::memcpy(packet + 12, c.peer_addr.data(), 4);
    std::memcpy(packet + 16, c.local_addr.data(), 4);
  }
  std::memcpy(packet + ip_len, tcp, tcp_len);
  Socket raw;
  raw.fd = raw_socket(c.family);
  if (raw.fd < 0)
    throw RestoreError(what + ": cannot open a raw socket to deliver the peer's FIN again (needs CAP_NET_RAW): " +
                       std::strerror(errno));
  socklen_t len = 0;
  sockaddr_storage to = address(c, c.local_addr, 0, &len);
  if (sendto(raw.fd, packet, ip_len + tcp_len, 0, reinterpret_cast<sockaddr*>(&to), len) != ssize_t(ip_len + tcp_len))
    throw RestoreError(what + ": cannot deliver the peer's FIN again: " + std::strerror(errno));
  // Loopback delivers it at once, from softirq: a bounded wait for the state it makes.
  for (int i = 0; i < 5000 && tcp_state_of(sock) != want; ++i) usleep(1000);
  if (tcp_state_of(sock) != want)
    throw RestoreError(what + ": the peer's FIN delivered again did not arrive (state " +
                       format::tcp_state_name(uint32_t(tcp_state_of(sock))) + ", not " +
                       format::tcp_state_name(uint32_t(want)) + "): its source address may not be deliverable here");
}

}  // namespace

void check_tcp_connections(const format::Image& image) {
  bool raw_needed[2] = {false, false};
  for (const TcpConnection& c : image.tcp) {
    Socket s;
    open_repaired(c, s, true);  // closed in repair mode: nothing is sent
    if (c.shutdown & format::kTcpPeerFin) raw_needed[on_the_wire(c).family == AF_INET6] = true;
  }
  for (int v6 = 0; v6 < 2; ++v6) {
    if (!raw_needed[v6]) continue;
    Socket raw;
    raw.fd = raw_socket(v6 ? AF_INET6 : AF_INET);
    if (raw.fd < 0)
      throw RestoreError(std::string("the image holds a TCP connection whose peer had closed it (CLOSE-WAIT, LAST-ACK "
                                     "or CLOSING): delivering that FIN again needs a raw socket (CAP_NET_RAW): ") +
                         std::strerror(errno));
  }
}

int tcp_reuseaddr(const format::Image& image, const format::FdEntry& f) { return int(tcp_record(image, f).reuseaddr); }

bool tcp_corked(const format::Image& image, const format::FdEntry& f) {
  for (const format::SocketOption& o : tcp_record(image, f).options)
    if (o.level == IPPROTO_TCP && o.name == TCP_CORK)
      return std::any_of(o.value.begin(), o.value.end(), [](uint8_t b) { return b != 0; });
  return false;
}

int make_tcp_connection(const format::Image& image, const format::FdEntry& f) {
  const TcpConnection& c = tcp_record(image, f);
  const std::string what = text(c);
  Socket s;
  open_repaired(c, s, false);
  tcp_repair_opt opts[4];
  unsigned n = 0;
  opts[n++] = {2 /* TCPOPT_MSS */, c.mss};
  if (c.tcp_options & format::kTcpWindowScale) opts[n++] = {3 /* TCPOPT_WINDOW */, c.snd_wscale | (c.rcv_wscale << 16)};
  if (c.tcp_options & format::kTcpSack) opts[n++] = {4 /* TCPOPT_SACK_PERM */, 0};
  if (c.tcp_options & format::kTcpTimestamps) opts[n++] = {8 /* TCPOPT_TIMESTAMP */, 0};
  if (setsockopt(s.fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, socklen_t(n * sizeof opts[0])) != 0)
    throw RestoreError(what + ": cannot set its negotiated options (TCP_REPAIR_OPTIONS): " + std::strerror(errno));
  // The clock resumes ahead of the value read at dump: the original went on
  // sending (probes, data) while the rest of its dump ran, and the peer's
  // PAWS check drops a timestamp older than the last it saw, as the
  // restored side drops an echo "from the future" (seen: a stalled
  // connection after a dump that took 0.2 s). A jump forward is what any
  // idle connection shows; 2^24 ticks (hours in milliseconds, seconds in
  // microseconds: the low bit, usec_ts, is kept) is past any dump.
  if (set_int(s.fd, IPPROTO_TCP, TCP_TIMESTAMP, int(c.timestamp + (1u << 24))) != 0)
    throw RestoreError(what + ": cannot set its timestamp clock: " + std::strerror(errno));
  // The receive queue, then the part of the send queue the peer may have
  // seen (queued as sent: it is retransmitted if the peer did not get it).
  const size_t sent = c.send_queue.size() - c.unsent;
  if (set_int(s.fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) != 0)
    throw RestoreError(what + ": cannot select its receive queue: " + std::strerror(errno));
  {
    RoomFor room(s.fd, SO_RCVBUF, SO_RCVBUFFORCE, c.recv_queue.size());
    write_queue(s.fd, c.recv_queue.data(), c.recv_queue.size(), what + ": its receive queue");
  }
  if (set_int(s.fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE) != 0)
    throw RestoreError(what + ": cannot select its send queue: " + std::strerror(errno));
  {
    RoomFor room(s.fd, SO_SNDBUF, SO_SNDBUFFORCE, c.send_queue.size());
    write_queue(s.fd, c.send_queue.data(), sent, what + ": its send queue");
  }
  // The peer's FIN (CLOSE-WAIT) before the window, whose rcv_wup counts it.
  if (c.shutdown & format::kTcpPeerFin) deliver_peer_fin(c, s.fd, what);
  tcp_repair_window w{c.snd_wl1, c.snd_wnd, c.max_window, c.rcv_wnd, c.rcv_wup};
  if (setsockopt(s.fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) != 0)
    throw RestoreError(what + ": cannot set its window (TCP_REPAIR_WINDOW): " + std::strerror(errno));
  // Shutdowns, in repair mode: nothing is sent. Our FIN is queued as sent
  // behind the data the peer may have seen (or, behind data never sent,
  // by send_unsent); the peer acknowledges it again if it already had.
  if ((c.shutdown & format::kTcpShutWrite) && !c.unsent && shutdown(s.fd, SHUT_WR) != 0)
    throw RestoreError(what + ": cannot queue its FIN again: " + std::strerror(errno));
  if ((c.shutdown & format::kTcpShutRead) && shutdown(s.fd, SHUT_RD) != 0)
    throw RestoreError(what + ": cannot shut it down for reading again: " + std::strerror(errno));
  return s.release();
}

void send_unsent(const TcpConnection& c, int fd) {
  if (!c.unsent) return;
  const std::string what = text(c);
  // Never sent at dump: queued as new data, out of repair mode for the
  // moment, so the kernel sends it when the peer's window allows (queued
  // as sent, it would wait for retransmission timeouts).
  if (set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP) != 0)
    throw RestoreError(what + ": cannot leave repair mode to queue its unsent data: " + std::strerror(errno));
  try {
    RoomFor room(fd, SO_SNDBUF, SO_SNDBUFFORCE, c.send_queue.size());
    write_queue(fd, c.send_queue.data() + (c.send_queue.size() - c.unsent), c.unsent, what + ": its unsent data");
    // A FIN that waited behind them: after them, sent when they are.
    if ((c.shutdown & format::kTcpShutWrite) && shutdown(fd, SHUT_WR) != 0)
      throw RestoreError(what + ": cannot queue its FIN after its unsent data: " + std::strerror(errno));
  } catch (...) {
    set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON);  // so that closing it sends nothing more
    throw;
  }
  if (set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) != 0)
    throw RestoreError(what + ": cannot enter repair mode again: " + std::strerror(errno));
}

}  // namespace ckpt::restorer
