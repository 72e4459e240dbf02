// The restore's progress line (see StageProgress.h).
#include "restorer/StageProgress.h"

namespace ckpt::restorer {

namespace {

uint64_t staged_bytes(const format::Image& image, const AddressPlan& plan) {
  const std::vector<size_t> chunk_vma = format::chunk_vmas(image);
  uint64_t bytes = 0;
  for (size_t ci = 0; ci < image.chunks.size(); ++ci)
    if (!image.chunks[ci].inherited() && !plan.is_lazy(chunk_vma[ci])) bytes += image.chunks[ci].size();
  return bytes;
}

common::ProgressMode mode(const CommandLine& cl) {
  return cl.progress ? common::ProgressMode::On : cl.no_progress ? common::ProgressMode::Off : common::ProgressMode::Auto;
}

}  // namespace

StageProgress::StageProgress(const format::Image& image, const AddressPlan& plan, const CommandLine& cl)
    : line_("restore", "restoring", common::progress_wanted(mode(cl)) ? staged_bytes(image, plan) : 0, mode(cl)) {
  if (line_.enabled()) common::set_current_progress(&line_);
}

StageProgress::~StageProgress() { line_.finish(); }

}  // namespace ckpt::restorer
