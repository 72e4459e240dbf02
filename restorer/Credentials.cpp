// The caller's credentials against the saved ones (see Credentials.h).
#include "restorer/Credentials.h"

#include <sys/prctl.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "format/Hex.h"
#include "format/Image.h"
#include "restorer/RestoreError.h"
#include "x86/ProcMaps.h"

namespace ckpt::restorer {

namespace {

std::string field(const std::string& status, const std::string& key) {
  const std::string k = "\n" + key + ":";
  size_t at = status.find(k);
  if (at == std::string::npos) return key == "Seccomp_filters" ? "0" : "";
  at += k.size();
  return status.substr(at, status.find('\n', at) - at);
}

std::string list(const std::vector<uint32_t>& v) {
  std::string out;
  for (uint32_t x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out.empty() ? "none" : out;
}

}  // namespace

void check_full_credentials(const format::Image& image) {
  if (!image.credentials) return;  // validation requires it
  const format::Credentials& want = *image.credentials;
  const std::string status = "\n" + x86::read_proc_file("/proc/self/status");
  format::Credentials own;
  uint32_t r, e;
  std::istringstream(field(status, "Uid")) >> r >> e >> own.suid >> own.fsuid;
  std::istringstream(field(status, "Gid")) >> r >> e >> own.sgid >> own.fsgid;
  std::istringstream groups(field(status, "Groups"));
  for (uint32_t g; groups >> g;) own.groups.push_back(g);
  std::sort(own.groups.begin(), own.groups.end());
  own.groups.erase(std::unique(own.groups.begin(), own.groups.end()), own.groups.end());
  auto hex = [&](const char* key) { return std::stoull(field(status, key), nullptr, 16); };
  own.cap_inheritable = hex("CapInh");
  own.cap_permitted = hex("CapPrm");
  own.cap_effective = hex("CapEff");
  own.cap_bounding = hex("CapBnd");
  own.cap_ambient = hex("CapAmb");
  own.seccomp_mode = uint32_t(std::stoul(field(status, "Seccomp")));
  own.seccomp_filters = uint32_t(std::stoul(field(status, "Seccomp_filters")));
  own.securebits = uint32_t(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));

  const std::string lead = "the restored process would run with restore's credentials, which differ from the saved ones: ";
  if (own.suid != want.suid || own.fsuid != want.fsuid || own.sgid != want.sgid || own.fsgid != want.fsgid)
    throw RestoreError(lead + "saved/file-system uid " + std::to_string(want.suid) + "/" + std::to_string(want.fsuid) +
                       " and gid " + std::to_string(want.sgid) + "/" + std::to_string(want.fsgid) + ", here " +
                       std::to_string(own.suid) + "/" + std::to_string(own.fsuid) + " and " + std::to_string(own.sgid) +
                       "/" + std::to_string(own.fsgid));
  if (own.groups != want.groups)
    throw RestoreError(lead + "supplementary groups " + list(want.groups) + ", here " + list(own.groups) +
                       " (run restore with the same groups, e.g. through setpriv --groups)");
  struct Set {
    const char* name;
    uint64_t want, own;
  };
  for (const Set& s : {Set{"permitted", want.cap_permitted, own.cap_permitted},
                       Set{"effective", want.cap_effective, own.cap_effective},
                       Set{"inheritable", want.cap_inheritable, own.cap_inheritable},
                       Set{"bounding", want.cap_bounding, own.cap_bounding},
                       Set{"ambient", want.cap_ambient, own.cap_ambient}})
    if (s.want != s.own)
      throw RestoreError(lead + s.name + " capabilities " + format::hex(s.want) + ", here " + format::hex(s.own) +
                         " (run restore with the same capabilities, e.g. through capsh or setpriv)");
  if (own.securebits != want.securebits)
    throw RestoreError(lead + "securebits " + format::hex(want.securebits) + ", here " + format::hex(own.securebits));
  if (own.seccomp_mode != want.seccomp_mode || own.seccomp_filters != want.seccomp_filters)
    throw RestoreError(lead + "seccomp mode " + std::to_string(want.seccomp_mode) + " with " +
                       std::to_string(want.seccomp_filters) + " filters, here mode " + std::to_string(own.seccomp_mode) +
                       " with " + std::to_string(own.seccomp_filters) +
                       " (ckpt does not carry seccomp filters: restore must run under the same ones)");
}

}  // namespace ckpt::restorer
