// The target's memory map as image VMAs: /proc/PID/smaps classified into
// kinds, with flags and file identities. Refuses, naming the area, any
// mapping this version cannot restore.
//
// smaps is the only source of an area's VmFlags, and the kernel walks
// every page table entry to write it (15-25 ms per GiB resident). A dump
// that lets its target run again reads it before the freeze
// (read_maps_before); in the freeze it then reads /proc/PID/maps, which
// walks no page, and takes the flags read before only if every area is
// still the same (addresses, protection, offset, file). Flags changed in
// place on a whole area (madvise, mlock) do not show in maps: the dump
// reads smaps again once the target runs (check_flags_kept) and fails if
// any area's flags then differ from those it recorded.
#pragma once

#include <sys/types.h>

#include <vector>

#include "format/Image.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

// smaps read before the freeze; empty when it cannot be used (the freeze
// reads smaps itself then).
struct MapsBefore {
  std::vector<x86::MapsEntry> entries;
};

// Before the seize: the running target's smaps. Areas whose smaps fields
// describe their pages (huge-page memory) or that the freeze must refuse
// (userfaultfd-registered for missing pages) leave it empty: the freeze
// reads them exactly.
MapsBefore read_maps_before(pid_t pid);

// In the freeze. `before` (or nullptr): used when maps shows the same
// areas; `*used_before` says whether it was.
std::vector<format::Vma> read_address_space(pid_t pid, const MapsBefore* before = nullptr,
                                            bool* used_before = nullptr);

// Once the target runs again, after read_address_space used `before`:
// throws DumpError, naming the area, when an area of `vmas` that is still
// mapped now has other flags (so they may have differed at the freeze).
void check_flags_kept(pid_t pid, const std::vector<format::Vma>& vmas);

}  // namespace ckpt::dumper
