// IP multicast memberships put back on a restored socket (the dumper's
// dumper/Multicast.h found them): each group joined on its interface
// (MCAST_JOIN_GROUP) and given its source filter (MCAST_MSFILTER), then
// read back. Joining sends IGMP/MLD reports, so phase 1 only checks that
// each interface exists here.
#pragma once

#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::restorer {

// "" when every interface exists, else why not.
std::string multicast_problem(const std::vector<format::MulticastGroup>& groups);

// Throws RestoreError "WHAT: why".
void join_multicast_groups(int fd, const std::vector<format::MulticastGroup>& groups, const std::string& what);

}  // namespace ckpt::restorer
