// /proc/PID/fdinfo/N read as "key: value" lines, and the one-line refusal
// that every per-kind descriptor reader (Descriptors.cpp dispatches to them)
// uses to name the fd it cannot dump.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "dumper/Tracee.h"

namespace ckpt::dumper {

// Keys may repeat (epoll "tfd:" lines, "lock:" lines), so this is a list.
using FdInfo = std::vector<std::pair<std::string, std::string>>;

std::string proc_path(pid_t pid, const std::string& leaf);
FdInfo read_fdinfo(pid_t pid, int fd);
std::string fdinfo_field(const FdInfo& info, const char* key);  // "" if absent

// An fd this version cannot carry exactly. Every reader of a kind refuses
// one with refuse_fd (not a plain DumpError), so that --ignore-fds can
// leave that fd out instead (Descriptors.h). what(): "pid P: cannot dump
// fd N: WHY", WHY naming the fd's kind.
struct FdRefused : DumpError {
  FdRefused(pid_t pid, int fd, const std::string& why);
  int fd;
  std::string why;
};

[[noreturn]] void refuse_fd(pid_t pid, int fd, const std::string& why);

}  // namespace ckpt::dumper
