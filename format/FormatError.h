// The one exception type of the format layer: what is wrong, and where in
// the image (byte offset) it was found.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace ckpt::format {

class FormatError : public std::runtime_error {
 public:
  FormatError(uint64_t offset, const std::string& what)
      : std::runtime_error("at offset " + std::to_string(offset) + ": " + what), offset_(offset) {}
  uint64_t offset() const { return offset_; }

 private:
  uint64_t offset_;
};

}  // namespace ckpt::format
