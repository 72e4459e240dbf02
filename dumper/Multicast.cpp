// IP multicast memberships (see Multicast.h).
#include "dumper/Multicast.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "dumper/FdInfo.h"

namespace ckpt::dumper {

namespace {

struct Candidate {
  uint32_t ifindex;
  sockaddr_storage group;
};

// /proc/PID/net/igmp: an interface line "IDX\tDEV : COUNT QUERIER", then
// its groups on lines that start with a tab: "\t\t\t\tHEX USERS ...", HEX
// being the __be32 address as the kernel prints it (%08X).
void igmp_candidates(pid_t pid, std::vector<Candidate>& out) {
  std::ifstream in(proc_path(pid, "net/igmp"));
  std::string line;
  uint32_t ifindex = 0;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream words(line);
    if (line[0] != '\t') {
      words >> ifindex;
      continue;
    }
    std::string hex;
    words >> hex;
    Candidate c{ifindex, {}};
    auto* in4 = reinterpret_cast<sockaddr_in*>(&c.group);
    in4->sin_family = AF_INET;
    in4->sin_addr.s_addr = uint32_t(std::strtoul(hex.c_str(), nullptr, 16));
    out.push_back(c);
  }
}

// /proc/PID/net/igmp6: "IDX DEV GROUP(32 hex digits) USERS FLAGS TIMER".
void igmp6_candidates(pid_t pid, std::vector<Candidate>& out) {
  std::ifstream in(proc_path(pid, "net/igmp6"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    uint32_t ifindex = 0;
    std::string dev, hex;
    if (!(words >> ifindex >> dev >> hex) || hex.size() != 32) continue;
    Candidate c{ifindex, {}};
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&c.group);
    in6->sin6_family = AF_INET6;
    for (int i = 0; i < 16; ++i) in6->sin6_addr.s6_addr[i] = uint8_t(std::strtoul(hex.substr(2 * i, 2).c_str(), nullptr, 16));
    out.push_back(c);
  }
}

std::vector<uint8_t> bytes_of(const sockaddr_storage& a) {
  size_t n = a.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  auto* p = reinterpret_cast<const uint8_t*>(&a);
  return {p, p + n};
}

}  // namespace

std::vector<format::MulticastGroup> read_multicast_groups(pid_t pid, int fd, int copy, int family) {
  std::vector<Candidate> candidates;
  igmp_candidates(pid, candidates);
  if (family == AF_INET6) igmp6_candidates(pid, candidates);
  std::vector<format::MulticastGroup> out;
  for (const Candidate& c : candidates) {
    const int level = c.group.ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
    std::vector<uint8_t> buf;
    group_filter* gf = nullptr;
    for (uint32_t room = 16;; room *= 4) {
      buf.assign(GROUP_FILTER_SIZE(room), 0);
      gf = reinterpret_cast<group_filter*>(buf.data());
      gf->gf_interface = c.ifindex;
      gf->gf_group = c.group;
      gf->gf_numsrc = room;
      socklen_t len = socklen_t(buf.size());
      if (getsockopt(copy, level, MCAST_MSFILTER, gf, &len) != 0) {
        gf = nullptr;
        if (errno == EADDRNOTAVAIL || errno == EINVAL || errno == ENODEV || errno == ENOPROTOOPT) break;  // not a member
        refuse_fd(pid, fd, std::string("cannot ask its multicast memberships (MCAST_MSFILTER): ") + std::strerror(errno));
      }
      if (gf->gf_numsrc <= room) break;
    }
    if (!gf) continue;
    format::MulticastGroup g;
    g.ifindex = c.ifindex;
    g.group = bytes_of(c.group);
    g.mode = gf->gf_fmode;
    for (uint32_t i = 0; i < gf->gf_numsrc; ++i) g.sources.push_back(bytes_of(gf->gf_slist[i]));
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace ckpt::dumper
