// The restored process runs with restore's credentials (an image never
// grants any), so restore refuses unless its own are exactly the saved ones
// (format/Credentials.h): saved and file-system ids, supplementary groups,
// the five capability sets, securebits and the number of seccomp filters.
// Each difference is named with what the caller can do about it. Phase 1,
// no side effects.
#pragma once

namespace ckpt::format {
struct Image;
}

namespace ckpt::restorer {

void check_full_credentials(const format::Image& image);

}  // namespace ckpt::restorer
