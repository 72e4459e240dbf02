// Netlink sockets (NETLINK_ROUTE and NETLINK_KOBJECT_UEVENT): the port id
// they are bound to and the multicast groups they joined, from sock_diag
// (NETLINK_DIAG), and their options. Other netlink protocols, a connected
// netlink socket and one with messages waiting are refused naming the fd:
// messages the kernel queued cannot be queued again.
#pragma once

#include <sys/types.h>

#include "format/Image.h"

namespace ckpt::dumper {

// `copy` is the dumper's pidfd_getfd copy of the target's fd `fd`; fills
// the state, local address, groups and options of `s` or refuses.
void read_netlink_socket(pid_t pid, int fd, int copy, format::InetSocket& s);

}  // namespace ckpt::dumper
