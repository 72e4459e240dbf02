// The target's memory map as image VMAs: /proc/PID/smaps classified into
// kinds, with flags and file identities. Refuses, naming the area, any
// mapping this version cannot restore.
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

std::vector<format::Vma> read_address_space(pid_t pid);

}  // namespace ckpt::dumper
