// Phase 1, second half: whether this machine and this caller can take the
// image. The image itself was checked by format::ImageReader; here: the CPU
// (XSAVE features and size), the kernel's vdso, the files the image maps
// (present and unchanged), and the caller's credentials. No side effects
// beyond opening the mapped files read-only (or read-write for writable
// shared mappings); the returned descriptors are used for staging.
#pragma once

#include <vector>

#include "format/Image.h"
#include "x86/ProcMaps.h"

namespace ckpt::restorer {

struct VdsoGroup {  // the launcher's own [vvar], [vvar_vclock], [vdso]
  std::vector<x86::MapsEntry> parts;  // in address order
};

struct MachineFit {
  std::vector<int> file_fds;  // one per image VMA; -1 for non-file VMAs
  VdsoGroup vdso;
};

// Throws RestoreError when the image's saved pages (the memory a restore
// certainly commits) exceed what this machine has available (MemAvailable +
// SwapFree), or when its address space exceeds the caller's RLIMIT_AS. Reads
// /proc/meminfo and the rlimit only: no side effects.
void check_memory(const format::Image& image);

// Throws RestoreError naming the first problem.
MachineFit check_machine(const format::Image& image, const std::vector<x86::MapsEntry>& self_maps);

}  // namespace ckpt::restorer
