// The restored process runs with restore's credentials (an image never
// grants any). Compared with the saved ones (saved and file-system ids in
// ProcessInfo; format/Credentials.h: supplementary groups, the five
// capability sets, securebits, seccomp mode and filter count): where restore
// has more (a capability or group the process lacked, fewer seccomp
// filters, other ids or securebits) the restore is refused, naming it and
// what the caller can do; where it has less, one warning line names what
// the process will lack. Phase 1, last, no side effects.
#pragma once

#include <string>

namespace ckpt::format {
struct Image;
}

namespace ckpt::restorer {

// Throws where the restored process would have more than it had; returns
// warning lines (each ending in a newline) for what it would have less of.
std::string check_full_credentials(const format::Image& image);

}  // namespace ckpt::restorer
