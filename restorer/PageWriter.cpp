// Writing pages into staged areas through the kernel (see PageWriter.h).
#include "restorer/PageWriter.h"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

namespace ckpt::restorer {

void PageWriter::populate(uint8_t* dest, size_t n) {
  // Only an optimisation: where it fails, the copy below faults the pages in.
  if (populate_works_ && madvise(dest, n, MADV_POPULATE_WRITE) != 0) populate_works_ = false;
}

void PageWriter::write(uint8_t* dest, const uint8_t* src, size_t n) {
  while (n && vm_writev_works_) {
    iovec from{const_cast<uint8_t*>(src), n}, to{dest, n};
    ssize_t r = process_vm_writev(self_, &from, 1, &to, 1, 0);
    if (r <= 0) {
      vm_writev_works_ = false;  // refused (seccomp, no such call): stores from here on
      break;
    }
    dest += r;
    src += r;
    n -= size_t(r);
  }
  std::memcpy(dest, src, n);
}

}  // namespace ckpt::restorer
