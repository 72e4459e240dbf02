// The credentials record (see Credentials.h).
#include "format/Credentials.h"

#include "format/Codec.h"
#include "format/FormatError.h"
#include "format/Limits.h"

namespace ckpt::format {

std::vector<uint8_t> encode_credentials(const Credentials& c) {
  ByteWriter w;
  w.u32(uint32_t(c.groups.size()));
  for (uint32_t g : c.groups) w.u32(g);
  for (uint64_t v : {c.cap_inheritable, c.cap_permitted, c.cap_effective, c.cap_bounding, c.cap_ambient}) w.u64(v);
  w.u32(c.securebits);
  w.u32(c.seccomp_mode);
  w.u32(c.seccomp_filters);
  return w.bytes();
}

Credentials decode_credentials(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  Credentials c;
  c.groups.resize(r.count("supplementary group count", kMaxGroups, 4));
  for (uint32_t& g : c.groups) g = r.u32("supplementary group");
  c.cap_inheritable = r.u64("inheritable capabilities");
  c.cap_permitted = r.u64("permitted capabilities");
  c.cap_effective = r.u64("effective capabilities");
  c.cap_bounding = r.u64("capability bounding set");
  c.cap_ambient = r.u64("ambient capabilities");
  c.securebits = r.u32("securebits");
  c.seccomp_mode = r.u32("seccomp mode");
  c.seccomp_filters = r.u32("seccomp filter count");
  r.expect_end("credentials section");
  return c;
}

void validate_credentials(const Credentials& c, const std::function<void(const std::string&)>& bad) {
  for (size_t i = 1; i < c.groups.size(); ++i)
    if (c.groups[i] <= c.groups[i - 1]) bad("supplementary groups are not ascending and unique");
  if (c.seccomp_mode > 2) bad("unknown seccomp mode " + std::to_string(c.seccomp_mode));
  if (c.seccomp_mode != 2 && c.seccomp_filters != 0) bad("seccomp filters without filter mode");
  if (c.seccomp_filters > kMaxSeccompFilters) bad("seccomp filter count beyond the kernel's limit");
  if ((c.cap_effective | c.cap_ambient) & ~c.cap_permitted) bad("effective or ambient capabilities beyond the permitted set");
  if (c.securebits > 0xff) bad("unknown securebits " + std::to_string(c.securebits));
}

}  // namespace ckpt::format
