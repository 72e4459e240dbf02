// The progress line of a restore (common/Progress.h) while memory is
// staged: the total is the page data staging will fill (every chunk not
// inherited and not left to the lazy page server); the staging workers
// report each chunk done through common::progress_add. Erased before
// anything after staging prints or the restored program runs.
#pragma once

#include "common/Progress.h"
#include "format/Image.h"
#include "restorer/AddressPlan.h"
#include "restorer/CommandLine.h"

namespace ckpt::restorer {

class StageProgress {
 public:
  StageProgress(const format::Image& image, const AddressPlan& plan, const CommandLine& cl);
  ~StageProgress();
  StageProgress(const StageProgress&) = delete;
  StageProgress& operator=(const StageProgress&) = delete;

 private:
  common::Progress line_;
};

}  // namespace ckpt::restorer
