// `ckpt dump`: seize a process, read its state, write one image, and leave
// the process exactly as it was (or kill it once the image is safe on disk).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dumper/DirtyPages.h"
#include "format/ImageWriter.h"

namespace ckpt::dumper {

struct DumpOptions {
  pid_t pid = 0;
  std::string output;
  bool kill = false;
  bool single = false;      // PID alone; refused if it has children
  bool ignore_fds = false;  // leave out (with a warning each) the fds ckpt would refuse
  // --inherit-outside-sockets: a Unix socket connected outside the dumped
  // processes is saved as an outside end (restore --inherit-fd), not refused
  bool inherit_outside_sockets = false;
  bool tcp_established = false;  // carry established TCP connections with TCP_REPAIR (needs CAP_NET_ADMIN)
  bool executable = false;  // u+x on the image, for ./IMAGE through binfmt_misc
  // Stop the tree only to write-protect its memory, then copy each page
  // before its first write (dumper/Snapshot.h); ignored with --kill.
  bool snapshot = false;
  format::Compression compression;
  // ckpt migrate: the connection the image goes to (dumper/Migrate.h); with
  // kill, the process dies only once the destination has confirmed.
  int connection = -1;
  // ckpt migrate --lazy (dumper/MigratePages.h): the image goes to a memory
  // file of this process instead of `output`, and once it is complete and
  // checked, deliver(its fd) runs before --kill kills; a throw from it
  // releases the tree as any failed dump does.
  std::function<void(int image_fd)> deliver;
  // Called after each batch of pages is written, with the bytes of memory
  // saved so far (the progress line, common/Progress.h); may be empty.
  std::function<void(uint64_t)> on_memory_written;
  // --copies-return TID:FD:VALUE (libckpt; dumper/CopiesReturn.h), "" when not given
  std::string copies_return;
  // Incremental dumps (dumper/DirtyPages.h). `track`: the process goes on
  // with its writes tracked, for a later dump with a parent. `parent`: save
  // only the pages written since that image (by path, or `parent_ref`).
  bool track = false;
  std::string parent;
  const ParentRef* parent_ref = nullptr;  // instead of `parent`, for chains dumped in one process
  // Chains dumped in one process: the tracker is kept in *in_process (made
  // by a dump with `track` when empty) instead of by a keeper process.
  std::shared_ptr<DirtyTracker>* in_process = nullptr;
};

struct DumpReport {
  uint64_t image_bytes = 0;
  uint64_t pages_saved = 0;
  uint64_t zero_pages_skipped = 0;
  uint64_t pages_inherited = 0;  // children's pages recorded as their parents' (dumper/SharedPages.h)
  size_t vmas = 0;       // over all members
  size_t members = 1;    // processes saved (zombies included)
  double seconds = 0;
  // From the seize to the release (or, with --kill, to the kill): how long
  // the processes did not run.
  double frozen_seconds = 0;
  // A snapshot's stop before the freeze, only long enough to make the
  // userfaultfd its memory is protected with while it runs (Snapshot.h).
  double prestop_seconds = 0;
  bool snapshot = false;       // memory copied after the freeze (--snapshot)
  uint64_t pages_faulted = 0;  // of those, pages copied as the tree was about to write them
  // One line each, without "ckpt: ": fds left out by --ignore-fds, pipe
  // ends whose other end is outside (and the restore flag they need).
  std::vector<std::string> warnings;
  uint64_t pages_from_parent = 0;  // an incremental dump's pages that are its parent's
  // Of its pages, those copied before the freeze and unwritten since (DirtyPages.h, Precopy).
  uint64_t pages_precopied = 0;
  // The image just written, as the parent of the next dump of a chain.
  ParentRef as_parent;
};

// Throws DumpError with a one-line message on any failure; the target is
// then detached untouched and no file is left at the output path.
DumpReport dump(const DumpOptions& options);

}  // namespace ckpt::dumper
