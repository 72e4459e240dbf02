// Recreating files deleted while in use (see DeletedFiles.h).
#include "restorer/DeletedFiles.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "format/DeletedFile.h"
#include "format/Limits.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

using format::DeletedFile;

namespace {

std::string text(const DeletedFile& d) { return "deleted " + std::string(S_ISDIR(d.mode) ? "directory " : S_ISFIFO(d.mode) ? "FIFO " : "file ") + d.path; }

[[noreturn]] void fail(const DeletedFile& d, const std::string& why) { throw RestoreError(text(d) + ": " + why); }

timespec ts(int64_t ns) { return {time_t(ns / 1000000000), long(ns % 1000000000)}; }

bool in_groups(gid_t g) {
  if (g == getegid()) return true;
  std::vector<gid_t> groups(size_t(getgroups(0, nullptr)));
  int n = getgroups(int(groups.size()), groups.data());
  for (int i = 0; i < n; ++i)
    if (groups[size_t(i)] == g) return true;
  return false;
}

// Opens the file a handle names, as at dump. Throws. O_PATH first, which
// opens nothing: the handle comes from the image and could name a FIFO or
// a device on that file system.
int open_by_handle(const DeletedFile& d, int flags) {
  int mfd = ::open(d.mount.c_str(), O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
  if (mfd < 0) fail(d, "its file system's mount point " + d.mount + " is missing (" + std::strerror(errno) + ")");
  std::vector<uint8_t> buf(sizeof(file_handle) + d.handle.size());
  auto* h = reinterpret_cast<file_handle*>(buf.data());
  h->handle_bytes = unsigned(d.handle.size());
  h->handle_type = int(d.handle_type);
  std::memcpy(h->f_handle, d.handle.data(), d.handle.size());
  int path_fd = open_by_handle_at(mfd, h, O_PATH | O_CLOEXEC);
  int e = errno;
  ::close(mfd);
  if (path_fd < 0)
    fail(d, "it had another hard link, but it cannot be found again by its file handle on " + d.mount + " (" +
                std::strerror(e) + (e == EPERM ? "; needs root" : "") + ")");
  struct stat st;
  fstat(path_fd, &st);
  if (st.st_ino != d.id || !S_ISREG(st.st_mode) || uint64_t(st.st_size) != d.size ||
      int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec != d.mtime_ns) {
    ::close(path_fd);
    fail(d, "its file handle now finds another or a changed file (size or modification time)");
  }
  const std::string via = "/proc/self/fd/" + std::to_string(path_fd);
  int fd = ::open(via.c_str(), flags | O_CLOEXEC);
  if (fd < 0 && (flags & O_ACCMODE) == O_RDWR) fd = ::open(via.c_str(), O_RDONLY | O_CLOEXEC);
  e = errno;
  ::close(path_fd);
  if (fd < 0) fail(d, std::string("cannot open it by its file handle: ") + std::strerror(e));
  return fd;
}

// Makes the object under its old name if free, else a temporary name next
// to it, else in /tmp; `make(path)` creates at exactly `path` (false with
// errno EEXIST when taken). Returns the name used.
std::string make_somewhere(const DeletedFile& d, const std::function<bool(const std::string&)>& make) {
  if (make(d.path)) return d.path;
  std::string dir = d.path.substr(0, d.path.rfind('/') + 1);
  for (const std::string& base : {dir, std::string("/tmp/")}) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string name = base + ".ckpt-restored-" + std::to_string(getpid()) + "-" + std::to_string(random());
      if (make(name)) return name;
      if (errno != EEXIST) break;
    }
  }
  fail(d, std::string("cannot recreate it: ") + std::strerror(errno));
}

// An unnamed regular file (O_TMPFILE) in the old name's directory, else in
// /tmp: no name ever appears, so it can be made before the pages are
// checked, for the mappings that need it while staging.
int make_unnamed(const DeletedFile& d) {
  const std::string dir = d.path.substr(0, d.path.rfind('/') + 1);
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) fd = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) fail(d, std::string("cannot make an unnamed file for it (O_TMPFILE): ") + std::strerror(errno));
  return fd;
}

int make_one(const DeletedFile& d, bool unnamed) {
  if (!d.mount.empty()) return open_by_handle(d, O_RDWR);
  const uint32_t type = d.mode & S_IFMT;
  int fd = -1;
  std::string name;
  if (unnamed) {
    fd = make_unnamed(d);
  } else if (type == S_IFREG) {
    name = make_somewhere(d, [&](const std::string& p) {
      fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      return fd >= 0;
    });
  } else {
    name = make_somewhere(d, [&](const std::string& p) {
      return (type == S_IFIFO ? mkfifo(p.c_str(), 0600) : mkdir(p.c_str(), 0700)) == 0;
    });
    fd = ::open(name.c_str(), (type == S_IFIFO ? O_RDWR | O_NONBLOCK : O_RDONLY | O_DIRECTORY) | O_CLOEXEC | O_NOFOLLOW);
  }
  int e = errno;
  // Unlinked at once: from here on only the fd reaches it.
  if (!unnamed) {
    if (type == S_IFDIR) ::rmdir(name.c_str());
    else ::unlink(name.c_str());
  }
  if (fd < 0) fail(d, std::string("cannot open it once made: ") + std::strerror(e));
  auto check = [&](bool ok, const char* what) {
    if (!ok) {
      int err = errno;
      ::close(fd);
      fail(d, std::string("cannot set its ") + what + ": " + std::strerror(err));
    }
  };
  if (type == S_IFREG) {
    for (const auto& ext : d.data)
      for (size_t done = 0; done < ext.bytes.size();) {
        ssize_t w = pwrite(fd, ext.bytes.data() + done, ext.bytes.size() - done, off_t(ext.offset + done));
        check(w > 0, "contents");
        done += size_t(w);
      }
    check(ftruncate(fd, off_t(d.size)) == 0, "size");
  }
  if (d.uid != geteuid() || d.gid != getegid()) check(fchown(fd, d.uid, d.gid) == 0, "owner");
  return fd;  // mode and times: finish_deleted_files
}

}  // namespace

void check_deleted_files(const format::Image& image) {
  // The unnamed files mappings need (make_mapped_deleted_files): one made
  // and dropped at once shows the file system takes them (no name appears).
  for (const format::Vma& v : image.vmas) {
    if (!format::vma_kind_is_deleted(v.kind)) continue;
    const DeletedFile* d = format::find_deleted(image.files.deleted, v.file.ino);
    if (d && d->mount.empty()) ::close(make_unnamed(*d));
  }
  for (const DeletedFile& d : image.files.deleted) {
    if (!d.mount.empty()) {
      ::close(open_by_handle(d, O_PATH));
      continue;
    }
    // Only root gives a file to someone else; an unprivileged restore of
    // another owner's file would come back with the wrong owner.
    if (geteuid() != 0 && (d.uid != geteuid() || !in_groups(d.gid)))
      fail(d, "it belonged to uid " + std::to_string(d.uid) + " gid " + std::to_string(d.gid) +
                  ", which only root can give it again");
    if (d.atime_ns < 0 || d.mtime_ns < 0) fail(d, "its times are before 1970");
  }
}

void make_mapped_deleted_files(const format::Image& image, std::map<uint64_t, int>& fds) {
  for (const format::Vma& v : image.vmas) {
    if (!format::vma_kind_is_deleted(v.kind) || fds.count(v.file.ino)) continue;
    const DeletedFile* d = format::find_deleted(image.files.deleted, v.file.ino);
    if (!d) throw RestoreError("the mapping of a deleted file names no deleted file");  // validation forbids it
    fds[d->id] = make_one(*d, d->mount.empty());
  }
}

void make_deleted_files(const format::Image& image, std::map<uint64_t, int>& fds) {
  for (const DeletedFile& d : image.files.deleted)
    if (!fds.count(d.id)) fds[d.id] = make_one(d, false);
}

int finish_deleted_files(const format::Image& image, std::map<uint64_t, int>& fds) {
  for (const DeletedFile& d : image.files.deleted) {
    if (!d.mount.empty()) continue;  // the very file, untouched
    int fd = fds.at(d.id);
    timespec times[2] = {ts(d.atime_ns), ts(d.mtime_ns)};
    if (fchmod(fd, d.mode & 01777) != 0) fail(d, std::string("cannot set its mode: ") + std::strerror(errno));
    if (futimens(fd, times) != 0) fail(d, std::string("cannot set its times: ") + std::strerror(errno));
  }
  // The executable, when it was deleted: the object an executable
  // deleted-private mapping maps, under the exe's old name.
  int exe = -1;
  std::string exe_name;
  const std::string& exe_link = image.process.exe;
  constexpr char kSuffix[] = " (deleted)";
  const size_t n = sizeof kSuffix - 1;
  if (exe_link.size() > n && exe_link.compare(exe_link.size() - n, n, kSuffix) == 0) {
    exe_name = exe_link.substr(0, exe_link.size() - n);
    for (const format::Vma& v : image.vmas) {
      const DeletedFile* d = v.kind == format::VmaKind::DeletedPrivate && (v.prot & PROT_EXEC)
                                 ? format::find_deleted(image.files.deleted, v.file.ino)
                                 : nullptr;
      if (!d || d->path != exe_name) continue;
      exe = ::open(("/proc/self/fd/" + std::to_string(fds.at(d->id))).c_str(), O_RDONLY | O_CLOEXEC);
      break;
    }
  }
  for (auto& [id, fd] : fds) ::close(fd);
  fds.clear();
  return exe;
}

const DeletedFile* deleted_cwd(const format::Image& image) {
  for (const DeletedFile& d : image.files.deleted)
    if (d.flags & format::kDeletedIsCwd) return &d;
  return nullptr;
}

}  // namespace ckpt::restorer
