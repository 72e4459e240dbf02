// Reads a process's credentials (format/Credentials.h) from /proc for every
// thread, refusing threads whose credentials differ from the leader's
// (naming the thread and the field): the restored threads all get the
// same. Securebits are asked by the injected getters (TaskState.cpp).
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Credentials.h"

namespace ckpt::dumper {

format::Credentials read_credentials(pid_t pid, const std::vector<pid_t>& tids);

// The thread `tid`'s securebits differ from the leader's: refused.
[[noreturn]] void refuse_securebits(pid_t pid, pid_t tid, uint32_t bits, uint32_t leader_bits);

}  // namespace ckpt::dumper
