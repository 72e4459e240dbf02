// The dump size estimate (see DumpSize.h).
#include "dumper/DumpSize.h"

#include <dirent.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ckpt::dumper {

namespace {

uint64_t status_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  uint64_t kib = 0;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string key;
    uint64_t v = 0;
    s >> key >> v;
    if (key == "RssAnon:" || key == "RssShmem:" || key == "VmSwap:") kib += v;
  }
  return kib * 1024;
}

std::vector<pid_t> children(pid_t pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(tasks.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(tasks + "/" + e->d_name + "/children");
    for (pid_t c; in >> c;) out.push_back(c);
  }
  closedir(d);
  return out;
}

}  // namespace

uint64_t estimate_dump_bytes(pid_t pid, bool single) {
  uint64_t total = 0;
  std::set<pid_t> seen;
  std::vector<pid_t> todo{pid};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    if (!seen.insert(p).second) continue;
    total += status_bytes(p);
    if (!single)
      for (pid_t c : children(p)) todo.push_back(c);
  }
  return total;
}

}  // namespace ckpt::dumper
