// The socket option table, its record and the rule that puts options back
// (see SocketOptions.h).
#include "format/SocketOptions.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "format/Limits.h"

namespace ckpt::format {

namespace {

constexpr uint32_t kSolIp = 0, kSolSocket = 1, kSolTcp = 6, kSolUdp = 17, kSolIpv6 = 41, kSolNetlink = 270;

#define INT_OPT(level, name, value) {level, value, #name, OptionKind::Int, 4, 0}

// Numbers from the kernel's uapi (asm-generic/socket.h, linux/in.h,
// linux/in6.h, linux/tcp.h, linux/udp.h), spelt out because Debian 12's
// headers predate some of them. Read-only options (SO_TYPE, SO_ERROR, which
// reading would clear, SO_COOKIE, TCP_INFO...) are not here: nothing to put
// back. Options that cannot be read (multicast memberships, reuseport BPF
// programs) are listed in docs/architecture.md, "Known gaps"; options that
// can be read but not put back exactly are refused by the dumper when set.
const std::vector<SocketOptionSpec> kTable = {
    // IPv4 level first: IP_TOS sets SO_PRIORITY too on a TCP socket.
    INT_OPT(kSolIp, IP_TOS, 1),
    INT_OPT(kSolIp, IP_TTL, 2),
    {kSolIp, 4, "IP_OPTIONS", OptionKind::Bytes, 40, 0},  // variable: 0..40 bytes (see kVariable below)
    INT_OPT(kSolIp, IP_RECVOPTS, 6),
    INT_OPT(kSolIp, IP_RETOPTS, 7),
    INT_OPT(kSolIp, IP_PKTINFO, 8),
    INT_OPT(kSolIp, IP_MTU_DISCOVER, 10),
    INT_OPT(kSolIp, IP_RECVERR, 11),
    INT_OPT(kSolIp, IP_RECVTTL, 12),
    INT_OPT(kSolIp, IP_RECVTOS, 13),
    INT_OPT(kSolIp, IP_FREEBIND, 15),
    INT_OPT(kSolIp, IP_PASSSEC, 18),
    INT_OPT(kSolIp, IP_TRANSPARENT, 19),
    INT_OPT(kSolIp, IP_RECVORIGDSTADDR, 20),
    INT_OPT(kSolIp, IP_MINTTL, 21),
    INT_OPT(kSolIp, IP_NODEFRAG, 22),
    INT_OPT(kSolIp, IP_BIND_ADDRESS_NO_PORT, 24),
    INT_OPT(kSolIp, IP_RECVFRAGSIZE, 25),
    INT_OPT(kSolIp, IP_RECVERR_RFC4884, 26),
    {kSolIp, 32, "IP_MULTICAST_IF", OptionKind::Bytes, 4, 0},  // struct in_addr
    INT_OPT(kSolIp, IP_MULTICAST_TTL, 33),
    INT_OPT(kSolIp, IP_MULTICAST_LOOP, 34),
    INT_OPT(kSolIp, IP_MULTICAST_ALL, 49),
    INT_OPT(kSolIp, IP_UNICAST_IF, 50),
    INT_OPT(kSolIp, IP_LOCAL_PORT_RANGE, 51),
    // IPv6 level.
    INT_OPT(kSolIpv6, IPV6_FLOWINFO, 11),
    INT_OPT(kSolIpv6, IPV6_UNICAST_HOPS, 16),
    INT_OPT(kSolIpv6, IPV6_MULTICAST_IF, 17),
    INT_OPT(kSolIpv6, IPV6_MULTICAST_HOPS, 18),
    INT_OPT(kSolIpv6, IPV6_MULTICAST_LOOP, 19),
    INT_OPT(kSolIpv6, IPV6_MTU_DISCOVER, 23),
    INT_OPT(kSolIpv6, IPV6_RECVERR, 25),
    INT_OPT(kSolIpv6, IPV6_V6ONLY, 26),
    INT_OPT(kSolIpv6, IPV6_MULTICAST_ALL, 29),
    INT_OPT(kSolIpv6, IPV6_ROUTER_ALERT_ISOLATE, 30),
    INT_OPT(kSolIpv6, IPV6_RECVERR_RFC4884, 31),
    INT_OPT(kSolIpv6, IPV6_FLOWINFO_SEND, 33),
    INT_OPT(kSolIpv6, IPV6_RECVPKTINFO, 49),
    INT_OPT(kSolIpv6, IPV6_RECVHOPLIMIT, 51),
    INT_OPT(kSolIpv6, IPV6_RECVHOPOPTS, 53),
    INT_OPT(kSolIpv6, IPV6_RECVRTHDR, 56),
    INT_OPT(kSolIpv6, IPV6_RECVDSTOPTS, 58),
    INT_OPT(kSolIpv6, IPV6_RECVPATHMTU, 60),
    INT_OPT(kSolIpv6, IPV6_DONTFRAG, 62),
    INT_OPT(kSolIpv6, IPV6_RECVTCLASS, 66),
    INT_OPT(kSolIpv6, IPV6_TCLASS, 67),
    INT_OPT(kSolIpv6, IPV6_AUTOFLOWLABEL, 70),
    INT_OPT(kSolIpv6, IPV6_ADDR_PREFERENCES, 72),
    INT_OPT(kSolIpv6, IPV6_MINHOPCOUNT, 73),
    INT_OPT(kSolIpv6, IPV6_RECVORIGDSTADDR, 74),
    INT_OPT(kSolIpv6, IPV6_TRANSPARENT, 75),
    INT_OPT(kSolIpv6, IPV6_UNICAST_IF, 76),
    INT_OPT(kSolIpv6, IPV6_RECVFRAGSIZE, 77),
    INT_OPT(kSolIpv6, IPV6_FREEBIND, 78),
    // Socket level. SO_RCVLOWAT before SO_RCVBUF: on TCP it grows an
    // unlocked receive buffer, which then needs no setting of its own.
    INT_OPT(kSolSocket, SO_DEBUG, 1),
    INT_OPT(kSolSocket, SO_REUSEADDR, 2),
    INT_OPT(kSolSocket, SO_DONTROUTE, 5),
    INT_OPT(kSolSocket, SO_BROADCAST, 6),
    INT_OPT(kSolSocket, SO_KEEPALIVE, 9),
    INT_OPT(kSolSocket, SO_OOBINLINE, 10),
    INT_OPT(kSolSocket, SO_NO_CHECK, 11),
    INT_OPT(kSolSocket, SO_PRIORITY, 12),
    {kSolSocket, 13, "SO_LINGER", OptionKind::Bytes, 8, 0},  // struct linger
    INT_OPT(kSolSocket, SO_REUSEPORT, 15),
    INT_OPT(kSolSocket, SO_PASSCRED, 16),
    INT_OPT(kSolSocket, SO_RCVLOWAT, 18),
    {kSolSocket, 8, "SO_RCVBUF", OptionKind::Buffer, 4, 33},   // SO_RCVBUFFORCE
    {kSolSocket, 7, "SO_SNDBUF", OptionKind::Buffer, 4, 32},   // SO_SNDBUFFORCE
    {kSolSocket, 20, "SO_RCVTIMEO", OptionKind::Bytes, 16, 0},  // struct timeval (SO_RCVTIMEO_OLD)
    {kSolSocket, 21, "SO_SNDTIMEO", OptionKind::Bytes, 16, 0},  // struct timeval (SO_SNDTIMEO_OLD)
    {kSolSocket, 25, "SO_BINDTODEVICE", OptionKind::String, 16, 0},  // IFNAMSIZ
    INT_OPT(kSolSocket, SO_TIMESTAMP, 29),
    INT_OPT(kSolSocket, SO_PASSSEC, 34),
    INT_OPT(kSolSocket, SO_TIMESTAMPNS, 35),
    INT_OPT(kSolSocket, SO_MARK, 36),
    INT_OPT(kSolSocket, SO_RXQ_OVFL, 40),
    INT_OPT(kSolSocket, SO_WIFI_STATUS, 41),
    INT_OPT(kSolSocket, SO_PEEK_OFF, 42),
    INT_OPT(kSolSocket, SO_LOCK_FILTER, 44),
    INT_OPT(kSolSocket, SO_SELECT_ERR_QUEUE, 45),
    INT_OPT(kSolSocket, SO_BUSY_POLL, 46),
    {kSolSocket, 47, "SO_MAX_PACING_RATE", OptionKind::Bytes, 8, 0},  // u64
    INT_OPT(kSolSocket, SO_INCOMING_CPU, 49),
    INT_OPT(kSolSocket, SO_ZEROCOPY, 60),
    {kSolSocket, 61, "SO_TXTIME", OptionKind::Bytes, 8, 0},  // struct sock_txtime
    INT_OPT(kSolSocket, SO_TIMESTAMP_NEW, 63),
    INT_OPT(kSolSocket, SO_TIMESTAMPNS_NEW, 64),
    INT_OPT(kSolSocket, SO_PREFER_BUSY_POLL, 69),
    INT_OPT(kSolSocket, SO_BUSY_POLL_BUDGET, 70),
    INT_OPT(kSolSocket, SO_RESERVE_MEM, 73),
    INT_OPT(kSolSocket, SO_TXREHASH, 74),
    INT_OPT(kSolSocket, SO_RCVMARK, 75),
    // TCP.
    INT_OPT(kSolTcp, TCP_NODELAY, 1),
    INT_OPT(kSolTcp, TCP_MAXSEG, 2),
    INT_OPT(kSolTcp, TCP_CORK, 3),
    INT_OPT(kSolTcp, TCP_KEEPIDLE, 4),
    INT_OPT(kSolTcp, TCP_KEEPINTVL, 5),
    INT_OPT(kSolTcp, TCP_KEEPCNT, 6),
    INT_OPT(kSolTcp, TCP_SYNCNT, 7),
    INT_OPT(kSolTcp, TCP_LINGER2, 8),
    INT_OPT(kSolTcp, TCP_DEFER_ACCEPT, 9),
    INT_OPT(kSolTcp, TCP_WINDOW_CLAMP, 10),
    {kSolTcp, 13, "TCP_CONGESTION", OptionKind::String, 16, 0},  // TCP_CA_NAME_MAX
    INT_OPT(kSolTcp, TCP_THIN_LINEAR_TIMEOUTS, 16),
    INT_OPT(kSolTcp, TCP_USER_TIMEOUT, 18),
    INT_OPT(kSolTcp, TCP_FASTOPEN, 23),
    INT_OPT(kSolTcp, TCP_NOTSENT_LOWAT, 25),
    INT_OPT(kSolTcp, TCP_SAVE_SYN, 27),
    INT_OPT(kSolTcp, TCP_FASTOPEN_CONNECT, 30),
    INT_OPT(kSolTcp, TCP_FASTOPEN_NO_COOKIE, 34),
    INT_OPT(kSolTcp, TCP_INQ, 36),
    INT_OPT(kSolTcp, TCP_TX_DELAY, 37),
    // UDP.
    INT_OPT(kSolUdp, UDP_CORK, 1),
    INT_OPT(kSolUdp, UDP_NO_CHECK6_TX, 101),
    INT_OPT(kSolUdp, UDP_NO_CHECK6_RX, 102),
    INT_OPT(kSolUdp, UDP_SEGMENT, 103),
    INT_OPT(kSolUdp, UDP_GRO, 104),
    // Netlink.
    INT_OPT(kSolNetlink, NETLINK_PKTINFO, 3),
    INT_OPT(kSolNetlink, NETLINK_BROADCAST_ERROR, 4),
    INT_OPT(kSolNetlink, NETLINK_NO_ENOBUFS, 5),
    INT_OPT(kSolNetlink, NETLINK_LISTEN_ALL_NSID, 8),
    INT_OPT(kSolNetlink, NETLINK_CAP_ACK, 10),
    INT_OPT(kSolNetlink, NETLINK_EXT_ACK, 11),
    INT_OPT(kSolNetlink, NETLINK_GET_STRICT_CHK, 12),
};
#undef INT_OPT

// IP_OPTIONS is the one Bytes option of variable length (0..40).
bool variable_size(const SocketOptionSpec& s) { return s.level == kSolIp && s.name == 4; }

int32_t int_of(const std::vector<uint8_t>& v) {
  int32_t x = 0;
  std::memcpy(&x, v.data(), std::min<size_t>(v.size(), 4));
  return x;
}

}  // namespace

const std::vector<SocketOptionSpec>& socket_option_table() { return kTable; }

int read_socket_option(const SocketOptionAccess& socket, const SocketOptionSpec& spec, std::vector<uint8_t>& value) {
  value.assign(spec.size, 0);
  uint32_t size = spec.size;
  if (int e = socket.get(spec.level, spec.name, value.data(), &size)) return e;
  value.resize(std::min<uint32_t>(size, spec.size));
  if (spec.kind == OptionKind::String)
    if (auto nul = std::find(value.begin(), value.end(), 0); nul != value.end()) value.erase(nul, value.end());
  return 0;
}

size_t socket_option_rank(uint32_t level, uint32_t name) {
  for (size_t i = 0; i < kTable.size(); ++i)
    if (kTable[i].level == level && kTable[i].name == name) return i;
  return SIZE_MAX;
}

const SocketOptionSpec* socket_option_spec(uint32_t level, uint32_t name) {
  size_t i = socket_option_rank(level, name);
  return i == SIZE_MAX ? nullptr : &kTable[i];
}

std::string socket_option_text(const SocketOption& o) {
  const SocketOptionSpec* s = socket_option_spec(o.level, o.name);
  std::string label = s ? s->label : "option " + std::to_string(o.level) + "/" + std::to_string(o.name);
  if (s && (s->kind == OptionKind::Int || s->kind == OptionKind::Buffer) && o.value.size() == 4)
    return label + " " + std::to_string(int_of(o.value));
  if (s && s->kind == OptionKind::String) {
    std::string text;
    for (uint8_t c : o.value) text += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
    return label + " \"" + text + "\"";
  }
  std::string hex;
  char b[4];
  for (uint8_t c : o.value) std::snprintf(b, sizeof b, "%02x", c), hex += b;
  return label + " (" + std::to_string(o.value.size()) + " bytes " + hex + ")";
}

void put_socket_options(ByteWriter& w, const std::vector<SocketOption>& options) {
  w.u32(uint32_t(options.size()));
  for (const SocketOption& o : options) {
    w.u32(o.level);
    w.u32(o.name);
    w.blob(o.value);
  }
}

std::vector<SocketOption> get_socket_options(ByteReader& r) {
  std::vector<SocketOption> out(r.count("socket option count", kMaxSocketOptions, 12));
  for (SocketOption& o : out) {
    o.level = r.u32("socket option level");
    o.name = r.u32("socket option name");
    o.value = r.blob("socket option value", kMaxSocketOptionBytes);
  }
  return out;
}

void validate_socket_options(const std::vector<SocketOption>& options,
                             const std::function<void(const std::string&)>& bad) {
  size_t prev = 0;
  for (size_t i = 0; i < options.size(); ++i) {
    const SocketOption& o = options[i];
    size_t rank = socket_option_rank(o.level, o.name);
    if (rank == SIZE_MAX)
      bad("unknown socket option " + std::to_string(o.level) + "/" + std::to_string(o.name));
    const SocketOptionSpec& s = kTable[rank];
    if (i && rank <= prev) bad(std::string(s.label) + " is out of order or repeated");
    prev = rank;
    bool fits = s.kind == OptionKind::String ? o.value.size() <= s.size
                : variable_size(s)           ? o.value.size() <= s.size
                                             : o.value.size() == s.size;
    if (!fits) bad(std::string(s.label) + " has " + std::to_string(o.value.size()) + " bytes");
    if (s.kind == OptionKind::String)
      for (uint8_t c : o.value)
        if (c == 0) bad(std::string(s.label) + " holds a NUL byte");
  }
}

std::string apply_socket_options(const std::vector<SocketOption>& options, const SocketOptionAccess& socket) {
  std::vector<uint8_t> now;
  for (const SocketOption& o : options) {
    const SocketOptionSpec* s = socket_option_spec(o.level, o.name);
    if (!s) return "unknown socket option " + std::to_string(o.level) + "/" + std::to_string(o.name);
    if (int e = read_socket_option(socket, *s, now)) return std::string("cannot read ") + s->label + ": " + std::strerror(e);
    if (now == o.value) continue;  // a fresh socket has it already: setting could lock it (buffers)
    int e = 0;
    if (s->kind == OptionKind::Buffer) {
      // The kernel keeps twice what is set; above net.core.[rw]mem_max only
      // the FORCE variant (CAP_NET_ADMIN) reaches the saved size.
      int32_t half = int_of(o.value) / 2;
      e = socket.set(o.level, o.name, &half, 4);
      if (!e && s->force && read_socket_option(socket, *s, now) == 0 && now != o.value) e = socket.set(o.level, s->force, &half, 4);
    } else {
      e = socket.set(o.level, o.name, o.value.data(), uint32_t(o.value.size()));
    }
    if (e) return "cannot set " + socket_option_text(o) + ": " + std::strerror(e);
  }
  // Read everything back at the end: a later option may have changed an
  // earlier one, and the kernel may have rounded or clamped a value.
  for (const SocketOption& o : options) {
    const SocketOptionSpec* s = socket_option_spec(o.level, o.name);
    if (int e = read_socket_option(socket, *s, now)) return std::string("cannot read ") + s->label + " back: " + std::strerror(e);
    if (now != o.value) {
      SocketOption got = o;
      got.value = now;
      return socket_option_text(o) + " reads back as " + socket_option_text(got).substr(std::strlen(s->label) + 1) +
             (s->kind == OptionKind::Buffer ? " (above net.core.rmem_max/wmem_max? SO_*BUFFORCE needs CAP_NET_ADMIN)" : "");
    }
  }
  return "";
}

}  // namespace ckpt::format
