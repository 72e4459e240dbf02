// Network sockets that are not live connections (format/InetSocket.h):
// IPv4 and IPv6 TCP sockets that are created, bound or listening, UDP and
// ICMP "ping" sockets (bound, connected, with their queued datagrams), and
// netlink sockets (NetlinkSocket.h). Read on a pidfd_getfd copy of the fd
// with getters only (getsockname, getsockopt, TCP_INFO, sock_diag, peeks
// that consume nothing), in the dumper's network namespace, which must be
// the target's. Raw and packet sockets, a listener with connections
// waiting, and TCP connections (refuse_tcp_connection, the one place that
// refuses them) are refused naming the fd.
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

// For a socket fd: false when it is not of a family this file handles
// (Unix sockets, for instance). Otherwise fills `f` (kind, object) and adds
// its record to `sockets` (the caller sorts them by id), or refuses it
// (refuse_fd).
bool read_inet_socket(pid_t pid, int fd, format::FdEntry& f, std::vector<format::InetSocket>& sockets);

}  // namespace ckpt::dumper
