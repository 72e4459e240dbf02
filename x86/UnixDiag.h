// The kernel's table of Unix sockets, as NETLINK_SOCK_DIAG reports it
// (unix_diag(7)): for every AF_UNIX socket of a network namespace, its
// type, state, name, peer, pending connections, queue lengths, shutdown
// bits and the inode of its socket file. The dumper reads it for the
// target's namespace; the restorer reads its own to tell a stale socket
// file (no socket bound to it any more) from a live one. Here, in x86/,
// because both halves need it (like the maps parser).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ckpt::x86 {

struct UnixDiag {
  uint64_t ino = 0;
  uint8_t type = 0;      // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
  uint8_t state = 0;     // TCP_ESTABLISHED 1, TCP_CLOSE 7, TCP_LISTEN 10 (TCP_SYN_SENT 2: connecting)
  uint8_t shutdown = 0;  // RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2
  std::string name;      // sun_path bytes as bound: a path without its NUL, or NUL + abstract name; empty: unnamed
  uint64_t peer = 0;     // UNIX_DIAG_PEER (0: none, or a peer that is closed)
  bool has_peer = false;
  std::vector<uint64_t> icons;  // listeners: the peers (clients) of the queued connections, in queue order
  uint32_t rqueue = 0;   // listeners: queued connections; stream/seqpacket: unread bytes; dgram: first datagram's length
  uint32_t wqueue = 0;   // listeners: backlog; others: bytes sent and not yet read by the peer
  uint64_t vfs_dev = 0, vfs_ino = 0;  // path names: the socket file's device (kernel encoding) and inode
  bool has_vfs = false;
};

// Every Unix socket of the network namespace `netns_fd` refers to (-1: the
// caller's own), by inode. Throws std::runtime_error with one line.
std::map<uint64_t, UnixDiag> read_unix_diag(int netns_fd = -1);

}  // namespace ckpt::x86
