// IP multicast memberships, restored (see Multicast.h).
#include "restorer/Multicast.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "format/InetSocket.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

namespace {

int level_of(const format::MulticastGroup& g) {
  return g.group.size() == sizeof(sockaddr_in6) ? IPPROTO_IPV6 : IPPROTO_IP;
}

sockaddr_storage storage_of(const std::vector<uint8_t>& a) {
  sockaddr_storage s{};
  std::memcpy(&s, a.data(), std::min(a.size(), sizeof s));
  return s;
}

std::string group_text(const format::MulticastGroup& g) {
  std::string addr = format::sockaddr_text(g.group);
  addr = addr.substr(0, addr.rfind(':'));  // no port
  return "multicast group " + addr + " on interface " + std::to_string(g.ifindex);
}

// The source filter of one group as the kernel holds it on `fd`.
bool read_filter(int fd, const format::MulticastGroup& g, uint32_t* mode, std::vector<std::vector<uint8_t>>* sources) {
  const uint32_t room = uint32_t(g.sources.size()) + 1;
  std::vector<uint8_t> buf(GROUP_FILTER_SIZE(room));
  auto* gf = reinterpret_cast<group_filter*>(buf.data());
  gf->gf_interface = g.ifindex;
  gf->gf_group = storage_of(g.group);
  gf->gf_numsrc = room;
  socklen_t len = socklen_t(buf.size());
  if (getsockopt(fd, level_of(g), MCAST_MSFILTER, gf, &len) != 0 || gf->gf_numsrc > room) return false;
  *mode = gf->gf_fmode;
  sources->clear();
  for (uint32_t i = 0; i < gf->gf_numsrc; ++i) {
    auto* p = reinterpret_cast<const uint8_t*>(&gf->gf_slist[i]);
    sources->emplace_back(p, p + g.group.size());
  }
  std::sort(sources->begin(), sources->end());
  return true;
}

}  // namespace

std::string multicast_problem(const std::vector<format::MulticastGroup>& groups) {
  char name[IF_NAMESIZE];
  for (const format::MulticastGroup& g : groups)
    if (!if_indextoname(g.ifindex, name)) return group_text(g) + ": there is no interface " + std::to_string(g.ifindex) + " here";
  return "";
}

void join_multicast_groups(int fd, const std::vector<format::MulticastGroup>& groups, const std::string& what) {
  for (const format::MulticastGroup& g : groups) {
    group_req req{};
    req.gr_interface = g.ifindex;
    req.gr_group = storage_of(g.group);
    if (setsockopt(fd, level_of(g), MCAST_JOIN_GROUP, &req, sizeof req) != 0)
      throw RestoreError(what + ": cannot join " + group_text(g) + " again: " + std::strerror(errno));
    if (g.mode != MCAST_EXCLUDE || !g.sources.empty()) {
      std::vector<uint8_t> buf(GROUP_FILTER_SIZE(g.sources.size()));
      auto* gf = reinterpret_cast<group_filter*>(buf.data());
      gf->gf_interface = g.ifindex;
      gf->gf_group = req.gr_group;
      gf->gf_fmode = g.mode;
      gf->gf_numsrc = uint32_t(g.sources.size());
      for (size_t i = 0; i < g.sources.size(); ++i) gf->gf_slist[i] = storage_of(g.sources[i]);
      if (setsockopt(fd, level_of(g), MCAST_MSFILTER, gf, socklen_t(buf.size())) != 0)
        throw RestoreError(what + ": cannot set the source filter of " + group_text(g) + ": " + std::strerror(errno));
    }
    uint32_t mode = 0;
    std::vector<std::vector<uint8_t>> got, want = g.sources;
    std::sort(want.begin(), want.end());
    if (!read_filter(fd, g, &mode, &got) || mode != g.mode || got != want)
      throw RestoreError(what + ": " + group_text(g) + " does not read back as it was saved");
  }
}

}  // namespace ckpt::restorer
