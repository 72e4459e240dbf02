// /proc/PID/fdinfo/N read as "key: value" lines, and the one-line refusal
// that every per-kind descriptor reader (Descriptors.cpp dispatches to them)
// uses to name the fd it cannot dump.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace ckpt::dumper {

// Keys may repeat (epoll "tfd:" lines, "lock:" lines), so this is a list.
using FdInfo = std::vector<std::pair<std::string, std::string>>;

std::string proc_path(pid_t pid, const std::string& leaf);
FdInfo read_fdinfo(pid_t pid, int fd);
std::string fdinfo_field(const FdInfo& info, const char* key);  // "" if absent

[[noreturn]] void refuse_fd(pid_t pid, int fd, const std::string& why);

}  // namespace ckpt::dumper
