// The C library's cached thread id (see CachedTid.h).
#include "restorer/CachedTid.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace ckpt::restorer {

int32_t* cached_tid_slot() {
  static long offset = -2;  // -2: not searched yet; -1: not found exactly once
  auto* base = reinterpret_cast<int32_t*>(__builtin_thread_pointer());
  if (offset == -2) {
    const int32_t tid = int32_t(syscall(SYS_gettid));
    offset = -1;
    for (size_t i = 0; i < 2048 / 4; ++i)
      if (base[i] == tid) {
        if (offset >= 0) {
          offset = -1;  // ambiguous
          break;
        }
        offset = long(i);
      }
  }
  return offset >= 0 ? base + offset : nullptr;
}

}  // namespace ckpt::restorer
