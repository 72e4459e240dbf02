// TCP connections carried alive with TCP_REPAIR (`ckpt dump --tcp-established`):
// the record of the optional `tcp` section (type 27, docs/format.md §5.9),
// its encoding, and its validation rules. A connection is an object of its
// own, identified by its socket inode, and the fds that hold it (FdKind
// TcpConnection) name it by that id in FdEntry::object, so the same socket
// held by several fds (or, later, several processes of a tree) is one record.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "format/Codec.h"
#include "format/SocketOptions.h"

namespace ckpt::format {

struct Image;
struct SectionInfo;

// The kernel's TCP states (include/net/tcp_states.h) a record may hold.
enum TcpState : uint32_t {
  kTcpEstablished = 1,
  kTcpSynSent = 2,
  kTcpSynRecv = 3,
  kTcpFinWait1 = 4,
  kTcpFinWait2 = 5,
  kTcpCloseWait = 8,
  kTcpLastAck = 9,
  kTcpClosing = 11,
};
const char* tcp_state_name(uint32_t state);  // any kernel state number, for messages
// The states a record may hold: ESTABLISHED; our FIN sent (FIN-WAIT-1,
// FIN-WAIT-2), which restore queues again in repair mode with shutdown();
// the peer's FIN received (CLOSE-WAIT), which restore delivers again as a
// packet from the peer's address.
inline bool tcp_state_has_peer_fin(uint32_t s) { return s == kTcpCloseWait || s == kTcpLastAck || s == kTcpClosing; }
inline bool tcp_state_has_our_fin(uint32_t s) {
  return s == kTcpFinWait1 || s == kTcpFinWait2 || s == kTcpLastAck || s == kTcpClosing;
}
// LAST-ACK and CLOSING (both FINs, ours not yet acknowledged) last a round
// trip; they are refused, untested.
inline bool tcp_state_is_carried(uint32_t s) {
  return s == kTcpEstablished || s == kTcpFinWait1 || s == kTcpFinWait2 || s == kTcpCloseWait;
}

// TcpConnection::shutdown bits.
enum TcpShutdown : uint32_t {
  kTcpShutRead = 1,   // shutdown(SHUT_RD): reads end once the queue is empty
  kTcpShutWrite = 2,  // our FIN: exactly in FIN-WAIT-1, FIN-WAIT-2, LAST-ACK, CLOSING
  kTcpPeerFin = 4,    // the peer's FIN received: exactly in CLOSE-WAIT, LAST-ACK, CLOSING
};

// TcpConnection::tcp_options bits: what the handshake negotiated (TCP_INFO tcpi_options).
enum TcpNegotiated : uint32_t {
  kTcpTimestamps = 1,  // TCPI_OPT_TIMESTAMPS
  kTcpSack = 2,        // TCPI_OPT_SACK
  kTcpWindowScale = 4, // TCPI_OPT_WSCALE
  kTcpKnownOptions = 7,
};

// Options of the socket_option_table (SocketOptions.h) a record must not
// hold: SO_REUSEADDR (its own field: repair mode overrides it until the
// end), TCP_MAXSEG (the MSS is set as a negotiated option),
// TCP_WINDOW_CLAMP (derived from the buffers once connected) and the
// multicast options, which TCP does not take.
bool tcp_option_excluded(uint32_t level, uint32_t name);

struct TcpConnection {
  uint64_t id = 0;        // the socket's inode at dump: FdEntry::object of its fds
  uint32_t family = 0;    // AF_INET (2) or AF_INET6 (10)
  uint32_t state = 0;     // TcpState
  std::array<uint8_t, 16> local_addr{}, peer_addr{};  // network order; IPv4 in the first 4 bytes
  uint32_t local_port = 0, peer_port = 0;
  uint32_t send_seq = 0;  // sequence number of send_queue's first byte (snd_una; in FIN-WAIT-2, of the acknowledged FIN)
  uint32_t recv_seq = 0;  // sequence number of recv_queue's first byte (the next byte the program reads); the peer's FIN follows the queue
  uint32_t unsent = 0;    // how many bytes at the end of send_queue had never been sent (SIOCOUTQNSD, without a FIN)
  std::vector<uint8_t> send_queue;  // sent but not acknowledged, then not yet sent
  std::vector<uint8_t> recv_queue;  // received, not yet read
  uint32_t mss = 0;        // the MSS clamp (TCP_MAXSEG in repair mode)
  uint32_t tcp_options = 0;  // TcpNegotiated bits
  uint32_t snd_wscale = 0, rcv_wscale = 0;  // with kTcpWindowScale
  uint32_t timestamp = 0;  // TCP_TIMESTAMP: the connection's timestamp clock at dump
  // struct tcp_repair_window (TCP_REPAIR_WINDOW)
  uint32_t snd_wl1 = 0, snd_wnd = 0, max_window = 0, rcv_wnd = 0, rcv_wup = 0;
  std::vector<SocketOption> options;  // the ordinary options (SocketOptions.h), but tcp_option_excluded
  uint32_t reuseaddr = 0;  // SO_REUSEADDR, set once repair mode is off
  uint32_t shutdown = 0;   // TcpShutdown bits
};

std::vector<uint8_t> encode_tcp_connections( const std::vector<TcpConnection>& conns);
std::vector<TcpConnection> decode_tcp_connections(const uint8_t* data, size_t n, uint64_t base);

// The tcp section's rules (docs/format.md §8): records sorted by id and
// sane, every one held by a tcp fd and every tcp fd naming one. O(n log n).
void validate_tcp_connections(const Image& image, const std::vector<SectionInfo>& sections);

// "127.0.0.1:5000" / "[::1]:5000", for messages and inspect.
std::string tcp_endpoint(uint32_t family, const std::array<uint8_t, 16>& addr, uint32_t port);

}  // namespace ckpt::format
