// `ckpt check`: what this machine and this user can do with ckpt, found by
// trying each thing for real (tracing a process that is not a child,
// creating namespaces and a userfaultfd, the madvise and ioctl calls dump
// and restore make), never guessed from the kernel's version. Nothing is
// left changed: every trial runs in a child process or on memory and
// descriptors of its own, and binfmt_misc is only read.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace ckpt::dumper {

struct Finding {
  std::string name;    // short key: "ptrace", "userfaultfd", "--lazy", ...
  bool ok = false;     // works here
  bool required = false;  // a plain `ckpt dump` + `restore` needs it
  std::string detail;  // what was found (or what failed, and why)
  std::string advice;  // what to do about it when !ok (may be empty)
};

// `restore`: the restore program ckpt would run (beside ckpt, or on PATH),
// or empty if none was found.
std::vector<Finding> probe_machine(const std::string& restore);

// One line per finding ("ok", "no" for a missing optional feature, "FAIL"
// for one a plain dump or restore needs), then a verdict line; or JSON. Returns
// whether every required finding is ok (then `ckpt check` exits 0).
bool print_report(const std::vector<Finding>& findings, bool json, std::ostream& out);

}  // namespace ckpt::dumper
