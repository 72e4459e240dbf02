// Files that lost their last name while the target used them: open fds whose
// /proc link ends in " (deleted)", mappings of such files and a deleted
// working directory. Each inode becomes one format::DeletedFile, whatever
// the number of fds and mappings that use it (they refer to it by id):
//   - a regular file is copied (contents, mode, owner, atime/mtime), or, if
//     it still has another hard link, recorded by file handle and mount
//     point so that restore reopens the very file instead of copying it;
//   - a FIFO or a directory is recorded by mode and owner only.
// Device nodes and set-id files are refused (docs/architecture.md).
// Contents the target could only write (a write-only fd) are read with the
// target's own file-system credentials, so a root dumper never copies into
// an image what the process itself could not read (docs/security.md).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

class DeletedFiles {
 public:
  explicit DeletedFiles(pid_t pid) : pid_(pid) {}

  // fd `fd` of the target, linked to `target` ("NAME (deleted)") and opened
  // with `access` (O_RDONLY, O_WRONLY or O_RDWR). Returns the object's id.
  uint64_t add_fd(int fd, const std::string& target, uint32_t access);
  // A mapping of a deleted file (v.file.path is its name, v.file.ino its inode).
  void add_mapping(const format::Vma& v);
  // The working directory, if it was deleted; returns whether it was.
  bool add_cwd();

  // Reads the contents of the files to be copied, and returns them all,
  // sorted by id. Throws DumpError.
  std::vector<format::DeletedFile> take();

 private:
  // `link`: a /proc path that opens the object; `readable`: the target
  // itself can read it through the fd or mapping that uses it.
  uint64_t add(const std::string& link, const std::string& name, bool readable, const std::string& what);
  // A regular file to copy: how to open it, what uses it, and whether any
  // of its users can read it (else the target's own rights are checked).
  struct Copy {
    std::string link, what;
    bool readable = false;
  };
  void read_copy(format::DeletedFile& d, const Copy& c);
  pid_t pid_;
  std::map<uint64_t, format::DeletedFile> files_;
  std::map<uint64_t, Copy> copies_;
  std::map<uint64_t, dev_t> devs_;
};

// "NAME (deleted)" -> true, with `name` set to NAME.
bool strip_deleted(const std::string& target, std::string* name);

}  // namespace ckpt::dumper
