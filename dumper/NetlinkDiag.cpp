// sock_diag queries (see NetlinkDiag.h).
#include "dumper/NetlinkDiag.h"

#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/netlink_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"

namespace ckpt::dumper {

namespace {

// Sends one dump request and hands every answer message to `each`.
void sock_diag_dump(const void* request, size_t len, const std::function<void(const nlmsghdr*)>& each) {
  ScopedFd nl(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (nl.get() < 0) throw DumpError(std::string("cannot open sock_diag: ") + std::strerror(errno));
  if (send(nl.get(), request, len, 0) != ssize_t(len)) throw DumpError(std::string("sock_diag: send: ") + std::strerror(errno));
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    ssize_t n = recv(nl.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw DumpError(std::string("sock_diag: recv: ") + (n < 0 ? std::strerror(errno) : "end of data"));
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf); NLMSG_OK(h, size_t(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        throw DumpError(std::string("sock_diag: ") + std::strerror(-e->error));
      }
      each(h);
    }
  }
}

}  // namespace

NetlinkDiag netlink_diag(int protocol, uint64_t inode) {
  struct {
    nlmsghdr h;
    netlink_diag_req r;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.sdiag_family = AF_NETLINK;
  req.r.sdiag_protocol = uint8_t(protocol);
  req.r.ndiag_ino = 0;
  req.r.ndiag_show = NDIAG_SHOW_GROUPS | NDIAG_SHOW_MEMINFO;
  NetlinkDiag out;
  sock_diag_dump(&req, sizeof req, [&](const nlmsghdr* h) {
    auto* m = static_cast<const netlink_diag_msg*>(NLMSG_DATA(h));
    if (m->ndiag_ino != inode) return;
    out.found = true;
    out.portid = m->ndiag_portid;
    out.dst_portid = m->ndiag_dst_portid;
    out.dst_group = m->ndiag_dst_group;
    int len = int(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
    for (auto* a = reinterpret_cast<const rtattr*>(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == NETLINK_DIAG_GROUPS) {
        auto* p = static_cast<const uint8_t*>(RTA_DATA(a));
        out.groups.assign(p, p + RTA_PAYLOAD(a));
      } else if (a->rta_type == NETLINK_DIAG_MEMINFO && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
        std::memcpy(&out.rqueue, RTA_DATA(a), sizeof(uint32_t));  // SK_MEMINFO_RMEM_ALLOC
      }
    }
  });
  return out;
}

bool tcp_md5_keys(int family, uint64_t inode) {
  // One dump per family for the whole dump (the target is frozen), so that
  // many sockets cost one pass, not one pass each.
  static std::map<int, std::set<uint64_t>> with_keys;
  auto cached = with_keys.find(family);
  if (cached != with_keys.end()) return cached->second.count(inode) > 0;
  std::set<uint64_t>& keyed = with_keys[family];
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2] = {};
  if (syscall(SYS_capget, &header, caps) != 0 || !(caps[0].effective & (1u << CAP_NET_ADMIN))) return false;
  struct {
    nlmsghdr h;
    inet_diag_req_v2 r;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.sdiag_family = uint8_t(family);
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = ~0u;
  req.r.idiag_ext = 1 << (INET_DIAG_INFO - 1);  // the MD5 keys come with the TCP info
  sock_diag_dump(&req, sizeof req, [&](const nlmsghdr* h) {
    auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
    int len = int(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
    for (auto* a = reinterpret_cast<const rtattr*>(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
      if (a->rta_type == INET_DIAG_MD5SIG && RTA_PAYLOAD(a) > 0) keyed.insert(m->idiag_inode);
  });
  return keyed.count(inode) > 0;
}

}  // namespace ckpt::dumper
