// A failure before the point of no return: one line saying what and why;
// `restore` prints it and exits 1 with nothing changed.
#pragma once

#include <stdexcept>

namespace ckpt::restorer {

class RestoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ckpt::restorer
