// Opening a file the target controls (see TargetFile.h).
#include "dumper/TargetFile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dumper/ScopedFd.h"

namespace ckpt::dumper {

static const char* type_name(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a folder";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "an unknown kind of file";
  }
}

static bool matches(const struct stat& st, const ExpectedFile& want, std::string* why) {
  if ((st.st_mode & S_IFMT) != want.type) {
    *why = std::string("it is now ") + type_name(st.st_mode) + ", not " + type_name(want.type);
    return false;
  }
  if ((want.dev && st.st_dev != want.dev) || (want.ino && st.st_ino != want.ino)) {
    *why = "it is no longer the same file (inode " + std::to_string(st.st_ino) + ", expected " +
           std::to_string(want.ino) + ")";
    return false;
  }
  return true;
}

int open_target_file(const std::string& path, const ExpectedFile& want, std::string* why, bool* wrong) {
  bool ignored;
  if (!wrong) wrong = &ignored;
  *wrong = false;
  ScopedFd probe(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (probe.get() < 0) {
    *why = std::string("cannot open it: ") + std::strerror(errno);
    return -1;
  }
  struct stat st;
  if (fstat(probe.get(), &st) != 0) {
    *why = std::string("cannot stat it: ") + std::strerror(errno);
    return -1;
  }
  if (!matches(st, want, why)) {
    *wrong = true;
    return -1;
  }
  // The O_PATH descriptor pins the inode just checked: reopening it through
  // /proc/self/fd cannot reach anything else, whatever the path names now.
  const std::string self = "/proc/self/fd/" + std::to_string(probe.get());
  int fd = ::open(self.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    *why = std::string("cannot open it: ") + std::strerror(errno);
    return -1;
  }
  struct stat again;
  if (fstat(fd, &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
    ::close(fd);
    *wrong = true;
    *why = "it changed while it was being opened";
    return -1;
  }
  return fd;
}

}  // namespace ckpt::dumper
