// File descriptors and shared memory objects on the restoring side.
// Phase 1 checks that every file is present and unchanged, that no one else
// holds a lock the process held, and that every pipe end whose partner
// lived outside the process has a replacement (--inherit-fd, or /dev/null
// for all with --external-fds=null). Phase 3
// creates each open file description once, in the launcher, above every
// number the restored process uses (so nothing collides), takes its locks
// and fills the epoll sets (Locks.h, Epoll.h); the trampoline then moves
// each to its numbers with dup3 and takes the POSIX locks. Per-kind code
// lives in files of its own; this file dispatches.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "format/Image.h"
#include "restorer/Pty.h"
#include "restorer/Terminal.h"
#include "trampoline/Plan.h"

namespace ckpt::restorer {

struct PreparedFiles {
  std::map<uint64_t, int> objects;            // SharedObject id -> fd (mapped by the stager)
  std::vector<trampoline::FdMove> moves;      // launcher fd -> saved number
  std::vector<trampoline::PosixLock> posix_locks;  // taken by the trampoline once every fd is in place
  std::vector<trampoline::FdFixup> fixups;         // O_ASYNC and leases, tied to fd numbers
  std::vector<std::pair<int, uint32_t>> seals;  // memfd fd -> seals, applied after staging
  std::map<uint64_t, int> deleted;            // DeletedFile id -> fd (DeletedFiles.h; mapped by the stager)
  int deleted_exe = -1;                       // the deleted executable, reopened read-only (finish_deleted_files)
  int close_upto = 3;                         // every fd in [3, close_upto) that is not a target is closed
  // Unread pipe and FIFO data still to write, and a descriptor of the pipe
  // it goes into (closed by fill_pipes).
  std::vector<std::pair<const format::FdEntry*, int>> fills;
  // TCP connections with data never sent at dump, and a descriptor of each
  // (closed by fill_pipes, which queues that data: TcpConnection.h).
  std::vector<std::pair<const format::TcpConnection*, int>> tcp_unsent;
};

// What stands in for the pipe ends whose other end was outside the process.
// And what stands in for the user's terminal (Terminal.h).
struct ExternalFds {
  std::set<int> inherit;  // --inherit-fd N: restore's own fd N becomes the restored process's fd N
  bool null = false;      // --external-fds=null: /dev/null for every other one
  const Terminal* terminal = nullptr;  // restore's terminal (Terminal::plan); required when the image had one
};

// What the members of a tree share while the root launcher creates every
// open file description of the whole tree once (docs/architecture.md,
// "Process trees"): prepare_fds is called for each member in turn with the
// same SharedDescriptions. A description (FdEntry::description) already
// created for an earlier member is handed out again (a dup), not made
// twice; so are pipes (by inode) and memfds' created descriptions.
struct SharedDescriptions {
  int base = 0;  // every created fd goes at or above it: above every member's saved numbers
  std::map<uint64_t, int> descriptions;                  // FdEntry::description -> a launcher fd of it
  std::map<uint64_t, std::pair<int, int>> pipes;         // pipe inode -> (read end, write end)
  std::map<uint64_t, unsigned> pipe_ends_used;           // bit 1: read end handed out, bit 2: write end
  std::set<uint64_t> memfd_given;                        // memfds whose created description an fd took
  PreparedPtys ptys;                                     // each pty once for the tree (Pty.h)
  std::map<uint64_t, int> objects;                       // SharedObject id -> fd, once for the tree
  std::map<uint64_t, int> deleted;                       // DeletedFile id -> fd, once for the tree
  ~SharedDescriptions();                                 // closes the pipes' own ends and the deleted files
};

// The lowest fd number prepare_fds may use for `image` (above every saved number).
int fd_base(const format::Image& image);

// Throws RestoreError.
// `root`: the image is the process restore becomes (not a member it forks),
// so its session is restore's to make.
void check_files(const format::Image& image, const ExternalFds& external, bool root = true);

// Creates the shared memory objects (memfds, anonymous shared memory):
// the launcher's own memory, no file-system side effect. Staging maps them.
// With `shared` (a tree), an object another member holds is that one.
PreparedFiles prepare_objects(const format::Image& image, SharedDescriptions* shared = nullptr);

// Creates every descriptor into `files`: opens saved paths, recreates
// deleted files, creates pipes. The first step with side effects outside
// the launcher, so restore calls it only once every page has been staged
// and checked. Throws RestoreError.
// With `shared` (a tree), see SharedDescriptions.
void prepare_fds(const format::Image& image, const ExternalFds& external, PreparedFiles& files,
                 SharedDescriptions* shared = nullptr);

// Writes the saved unread data into pipes and FIFOs, non-blocking (a short
// write is an error), and queues TCP data never sent at dump: the last step
// before launch, since data written into a FIFO is seen by whoever else
// has it open, and a peer sees TCP data at once. Throws RestoreError.
void fill_pipes(PreparedFiles& files);

// prepare_objects, prepare_fds and fill_pipes in one (for callers without staging in between).
PreparedFiles prepare_files(const format::Image& image, const ExternalFds& external);

// Seals memfds once their shared mappings exist (a write seal would forbid them).
void seal_memfds(const PreparedFiles& files);

}  // namespace ckpt::restorer
