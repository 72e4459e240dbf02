// Credentials of a stopped process (see Credentials.h).
#include "dumper/Credentials.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "dumper/Tracee.h"
#include "format/Hex.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

namespace {

// The value of "Key:" in a /proc status file (empty if absent).
std::string field(const std::string& status, const std::string& key, pid_t tid) {
  const std::string k = "\n" + key + ":";
  size_t at = status.find(k);
  if (at == std::string::npos) {
    if (key == "Seccomp_filters") return "0";  // before Linux 5.9: counted as none
    throw DumpError("thread " + std::to_string(tid) + ": its /proc status has no " + key + " line");
  }
  at += k.size();
  size_t end = status.find('\n', at);
  return status.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

struct ThreadCreds {
  format::Credentials c;
  std::string uids, gids;  // the four ids, for comparison and messages
};

ThreadCreds read_thread(pid_t pid, pid_t tid) {
  const std::string status =
      "\n" + x86::read_proc_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
  ThreadCreds t;
  format::Credentials& c = t.c;
  t.uids = field(status, "Uid", tid);
  t.gids = field(status, "Gid", tid);
  std::istringstream groups(field(status, "Groups", tid));
  for (uint32_t g; groups >> g;) c.groups.push_back(g);
  auto hex = [&](const char* key) { return std::stoull(field(status, key, tid), nullptr, 16); };
  c.cap_inheritable = hex("CapInh");
  c.cap_permitted = hex("CapPrm");
  c.cap_effective = hex("CapEff");
  c.cap_bounding = hex("CapBnd");
  c.cap_ambient = hex("CapAmb");
  c.seccomp_mode = uint32_t(std::stoul(field(status, "Seccomp", tid)));
  c.seccomp_filters = uint32_t(std::stoul(field(status, "Seccomp_filters", tid)));
  return t;
}

}  // namespace

format::Credentials read_credentials(pid_t pid, const std::vector<pid_t>& tids) {
  const pid_t leader = tids.empty() ? pid : tids.front();
  ThreadCreds first = read_thread(pid, leader);
  std::sort(first.c.groups.begin(), first.c.groups.end());
  first.c.groups.erase(std::unique(first.c.groups.begin(), first.c.groups.end()), first.c.groups.end());
  for (size_t i = 1; i < tids.size(); ++i) {
    ThreadCreds t = read_thread(pid, tids[i]);
    std::sort(t.c.groups.begin(), t.c.groups.end());
    t.c.groups.erase(std::unique(t.c.groups.begin(), t.c.groups.end()), t.c.groups.end());
    const format::Credentials &a = first.c, &b = t.c;
    const char* what = t.uids != first.uids ? "user ids"
                       : t.gids != first.gids ? "group ids"
                       : a.groups != b.groups ? "supplementary groups"
                       : a.cap_inheritable != b.cap_inheritable || a.cap_permitted != b.cap_permitted ||
                               a.cap_effective != b.cap_effective || a.cap_bounding != b.cap_bounding ||
                               a.cap_ambient != b.cap_ambient
                           ? "capabilities"
                       : a.seccomp_mode != b.seccomp_mode || a.seccomp_filters != b.seccomp_filters ? "seccomp filters"
                                                                                                     : nullptr;
    if (what)
      throw DumpError("pid " + std::to_string(pid) + ": thread " + std::to_string(tids[i]) + " has other " + what +
                      " than the thread group's leader; ckpt gives every restored thread the same credentials");
  }
  return first.c;
}

void refuse_securebits(pid_t pid, pid_t tid, uint32_t bits, uint32_t leader_bits) {
  throw DumpError("pid " + std::to_string(pid) + ": thread " + std::to_string(tid) + " has securebits " +
                  format::hex(bits) + ", the leader " + format::hex(leader_bits) +
                  "; ckpt gives every restored thread the same credentials");
}

}  // namespace ckpt::dumper
