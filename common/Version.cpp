// The version line (see Version.h).
#include "common/Version.h"

#include "GitCommit.h"  // generated at every build by cmake/GitCommit.cmake
#include "format/Image.h"

namespace ckpt::common {

std::string version_text(const char* program) {
  std::string s = std::string(program) + " " + CKPT_PROJECT_VERSION + " (image format " + std::to_string(format::kVersion);
  if (*CKPT_GIT_COMMIT) s += std::string(", commit ") + CKPT_GIT_COMMIT;
  return s + ")\n";
}

}  // namespace ckpt::common
