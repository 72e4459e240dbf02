// DeletedFile records (see DeletedFile.h).
#include "format/DeletedFile.h"

#include <sys/stat.h>

#include <algorithm>

#include "format/Limits.h"

namespace ckpt::format {

void put_deleted_files(ByteWriter& w, const std::vector<DeletedFile>& files) {
  w.u32(uint32_t(files.size()));
  for (const DeletedFile& d : files) {
    w.u64(d.id);
    w.u32(d.mode);
    w.u32(d.uid);
    w.u32(d.gid);
    w.i64(d.atime_ns);
    w.i64(d.mtime_ns);
    w.u64(d.size);
    w.str(d.path);
    w.u32(d.flags);
    w.str(d.mount);
    w.u32(d.handle_type);
    w.blob(d.handle);
    w.u32(uint32_t(d.data.size()));
    for (const SharedObject::Extent& e : d.data) {
      w.u64(e.offset);
      w.blob(e.bytes);
    }
  }
}

std::vector<DeletedFile> get_deleted_files(ByteReader& r) {
  std::vector<DeletedFile> out(
      r.count("deleted file count", kMaxDeletedFiles, 8 + 4 * 3 + 8 * 3 + 4 + 4 + 4 + 4 + 4 + 4));
  for (DeletedFile& d : out) {
    d.id = r.u64("deleted file id");
    d.mode = r.u32("deleted file mode");
    d.uid = r.u32("deleted file owner");
    d.gid = r.u32("deleted file group");
    d.atime_ns = r.i64("deleted file atime");
    d.mtime_ns = r.i64("deleted file mtime");
    d.size = r.u64("deleted file size");
    d.path = r.str("deleted file path", kMaxStringLength);
    d.flags = r.u32("deleted file flags");
    d.mount = r.str("deleted file mount point", kMaxStringLength);
    d.handle_type = r.u32("deleted file handle type");
    d.handle = r.blob("deleted file handle", kMaxFileHandleBytes);
    d.data.resize(r.count("deleted file extent count", kMaxChunks, 12));
    for (SharedObject::Extent& e : d.data) {
      e.offset = r.u64("deleted file extent offset");
      e.bytes = r.blob("deleted file extent bytes", kMaxBlobBytes);
    }
  }
  return out;
}

const DeletedFile* find_deleted(const std::vector<DeletedFile>& files, uint64_t id) {
  auto it = std::lower_bound(files.begin(), files.end(), id, [](const DeletedFile& d, uint64_t v) { return d.id < v; });
  return it != files.end() && it->id == id ? &*it : nullptr;
}

void validate_deleted_files(const Image& image, const std::function<void(const std::string&)>& bad) {
  const std::vector<DeletedFile>& files = image.files.deleted;
  unsigned cwds = 0;
  uint64_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const DeletedFile& d = files[i];
    const std::string what = "deleted file " + std::to_string(d.id) + ": ";
    if (i && files[i - 1].id >= d.id) bad(what + "not sorted by id, or a duplicate");
    uint32_t type = d.mode & S_IFMT;
    if (type != S_IFREG && type != S_IFIFO && type != S_IFDIR) bad(what + "not a regular file, FIFO or directory");
    // Set-id bits are refused at dump; an image carrying them is not ckpt's.
    if (d.mode & ~uint32_t(S_IFMT | 01777)) bad(what + "mode has set-id or unknown bits");
    if (d.path.empty() || d.path[0] != '/') bad(what + "no absolute path");
    if (d.flags & ~kDeletedIsCwd) bad(what + "unknown flags");
    if ((d.flags & kDeletedIsCwd) && (type != S_IFDIR || ++cwds > 1)) bad(what + "a working directory that is not one directory");
    if (d.size > (1ull << 46)) bad(what + "size out of range");
    if (!d.mount.empty()) {
      if (type != S_IFREG || d.mount[0] != '/' || d.handle.empty() || !d.data.empty())
        bad(what + "a file reopened by handle must be a regular file with a mount point, a handle and no contents");
    } else if (!d.handle.empty()) {
      bad(what + "a handle without a mount point");
    }
    if (type != S_IFREG && (d.size || !d.data.empty())) bad(what + "only regular files have contents");
    uint64_t end = 0;
    for (const SharedObject::Extent& e : d.data) {
      if (e.offset < end || e.offset > d.size || e.bytes.size() > d.size - e.offset)
        bad(what + "an extent out of order or beyond its size");
      end = e.offset + e.bytes.size();
      total += e.bytes.size();
    }
  }
  if (total > kMaxDeletedBytes) bad("deleted files hold more than the limit of saved contents");
  for (const FdEntry& f : image.files.fds) {
    if (f.kind != FdKind::DeletedFile) continue;
    if (!find_deleted(files, f.object))
      bad("fd " + std::to_string(f.fd) + ": its deleted file " + std::to_string(f.object) + " is not in the image");
  }
  for (const Vma& v : image.vmas) {
    if (!vma_kind_is_deleted(v.kind)) continue;
    const DeletedFile* d = find_deleted(files, v.file.ino);
    if (!d || (d->mode & S_IFMT) != S_IFREG)
      bad("the mapping at " + std::to_string(v.start) + " names no deleted regular file");
    if (v.pgoff % kPageSize || v.pgoff > (1ull << 46)) bad("the mapping at " + std::to_string(v.start) + " has a bad offset");
  }
}

}  // namespace ckpt::format
