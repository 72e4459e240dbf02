// Per-process files (see OwnFiles.h).
#include "restorer/OwnFiles.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "format/Hex.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

std::string own_file_path(const format::Vma& v, int pid) {
  return v.file.path.substr(0, v.file.path.rfind('/') + 1) + std::to_string(pid);
}

std::string own_file_path(const format::Vma& v) { return own_file_path(v, getpid()); }

// Whether an existing name may be replaced: a regular file (not a link) of
// ours. The process that named it after this pid is dead, since we have the
// pid; not so in a pid namespace of our own (`pid_ns`), where nothing may be
// replaced.
static bool stale(const std::string& path, bool pid_ns, std::string* why) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return errno == ENOENT;
  if (pid_ns) {
    *why = "it exists, and with --pid-ns the pid does not tell whether its process still runs";
    return false;
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    *why = "it exists and is not a regular file of this user";
    return false;
  }
  return true;
}

void check_own_files(const format::Image& image, bool pid_ns) {
  for (const format::Vma& v : image.vmas) {
    if (v.kind != format::VmaKind::FileSharedOwn) continue;
    const std::string path = pid_ns ? own_file_path(v, image.process.pid) : own_file_path(v);
    const std::string dir = path.substr(0, path.rfind('/'));
    std::string why;
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) why = "its folder is missing";
    else if (access(dir.c_str(), W_OK | X_OK) != 0) why = std::string("its folder is not writable: ") + std::strerror(errno);
    else stale(path, pid_ns, &why);
    if (!why.empty())
      throw RestoreError("cannot create " + path + " for the per-process file " + v.file.path + " mapped at " +
                         format::hex(v.start) + ": " + why);
  }
}

OwnFiles create_own_files(const format::Image& image, bool pid_ns) {
  OwnFiles out;
  for (const format::Vma& v : image.vmas) {
    if (v.kind != format::VmaKind::FileSharedOwn || out.fds_.count(v.file.path)) continue;
    const std::string path = own_file_path(v);
    std::string why;
    if (stale(path, pid_ns, &why)) ::unlink(path.c_str());  // a stale file of a dead process with our pid, as the JVM does
    // O_EXCL|O_NOFOLLOW: in a shared folder such as /tmp nobody can slip a link in.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw RestoreError("cannot create " + path + " for the per-process file " + v.file.path + ": " + std::strerror(errno));
    out.paths_.push_back(path);
    out.fds_[v.file.path] = fd;
    if (ftruncate(fd, off_t(v.file.size)) != 0)
      throw RestoreError("cannot size " + path + ": " + std::strerror(errno));
  }
  return out;
}

int OwnFiles::fd_for(const format::Vma& v) const {
  auto it = fds_.find(v.file.path);
  if (it == fds_.end()) throw RestoreError("the per-process file for " + format::hex(v.start) + " was not created");
  return it->second;
}

OwnFiles::~OwnFiles() {
  for (const std::string& p : paths_) ::unlink(p.c_str());
  for (const auto& [path, fd] : fds_) ::close(fd);
}

}  // namespace ckpt::restorer
