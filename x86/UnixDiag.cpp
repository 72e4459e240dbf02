// NETLINK_SOCK_DIAG dump of Unix sockets (see UnixDiag.h).
#include "x86/UnixDiag.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ckpt::x86 {

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("unix socket table: " + what + ": " + std::strerror(errno));
}

// A NETLINK_SOCK_DIAG socket in the namespace `netns_fd`: a socket keeps the
// namespace it was created in, so the thread enters it only for socket().
int diag_socket(int netns_fd) {
  if (netns_fd < 0) return socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  Fd own{::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)};
  if (own.fd < 0) fail("cannot open this thread's network namespace");
  if (setns(netns_fd, CLONE_NEWNET) != 0) fail("cannot enter the network namespace");
  int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  int e = errno;
  if (setns(own.fd, CLONE_NEWNET) != 0) {
    if (s >= 0) ::close(s);
    fail("cannot return to this thread's network namespace");
  }
  errno = e;
  return s;
}

void parse(const nlmsghdr* h, std::map<uint64_t, UnixDiag>& out) {
  auto* m = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof *m)) return;
  UnixDiag d;
  d.ino = m->udiag_ino;
  d.type = m->udiag_type;
  d.state = m->udiag_state;
  int len = int(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
  for (auto* a = reinterpret_cast<const rtattr*>(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    const auto* p = static_cast<const uint8_t*>(RTA_DATA(a));
    const size_t n = RTA_PAYLOAD(a);
    switch (a->rta_type) {
      case UNIX_DIAG_NAME:
        d.name.assign(reinterpret_cast<const char*>(p), n);
        // A path comes with its terminating NUL (and whatever followed it
        // in the address given to bind): keep the path only.
        if (!d.name.empty() && d.name[0] != '\0') d.name.resize(std::strlen(d.name.c_str()));
        break;
      case UNIX_DIAG_PEER:
        if (n >= 4) d.peer = *reinterpret_cast<const uint32_t*>(p), d.has_peer = true;
        break;
      case UNIX_DIAG_ICONS:
        for (size_t i = 0; i + 4 <= n; i += 4) d.icons.push_back(*reinterpret_cast<const uint32_t*>(p + i));
        break;
      case UNIX_DIAG_RQLEN:
        if (n >= sizeof(unix_diag_rqlen)) {
          auto* q = reinterpret_cast<const unix_diag_rqlen*>(p);
          d.rqueue = q->udiag_rqueue;
          d.wqueue = q->udiag_wqueue;
        }
        break;
      case UNIX_DIAG_VFS:
        if (n >= sizeof(unix_diag_vfs)) {
          auto* v = reinterpret_cast<const unix_diag_vfs*>(p);
          d.vfs_dev = v->udiag_vfs_dev;
          d.vfs_ino = v->udiag_vfs_ino;
          d.has_vfs = true;
        }
        break;
      case UNIX_DIAG_SHUTDOWN:
        if (n >= 1) d.shutdown = p[0];
        break;
    }
  }
  out[d.ino] = std::move(d);
}

}  // namespace

std::map<uint64_t, UnixDiag> read_unix_diag(int netns_fd) {
  Fd s{diag_socket(netns_fd)};
  if (s.fd < 0) fail("cannot open a NETLINK_SOCK_DIAG socket");
  struct {
    nlmsghdr h;
    unix_diag_req r;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.r.sdiag_family = AF_UNIX;
  req.r.udiag_states = ~0u;
  req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(s.fd, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) != ssize_t(sizeof req))
    fail("cannot send the request");
  std::map<uint64_t, UnixDiag> out;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = recv(s.fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read the answer");
    }
    int left = int(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return out;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        errno = e->error < 0 ? -e->error : EIO;
        fail("the kernel refused the request (is CONFIG_UNIX_DIAG on?)");
      }
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) parse(h, out);
    }
  }
}

}  // namespace ckpt::x86
