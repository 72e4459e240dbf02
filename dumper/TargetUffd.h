// A userfaultfd registered for another process's address space, held by
// ckpt: created inside the target (a stopped thread runs userfaultfd(2),
// injected: x86/RemoteSyscall), copied into ckpt with pidfd_getfd, and the
// target's own fd closed again, so that its fd table is as it was. The
// descriptor then watches the target's mm (the one it had when stopped:
// an exec or exit leaves it watching nothing). Used by snapshot dumps
// (Snapshot.h) and, for write tracking, by incremental dumps.
//
// The userfaultfd is made without UFFD_USER_MODE_ONLY, so that the kernel's
// own writes into the target's memory (read(2) into a buffer) wait for the
// handler too instead of failing with EFAULT: the target's credentials
// need CAP_SYS_PTRACE, or vm.unprivileged_userfaultfd = 1.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "x86/RemoteSyscall.h"

namespace ckpt::dumper {

struct TargetUffd {
  int fd = -1;            // ckpt's descriptor (O_CLOEXEC | O_NONBLOCK), or -1
  uint64_t features = 0;  // what the UFFDIO_API handshake enabled
  std::string why;        // when fd is -1: why not, one clause ("the kernel refused ...")
};

// `tid` is a thread of `pid` in a ptrace interrupt stop; `site` where to
// inject. Asks for `features` (UFFD_FEATURE_*, all of them required). A
// refusal the caller can work around (no permission, no feature, an fd
// limit) comes back as fd -1 with `why`; a target that cannot be driven
// throws DumpError. The target's fd is closed before this returns, also on
// every failure after it was made.
TargetUffd open_target_uffd(pid_t pid, pid_t tid, const x86::InjectionSite& site, uint64_t features);

}  // namespace ckpt::dumper
