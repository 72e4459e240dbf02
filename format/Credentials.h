// What a process may do, beyond its user and group ids (ProcessInfo):
// supplementary groups, capability sets,
// securebits and its seccomp filters (SectionType::Credentials, one per
// member; docs/format.md, "Credentials"). An image never grants any of it:
// restore runs the process with its caller's credentials, so it refuses
// unless the caller's are exactly these (docs/architecture.md, "Credentials
// and scheduling"). Every thread had the same at the dump.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ckpt::format {

struct Credentials {
  std::vector<uint32_t> groups;  // getgroups order as /proc shows it (ascending)
  uint64_t cap_inheritable = 0, cap_permitted = 0, cap_effective = 0, cap_bounding = 0, cap_ambient = 0;
  uint32_t securebits = 0;       // prctl(PR_GET_SECUREBITS)
  uint32_t seccomp_mode = 0;     // 0 none, 1 strict, 2 filter (/proc "Seccomp:")
  uint32_t seccomp_filters = 0;  // filters attached (/proc "Seccomp_filters:")
};

std::vector<uint8_t> encode_credentials(const Credentials& c);
Credentials decode_credentials(const uint8_t* data, size_t n, uint64_t base);

// Groups ascending and unique, a known seccomp mode (a filter count only
// with mode 2), effective and ambient capabilities within the permitted.
void validate_credentials(const Credentials& c, const std::function<void(const std::string&)>& bad);

}  // namespace ckpt::format
