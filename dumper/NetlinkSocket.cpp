// Netlink sockets (see NetlinkSocket.h).
#include "dumper/NetlinkSocket.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "dumper/FdInfo.h"
#include "dumper/NetlinkDiag.h"
#include "dumper/SocketOptions.h"

namespace ckpt::dumper {

void read_netlink_socket(pid_t pid, int fd, int copy, format::InetSocket& s) {
  if (s.protocol != NETLINK_ROUTE && s.protocol != NETLINK_KOBJECT_UEVENT)
    refuse_fd(pid, fd, "netlink sockets of protocol " + std::to_string(s.protocol) +
                           " are not carried (only NETLINK_ROUTE and NETLINK_KOBJECT_UEVENT are)");
  NetlinkDiag d = netlink_diag(int(s.protocol), s.id);
  if (!d.found) refuse_fd(pid, fd, "sock_diag does not show the netlink socket");
  if (d.dst_portid || d.dst_group)
    refuse_fd(pid, fd, "a connected netlink socket (to port " + std::to_string(d.dst_portid) + ", group " +
                           std::to_string(d.dst_group) + ") is not carried");
  char byte;
  if (recv(copy, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
    refuse_fd(pid, fd, "netlink messages are queued in it; they are not carried");
  while (!d.groups.empty() && d.groups.back() == 0) d.groups.pop_back();
  s.groups = d.groups;
  if (d.portid) {
    s.state = format::SocketState::Bound;
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    nl.nl_pid = d.portid;
    auto* p = reinterpret_cast<const uint8_t*>(&nl);
    s.local.assign(p, p + sizeof nl);  // groups travel in `groups`, all of them
  } else if (!s.groups.empty()) {
    refuse_fd(pid, fd, "a netlink socket in groups without a port id");  // the kernel binds one on joining
  }
  s.options = read_socket_options(pid, fd, copy, AF_NETLINK, int(s.type), int(s.protocol));
}

}  // namespace ckpt::dumper
