// The image model: plain structs for everything a checkpoint image holds,
// independent of how it is laid out on disk (ImageWriter/ImageReader do that,
// docs/format.md specifies it). No ptrace, no process code here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "format/ParentLink.h"
#include "format/UnixSocket.h"
#include "format/SocketOptions.h"
#include "format/TcpConnection.h"
#include "format/Terminal.h"
#include "format/Scheduling.h"
#include "format/Credentials.h"
#include "format/Seccomp.h"

namespace ckpt::format {

// Bytes 0..7 of every image; what binfmt_misc matches.
inline constexpr std::array<uint8_t, 8> kMagic = {0x7f, 'C', 'K', 'P', 'T', '\r', '\n', 0x1a};
inline constexpr std::array<uint8_t, 8> kTrailerMagic = {'C', 'K', 'P', 'T', 'E', 'N', 'D', 0};
inline constexpr uint32_t kVersion = 6;
// Version 5 is version 6 without the seccomp section: still read.
inline constexpr uint32_t kOldestVersion = 5;
inline constexpr uint32_t kMachineX86_64 = 62;  // EM_X86_64
inline constexpr uint32_t kPageSize = 4096;

enum class SectionType : uint32_t {
  Process = 1,    // ProcessInfo
  Mm = 2,         // MmInfo
  Vmas = 3,       // std::vector<Vma>
  Threads = 4,    // std::vector<ThreadState>
  PageIndex = 5,  // std::vector<PageChunk>
  PageData = 6,   // the chunks' stored bytes
  Task = 7,       // TaskState
  Files = 8,      // FileTable
  SysvShm = 13,   // std::vector<SysvSegment>; optional (written only when there are segments)
  Ptys = 29,      // std::vector<Pty>; optional (written only when the process holds both ends of a pty)
  Terminal = 28,  // TerminalInfo (format/Terminal.h); optional (written only when an fd was on the user's terminal)
  Tree = 21,      // ProcessTree: the members; exactly one, flags 0 (docs/format.md, "Process trees")
  // 22: reserved for the tree (tree-wide records).
  UnixSockets = 25,  // FileTable::unix_sockets; optional (written only when there are some)
  InetSockets = 26,  // FileTable::inet_sockets; optional (written only when there are some)
  Tcp = 27,       // std::vector<TcpConnection>; optional (written only when there are connections)
  Scheduling = 36,   // Scheduling (format/Scheduling.h); one per member (required by validation)
  Credentials = 37,  // Credentials (format/Credentials.h); one per member (required by validation)
  Seccomp = 38,   // std::vector<SeccompFilter> (format/Seccomp.h); optional (only when the filters are carried)
  Parent = 30,    // ParentLink (format/ParentLink.h); optional (only in an incremental image)
};
inline constexpr uint32_t kSectionTypeCount = 8;  // types 1..kSectionTypeCount are all required
// Whether a section type beyond the required ones is known (it may be absent).
inline bool section_type_is_optional(uint32_t t) {
  return t == uint32_t(SectionType::SysvShm) || t == uint32_t(SectionType::Tree) ||
         t == uint32_t(SectionType::UnixSockets) || t == uint32_t(SectionType::InetSockets) ||
         t == uint32_t(SectionType::Tcp) || t == uint32_t(SectionType::Ptys) ||
         t == uint32_t(SectionType::Terminal) || t == uint32_t(SectionType::Scheduling) ||
         t == uint32_t(SectionType::Credentials) || t == uint32_t(SectionType::Parent) ||
         t == uint32_t(SectionType::Seccomp);
}
// Whether a section belongs to one member of the tree (its header's flags
// carry the member's index) rather than to the whole image (flags 0).
inline bool section_is_per_member(SectionType t) { return t != SectionType::PageData && t != SectionType::Tree; }
const char* section_name(SectionType type);

struct ProcessInfo {
  int32_t pid = 0;
  std::string comm;  // /proc/PID/comm
  std::string exe;   // readlink /proc/PID/exe
  uint32_t uid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t gid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::string kernel_release;  // uname -r of the dumping machine, informational
};

// The kernel's mm fields (prctl PR_SET_MM_MAP) and what the vdso looked like.
struct MmInfo {
  uint64_t start_code = 0, end_code = 0, start_data = 0, end_data = 0;
  uint64_t start_brk = 0, brk = 0, start_stack = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  std::vector<uint8_t> auxv;  // raw /proc/PID/auxv
  uint64_t vdso_size = 0;     // 0: the process had no vdso
  uint64_t vdso_hash = 0;     // xxh3-64 of the vdso's bytes
  // Code in the process itself the trampoline finishes through (x86/ResumeGadgets.h); 0: none found.
  uint64_t syscall_gadget = 0;    // "syscall; ret"
  uint64_t sigreturn_gadget = 0;  // "mov $15, %rax; syscall"
};

enum class VmaKind : uint32_t {
  AnonPrivate = 1,
  FilePrivate = 2,
  FileShared = 3,
  AnonShared = 4,
  Heap = 5,   // anonymous private, labelled [heap]
  Stack = 6,  // anonymous private, labelled [stack]
  Vdso = 7,
  Vvar = 8,
  VvarVclock = 9,
  MemfdShared = 10,  // MAP_SHARED of a memfd; file.ino names its SharedObject
  DeletedPrivate = 11,  // MAP_PRIVATE of a file deleted while mapped; file.ino names its DeletedFile
  DeletedShared = 12,   // MAP_SHARED of such a file
  // 11-19 left for other kinds; these numbers were taken apart so that
  // kinds added at the same time by other changes do not collide.
  MemfdPrivate = 20,      // MAP_PRIVATE of a memfd: its SharedObject, copied-on-write pages saved
  AnonSharedPrivate = 21, // MAP_PRIVATE of a shared anonymous object ("/dev/zero (deleted)"), likewise
  DevZeroPrivate = 22,    // MAP_PRIVATE of the /dev/zero device: anonymous memory named "/dev/zero"
  SysvShm = 23,           // a shmat() attachment, whole; file.ino is the SysvSegment's id
  // A writable shared mapping of the process's own per-process file (named
  // after its pid, like a JVM's /tmp/hsperfdata_USER/PID): its contents are
  // saved as pages and written to a new file named after the restored pid.
  FileSharedOwn = 24,
  // MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB memory ("/anon_hugepage (deleted)"),
  // mapped once: its pages are saved as pages. (Private huge-page memory is
  // AnonPrivate with kVmaHugetlb.)
  HugetlbShared = 25,
};
const char* vma_kind_name(VmaKind kind);
bool vma_kind_is_valid(uint32_t raw);
inline bool vma_kind_has_file(VmaKind k) { return k == VmaKind::FilePrivate || k == VmaKind::FileShared; }
// Shared memory the restorer recreates from a SharedObject (file.ino is its id).
inline bool vma_kind_is_shm(VmaKind k) { return k == VmaKind::AnonShared || k == VmaKind::MemfdShared; }
// Mappings of a file recreated from the image (file.ino is its DeletedFile id).
inline bool vma_kind_is_deleted(VmaKind k) { return k == VmaKind::DeletedPrivate || k == VmaKind::DeletedShared; }
// Private mappings of such an object: the object, with copied-on-write pages laid over.
inline bool vma_kind_is_private_object(VmaKind k) { return k == VmaKind::MemfdPrivate || k == VmaKind::AnonSharedPrivate; }
// Any mapping whose file.ino names a SharedObject.
inline bool vma_kind_has_object(VmaKind k) { return vma_kind_is_shm(k) || vma_kind_is_private_object(k); }
inline bool vma_kind_is_memfd(VmaKind k) { return k == VmaKind::MemfdShared || k == VmaKind::MemfdPrivate; }
inline bool vma_kind_is_special(VmaKind k) {
  return k == VmaKind::Vdso || k == VmaKind::Vvar || k == VmaKind::VvarVclock;
}

// Bits of Vma::flags (from smaps VmFlags).
enum VmaFlag : uint32_t {
  kVmaGrowsDown = 1u << 0,  // gd
  kVmaLocked = 1u << 1,     // lo
  kVmaDontFork = 1u << 2,   // dc
  kVmaDontDump = 1u << 3,   // dd
  kVmaWipeOnFork = 1u << 4, // wf
  kVmaHugePage = 1u << 5,   // hg
  kVmaNoHugePage = 1u << 6, // nh
  kVmaMergeable = 1u << 7,  // mg
  kVmaNoReserve = 1u << 8,  // nr (MAP_NORESERVE: no swap accounting)
  kVmaSeqRead = 1u << 9,    // sr (MADV_SEQUENTIAL)
  kVmaRandRead = 1u << 10,  // rr (MADV_RANDOM)
  kVmaDroppable = 1u << 11, // dp (MAP_DROPPABLE, kernel 6.11+)
  kVmaMayWrite = 1u << 12,  // mw: a shared mapping whose file or object is open for writing
  kVmaHugetlb = 1u << 13,   // ht: MAP_HUGETLB memory, 2 MiB pages unless kVmaHuge1G
  kVmaHuge1G = 1u << 14,    // with ht: 1 GiB pages
  kVmaKnownFlags = (1u << 15) - 1,
};

// What a file looked like at dump time; the restorer refuses a file that
// no longer matches (size and mtime; device and inode are informational,
// since they differ on another machine with the same files).
struct FileId {
  std::string path;
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0;
};

// A run of guard pages (MADV_GUARD_INSTALL) inside a VMA: [start, end).
struct GuardRange {
  uint64_t start = 0, end = 0;
};

struct Vma;
// The alignment a VMA needs (its huge page size for MAP_HUGETLB memory).
uint64_t vma_alignment(const Vma& v);

struct Vma {
  uint64_t start = 0, end = 0;  // [start, end), page-aligned
  uint64_t pgoff = 0;           // file offset in bytes (file kinds only)
  uint32_t prot = 0;            // PROT_READ|PROT_WRITE|PROT_EXEC
  uint32_t flags = 0;           // VmaFlag bits
  VmaKind kind = VmaKind::AnonPrivate;
  FileId file;                  // file kinds only
  std::vector<GuardRange> guards;  // sorted, disjoint, inside [start, end); their pages are never saved
  uint64_t size() const { return end - start; }
};

enum class ChunkEncoding : uint32_t {
  Raw = 0,
  Zstd = 1,
  // No stored bytes (offset, stored_size and checksum 0): the pages are those
  // of the process's parent member at the same addresses, still shared
  // copy-on-write since fork. A child member's restore keeps its parent's
  // staged copy of them (docs/architecture.md, "Process trees").
  Inherited = 2,
};

// A run of contiguous saved pages: Linux-CR's <addresses, contents>, with the
// addresses given as a start and a count.
struct PageChunk {
  uint64_t vaddr = 0;        // page-aligned, inside one VMA
  uint32_t npages = 0;       // 1..kMaxChunkPages
  ChunkEncoding encoding = ChunkEncoding::Raw;
  uint64_t offset = 0;       // absolute file offset of the stored bytes (page-aligned if Raw)
  uint64_t stored_size = 0;  // npages*4096 if Raw
  uint64_t checksum = 0;     // xxh3-64 of the stored bytes
  uint64_t size() const { return uint64_t(npages) * kPageSize; }
  bool inherited() const { return encoding == ChunkEncoding::Inherited; }
  // Never stored: set only on a chunk resolved through a chain of
  // incremental images (restorer/ImageChain.h). `source`: the image holding
  // the bytes (0 this one, 1 its parent, ...); then encoding, offset,
  // stored_size and checksum are that image's chunk of `stored_npages`
  // pages, of which this one is the `skip`-th page onward.
  uint32_t source = 0;
  uint32_t skip = 0;
  uint32_t stored_npages = 0;
  bool resolved() const { return stored_npages != 0; }
};

// General registers in the order of the kernel's struct user_regs_struct.
enum Gpr : unsigned {
  R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI, RDI,
  ORIG_RAX, RIP, CS, EFLAGS, RSP, SS, FS_BASE, GS_BASE, DS, ES, FS, GS,
  kGprCount
};

struct RseqConfig {
  uint64_t address = 0;  // 0: not registered
  uint32_t length = 0;
  uint32_t flags = 0;
  uint32_t signature = 0;
};

// A queued signal as the kernel reports it (PTRACE_PEEKSIGINFO): the
// 128-byte siginfo in its user-space layout; si_signo is its first int.
using SigInfo = std::array<uint8_t, 128>;

struct ThreadState {
  int32_t tid = 0;
  std::string comm;  // /proc/PID/task/TID/comm
  std::array<uint64_t, kGprCount> gpr{};  // as read from the stopped thread
  uint64_t sigmask = 0;                   // blocked signals, bit n-1 = signal n
  RseqConfig rseq;
  uint64_t robust_list = 0, robust_list_len = 0;  // set_robust_list()
  uint64_t clear_child_tid = 0;                   // set_tid_address(); 0: none
  // Where glibc caches this thread's id in its thread descriptor (found at
  // dump time; 0: none found, nothing to rewrite).
  uint64_t cached_tid_address = 0;
  uint64_t altstack_sp = 0, altstack_size = 0;    // sigaltstack()
  int32_t altstack_flags = 0;                     // SS_DISABLE, SS_ONSTACK, SS_AUTODISARM
  std::vector<SigInfo> pending;                   // signals pending for this thread only, in queue order
  uint64_t xfeatures = 0;       // XCR0 features the XSAVE area was saved with
  std::vector<uint8_t> xsave;   // PTRACE_GETREGSET(NT_X86_XSTATE), standard format
};

// struct sigaction as the kernel's rt_sigaction takes it on x86-64.
struct SigAction {
  uint64_t handler = 0;  // SIG_DFL 0, SIG_IGN 1, or an address
  uint64_t flags = 0;    // SA_* including SA_RESTORER
  uint64_t restorer = 0;
  uint64_t mask = 0;     // bit n-1 = signal n
};

struct Itimer {  // struct itimerval
  int64_t interval_sec = 0, interval_usec = 0, value_sec = 0, value_usec = 0;
};

struct Rlimit {
  uint64_t cur = 0, max = 0;  // RLIM_INFINITY is ~0
};

inline constexpr unsigned kSignalCount = 64;
inline constexpr unsigned kRlimitCount = 16;  // RLIM_NLIMITS

// sigev_notify values a POSIX timer can hold (glibc's SIGEV_THREAD reaches
// the kernel as SIGEV_THREAD_ID to its helper thread).
enum TimerNotify : int32_t {
  kNotifySignal = 0,    // SIGEV_SIGNAL: to the process
  kNotifyNone = 1,      // SIGEV_NONE: counts, signals nothing
  kNotifyThread = 2,    // SIGEV_THREAD as the kernel takes it: same as SIGEV_SIGNAL
  kNotifyThreadId = 4,  // SIGEV_THREAD_ID (| SIGEV_SIGNAL): to one thread
};

// Clocks a timer is recreated on: the system clocks timer_create takes,
// and the CPU clocks of the process itself (the kernel's encoding with pid
// 0: -8 PROF, -7 VIRT, -6 SCHED). A thread's CPU clock (3, or -4..-2) and
// another process's name something restore cannot name again.
inline bool timer_clock_is_restorable(int32_t c) {
  return c == 0 || c == 1 || c == 2 || c == 7 || c == 8 || c == 9 || c == 11 || (c >= -8 && c <= -6);
}
inline constexpr uint32_t kMembarrierRegistrations = (1u << 2) | (1u << 4) | (1u << 6) | (1u << 8);

// One POSIX timer (timer_create), from /proc/PID/timers and timer_gettime.
struct PosixTimer {
  int32_t id = 0;              // the timer_t the process holds
  int32_t clock = 0;           // clockid as the kernel keeps it; -8..-6: a CPU clock of the process itself
  int32_t signo = 0;           // sigev_signo
  int32_t notify = 0;          // TimerNotify
  uint64_t sigev_value = 0;    // sigev_value, delivered as si_value
  int32_t target_tid = 0;      // kNotifyThreadId: the thread (a ThreadState's tid); else 0
  int64_t value_ns = 0;        // time left until it fires; 0: disarmed
  int64_t interval_ns = 0;     // period; 0: one-shot
  int32_t overrun = 0;         // timer_getoverrun at dump (informational: the kernel cannot be given it back)
};

// Process-wide kernel state beyond memory and identity: what the process
// could observe with getters and that a restore must put back.
// Memory-deny-write-execute (prctl PR_SET_MDWE): REFUSE_EXEC_GAIN 1,
// NO_INHERIT 2 (only with 1).
inline constexpr uint32_t kMdweFlags = 3;

struct TaskState {
  std::string cwd;
  uint32_t umask = 022;
  uint32_t personality = 0;
  std::array<Rlimit, kRlimitCount> rlimits{};
  int32_t pdeath_signal = 0;
  int32_t dumpable = 1;
  uint32_t no_new_privs = 0;
  uint32_t thp_disable = 0;
  std::array<SigAction, kSignalCount> sigactions{};  // index = signal - 1
  std::vector<SigInfo> shared_pending;             // process-wide pending signals, in queue order
  std::array<Itimer, 3> itimers{};                 // ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF
  std::vector<uint64_t> ldt;                       // raw 8-byte descriptors; index = LDT slot
  // XSAVE features the process may use (arch_prctl ARCH_GET_XCOMP_PERM),
  // including those granted only on request (AMX tile data); 0: not reported.
  uint64_t xcomp_perm = 0;
  int32_t oom_score_adj = 0;                       // /proc/PID/oom_score_adj
  uint32_t membarrier = 0;                         // MEMBARRIER_CMD_GET_REGISTRATIONS: REGISTER_* commands done
  // CLOCK_MONOTONIC and CLOCK_BOOTTIME as the process saw them at the dump
  // (0: not recorded); the restore's time namespace continues from them.
  int64_t monotonic_ns = 0, boottime_ns = 0;
  std::vector<PosixTimer> timers;                  // sorted by id
  uint32_t mdwe = 0;                               // PR_GET_MDWE (Linux 6.3): kMdweFlags bits
};

// Shared memory whose contents live in the image: the object behind
// MAP_SHARED|MAP_ANONYMOUS mappings and memfds (mapped, open, or both).
struct SharedObject {
  uint64_t id = 0;      // the object's inode at dump time; what VMAs and fds refer to
  bool memfd = false;   // memfd (name, seals) or anonymous shared memory
  std::string name;     // memfd name (without "memfd:")
  uint64_t size = 0;    // bytes
  uint32_t seals = 0;   // F_GET_SEALS
  struct Extent {
    uint64_t offset = 0;
    std::vector<uint8_t> bytes;
  };
  std::vector<Extent> data;  // the parts that hold data (SEEK_DATA); the rest reads as zeros
  uint32_t mode = 0;    // permission bits (memfds: 0777 unless MFD_NOEXEC_SEAL or fchmod)
};

// A file-system object that lost its last name while the process used it
// (docs/format.md, "Deleted files"): held once, referenced by id from every
// fd (FdEntry::object), mapping (Vma::file.ino) and the working directory
// that uses it, and recreated once, unlinked, at restore.
struct DeletedFile {
  uint64_t id = 0;        // its inode at dump time
  uint32_t mode = 0;      // st_mode: S_IFREG, S_IFIFO or S_IFDIR, and permission bits
  uint32_t uid = 0, gid = 0;
  int64_t atime_ns = 0, mtime_ns = 0;
  uint64_t size = 0;      // regular files
  std::string path;       // the name it had (without " (deleted)")
  uint32_t flags = 0;     // kDeletedIsCwd
  // A regular file that still had another hard link is not copied: it is
  // reopened by file handle on the file system mounted at `mount`.
  std::string mount;      // empty: recreated from `data`
  uint32_t handle_type = 0;
  std::vector<uint8_t> handle;
  std::vector<SharedObject::Extent> data;  // regular files: the parts that hold data
};
inline constexpr uint32_t kDeletedIsCwd = 1;  // the process's working directory

enum class FdKind : uint32_t {
  RegularFile = 1,
  Directory = 2,
  CharDevice = 3,
  DeletedFile = 4,  // `object` = DeletedFile id (a regular file, directory or FIFO)
  Pipe = 5,         // `object` = pipe inode; `contents` = unread data (read end)
  Fifo = 6,         // a named pipe, reopened by path; `contents` = unread data (first fd that can read)
  EventFd = 7,
  Epoll = 8,
  SignalFd = 9,
  TimerFd = 10,
  Memfd = 11,       // `object` = SharedObject id
  Inotify = 12,     // `watches`
  UnixSocket = 13,  // `object` = the UnixSocket record's inode (format/UnixSocket.h)
  InetSocket = 14,  // `object` = InetSocket id (IPv4/IPv6 TCP, UDP, ping: not a live connection)
  TcpConnection = 15,  // `object` = TcpConnection id (its socket inode), in the tcp section
  // The user's terminal (Image::terminal), an open file description of its
  // own: restored as a new open of restore's terminal (`file.path`, `rdev`
  // as at dump: /dev/tty (5:0) opens restore's controlling terminal).
  Terminal = 16,
  PtyMaster = 17,   // `object` = Pty id: the master (/dev/ptmx) of a pty whose slave is open in the image too
  PtySlave = 18,    // `object` = Pty id: one open of that pty's slave (/dev/pts/N)
  NetlinkSocket = 19,  // `object` = InetSocket id of a netlink socket
};
bool fd_kind_is_valid(uint32_t raw);
const char* fd_kind_name(FdKind kind);

// One inotify watch: what inotify_add_watch gave and was given.
struct InotifyWatch {
  int32_t wd = 0;
  uint32_t mask = 0;   // IN_* event and flag bits as fdinfo shows them
  std::string path;    // resolved at dump from the watch's file handle
  uint64_t dev = 0, ino = 0;  // the watched inode at dump (informational)
};

// One entry of an epoll interest list. The kernel keys an entry by (file,
// fd number): `fd` is the number it was added with, which need not hold
// that file any more (closed, reused, or dup'd elsewhere); `file` says
// which open file it watches, by the lowest fd that holds it.
struct EpollTarget {
  int32_t fd = 0;
  uint32_t events = 0;
  uint64_t data = 0;
  int32_t file = -1;  // FdEntry::fd of the watched open file; 0-2: restore's own stdio
};

// Another fd number that refers to an FdEntry's open file description
// (dup, dup2, F_DUPFD, or inherited that way across fork).
struct FdNumber {
  int32_t fd = 0;
  uint32_t cloexec = 0;
};

enum class LockKind : uint32_t {
  Posix = 1,  // fcntl F_SETLK: owned by the process, on the inode
  Ofd = 2,    // fcntl F_OFD_SETLK: owned by the open file description
  Flock = 3,  // flock(): owned by the open file description
  Lease = 4,  // fcntl F_SETLEASE: owned by the open file description
};
const char* lock_kind_name(LockKind kind);

// A lock held through an FdEntry (/proc/PID/fdinfo "lock:" lines).
struct FileLock {
  LockKind kind = LockKind::Posix;
  uint32_t write = 0;      // 1: F_WRLCK / LOCK_EX; 0: F_RDLCK / LOCK_SH
  int64_t start = 0;       // first byte (POSIX, OFD; else 0)
  int64_t length = 0;      // bytes; 0: to the end of the file, however long
};

// FdEntry::owner: the process itself is the only owner that can be carried
// (it keeps its identity as restore's pid); anyone else is refused at dump.
enum FileOwner : uint32_t {
  kOwnerNone = 0,
  kOwnerProcess = 1,  // F_OWNER_PID of the process
  kOwnerThread = 2,   // F_OWNER_TID of its main thread
};

// One open file description (CRIU's "file"): recorded once, whatever the
// number of fds that share it (fds 0-2 are never recorded: they are
// restore's). `fd` is the lowest number that refers to it, `dups` the others.
struct FdEntry {
  int32_t fd = 0;
  FdKind kind = FdKind::RegularFile;
  uint32_t flags = 0;      // O_ACCMODE and status flags (O_APPEND, O_NONBLOCK...), from fdinfo
  uint32_t cloexec = 0;
  int64_t pos = 0;
  FileId file;             // path (and identity for regular files, directories, devices)
  uint64_t rdev = 0;       // character devices
  uint64_t object = 0;     // pipe/FIFO inode, SharedObject id (memfds), or DeletedFile id (deleted files)
  uint32_t external = 0;   // pipe/FIFO end whose other end is outside the process
  uint32_t pipe_size = 0;
  std::vector<uint8_t> contents;  // unread pipe or FIFO data
  uint64_t count = 0;      // eventfd counter
  uint64_t sigmask = 0;    // signalfd
  int32_t clockid = 0;     // timerfd
  int64_t value_ns = 0, interval_ns = 0;  // timerfd: time left and period (0: disarmed)
  std::vector<EpollTarget> targets;       // epoll, in the order fdinfo lists them
  std::vector<FdNumber> dups;             // the other fds sharing this description, ascending
  std::vector<FileLock> locks;            // locks held through it (POSIX ones: by the process, on its inode)
  uint32_t timer_flags = 0;               // timerfd: TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET
  uint64_t ticks = 0;                     // timerfd: expirations not yet read
  int64_t expiry_ns = 0;                  // timerfd with TFD_TIMER_ABSTIME: next expiration on its clock
  uint32_t owner = 0;                     // who gets its SIGIO/SIGURG (F_SETOWN_EX): FileOwner
  int32_t owner_signal = 0;               // F_SETSIG: 0 for SIGIO
  std::vector<InotifyWatch> watches;      // inotify, sorted by wd
  // Tree-wide identity of the open file description (kcmp KCMP_FILE across
  // the members): entries of several members with one value are one
  // description, created once at restore (inherited across fork).
  uint64_t description = 0;
};

// An fd above 2 that shared the open file description of fd 0, 1 or 2:
// those are restore's own (the shell-job convention), so it becomes a dup
// of restore's fd `of`.
struct StdioDup {
  int32_t fd = 0;
  uint32_t cloexec = 0;
  int32_t of = 0;
};

// A datagram waiting in a socket's receive queue, with who sent it.
struct QueuedDatagram {
  std::vector<uint8_t> source;  // the sender's sockaddr, as recvfrom gives it
  std::vector<uint8_t> data;
};

enum class SocketState : uint32_t {
  Created = 1,    // socket() only
  Bound = 2,      // bind(), or a port the kernel chose (a UDP send)
  Listening = 3,  // TCP listen()
  Connected = 4,  // a datagram socket with a default peer (UDP connect)
};

// A multicast group a socket joined (IP_ADD_MEMBERSHIP, MCAST_JOIN_GROUP...),
// with its source filter (MCAST_MSFILTER).
struct MulticastGroup {
  uint32_t ifindex = 0;         // the interface it was joined on
  std::vector<uint8_t> group;   // sockaddr_in or sockaddr_in6 (port 0)
  uint32_t mode = 0;            // MCAST_EXCLUDE (0: plain join) or MCAST_INCLUDE (1)
  std::vector<std::vector<uint8_t>> sources;  // the filter's source addresses (sockaddrs of the group's family)
};

// One network socket that restore creates afresh (format/InetSocket.h).
struct InetSocket {
  uint64_t id = 0;             // the socket's inode at dump; what its fd's `object` names
  uint32_t family = 0;         // AF_INET, AF_INET6, AF_NETLINK
  uint32_t type = 0;           // SOCK_STREAM, SOCK_DGRAM, SOCK_RAW (netlink)
  uint32_t protocol = 0;       // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP(V6); netlink: NETLINK_ROUTE, NETLINK_KOBJECT_UEVENT
  SocketState state = SocketState::Created;
  std::vector<uint8_t> local;  // getsockname (sockaddr_in, sockaddr_in6, sockaddr_nl); empty when Created
  std::vector<uint8_t> peer;   // getpeername of a Connected datagram socket; else empty
  int32_t backlog = 0;         // Listening: the listen() backlog the kernel keeps (sk_max_ack_backlog)
  std::vector<SocketOption> options;
  std::vector<QueuedDatagram> queue;  // datagrams not yet read, oldest first
  std::vector<uint8_t> groups;        // netlink: the multicast groups bitmap (bit n-1 = group n); else empty
  std::vector<MulticastGroup> multicast;  // IP multicast groups joined, by interface and group
};

struct FileTable {
  std::vector<SharedObject> objects;
  std::vector<FdEntry> fds;  // one per open file description, sorted by fd
  std::vector<StdioDup> stdio_dups;  // sorted by fd
  std::vector<DeletedFile> deleted;  // sorted by id
  std::vector<UnixSocket> unix_sockets;  // sorted by ino; its own section (UnixSockets)
  std::vector<InetSocket> inet_sockets;  // sorted by id; section 26, not the files section
};

// A System V shared memory segment attached by the process (shmget/shmat).
struct SysvSegment {
  int32_t key = 0;    // IPC_PRIVATE (0) for a private segment or one marked for removal
  int32_t id = 0;     // shmid; what SysvShm VMAs refer to; recreated with the same id
  uint32_t mode = 0;  // shm_perm.mode: permission bits 0777 and SHM_DEST (01000, IPC_RMID while attached)
  uint32_t uid = 0, gid = 0;  // shm_perm.uid/gid (the owner; IPC_SET)
  uint64_t size = 0;  // shm_segsz, bytes
  std::vector<SharedObject::Extent> data;  // the parts holding data; the rest reads as zeros
};
inline constexpr uint32_t kShmDest = 01000;  // SHM_DEST

// A pseudo-terminal whose master and slave are both open in the image
// (docs/format.md, "ptys"): recorded once, referenced by its master's and
// slaves' FdEntry::object, created once at restore (format/Pty.h).
struct PtyLine {
  std::vector<uint8_t> bytes;  // as a read(2) of the slave returned it
  uint32_t end = 0;            // PtyLineEnd
};
enum PtyLineEnd : uint32_t {
  kPtyPartial = 0,  // not ended: raw input (non-canonical), or a canonical line still being typed (last only)
  kPtyEndChar = 1,  // a canonical line ended by its last byte ('\n', VEOL or VEOL2)
  kPtyEndEof = 2,   // a canonical line ended by VEOF (not among `bytes`, as read(2) shows it)
};
struct Pty {
  uint64_t id = 0;        // its index at dump (TIOCGPTN); what the fds' `object` names
  uint32_t iflag = 0, oflag = 0, cflag = 0, lflag = 0;  // the slave's termios (TCGETS2)
  uint32_t line = 0;      // c_line, the line discipline; only N_TTY (0)
  std::vector<uint8_t> cc;  // c_cc, 19 bytes
  uint32_t ispeed = 0, ospeed = 0;
  uint32_t rows = 0, cols = 0, xpixel = 0, ypixel = 0;  // TIOCGWINSZ
  uint32_t packet = 0;    // TIOCGPKT of the master
  uint32_t locked = 0;    // TIOCGPTLCK
  uint32_t excl_master = 0, excl_slave = 0;  // TIOCGEXCL of each side
  std::vector<PtyLine> input;    // waiting for the slave's reader, in order
  std::vector<uint8_t> output;   // waiting for the master's reader (without packet-mode headers)
  int32_t session = 0;    // the saved pid of the session leader whose controlling terminal it is; 0: none
  int32_t foreground = 0; // its foreground process group (TIOCGPGRP) as a saved pgid; 0 with session 0
};

// The process tree (docs/format.md, "Process trees"): member 0 is the root,
// the process `ckpt dump PID` named; a parent comes before its children.
enum MemberState : uint32_t {
  kMemberLive = 1,    // every per-process section is saved for it
  kMemberZombie = 2,  // exited, not yet waited for: only its exit status is saved
};
struct TreeMember {
  int32_t pid = 0;       // its pid at the dump (what clone3 set_tid asks for)
  int32_t parent = -1;   // index of its parent member; -1 for the root
  int32_t pgid = 0;      // process group and session at the dump: a member's pid,
  int32_t sid = 0;       // or (outside the tree) the root's own pgid/sid
  uint32_t state = kMemberLive;  // MemberState
  int32_t exit_status = 0;       // zombies: the wait status its parent would read (WIFEXITED / WIFSIGNALED)
  uint32_t subreaper = 0;        // PR_SET_CHILD_SUBREAPER
  uint32_t reserved = 0;
  std::string comm;              // zombies: /proc/PID/comm (a live member's is in its process section)
};
struct ProcessTree {
  std::vector<TreeMember> members;  // members[0] is the root
};

struct Image {
  uint32_t version = kVersion;
  uint32_t flags = 0;
  ProcessInfo process;
  MmInfo mm;
  TaskState task;
  FileTable files;
  std::vector<Vma> vmas;             // sorted by start, non-overlapping
  std::vector<ThreadState> threads;  // threads[0] is the thread group leader
  std::vector<PageChunk> chunks;     // sorted by vaddr, non-overlapping
  std::vector<SysvSegment> sysv_shm; // sorted by id
  std::vector<TcpConnection> tcp;    // sorted by id (TcpConnection.h)
  std::vector<Pty> ptys;             // sorted by id
  std::optional<TerminalInfo> terminal;  // the user's terminal, when an fd (0-2 included) was on it
  std::optional<Scheduling> scheduling;    // always written; validation requires it
  std::optional<Credentials> credentials;  // always written; validation requires it
  std::optional<ParentLink> parent;  // an incremental image's parent (format/ParentLink.h)
  // The seccomp filter chain every thread was under, oldest first, when
  // ckpt carried it (empty: none, or only filters restore must run under
  // itself; docs/format.md §5.17).
  std::vector<SeccompFilter> seccomp;
};

// For a validated image (every chunk inside one VMA): the index of the VMA
// each chunk lies in, and which VMAs have saved pages.
std::vector<size_t> chunk_vmas(const Image& image);
std::vector<bool> vmas_with_pages(const Image& image);

}  // namespace ckpt::format
