// The output file of a dump: written under a temporary name in the target's
// folder, fsynced, and renamed over the target only when complete, so a
// failed or killed dump never leaves a partial image under the final name
// nor destroys an older image there. The destructor removes an uncommitted
// temporary file.
#pragma once

#include <string>

namespace ckpt::dumper {

class ImageFile {
 public:
  explicit ImageFile(const std::string& path);
  ~ImageFile();
  ImageFile(const ImageFile&) = delete;
  ImageFile& operator=(const ImageFile&) = delete;

  int fd() const { return fd_; }
  // fsync, rename to the final name, fsync the folder.
  void commit();

 private:
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace ckpt::dumper
