// The options of a target's socket, read on the dumper's copy of it
// (pidfd_getfd: the very socket, so only getters are used, never a call
// that changes or consumes anything, such as SO_ERROR), and checked: what
// cannot be carried exactly is refused naming the option, and the saved
// options are tried on a scratch socket of the same kind by the very rule
// restore uses (format/SocketOptions.h), so an option restore could not put
// back is refused here, before --kill.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "format/SocketOptions.h"

namespace ckpt::dumper {

// Every option of the table the socket `copy` answers for (an option its
// kind does not have is left out). `include`, when given, picks which
// table entries to read (a connected TCP socket has options, such as
// TCP_MAXSEG, that mean something else once connected). Refuses (refuse_fd,
// naming pid and `fd`) a socket filter, SO_TIMESTAMPING, a TCP ULP, UDP
// encapsulation, IPv6 sticky header options, and saved options that a
// fresh socket(domain, type, protocol) here would not take back exactly.
std::vector<format::SocketOption> read_socket_options(
    pid_t pid, int fd, int copy, int domain, int type, int protocol,
    const std::function<bool(const format::SocketOptionSpec&)>& include = nullptr);

// getsockopt/setsockopt on one of the dumper's own descriptors.
format::SocketOptionAccess socket_option_access(int fd);

}  // namespace ckpt::dumper
