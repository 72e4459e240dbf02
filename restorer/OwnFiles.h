// Per-process files at restore (VMA kind file-shared-own): a writable shared
// mapping of a file named after the process's pid, such as a JVM's
// /tmp/hsperfdata_USER/PID, is mapped from a new file in the same folder
// named after the restored process's pid (restore's own), created here and
// filled with the saved contents by the stager. Created files are removed
// again if the restore fails before its point of no return.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::restorer {

// The new name of a per-process file: its folder, then the restored pid
// (this process's own, or with restore --pid-ns the saved one).
std::string own_file_path(const format::Vma& v, int pid);
std::string own_file_path(const format::Vma& v);  // this process's pid

// Phase 1, no side effects: each folder exists and is writable, and each new
// name is free or a stale file of ours (a dead process that had this pid).
// `pid_ns` (restore --pid-ns): the name is the saved pid's, which is not
// unique on this machine (the original, or another copy, may hold it), so
// an existing name is refused, never replaced.
void check_own_files(const format::Image& image, bool pid_ns = false);

class OwnFiles {
 public:
  OwnFiles() = default;
  OwnFiles(const OwnFiles&) = delete;
  OwnFiles& operator=(const OwnFiles&) = delete;
  OwnFiles(OwnFiles&& o) noexcept : fds_(std::move(o.fds_)), paths_(std::move(o.paths_)) { o.paths_.clear(); o.fds_.clear(); }
  ~OwnFiles();
  int fd_for(const format::Vma& v) const;  // open read-write, sized as the saved file
 private:
  friend OwnFiles create_own_files(const format::Image& image, bool pid_ns);
  std::map<std::string, int> fds_;  // saved path -> descriptor of the new file
  std::vector<std::string> paths_;  // created, removed by the destructor
};

OwnFiles create_own_files(const format::Image& image, bool pid_ns = false);

}  // namespace ckpt::restorer
