// Socket options of a target's socket (see SocketOptions.h).
#include "dumper/SocketOptions.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "dumper/FdInfo.h"
#include "dumper/ScopedFd.h"

namespace ckpt::dumper {

namespace {

// Options whose value is read but cannot be put back as it was: refused
// when they differ from "off".
void refuse_unrestorable(pid_t pid, int fd, int copy, int domain, int type, int protocol) {
  auto get_int = [&](int level, int name, int* v) {
    socklen_t len = sizeof *v;
    *v = 0;
    return getsockopt(copy, level, name, v, &len) == 0;
  };
  int v = 0;
  // A classic or eBPF socket filter: SO_GET_FILTER with no room reports
  // its length (0: none); an eBPF program it cannot show is an error.
  socklen_t filter_len = 0;
  if (getsockopt(copy, SOL_SOCKET, SO_GET_FILTER, nullptr, &filter_len) != 0 && errno != ENOPROTOOPT)
    refuse_fd(pid, fd, std::string("a socket filter that cannot be read is attached (SO_GET_FILTER: ") +
                           std::strerror(errno) + ")");
  if (filter_len) refuse_fd(pid, fd, "a socket filter (SO_ATTACH_FILTER) is attached; filters are not carried");
  // SO_TIMESTAMPING keeps a counter (SOF_TIMESTAMPING_OPT_ID) and a PHC binding no getter shows.
  if (get_int(SOL_SOCKET, SO_TIMESTAMPING, &v) && v)
    refuse_fd(pid, fd, "SO_TIMESTAMPING is on (flags " + std::to_string(v) + "); it is not carried");
  if (type == SOCK_STREAM && protocol == IPPROTO_TCP) {
    char ulp[32] = {};
    socklen_t len = sizeof ulp - 1;
    if (getsockopt(copy, IPPROTO_TCP, 31 /*TCP_ULP*/, ulp, &len) == 0 && ulp[0])
      refuse_fd(pid, fd, std::string("it has the TCP upper layer protocol \"") + ulp + "\" (TCP_ULP), which is not carried");
  }
  if (protocol == IPPROTO_UDP && get_int(IPPROTO_UDP, 100 /*UDP_ENCAP*/, &v) && v)
    refuse_fd(pid, fd, "UDP encapsulation is on (UDP_ENCAP " + std::to_string(v) + "); it is not carried");
  if (domain == AF_INET6) {
    // Sticky IPv6 extension headers: getsockopt gives their bytes, which
    // setsockopt would take back, but nothing else uses them; refused.
    static const std::pair<int, const char*> kSticky[] = {
        {54, "IPV6_HOPOPTS"}, {55, "IPV6_RTHDRDSTOPTS"}, {57, "IPV6_RTHDR"}, {59, "IPV6_DSTOPTS"}};
    for (const auto& [name, label] : kSticky) {
      unsigned char buf[256];
      socklen_t len = sizeof buf;
      if (getsockopt(copy, IPPROTO_IPV6, name, buf, &len) == 0 && len > 0)
        refuse_fd(pid, fd, std::string("it has the sticky IPv6 option ") + label + ", which is not carried");
    }
  }
}

}  // namespace

format::SocketOptionAccess socket_option_access(int fd) {
  return {
      [fd](uint32_t level, uint32_t name, void* value, uint32_t* size) {
        socklen_t len = *size;
        if (getsockopt(fd, int(level), int(name), value, &len) != 0) return errno;
        *size = len;
        return 0;
      },
      [fd](uint32_t level, uint32_t name, const void* value, uint32_t size) {
        return setsockopt(fd, int(level), int(name), value, socklen_t(size)) == 0 ? 0 : errno;
      },
  };
}

std::vector<format::SocketOption> read_socket_options(
    pid_t pid, int fd, int copy, int domain, int type, int protocol,
    const std::function<bool(const format::SocketOptionSpec&)>& include) {
  refuse_unrestorable(pid, fd, copy, domain, type, protocol);
  const format::SocketOptionAccess target = socket_option_access(copy);
  std::vector<format::SocketOption> out;
  for (const format::SocketOptionSpec& s : format::socket_option_table()) {
    if (include && !include(s)) continue;
    format::SocketOption o{s.level, s.name, {}};
    if (int e = format::read_socket_option(target, s, o.value)) {
      if (e == ENOPROTOOPT || e == EOPNOTSUPP || e == EINVAL || e == ENOTCONN) continue;  // not one of this kind
      refuse_fd(pid, fd, std::string("cannot read its option ") + s.label + ": " + std::strerror(e));
    }
    out.push_back(std::move(o));
  }
  // What restore will do, done here on a scratch socket of the same kind.
  ScopedFd scratch(socket(domain, type | SOCK_CLOEXEC, protocol));
  if (scratch.get() < 0)
    refuse_fd(pid, fd, "cannot create a socket of its kind here to check its options: " + std::string(std::strerror(errno)));
  std::string why = format::apply_socket_options(out, socket_option_access(scratch.get()));
  if (!why.empty()) refuse_fd(pid, fd, "its options could not be put back exactly: " + why);
  return out;
}

}  // namespace ckpt::dumper
