// What `ckpt --version` and `restore --version` print: the release (CMake's
// project() version), the image format version this build writes and reads,
// and the git commit it was built from when the build knew it.
#pragma once

#include <string>

namespace ckpt::common {

// One line, ending in a newline, e.g.
// "ckpt 0.1 (image format 3, commit 1a2b3c4d5e6f)\n".
std::string version_text(const char* program);

}  // namespace ckpt::common
