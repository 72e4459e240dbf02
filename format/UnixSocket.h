// Unix-domain sockets (AF_UNIX: stream, datagram, seqpacket) in the image:
// one record per socket, identified by its inode at dump, in the optional
// unix_sockets section (docs/format.md, "Unix sockets"). An fd of kind
// unix-socket names its record by FdEntry::object; a listener's queued
// connections (not yet accepted, so no fd holds them) are records of their
// own. Encoding, decoding and the rules every image must follow live here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ckpt::format {

// UnixSocket::state.
enum UnixState : uint32_t {
  kUnixUnconnected = 1,  // created, maybe bound; no peer (datagram sockets may still receive)
  kUnixConnected = 2,    // has a peer record (both ways for stream/seqpacket)
  kUnixListening = 3,    // listen(): `backlog`, `queue`
  kUnixQueued = 4,       // a connection in a listener's queue, not yet accepted (no fd)
};

// UnixSocket::shutdown bits, as sock_diag reports them.
inline constexpr uint32_t kUnixShutRead = 1, kUnixShutWrite = 2;

// One message of a receive queue. Stream sockets have one per run of
// bytes sent with the same credentials (usually one, holding every unread
// byte); datagram and seqpacket sockets one per datagram, in queue order.
struct UnixMessage {
  std::vector<uint8_t> data;
  // Datagram sockets: the sender's address as recvfrom reports it (a
  // name as in UnixSocket::name); empty: an unnamed sender.
  std::string sender;
  // 1: sent with credentials (SO_PASSCRED was on at either end), those of
  // the dumped process; 0: without (a receiver reads pid 0, the overflow ids).
  uint32_t creds = 0;
};

struct UnixSocket {
  uint64_t ino = 0;       // socket inode at dump: the record's id
  uint32_t type = 1;      // SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5
  uint32_t state = kUnixUnconnected;
  // Its address (getsockname): empty for an unnamed socket; a path (no NUL);
  // or an abstract name, starting with a NUL byte (autobind names too).
  std::string name;
  uint64_t peer = 0;      // kUnixConnected, kUnixQueued: the peer's ino
  // kUnixQueued, and a connected socket accepted from a listener of the
  // image: that listener's ino (the socket shares its name).
  uint64_t listener = 0;
  uint32_t shutdown = 0;  // kUnixShut* bits
  uint32_t backlog = 0;   // kUnixListening: listen()'s backlog
  std::vector<uint64_t> queue;  // kUnixListening: its kUnixQueued records, in accept order
  std::vector<UnixMessage> messages;  // unread data, in order
  // Options as getsockopt reports them (SO_SNDBUF/SO_RCVBUF: twice what was set).
  uint32_t sndbuf = 0, rcvbuf = 0;
  uint32_t passcred = 0, passsec = 0, passpidfd = 0;
  int32_t peek_off = -1;                      // SO_PEEK_OFF; -1: off
  int64_t rcvtimeo_us = 0, sndtimeo_us = 0;   // SO_RCVTIMEO, SO_SNDTIMEO; 0: none
  int32_t rcvlowat = 1;                       // SO_RCVLOWAT
  int32_t priority = 0;                       // SO_PRIORITY
  // A path name whose file was unlinked while bound: restore binds the name,
  // then unlinks it.
  uint32_t unlinked = 0;
  uint32_t file_mode = 0;                     // path names, not unlinked: the socket file's permission bits (0777)
  uint32_t file_uid = 0, file_gid = 0;        // and its owner
  // and its identity (st_dev, st_ino): a stale socket file at the path is
  // removed at restore only if it is this very file, left by the original.
  uint64_t file_dev = 0, file_ino = 0;
};

// The id of a connection queued on a listener, not yet accepted: it has no
// inode of its own, so it is named after its client's (inodes have 32 bits).
inline uint64_t unix_queued_id(uint64_t client_ino) { return (uint64_t(1) << 32) + client_ino; }

inline bool unix_type_is_valid(uint32_t t) { return t == 1 || t == 2 || t == 5; }
const char* unix_type_name(uint32_t type);
const char* unix_state_name(uint32_t state);
// A name as a person reads it: "@abstract", a path, or "(unnamed)" (not escaped).
std::string unix_name_text(const std::string& name);

class ByteWriter;
class ByteReader;
std::vector<uint8_t> encode_unix_sockets(const std::vector<UnixSocket>& sockets);
std::vector<UnixSocket> decode_unix_sockets(const uint8_t* p, size_t n, uint64_t base);

// The records' own rules and those tying them to the fds (`fd_objects`:
// FdEntry::object of every unix-socket fd). O(n log n). `bad` throws.
void validate_unix_sockets(const std::vector<UnixSocket>& sockets, std::vector<uint64_t> fd_objects,
                           const std::function<void(const std::string&)>& bad);

}  // namespace ckpt::format
