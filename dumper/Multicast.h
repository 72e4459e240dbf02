// The IP multicast groups a socket joined, with their source filters. No
// getter lists a socket's memberships, but MCAST_MSFILTER answers for one
// group at a time, and only for a socket that is a member (else
// EADDRNOTAVAIL): the candidates are the groups /proc/PID/net/igmp and
// igmp6 list per interface of the target's network namespace (every group
// any socket there joined), each asked of the dumper's copy of the socket.
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

// For the socket `copy` (the target's fd `fd`) of `family`. Refuses
// (refuse_fd) when the lists cannot be read.
std::vector<format::MulticastGroup> read_multicast_groups(pid_t pid, int fd, int copy, int family);

}  // namespace ckpt::dumper
