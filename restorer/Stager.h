// Phase 3: build every saved VMA's final contents at its staging address,
// with libc and zstd at hand: anonymous memory filled from the image
// (straight into place, never-saved pages left untouched), private file
// mappings mapped from their file with the saved pages laid over, shared
// file mappings mapped again; then each area gets its final protection.
#pragma once

#include "format/ImageReader.h"
#include "restorer/AddressPlan.h"
#include "restorer/ChildPages.h"
#include "restorer/Descriptors.h"
#include "restorer/MachineCheck.h"
#include "restorer/OwnFiles.h"
#include "restorer/Predecoder.h"
#include "restorer/SysvShm.h"

namespace ckpt::restorer {

// Throws RestoreError (or format::FormatError for corrupt page data).
// `pre` (or nullptr): chunks already decompressed (Predecoder.h); it is
// stopped when the filling starts and finished when it ends.
void stage_memory(const format::ImageReader& reader, const MachineFit& fit, const AddressPlan& plan,
                  const PreparedFiles& files, Predecoder* pre = nullptr);
// The same for one member of a tree (its chunks are in the reader's page
// data). `keep` (a child member's, or nullptr): areas that already hold the
// parent's copy of their pages; only their own chunks are written, and
// pages no chunk covers are discarded.
void stage_memory(const format::ImageReader& reader, const format::Image& image, const MachineFit& fit,
                  const AddressPlan& plan, const PreparedFiles& files, const ChildPages* keep = nullptr,
                  Predecoder* pre = nullptr);

// After every check of the launch and before descriptors, the first side
// effects outside the launcher: SysV segments attached at their staged
// areas, and per-process files (staged as private memory) written to their
// new files and mapped over. Their madvise flags, guards and locks too.
void stage_outside(const format::Image& image, const AddressPlan& plan, const SysvSegments& sysv, const OwnFiles& own);

}  // namespace ckpt::restorer
