// Deleted files, FIFOs and directories in use by the target (see DeletedFiles.h).
#include "dumper/DeletedFiles.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "dumper/FileExtents.h"
#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"
#include "format/Limits.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

namespace {

constexpr char kSuffix[] = " (deleted)";

int64_t ns_of(const timespec& t) { return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; }

std::string status_line(const std::string& status, const char* key) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return line.substr(std::strlen(key));
  return "";
}

// The calling thread's file-system identity becomes the target's (fsuid,
// fsgid, supplementary groups) for the guard's lifetime. Raw system calls:
// they change this thread only, and a non-zero fsuid also drops the
// file-system capabilities (CAP_DAC_OVERRIDE...), so the kernel checks
// exactly what it would check for the target. Nothing to do when the dumper
// is not root: it can read no more than the target's owner then.
class TargetFsCreds {
 public:
  explicit TargetFsCreds(pid_t pid) {
    if (geteuid() != 0) return;
    std::string status = x86::read_proc_file("/proc/" + std::to_string(pid) + "/status");
    unsigned u[4] = {}, g[4] = {};
    std::sscanf(status_line(status, "Uid:").c_str(), "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]);
    std::sscanf(status_line(status, "Gid:").c_str(), "%u %u %u %u", &g[0], &g[1], &g[2], &g[3]);
    if (u[3] == 0) return;  // the target's fsuid is root too
    std::vector<gid_t> groups;
    std::istringstream gs(status_line(status, "Groups:"));
    for (unsigned x; gs >> x;) groups.push_back(x);
    saved_groups_.resize(size_t(getgroups(0, nullptr)));
    if (getgroups(int(saved_groups_.size()), saved_groups_.data()) < 0) saved_groups_.clear();
    if (syscall(SYS_setgroups, groups.size(), groups.data()) != 0)
      throw DumpError("cannot take the target's groups to read a deleted file: " + std::string(std::strerror(errno)));
    active_ = true;
    syscall(SYS_setfsgid, g[3]);
    syscall(SYS_setfsuid, u[3]);
  }
  ~TargetFsCreds() {
    if (!active_) return;
    syscall(SYS_setfsuid, 0);
    syscall(SYS_setfsgid, 0);
    syscall(SYS_setgroups, saved_groups_.size(), saved_groups_.data());
  }
  TargetFsCreds(const TargetFsCreds&) = delete;
  TargetFsCreds& operator=(const TargetFsCreds&) = delete;

 private:
  bool active_ = false;
  std::vector<gid_t> saved_groups_;
};

// Mount point (as the target sees it) of mount `id`, from its mountinfo.
std::string mount_point(pid_t pid, int id) {
  std::istringstream in(x86::read_proc_file("/proc/" + std::to_string(pid) + "/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    int mid = 0, parent = 0;
    std::string devno, root, point;
    if (f >> mid >> parent >> devno >> root >> point && mid == id) return point;
  }
  return "";
}

}  // namespace

bool strip_deleted(const std::string& target, std::string* name) {
  size_t n = sizeof kSuffix - 1;
  if (target.size() <= n || target.compare(target.size() - n, n, kSuffix) != 0) return false;
  *name = target.substr(0, target.size() - n);
  return true;
}

uint64_t DeletedFiles::add(const std::string& link, const std::string& name, bool readable, const std::string& what) {
  auto refuse = [&](const std::string& why) {
    throw DumpError("pid " + std::to_string(pid_) + ": cannot dump " + what + " (" + name + ", deleted): " + why);
  };
  struct stat st;
  if (stat(link.c_str(), &st) != 0) refuse(std::string("cannot stat it: ") + std::strerror(errno));
  auto seen = devs_.find(st.st_ino);
  if (seen != devs_.end()) {
    if (seen->second != st.st_dev) refuse("another deleted file in use has the same inode number on another file system");
    if (readable && copies_.count(st.st_ino)) copies_[st.st_ino].readable = true;
    return st.st_ino;
  }
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
    refuse("a deleted device node; ckpt does not recreate device nodes (mknod)");
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISDIR(st.st_mode)) refuse("an unsupported kind of file");
  if (st.st_mode & (S_ISUID | S_ISGID)) refuse("it has set-user-id or set-group-id bits, which restore will not recreate");
  if (name.empty() || name[0] != '/') refuse("it has no absolute path");
  format::DeletedFile d;
  d.id = st.st_ino;
  d.mode = st.st_mode & (S_IFMT | 01777);
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  d.atime_ns = ns_of(st.st_atim);
  d.mtime_ns = ns_of(st.st_mtim);
  d.path = name;
  if (S_ISREG(st.st_mode)) {
    d.size = uint64_t(st.st_size);
    if (st.st_nlink > 0) {
      // Still reachable by another name: remember the inode by handle on its
      // file system (open_by_handle_at wants a mount fd that is not O_PATH),
      // and check now that the handle finds it again.
      std::vector<uint8_t> buf(sizeof(file_handle) + format::kMaxFileHandleBytes);
      auto* h = reinterpret_cast<file_handle*>(buf.data());
      h->handle_bytes = format::kMaxFileHandleBytes;
      int mount_id = 0;
      if (name_to_handle_at(AT_FDCWD, link.c_str(), h, &mount_id, AT_SYMLINK_FOLLOW) != 0)
        refuse(std::to_string(st.st_nlink) + " other hard link(s) remain, but its file system gives no file handle (" +
               std::strerror(errno) + ")");
      d.mount = mount_point(pid_, mount_id);
      ScopedFd mfd(d.mount.empty() ? -1 : ::open(d.mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      ScopedFd back(mfd.get() < 0 ? -1 : open_by_handle_at(mfd.get(), h, O_PATH | O_CLOEXEC));
      struct stat again;
      if (back.get() < 0 || fstat(back.get(), &again) != 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev)
        refuse(std::to_string(st.st_nlink) + " other hard link(s) remain, but it cannot be found again by file handle " +
               "(needs root, and its mount point " + (d.mount.empty() ? "?" : d.mount) + " visible to ckpt)");
      d.handle_type = uint32_t(h->handle_type);
      d.handle.assign(h->f_handle, h->f_handle + h->handle_bytes);
    } else if (d.size > format::kMaxBlobBytes) {
      refuse("it holds " + std::to_string(d.size >> 20) + " MiB, more than the " +
             std::to_string(format::kMaxBlobBytes >> 20) + " MiB this version saves");
    } else {
      copies_[d.id] = {link, what, readable};  // read by take(), once every user is known
    }
  }
  devs_[d.id] = st.st_dev;
  files_[d.id] = std::move(d);
  return st.st_ino;
}

uint64_t DeletedFiles::add_fd(int fd, const std::string& target, uint32_t access) {
  std::string name;
  strip_deleted(target, &name);
  return add("/proc/" + std::to_string(pid_) + "/fd/" + std::to_string(fd), name, access != O_WRONLY,
             "fd " + std::to_string(fd));
}

void DeletedFiles::add_mapping(const format::Vma& v) {
  char link[96], range[64];
  std::snprintf(range, sizeof range, "%" PRIx64 "-%" PRIx64, v.start, v.end);
  std::snprintf(link, sizeof link, "/proc/%d/map_files/%s", int(pid_), range);
  // mmap needs a file opened for reading: whatever is mapped, the process can read.
  uint64_t id = add(link, v.file.path, true, std::string("the mapping ") + range);
  if (id != v.file.ino) throw DumpError("pid " + std::to_string(pid_) + ": the mapping " + range + " changed while dumped");
  const format::DeletedFile& d = files_[id];
  if ((d.mode & S_IFMT) != S_IFREG)
    throw DumpError("pid " + std::to_string(pid_) + ": cannot dump the mapping " + range + ": not a regular file");
}

bool DeletedFiles::add_cwd() {
  const std::string link = "/proc/" + std::to_string(pid_) + "/cwd";
  char buf[4096];
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  std::string name;
  if (n <= 0 || !strip_deleted(std::string(buf, size_t(n)), &name)) return false;
  uint64_t id = add(link, name, true, "the working directory");
  files_[id].flags |= format::kDeletedIsCwd;
  return true;
}

void DeletedFiles::read_copy(format::DeletedFile& d, const Copy& c) {
  auto refuse = [&](const std::string& why) {
    throw DumpError("pid " + std::to_string(pid_) + ": cannot dump " + c.what + " (" + d.path + ", deleted): " + why);
  };
  int fd = -1;
  if (!c.readable) {
    // Only write-only fds use it: the kernel's own permission check, with
    // the target's identity, decides whether its contents may be copied.
    TargetFsCreds as_target(pid_);
    fd = ::open(c.link.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      refuse(std::string("it is open write-only and its process could not read it (") + std::strerror(errno) +
             "); ckpt does not copy contents the process cannot read");
    ::close(fd);
  }
  // O_NOATIME: reading the copy must not change the original's atime
  // (allowed to the file's owner and to root; others fall back).
  fd = ::open(c.link.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(c.link.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) refuse(std::string("cannot open it to save it: ") + std::strerror(errno));
  ScopedFd owned(fd);
  d.data = read_extents(fd, d.size, c.what);
}

std::vector<format::DeletedFile> DeletedFiles::take() {
  for (auto& [id, c] : copies_) read_copy(files_[id], c);
  copies_.clear();
  std::vector<format::DeletedFile> out;
  for (auto& [id, d] : files_) out.push_back(std::move(d));
  files_.clear();
  devs_.clear();
  return out;
}

}  // namespace ckpt::dumper
