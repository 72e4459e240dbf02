// What only sock_diag tells about a socket of the dumper's network
// namespace, found by its inode in a dump of its family and protocol: a
// netlink socket's port id, destination and groups (NETLINK_DIAG); whether
// a TCP socket has MD5 signature keys (INET_DIAG_MD5SIG). Read-only queries of the kernel's
// tables; the socket itself is not touched.
#pragma once

#include <cstdint>
#include <vector>

namespace ckpt::dumper {

struct NetlinkDiag {
  bool found = false;
  uint32_t portid = 0;
  uint32_t dst_portid = 0, dst_group = 0;  // connect()
  uint32_t rqueue = 0;                     // bytes queued for reading
  std::vector<uint8_t> groups;             // NETLINK_DIAG_GROUPS bitmap (bit n-1: group n)
};
// Throws DumpError if sock_diag cannot be asked.
NetlinkDiag netlink_diag(int protocol, uint64_t inode);

// Whether the TCP socket of `family` with `inode` holds TCP_MD5SIG keys.
// The kernel shows them only to a caller with CAP_NET_ADMIN: without it
// (not asked then) the answer is false, a documented gap.
bool tcp_md5_keys(int family, uint64_t inode);

}  // namespace ckpt::dumper
