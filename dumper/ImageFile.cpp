// Temporary-file-and-rename output (see ImageFile.h).
#include "dumper/ImageFile.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "dumper/Migrate.h"
#include "dumper/Tracee.h"

namespace ckpt::dumper {

static std::string folder_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Standard output as `-o -` takes it (see ImageFile.h); throws DumpError.
static void check_stdout() {
  struct stat st;
  if (fstat(STDOUT_FILENO, &st) != 0) throw DumpError("-o -: standard output is closed");
  if (isatty(STDOUT_FILENO))
    throw DumpError("-o -: standard output is a terminal; an image goes to a pipe, a socket or a file (ckpt dump PID -o - | ...)");
  if (S_ISDIR(st.st_mode)) throw DumpError("-o -: standard output is a folder");
  if (!S_ISREG(st.st_mode)) return;
  int flags = fcntl(STDOUT_FILENO, F_GETFL);
  if (flags >= 0 && (flags & O_APPEND))
    throw DumpError("-o -: standard output is a file opened for appending (>>); an image is written from the file's start");
  off_t at = lseek(STDOUT_FILENO, 0, SEEK_CUR);
  if (at != 0)
    throw DumpError("-o -: standard output is a file at offset " + std::to_string(at) +
                    ", not at its start; an image is written from the file's start");
}

void ImageFile::check_path(const std::string& path, int connection, bool in_memory) {
  if (connection >= 0 || in_memory) return;
  if (path == "-") return check_stdout();
  if (path.empty() || path.back() == '/') throw DumpError("output path '" + path + "' names no file");
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;  // a new file (a missing folder is said when it is created)
  if (S_ISREG(st.st_mode)) return;            // replaced whole by the rename, as an older image is
  if (S_ISDIR(st.st_mode)) throw DumpError("output path " + path + " is a folder");
  std::string what = S_ISLNK(st.st_mode)                          ? "a symbolic link"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                     : S_ISFIFO(st.st_mode)                       ? "a FIFO"
                                                                  : "a socket";
  if (S_ISLNK(st.st_mode)) {
    char to[4096];
    ssize_t n = readlink(path.c_str(), to, sizeof to - 1);
    if (n > 0) what += " (to " + std::string(to, size_t(n)) + ")";
  }
  // The hook for streaming an image (to a pipe, a device, a socket), a later
  // feature: until then, renaming over such a node would replace the node
  // itself rather than write where it leads, so it is refused.
  throw DumpError("output path " + path + " is " + what +
                  "; ckpt writes an image only to a new or regular file, which it replaces whole (to write to a "
                  "pipe or a socket: -o - and a redirection)");
}

ImageFile::ImageFile(const std::string& path, int connection, bool in_memory) : path_(path) {
  check_path(path, connection, in_memory);
  if (in_memory) {
    mode_ = Mode::Memory;
    fd_ = memfd_create("ckpt-migrate-image", MFD_CLOEXEC);
    if (fd_ < 0) throw DumpError(std::string("cannot create a memory file for the image: ") + std::strerror(errno));
    return;
  }
  if (connection >= 0 || path == "-") {
    // A reader gone away is an error of write(), not a signal that would
    // kill the dumper in the middle of its work.
    signal(SIGPIPE, SIG_IGN);
    struct stat st;
    fd_ = connection >= 0 ? connection : STDOUT_FILENO;
    mode_ = connection >= 0 ? Mode::Connection
            : fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) ? Mode::StdoutFile
                                                           : Mode::Stream;
    if (mode_ == Mode::StdoutFile) {
      // A description of our own that can also read: the image is read back
      // and checked before it counts (Dumper.cpp, check_restorable).
      fd_ = ::open("/proc/self/fd/1", O_RDWR | O_CLOEXEC | O_NOCTTY);
      if (fd_ < 0) throw DumpError(std::string("-o -: cannot open the file on standard output for reading back: ") + std::strerror(errno));
      if (ftruncate(fd_, 0) != 0)
        throw DumpError(std::string("-o -: cannot empty the file on standard output: ") + std::strerror(errno));
    }
    return;
  }
  temp_ = path + ".tmp-XXXXXX";
  std::vector<char> name(temp_.begin(), temp_.end());
  name.push_back('\0');
  // Images hold the process's memory, secrets included: owner-only (mkstemp's 0600).
  fd_ = mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0) {
    int e = errno;
    throw DumpError("cannot create the image in " + folder_of(path) + ": " + std::strerror(e));
  }
  temp_.assign(name.data());
}

ImageFile::~ImageFile() {
  if ((mode_ == Mode::StdoutFile || mode_ == Mode::Memory) && fd_ >= 0) ::close(fd_);
  if (mode_ != Mode::Path) return;  // standard output and the connection are the caller's
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void ImageFile::write_back(uint64_t end) {
  if (mode_ != Mode::Path) return;
  constexpr uint64_t kStep = 8u << 20;
  if (end < written_back_ + kStep) return;
  // Only a hint (WB_SYNC_NONE): an I/O error here is reported again by
  // commit's fsync, which is what decides whether the image is good.
  sync_file_range(fd_, off_t(written_back_), off_t(end - written_back_), SYNC_FILE_RANGE_WRITE);
  written_back_ = end;
}

void ImageFile::make_executable() {
  if (mode_ == Mode::Stream || mode_ == Mode::Connection || mode_ == Mode::Memory)
    throw DumpError("--executable needs an image file, not a stream");
  if (fchmod(fd_, S_IRUSR | S_IWUSR | S_IXUSR) != 0)
    throw DumpError("cannot make " + temp_ + " executable: " + std::strerror(errno));
}

void ImageFile::commit() {
  if (mode_ == Mode::Connection) {
    await_destination(fd_);
    committed_ = true;
    return;
  }
  if (mode_ == Mode::Stream || mode_ == Mode::Memory) {
    committed_ = true;
    return;
  }
  if (mode_ == Mode::StdoutFile) {
    if (fsync(fd_) != 0) throw DumpError(std::string("cannot sync the image on standard output: ") + std::strerror(errno));
    committed_ = true;
    return;
  }
  if (fsync(fd_) != 0) throw DumpError("cannot sync " + temp_ + ": " + std::strerror(errno));
  if (rename(temp_.c_str(), path_.c_str()) != 0)
    throw DumpError("cannot rename " + temp_ + " to " + path_ + ": " + std::strerror(errno));
  committed_ = true;
  int dir = ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);  // make the rename itself durable
    ::close(dir);
  }
}

}  // namespace ckpt::dumper
