// The tcp section: TCP connections carried with TCP_REPAIR (see TcpConnection.h).
#include "format/TcpConnection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "format/Image.h"
#include "format/ImageReader.h"
#include "format/Limits.h"

namespace ckpt::format {

const char* tcp_state_name(uint32_t state) {
  switch (state) {
    case 1: return "ESTABLISHED";
    case 2: return "SYN-SENT";
    case 3: return "SYN-RECV";
    case 4: return "FIN-WAIT-1";
    case 5: return "FIN-WAIT-2";
    case 6: return "TIME-WAIT";
    case 7: return "CLOSE";
    case 8: return "CLOSE-WAIT";
    case 9: return "LAST-ACK";
    case 10: return "LISTEN";
    case 11: return "CLOSING";
    case 12: return "NEW-SYN-RECV";
  }
  return "unknown";
}

bool tcp_option_excluded(uint32_t level, uint32_t name) {
  // The multicast options mean nothing on TCP and cannot be set on it; an
  // accepted connection reads the TTL, hop limit and interface of the
  // packet that opened it there.
  return (level == SOL_SOCKET && name == SO_REUSEADDR) ||
         (level == IPPROTO_TCP && (name == TCP_MAXSEG || name == TCP_WINDOW_CLAMP)) ||
         (level == IPPROTO_IP && (name == IP_MULTICAST_IF || name == IP_MULTICAST_TTL || name == IP_MULTICAST_LOOP)) ||
         (level == IPPROTO_IPV6 &&
          (name == IPV6_MULTICAST_IF || name == IPV6_MULTICAST_HOPS || name == IPV6_MULTICAST_LOOP));
}

std::string tcp_endpoint(uint32_t family, const std::array<uint8_t, 16>& addr, uint32_t port) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr.data(), text, sizeof text);
  return family == AF_INET6 ? "[" + std::string(text) + "]:" + std::to_string(port)
                            : std::string(text) + ":" + std::to_string(port);
}

static constexpr size_t kMinTcpRecord = 8 + 4 + 4 + 16 + 16 + 4 * 5 + 4 + 4 + 4 * 5 + 4 * 5 + 4 + 4 + 4;

std::vector<uint8_t> encode_tcp_connections(const std::vector<TcpConnection>& conns) {
  ByteWriter w;
  w.u32(uint32_t(conns.size()));
  for (const TcpConnection& c : conns) {
    w.u64(c.id);
    w.u32(c.family);
    w.u32(c.state);
    w.put(c.local_addr.data(), 16);
    w.put(c.peer_addr.data(), 16);
    w.u32(c.local_port);
    w.u32(c.peer_port);
    w.u32(c.send_seq);
    w.u32(c.recv_seq);
    w.u32(c.unsent);
    w.blob(c.send_queue);
    w.blob(c.recv_queue);
    w.u32(c.mss);
    w.u32(c.tcp_options);
    w.u32(c.snd_wscale);
    w.u32(c.rcv_wscale);
    w.u32(c.timestamp);
    w.u32(c.snd_wl1);
    w.u32(c.snd_wnd);
    w.u32(c.max_window);
    w.u32(c.rcv_wnd);
    w.u32(c.rcv_wup);
    put_socket_options(w, c.options);
    w.u32(c.reuseaddr);
    w.u32(c.shutdown);
  }
  return w.bytes();
}

static std::array<uint8_t, 16> get_address(ByteReader& r, const char* what) {
  std::array<uint8_t, 16> a{};
  uint64_t lo = r.u64(what), hi = r.u64(what);
  std::memcpy(a.data(), &lo, 8);
  std::memcpy(a.data() + 8, &hi, 8);
  return a;
}

std::vector<TcpConnection> decode_tcp_connections(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  std::vector<TcpConnection> conns(r.count("tcp connection count", kMaxTcpConnections, kMinTcpRecord));
  for (TcpConnection& c : conns) {
    c.id = r.u64("tcp id");
    c.family = r.u32("tcp family");
    c.state = r.u32("tcp state");
    c.local_addr = get_address(r, "tcp local address");
    c.peer_addr = get_address(r, "tcp peer address");
    c.local_port = r.u32("tcp local port");
    c.peer_port = r.u32("tcp peer port");
    c.send_seq = r.u32("tcp send sequence");
    c.recv_seq = r.u32("tcp receive sequence");
    c.unsent = r.u32("tcp unsent bytes");
    c.send_queue = r.blob("tcp send queue", kMaxBlobBytes);
    c.recv_queue = r.blob("tcp receive queue", kMaxBlobBytes);
    c.mss = r.u32("tcp mss");
    c.tcp_options = r.u32("tcp negotiated options");
    c.snd_wscale = r.u32("tcp send window scale");
    c.rcv_wscale = r.u32("tcp receive window scale");
    c.timestamp = r.u32("tcp timestamp");
    c.snd_wl1 = r.u32("tcp snd_wl1");
    c.snd_wnd = r.u32("tcp snd_wnd");
    c.max_window = r.u32("tcp max_window");
    c.rcv_wnd = r.u32("tcp rcv_wnd");
    c.rcv_wup = r.u32("tcp rcv_wup");
    c.options = get_socket_options(r);
    c.reuseaddr = r.u32("tcp SO_REUSEADDR");
    c.shutdown = r.u32("tcp shutdown");
  }
  r.expect_end("tcp section");
  return conns;
}

// a after b in sequence space (RFC 1982 style, as the kernel's after()).
static bool seq_after(uint32_t a, uint32_t b) { return int32_t(b - a) < 0; }

void validate_tcp_connections(const Image& image, const std::vector<SectionInfo>& sections) {
  uint64_t at = 0;
  for (const SectionInfo& s : sections)
    if (s.type == SectionType::Tcp) at = s.offset;
  const std::vector<TcpConnection>& conns = image.tcp;
  std::vector<bool> held(conns.size(), false);
  for (size_t i = 0; i < conns.size(); ++i) {
    const TcpConnection& c = conns[i];
    auto bad = [&](const std::string& why) {
      throw FormatError(at, "tcp connection #" + std::to_string(i) + " (socket " + std::to_string(c.id) + "): " + why);
    };
    if (i && c.id <= conns[i - 1].id) bad("not sorted by id, or a duplicate");
    if (c.family != AF_INET && c.family != AF_INET6) bad("unknown family " + std::to_string(c.family));
    if (!tcp_state_is_carried(c.state)) bad("state " + std::string(tcp_state_name(c.state)) + " is not carried");
    if (c.shutdown & ~uint32_t(kTcpShutRead | kTcpShutWrite | kTcpPeerFin)) bad("unknown shutdown bits");
    if (bool(c.shutdown & kTcpShutWrite) != tcp_state_has_our_fin(c.state))
      bad("its FIN (shutdown for writing) disagrees with its state " + std::string(tcp_state_name(c.state)));
    if (bool(c.shutdown & kTcpPeerFin) != tcp_state_has_peer_fin(c.state))
      bad("the peer's FIN disagrees with its state " + std::string(tcp_state_name(c.state)));
    if (c.state != kTcpEstablished && c.unsent)
      bad("data never sent in state " + std::string(tcp_state_name(c.state)));
    if (c.state == kTcpFinWait2 && !c.send_queue.empty()) bad("data to send after its FIN was acknowledged");
    if (c.family == AF_INET)
      for (size_t b = 4; b < 16; ++b)
        if (c.local_addr[b] || c.peer_addr[b]) bad("an IPv4 address with bytes past its fourth");
    if (c.local_port < 1 || c.local_port > 65535 || c.peer_port < 1 || c.peer_port > 65535) bad("a port outside 1..65535");
    if (c.unsent > c.send_queue.size()) bad("more unsent bytes than the send queue holds");
    if (c.mss < 1 || c.mss > 65535) bad("MSS " + std::to_string(c.mss) + " outside 1..65535");
    if (c.tcp_options & ~uint32_t(kTcpKnownOptions)) bad("unknown negotiated option bits");
    if (c.snd_wscale > 14 || c.rcv_wscale > 14) bad("a window scale above 14");
    if (!(c.tcp_options & kTcpWindowScale) && (c.snd_wscale || c.rcv_wscale)) bad("window scales without window scaling");
    // What TCP_REPAIR_WINDOW accepts once the receive queue is back.
    const uint32_t rcv_nxt = c.recv_seq + uint32_t(c.recv_queue.size()) + ((c.shutdown & kTcpPeerFin) ? 1 : 0);
    if (c.max_window < c.snd_wnd) bad("a send window above its largest");
    if (seq_after(c.rcv_wup, rcv_nxt)) bad("rcv_wup lies after the end of the receive queue");
    if (seq_after(c.snd_wl1, rcv_nxt + c.rcv_wnd)) bad("snd_wl1 lies beyond the receive window");
    validate_socket_options(c.options, bad);
    for (const SocketOption& o : c.options)
      if (tcp_option_excluded(o.level, o.name)) bad(socket_option_text(o) + " is not held as an ordinary option");
    if (c.reuseaddr > 1) bad("SO_REUSEADDR other than 0 or 1");
  }
  // Every tcp fd names a record; every record is held by some fd.
  const uint64_t files_at = [&] {
    for (const SectionInfo& s : sections)
      if (s.type == SectionType::Files) return s.offset;
    return uint64_t(0);
  }();
  for (const FdEntry& f : image.files.fds) {
    if (f.kind != FdKind::TcpConnection) continue;
    auto bad_fd = [&](const std::string& why) {
      throw FormatError(files_at, "files: fd " + std::to_string(f.fd) + " (tcp connection): " + why);
    };
    auto it = std::lower_bound(conns.begin(), conns.end(), f.object,
                               [](const TcpConnection& c, uint64_t id) { return c.id < id; });
    if (it == conns.end() || it->id != f.object) bad_fd("names socket " + std::to_string(f.object) + ", which the tcp section lacks");
    held[size_t(it - conns.begin())] = true;
    if ((f.flags & O_ACCMODE) != O_RDWR || (f.flags & ~uint32_t(O_ACCMODE | O_NONBLOCK | O_ASYNC)))
      bad_fd("flags other than O_RDWR, O_NONBLOCK and O_ASYNC");
    if (!f.locks.empty()) bad_fd("a socket holds no file locks");
  }
  for (size_t i = 0; i < conns.size(); ++i)
    if (!held[i]) throw FormatError(at, "tcp connection socket " + std::to_string(conns[i].id) + " is held by no fd");
}

}  // namespace ckpt::format
