// SysV shared memory at restore (see SysvShm.h).
#include "restorer/SysvShm.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "format/Hex.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

namespace {

constexpr const char* kNextId = "/proc/sys/kernel/shm_next_id";

std::string key_text(int32_t key) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", uint32_t(key));
  return b;
}

std::string seg_text(const format::SysvSegment& g) {
  return "SysV shared memory segment " + std::to_string(g.id) + (g.key ? " (key " + key_text(g.key) + ")" : "");
}

// Whether a segment with this id exists now (visible to us or not).
bool id_taken(int32_t id) {
  shmid_ds ds;
  return shmctl(id, IPC_STAT, &ds) == 0 || errno == EACCES || errno == EPERM;
}

void write_next_id(int32_t id) {
  int fd = ::open(kNextId, O_WRONLY | O_CLOEXEC);
  std::string text = std::to_string(id);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  int e = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) throw RestoreError(std::string("cannot write ") + kNextId + " to choose a SysV segment id: " + std::strerror(e));
}

}  // namespace

void check_sysv_shm(const format::Image& image) {
  if (image.sysv_shm.empty()) return;
  if (access(kNextId, W_OK) != 0)
    throw RestoreError("the image has SysV shared memory (segment " + std::to_string(image.sysv_shm[0].id) +
                       ") and this process cannot choose segment ids (" + kNextId + " is not writable: " +
                       std::strerror(errno) + ")");
  for (const format::SysvSegment& g : image.sysv_shm) {
    if (g.key != 0) {
      int other = shmget(g.key, 0, 0);
      if (other >= 0 || errno == EACCES)
        throw RestoreError("cannot restore " + seg_text(g) + ": key " + key_text(g.key) +
                           " exists already, with segment " + (other >= 0 ? std::to_string(other) : "(not ours to see)"));
    }
    if (id_taken(g.id)) throw RestoreError("cannot restore " + seg_text(g) + ": segment id " + std::to_string(g.id) + " is taken");
  }
}

SysvSegments create_sysv_shm(const format::Image& image) {
  SysvSegments out;
  for (const format::SysvSegment& g : image.sysv_shm) {
    // shm_next_id is read and reset by the kernel at the next segment
    // creation in this IPC namespace. If another process creates one in
    // between, it gets the id and this shmget another: then ours is
    // removed and the restore refused. On our own failure the setting is
    // taken back so it cannot leak to someone else's segment.
    write_next_id(g.id);
    int id = shmget(g.key ? g.key : IPC_PRIVATE, g.size, IPC_CREAT | IPC_EXCL | int(g.mode & 0777));
    int e = errno;
    if (id < 0) {
      write_next_id(-1);
      throw RestoreError("cannot create " + seg_text(g) + ": " + std::strerror(e));
    }
    out.ids_[g.id] = id;
    if (id != g.id)
      throw RestoreError("cannot create " + seg_text(g) + " with its id: another process took id " + std::to_string(g.id) +
                         " meanwhile");
    shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) != 0) throw RestoreError("cannot read back " + seg_text(g) + ": " + std::strerror(errno));
    if (ds.shm_perm.uid != g.uid || ds.shm_perm.gid != g.gid) {
      ds.shm_perm.uid = g.uid;
      ds.shm_perm.gid = g.gid;
      if (shmctl(id, IPC_SET, &ds) != 0)
        throw RestoreError("cannot give " + seg_text(g) + " its owner " + std::to_string(g.uid) + ":" +
                           std::to_string(g.gid) + ": " + std::strerror(errno));
    }
    if (!g.data.empty()) {
      void* m = shmat(id, nullptr, 0);
      if (m == reinterpret_cast<void*>(-1)) throw RestoreError("cannot fill " + seg_text(g) + ": " + std::strerror(errno));
      for (const auto& ext : g.data) std::memcpy(static_cast<uint8_t*>(m) + ext.offset, ext.bytes.data(), ext.bytes.size());
      shmdt(m);
    }
  }
  return out;
}

SysvSegments::~SysvSegments() {
  for (const auto& [saved, id] : ids_) shmctl(id, IPC_RMID, nullptr);
}

void SysvSegments::attach(const format::Vma& v, uint64_t at) const {
  auto it = ids_.find(int32_t(v.file.ino));
  if (it == ids_.end()) throw RestoreError("the SysV segment of the area at " + format::hex(v.start) + " was not created");
  // Read-only attachments (SHM_RDONLY) are the ones the kernel never let be made writable ("mw").
  int flags = SHM_REMAP | ((v.flags & format::kVmaMayWrite) ? 0 : SHM_RDONLY) | ((v.prot & PROT_EXEC) ? SHM_EXEC : 0);
  void* m = shmat(it->second, reinterpret_cast<void*>(at), flags);
  if (m == reinterpret_cast<void*>(-1) || reinterpret_cast<uint64_t>(m) != at)
    throw RestoreError("cannot attach SysV segment " + std::to_string(it->second) + " for " + format::hex(v.start) + ": " +
                       std::strerror(errno));
  int attached = PROT_READ | ((v.flags & format::kVmaMayWrite) ? PROT_WRITE : 0) | ((v.prot & PROT_EXEC) ? PROT_EXEC : 0);
  if (int(v.prot) != attached && mprotect(m, v.size(), int(v.prot)) != 0)
    throw RestoreError("cannot protect the SysV attachment at " + format::hex(v.start) + ": " + std::strerror(errno));
}

void SysvSegments::mark_removed(const format::Image& image) const {
  for (const format::SysvSegment& g : image.sysv_shm)
    if ((g.mode & format::kShmDest) && shmctl(ids_.at(g.id), IPC_RMID, nullptr) != 0)
      throw RestoreError("cannot mark " + seg_text(g) + " for removal again: " + std::strerror(errno));
}

}  // namespace ckpt::restorer
