// Making room for saved pages in staged areas (see PageWriter.h).
#include "restorer/PageWriter.h"

#include <sys/mman.h>

namespace ckpt::restorer {

void PageWriter::populate(uint8_t* dest, size_t n) {
  // Only an optimisation: where it fails, the read faults the pages in.
  if (populate_works_ && madvise(dest, n, MADV_POPULATE_WRITE) != 0) populate_works_ = false;
}

}  // namespace ckpt::restorer
