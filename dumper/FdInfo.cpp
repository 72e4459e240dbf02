// fdinfo parsing and fd refusals (see FdInfo.h).
#include "dumper/FdInfo.h"

#include <sstream>

#include "dumper/Tracee.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

std::string proc_path(pid_t pid, const std::string& leaf) { return "/proc/" + std::to_string(pid) + "/" + leaf; }

FdInfo read_fdinfo(pid_t pid, int fd) {
  FdInfo out;
  std::istringstream in(x86::read_proc_file(proc_path(pid, "fdinfo/" + std::to_string(fd))));
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t v = line.find_first_not_of(" \t", colon + 1);
    out.emplace_back(line.substr(0, colon), v == std::string::npos ? "" : line.substr(v));
  }
  return out;
}

std::string fdinfo_field(const FdInfo& info, const char* key) {
  for (const auto& [k, v] : info)
    if (k == key) return v;
  return "";
}

FdRefused::FdRefused(pid_t pid, int fd, const std::string& why)
    : DumpError("pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(fd) + ": " + why), fd(fd), why(why) {}

void refuse_fd(pid_t pid, int fd, const std::string& why) { throw FdRefused(pid, fd, why); }

}  // namespace ckpt::dumper
