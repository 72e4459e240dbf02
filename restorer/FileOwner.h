// An open file description's SIGIO owner and signal, set again: the owner
// the dump could carry is the process itself (or its main thread), which
// after restore is restore's own pid (see dumper/FileOwner.h).
#pragma once

#include "format/Image.h"

namespace ckpt::restorer {

void set_file_owner(const format::FdEntry& f, int fd);  // throws RestoreError

}  // namespace ckpt::restorer
