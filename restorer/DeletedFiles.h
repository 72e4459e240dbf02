// Files deleted while in use (format::DeletedFile) on the restoring side.
// Each object is created once, in the launcher, and unlinked at once:
//   - a regular file is written from the image, under its old name if that
//     is free (so /proc shows "NAME (deleted)" again), else under a
//     temporary name in the same directory or /tmp, or, when a mapping
//     needs it while staging (before anything may appear in the file
//     system), as an unnamed O_TMPFILE file; then its owner, mode and times
//     are set; or, when it still had another hard link, the very file is
//     reopened by its file handle (root only, same file system);
//   - a FIFO is made with mkfifo and held open O_RDWR|O_NONBLOCK, so that
//     every end can be opened without blocking (Fifo.h);
//   - a directory is made with mkdir and removed again (the working
//     directory, or an fd on a deleted directory).
// Mode and times are set last (finish_deleted_files), after staging.
// Every fd and mapping that used the object is then opened from its fd.
#pragma once

#include <cstdint>
#include <map>

#include "format/Image.h"

namespace ckpt::restorer {

// Phase 1: what can be known before anything is created (owner this
// process can give, handle-reopened files present and unchanged). Throws
// RestoreError.
void check_deleted_files(const format::Image& image);

// Before staging, with no name ever appearing: the regular files that
// deleted-file mappings map, made unnamed (O_TMPFILE in the old directory,
// else /tmp; /proc then shows "DIR/#INODE (deleted)") or reopened by
// handle. Adds id -> fd (O_RDWR) to `fds`. Throws RestoreError.
void make_mapped_deleted_files(const format::Image& image, std::map<uint64_t, int>& fds);

// After every check (prepare_fds): every other object, under its old name
// when free, unlinked at once. Adds id -> fd (O_RDWR for files and FIFOs,
// O_RDONLY for directories), owned by the launcher until
// finish_deleted_files. Throws RestoreError.
void make_deleted_files(const format::Image& image, std::map<uint64_t, int>& fds);

// Last, once every fd is open and every mapping staged (opens and mmap
// would be refused by a restrictive mode, and would move the times): sets
// each recreated object's mode, atime and mtime, then closes the
// launcher's descriptors on them (the restored fds and mappings hold them
// now; an O_RDWR one left open would count as a writer, and the kernel
// refuses a file with writers as a process's exe). Returns a read-only
// descriptor on the executable when the process ran a deleted one (for
// PR_SET_MM_MAP), else -1. Throws RestoreError.
int finish_deleted_files(const format::Image& image, std::map<uint64_t, int>& fds);

// The working directory's object (kDeletedIsCwd), if any.
const format::DeletedFile* deleted_cwd(const format::Image& image);

}  // namespace ckpt::restorer
