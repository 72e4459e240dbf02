// The caller's credentials against the saved ones (see Credentials.h).
#include "restorer/Credentials.h"

#include <sys/prctl.h>

#include <algorithm>
#include <iterator>
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

std::string check_full_credentials(const format::Image& image) {
  if (!image.credentials) return "";  // validation requires it
  const format::Credentials& want = *image.credentials;
  const std::string status = "\n" + x86::read_proc_file("/proc/self/status");
  format::Credentials own;
  uint32_t r, e, suid = 0, fsuid = 0, sgid = 0, fsgid = 0;
  std::istringstream(field(status, "Uid")) >> r >> e >> suid >> fsuid;
  std::istringstream(field(status, "Gid")) >> r >> e >> sgid >> fsgid;
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

  // The restored process would have more than it had: refused (an image
  // never grants). Less than it had: one warning line naming it (the
  // program sees its calls fail, as after a drop of privilege).
  const std::string lead = "the restored process would run with restore's credentials, ";
  std::string warnings;
  auto fewer = [&](const std::string& what) {
    warnings += "restore: warning: " + lead + "and so without " + what + "\n";
  };
  const format::ProcessInfo& p = image.process;
  if (suid != p.suid || fsuid != p.fsuid || sgid != p.sgid || fsgid != p.fsgid)
    throw RestoreError(lead + "whose saved/file-system uid " + std::to_string(suid) + "/" + std::to_string(fsuid) +
                       " and gid " + std::to_string(sgid) + "/" + std::to_string(fsgid) + " differ from the saved " +
                       std::to_string(p.suid) + "/" + std::to_string(p.fsuid) + " and " + std::to_string(p.sgid) + "/" +
                       std::to_string(p.fsgid));
  std::vector<uint32_t> extra, missing;
  std::set_difference(own.groups.begin(), own.groups.end(), want.groups.begin(), want.groups.end(),
                      std::back_inserter(extra));
  std::set_difference(want.groups.begin(), want.groups.end(), own.groups.begin(), own.groups.end(),
                      std::back_inserter(missing));
  if (!extra.empty())
    throw RestoreError(lead + "which include supplementary groups " + list(extra) +
                       " the process was not in (run restore with its groups, " + list(want.groups) +
                       ", e.g. through setpriv --groups)");
  if (!missing.empty()) fewer("its supplementary groups " + list(missing));
  struct Set {
    const char* name;
    uint64_t want, own;
  };
  for (const Set& s : {Set{"permitted", want.cap_permitted, own.cap_permitted},
                       Set{"effective", want.cap_effective, own.cap_effective},
                       Set{"inheritable", want.cap_inheritable, own.cap_inheritable},
                       Set{"bounding", want.cap_bounding, own.cap_bounding},
                       Set{"ambient", want.cap_ambient, own.cap_ambient}}) {
    if (s.own & ~s.want)
      throw RestoreError(lead + "which include " + s.name + " capabilities " + format::hex(s.own & ~s.want) +
                         " the process did not have (its " + s.name + " set was " + format::hex(s.want) +
                         "; run restore with the same, e.g. through setpriv or capsh)");
    if (s.want & ~s.own) fewer(std::string(s.name) + " capabilities " + format::hex(s.want & ~s.own) + " it had");
  }
  if (own.securebits != want.securebits)
    throw RestoreError(lead + "whose securebits " + format::hex(own.securebits) + " differ from the saved " +
                       format::hex(want.securebits));
  const uint32_t own_filters = own.seccomp_mode == 2 ? own.seccomp_filters : 0;
  if (!image.seccomp.empty()) {
    // Carried: restore attaches them last (restorer/Seccomp.h), on top of
    // whatever it runs under itself.
    if (own_filters)
      warnings += "restore: warning: " + lead + "under " + std::to_string(own_filters) +
                  " seccomp filters of restore's own, on top of the process's " +
                  std::to_string(image.seccomp.size()) + "\n";
    return warnings;
  }
  if (own.seccomp_mode < want.seccomp_mode || own_filters < want.seccomp_filters)
    throw RestoreError(lead + "under seccomp mode " + std::to_string(own.seccomp_mode) + " with " +
                       std::to_string(own_filters) + " filters, while the process ran under mode " +
                       std::to_string(want.seccomp_mode) + " with " + std::to_string(want.seccomp_filters) +
                       " (filters ckpt did not carry, shared with ckpt at the dump: restore must run under the same ones)");
  if (own.seccomp_mode != want.seccomp_mode || own_filters != want.seccomp_filters)
    warnings += "restore: warning: " + lead + "under " + std::to_string(own_filters - want.seccomp_filters) +
                " more seccomp filters than the process had\n";
  return warnings;
}

}  // namespace ckpt::restorer
