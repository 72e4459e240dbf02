// The output file of a dump: written under a temporary name in the target's
// folder, fsynced, and renamed over the target only when complete, so a
// failed or killed dump never leaves a partial image under the final name
// nor destroys an older image there. The destructor removes an uncommitted
// temporary file. While the image is being written, write_back() starts
// sending what is already written to the disk, so that the fsync of commit()
// waits only for the last few MiB instead of the whole image.
//
// The output path names a regular file or nothing yet. A symlink, a device,
// a FIFO or a socket there is refused (check_path): renaming over it would
// replace the link or node itself (-o /dev/stdout became a regular file),
// not write where it points.
//
// "-" is standard output: a regular file is written in place (from its
// start: `>>` or an offset other than 0 is refused), anything else but a
// terminal gets the stream encoding (format/ImageStream.h), whose end
// record the writer sends once the image is checked. A connection given
// by `ckpt migrate` (Migrate.h) is a stream too; its commit() waits for
// the destination's word that it has passed its point of no return.
// `in_memory` (ckpt migrate --lazy, MigratePages.h): the image goes to a
// memfd of this process, which DumpOptions::deliver then serves from.
#pragma once

#include <cstdint>
#include <string>

namespace ckpt::dumper {

class ImageFile {
 public:
  // Throws DumpError, in one line, if `path` cannot take an image.
  // `connection` >= 0: the image goes to that socket (migrate), not to `path`.
  // `in_memory`: the image goes to a memfd of this process (migrate --lazy), not to `path`.
  static void check_path(const std::string& path, int connection = -1, bool in_memory = false);

  explicit ImageFile(const std::string& path, int connection = -1, bool in_memory = false);
  ~ImageFile();
  ImageFile(const ImageFile&) = delete;
  ImageFile& operator=(const ImageFile&) = delete;

  int fd() const { return fd_; }
  // The first `end` bytes are written: start writing them to the disk, if
  // enough has accumulated since the last call; does not wait for the disk.
  void write_back(uint64_t end);
  // u+x (and still owner-only), set on the temporary file before the
  // rename: nothing is ever changed through the final name, which someone
  // else may replace (with a symlink) once the rename is done.
  void make_executable();
  // fsync, rename to the final name, fsync the folder. Standard output: an
  // fsync if it is a file. A migration: half-close the connection and wait
  // for the destination's confirmation; throws DumpError without it.
  void commit();

 private:
  enum class Mode { Path, StdoutFile, Stream, Connection, Memory };
  Mode mode_ = Mode::Path;
  std::string path_, temp_;
  int fd_ = -1;
  uint64_t written_back_ = 0;  // write_back() has been started up to here
  bool committed_ = false;
};

}  // namespace ckpt::dumper
