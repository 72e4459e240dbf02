// Dump orchestration (see Dumper.h): checks, seize, read, write, release.
#include "dumper/Dumper.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <cinttypes>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <thread>

#include "dumper/Credentials.h"
#include "dumper/Seccomp.h"
#include "dumper/Scheduling.h"
#include "dumper/AddressSpace.h"
#include "dumper/CopiesReturn.h"
#include "dumper/Descriptors.h"
#include "dumper/Pty.h"
#include "dumper/GuardRegions.h"
#include "dumper/SysvShm.h"
#include "dumper/ImageFile.h"
#include "dumper/MemoryDump.h"
#include "dumper/SharedPages.h"
#include "dumper/Snapshot.h"
#include "dumper/ProcessTree.h"
#include "dumper/TreeFiles.h"
#include "dumper/ScopedFd.h"
#include "dumper/TaskState.h"
#include "dumper/TargetUffd.h"
#include "dumper/TcpConnection.h"
#include "dumper/TargetFile.h"
#include "dumper/UnixSocket.h"
#include "dumper/Tracee.h"
#include "format/Checksum.h"
#include "format/FormatError.h"
#include "format/ImageReader.h"
#include "format/Hex.h"
#include "format/Limits.h"
#include "x86/Cpu.h"
#include "x86/FaultPoint.h"
#include "x86/ProcMaps.h"
#include "x86/RemoteSyscall.h"
#include "x86/ResumeGadgets.h"
#include "x86/SigFrame.h"

namespace ckpt::dumper {

using format::Image;

static std::string proc_path(pid_t pid, const char* leaf) { return "/proc/" + std::to_string(pid) + "/" + leaf; }

static std::string read_or_fail(pid_t pid, const char* leaf) {
  try {
    return x86::read_proc_file(proc_path(pid, leaf));
  } catch (const std::exception&) {
    throw DumpError("pid " + std::to_string(pid) + ": cannot read /proc/" + std::to_string(pid) + "/" + leaf +
                    " (did it exit?)");
  }
}


// /proc/PID/stat fields after the parenthesised comm, numbered as in proc(5).
static std::vector<std::string> stat_fields(pid_t pid) {
  std::string s = read_or_fail(pid, "stat");
  size_t close = s.rfind(')');
  if (close == std::string::npos) throw DumpError("pid " + std::to_string(pid) + ": unreadable stat");
  std::vector<std::string> f = {"", "", ""};  // fields 1 and 2 (pid, comm) are not needed
  std::istringstream in(s.substr(close + 1));
  std::string tok;
  while (in >> tok) f.push_back(tok);
  return f;  // f[3] is the state
}

static void check_target(pid_t pid) {
  if (pid <= 0) throw DumpError("invalid pid " + std::to_string(pid));
  if (pid == getpid()) throw DumpError("pid " + std::to_string(pid) + " is ckpt itself");
  if (access(proc_path(pid, "").c_str(), F_OK) != 0) throw DumpError("no process with pid " + std::to_string(pid));
  auto f = stat_fields(pid);
  if (f.size() > 9 && f[3] == "Z") throw DumpError("pid " + std::to_string(pid) + " is a zombie");
  if (f.size() > 9 && (std::stoul(f[9]) & 0x00200000))  // PF_KTHREAD
    throw DumpError("pid " + std::to_string(pid) + " is a kernel thread");
}



static format::ProcessInfo process_info(pid_t pid) {
  format::ProcessInfo p;
  p.pid = pid;
  p.comm = read_or_fail(pid, "comm");
  if (!p.comm.empty() && p.comm.back() == '\n') p.comm.pop_back();
  char exe[4096] = {};
  ssize_t n = readlink(proc_path(pid, "exe").c_str(), exe, sizeof exe - 1);
  if (n > 0) p.exe.assign(exe, size_t(n));
  std::istringstream status(read_or_fail(pid, "status"));
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream l(line);
    std::string key;
    l >> key;
    if (key == "Uid:") l >> p.uid >> p.euid >> p.suid >> p.fsuid;
    if (key == "Gid:") l >> p.gid >> p.egid >> p.sgid >> p.fsgid;
  }
  utsname u;
  if (uname(&u) == 0) p.kernel_release = u.release;
  return p;
}

static format::MmInfo mm_info(pid_t pid, const std::vector<format::Vma>& vmas) {
  auto f = stat_fields(pid);
  if (f.size() < 52) throw DumpError("pid " + std::to_string(pid) + ": /proc stat lacks the mm fields");
  auto at = [&](size_t i) { return std::stoull(f[i]); };
  format::MmInfo m;
  m.start_code = at(26), m.end_code = at(27), m.start_stack = at(28);
  m.start_data = at(45), m.end_data = at(46), m.start_brk = at(47);
  m.arg_start = at(48), m.arg_end = at(49), m.env_start = at(50), m.env_end = at(51);
  // The kernel's brk is not in /proc; the heap VMA ends at it, page-aligned,
  // which is all sys_brk compares against.
  m.brk = m.start_brk;
  for (const auto& v : vmas)
    if (v.kind == format::VmaKind::Heap) m.brk = v.end;
  std::string auxv = read_or_fail(pid, "auxv");
  m.auxv.assign(auxv.begin(), auxv.end());
  return m;
}

// Looks for the code the trampoline finishes through (x86/ResumeGadgets.h),
// and for the strict `syscall; ret` that syscall injection's safety frame
// needs (returned), in the process's executable mappings, read from their files (reading the
// target's memory would fault pages into it) or, for the vdso, from memory.
// Files are read a piece at a time: the gadgets usually turn up early, and
// a copy of all of libc's code would cost more in page faults than the scan.
// Each piece carries the first bytes of the next, for a gadget on the seam.
static uint64_t find_resume_gadgets(format::Image& image) {
  constexpr size_t kPiece = 64u << 10;
  x86::GadgetScan found;
  std::vector<uint8_t> code;
  for (const auto& v : image.vmas) {
    if (!(v.prot & PROT_EXEC)) continue;
    if (v.kind == format::VmaKind::Vdso) {
      code.resize(v.size());
      read_remote(image.process.pid, -1, v.start, code.data(), code.size());
      x86::scan_gadgets(code.data(), code.size(), v.start, found);
    } else if (v.kind == format::VmaKind::FilePrivate) {
      // Through map_files (root), else the path: either way only the
      // mapped inode, as a regular file, is opened (TargetFile.h).
      char range[40];
      std::snprintf(range, sizeof range, "%" PRIx64 "-%" PRIx64, v.start, v.end);
      const ExpectedFile expected{S_IFREG, dev_t(v.file.dev), ino_t(v.file.ino)};
      std::string why;
      bool wrong = false;
      ScopedFd fd(open_target_file(proc_path(image.process.pid, "map_files/") + range, expected, &why, &wrong));
      if (fd.get() < 0 && !wrong) fd.reset(open_target_file(v.file.path, expected, &why, &wrong));
      if (wrong)
        throw DumpError("pid " + std::to_string(image.process.pid) + ": cannot dump the mapping " + range + " " +
                        v.file.path + ": " + why);
      if (fd.get() < 0) continue;  // unreadable here: the code may be found elsewhere
      code.resize(kPiece + x86::kGadgetMaxBytes - 1);
      for (uint64_t at = 0; at < v.size() && !found.complete(); at += kPiece) {
        size_t want = size_t(std::min<uint64_t>(code.size(), v.size() - at));
        ssize_t n = pread(fd.get(), code.data(), want, off_t(v.pgoff + at));
        if (n <= 0) break;
        bool last = size_t(n) < want;  // the file ends inside the mapping
        x86::scan_gadgets(code.data(), size_t(n), v.start + at, found, last ? size_t(n) : kPiece);
        if (last) break;
      }
    }
    if (found.complete()) break;
  }
  if (found.syscall && found.sigreturn) {
    image.mm.syscall_gadget = found.syscall;
    image.mm.sigreturn_gadget = found.sigreturn;
  }
  return found.syscall_ret;
}

// A pipe end whose other end is outside the process is saved without its
// pipe: restore needs a stand-in for it, and says so only then, after a
// --kill. The dump says it now, with the flag to give restore.
static void note_outside_pipes(const format::FileTable& files, const std::string& output,
                               std::vector<std::string>& warnings, pid_t pid, pid_t root) {
  // The command as a shell would take it: quoted unless plainly safe.
  std::string image = output;
  if (image.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@%=") !=
      std::string::npos) {
    image = "'";
    for (char c : output) image += c == '\'' ? std::string("'\\''") : std::string(1, c);
    image += "'";
  }
  // Another member's outside pipe ends can only become /dev/null.
  if (pid != root) {
    for (const format::FdEntry& f : files.fds)
      if (f.kind == format::FdKind::Pipe && f.external)
        warnings.push_back("pid " + std::to_string(pid) + "'s fd " + std::to_string(f.fd) +
                           " is a pipe end whose other end is outside the dumped tree (" + f.file.path +
                           "): restore it with `restore --external-fds=null " + image + "`");
    return;
  }
  for (const format::FdEntry& f : files.fds)
    if (f.kind == format::FdKind::Pipe && f.external)
      warnings.push_back("fd " + std::to_string(f.fd) + " is a pipe " +
                         ((f.flags & O_ACCMODE) == O_RDONLY ? "read" : "write") +
                         " end whose other end is outside the process (" + f.file.path + "): restore it with "
                         "`restore --inherit-fd " + std::to_string(f.fd) + " " + image + "` and a stand-in open on fd " +
                         std::to_string(f.fd) + ", or with `restore --external-fds=null " + image + "`");
    else if (f.kind == format::FdKind::UnixSocket && f.external)
      warnings.push_back("fd " + std::to_string(f.fd) + " is a unix socket (" + f.file.path +
                         ") connected outside the dumped processes: restore it with `restore --inherit-fd " +
                         std::to_string(f.fd) + " " + image + "` and a connected socket open on fd " +
                         std::to_string(f.fd));
}

// Reads the image just written with restore's own reader: every framing,
// limit and content rule (format/Validate.cpp) that `restore` applies to an
// image's own content, so that an image restore would refuse is never
// committed, and --kill never kills for one. Page data is not read back:
// its checksums are computed from the very bytes written, and fsync reports
// an I/O error.
static void check_restorable(pid_t pid, int fd) {
  try {
    format::ImageReader reader(fd);
  } catch (const format::FormatError& e) {
    // The offset is that of a file about to be removed: only the reason matters.
    std::string why = e.what();
    if (why.rfind("at offset ", 0) == 0 && why.find(": ") != std::string::npos) why.erase(0, why.find(": ") + 2);
    throw DumpError("pid " + std::to_string(pid) + ": restore would refuse this image (" + why +
                    "); nothing was written");
  }
}

// Whether `bytes` of copied pages fit in the memory the machine has
// available now, keeping kMemoryReserve for everything else; if not, says
// so in a warning. CKPT_DUMP_MEMORY_AVAILABLE (bytes) stands in for
// MemAvailable, for the test of this path.
static bool fits_in_memory(uint64_t bytes, pid_t pid, std::vector<std::string>& warnings) {
  constexpr uint64_t kMemoryReserve = 256ull << 20;
  uint64_t avail = memory_available();
  if (const char* e = getenv("CKPT_DUMP_MEMORY_AVAILABLE")) avail = std::strtoull(e, nullptr, 10);
  if (bytes + kMemoryReserve <= avail) return true;
  warnings.push_back("only " + std::to_string(avail >> 20) + " MiB of memory available, too little to copy " +
                     std::to_string(bytes >> 20) + " MiB of pid " + std::to_string(pid) +
                     "'s pages aside: it stayed stopped while its image was compressed and written");
  return false;
}

// For syscall injection into the stopped `image.process.pid`: code in the
// vdso (always mapped and present) if it has it (the vdso's size and
// checksum go into image.mm on the way)...
static x86::InjectionSite vdso_site(format::Image& image) {
  x86::InjectionSite site;
  for (const auto& v : image.vmas) {
    if (v.kind != format::VmaKind::Vdso) continue;
    std::vector<uint8_t> bytes(v.size());
    read_remote(image.process.pid, -1, v.start, bytes.data(), bytes.size());
    image.mm.vdso_size = v.size();
    image.mm.vdso_hash = format::checksum(bytes.data(), bytes.size());
    site.syscall = x86::find_syscall_instruction(bytes.data(), bytes.size(), v.start);
    site.syscall_ret = x86::find_syscall_ret(bytes.data(), bytes.size(), v.start);
  }
  return site;
}

// ...else the process's own (x86/RemoteSyscall.h), found with the resume
// gadgets.
static void complete_site(x86::InjectionSite& site, format::Image& image) {
  const uint64_t syscall_ret = find_resume_gadgets(image);
  if (!site.syscall) site.syscall = image.mm.syscall_gadget;
  if (!site.syscall_ret) site.syscall_ret = syscall_ret;
  site.sigreturn = image.mm.sigreturn_gadget;
}

static x86::InjectionSite injection_site(format::Image& image) {
  x86::InjectionSite site = vdso_site(image);
  complete_site(site, image);
  return site;
}

// A snapshot's root, protected before the freeze (Snapshot.h): stopped
// only to make its userfaultfd, then protected while it runs. Whatever
// goes wrong here leaves it as it was, and the freeze does it all.
static void prepare_snapshot(pid_t pid, const MapsBefore& before, Snapshot& snapshot, DumpReport& r) {
  int fd = -1;
  std::vector<format::Vma> vmas;
  try {
    const auto t = std::chrono::steady_clock::now();
    {
      Tracee tracee(pid);
      format::Image image;
      image.process.pid = pid;
      image.vmas = read_address_space(pid, &before);
      const x86::InjectionSite site = injection_site(image);
      if (site.syscall && site.syscall_ret && site.sigreturn) {  // with the safety frame only
        TargetUffd u = open_target_uffd(pid, tracee.tids().front(), site, Snapshot::features());
        fd = u.fd;
        vmas = std::move(image.vmas);
      }
    }
    r.prestop_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    x86::time_point("snapshot: stop before the freeze over");
  } catch (const std::exception&) {
    if (fd >= 0) close(fd);
    return;
  }
  if (fd >= 0) snapshot.prepare(pid, fd, vmas);
}

namespace {

// One live member's records, read while every member is stopped. `root`:
// the tree's root (its fds 0-2 are restore's own).
struct MemberRecords {
  Image image;
  uint32_t subreaper = 0;
  x86::InjectionSite site;  // where calls can be injected (a snapshot's userfaultfd)
  bool flags_from_before = false;  // its VmFlags were read before the freeze (AddressSpace.h)
};

MemberRecords read_member(const Tracee& tracee, pid_t root, const PtyEnds& pty_ends, const UserTerminal& terminal,
                          const UnixSocketSet& unix_sockets, const DumpOptions& o, DumpReport& r, TcpConnections& tcp,
                          const MapsBefore* maps_before) {
  const pid_t pid = tracee.pid();
  if (tracee.tids().size() > format::kMaxThreads)
    throw DumpError("pid " + std::to_string(pid) + " has " + std::to_string(tracee.tids().size()) +
                    " threads, more than the format's limit of " + std::to_string(format::kMaxThreads));
  MemberRecords out;
  Image& image = out.image;
  image.process = process_info(pid);
  // Seccomp filters first: one ckpt cannot carry is refused before any call is injected.
  image.seccomp = read_seccomp(pid, tracee.tids());
  x86::time_point("dump: member read begins");
  image.vmas = read_address_space(pid, maps_before, &out.flags_from_before);
  x86::time_point("dump: address space read");
  read_guard_regions(pid, image.vmas);
  image.sysv_shm = read_sysv_shm(pid, image.vmas);
  image.mm = mm_info(pid, image.vmas);
  image.files = read_files(pid, image.vmas, o.ignore_fds ? &r.warnings : nullptr, root, o.inherit_outside_sockets, &tcp,
                           &pty_ends, terminal, &image.terminal, &unix_sockets);
  image.tcp = tcp.records_for(image.files);
  x86::InjectionSite site = vdso_site(image);
  x86::fault_point("dump: memory map and files read");

  complete_site(site, image);

  // State of an XSAVE component granted only on request (AMX tile data)
  // cannot be put back through sigreturn, which a restored process resumes by.
  const uint64_t on_request = x86::xfeatures_on_request(x86::xcr0());
  for (pid_t tid : tracee.tids()) {
    format::ThreadState t;
    t.tid = tid;
    x86::UserRegs regs = tracee.registers(tid);
    static_assert(sizeof regs == sizeof t.gpr);
    std::memcpy(t.gpr.data(), &regs, sizeof regs);
    t.sigmask = tracee.signal_mask(tid);
    auto rseq = tracee.rseq(tid);
    t.rseq = {rseq.address, rseq.length, rseq.flags, rseq.signature};
    t.xsave = tracee.xsave(tid, &t.xfeatures);
    uint64_t in_use;
    std::memcpy(&in_use, t.xsave.data() + x86::kXsaveHeaderOffset, 8);
    if (in_use & on_request)
      throw DumpError("pid " + std::to_string(pid) + ": thread " + std::to_string(tid) +
                      " holds AMX tile data (XSAVE features " + format::hex(in_use & on_request) +
                      " in use), which a restore cannot put back; dump it once its tiles are released");
    tracee.robust_list(tid, &t.robust_list, &t.robust_list_len);
    try {
      t.comm = x86::read_proc_file(proc_path(pid, ("task/" + std::to_string(tid) + "/comm").c_str()));
    } catch (const std::exception&) {
    }
    if (!t.comm.empty() && t.comm.back() == '\n') t.comm.pop_back();
    image.threads.push_back(std::move(t));
  }
  if (!site.syscall) throw DumpError("pid " + std::to_string(pid) + " has no system call instruction to inject through");
  x86::fault_point("dump: registers read");
  image.scheduling = read_scheduling(pid, tracee.tids());
  image.credentials = read_credentials(pid, tracee.tids());
  x86::time_point("dump: registers read");
  read_task_state(tracee, site, image, &out.subreaper);
  out.site = site;
  x86::fault_point("dump: task state read");
  return out;
}

}  // namespace

DumpReport dump(const DumpOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  ImageFile::check_path(o.output, o.connection, bool(o.deliver));  // before the process is touched
  check_target(o.pid);
  // An incremental dump: its parent and the tracking that goes on from it,
  // checked before the process is touched.
  std::optional<ParentRef> parent;
  if (o.parent_ref) parent = *o.parent_ref;
  else if (!o.parent.empty()) parent = ParentRef::open(o.parent);
  if (parent) {
    // Renamed over its own parent, the image would name a parent that no longer exists.
    char* out = realpath(o.output.c_str(), nullptr);
    const bool same = out && parent->path == out;
    free(out);
    if (same) throw DumpError("-o " + o.output + " is the --parent image: an incremental image needs its parent kept");
  }
  if (o.snapshot && (o.track || parent))
    throw DumpError("--snapshot and --track/--parent each write-protect the memory with a userfaultfd of their own: "
                    "use one or the other");
  std::shared_ptr<DirtyTracker> tracker = o.in_process ? *o.in_process : nullptr;
  if (parent && !tracker) tracker = DirtyTracker::from_keeper(o.pid, *parent);
  if (parent && (tracker->pid() != o.pid || tracker->last_checksum() != parent->checksum))
    throw DumpError("pid " + std::to_string(o.pid) + ": --parent " + parent->path +
                    " is not the image its tracking goes on from");
  const CopiesReturn copies_return = parse_copies_return(o.copies_return);
  if (copies_return.active()) wait_for_read(o.pid, copies_return);
  // Memory for the copy of the pages, touched now rather than while the tree waits.
  CopyArena arena;
  if (!o.kill && !o.snapshot) {
    uint64_t estimate = estimate_copy_bytes(o.pid);
    // An incremental dump copies the pages written since its parent, not
    // its resident set: making room for all of that first would take up to
    // seconds (while the process writes more pages to copy in the freeze)
    // and as much memory. A short estimate only costs a buffer mapped in the
    // freeze (MemoryCopy::allocate); the slack covers areas saved whole
    // (stacks, file mappings) and the writes until the seize.
    if (parent) {
      const uint64_t written = tracker->written_bytes(parent->vmas);
      estimate = std::min<uint64_t>(estimate, written + written / 4 + (uint64_t(32) << 20));
    }
    std::vector<std::string> unused;
    if (fits_in_memory(estimate, o.pid, unused)) arena.reserve(estimate);
  }
  // The root's smaps, whose page walk would otherwise be part of the freeze
  // (AddressSpace.h). Not for --kill: nothing runs after its freeze.
  MapsBefore maps_before;
  if (!o.kill) maps_before = read_maps_before(o.pid);
  // An incremental dump copies what was written since its parent before
  // the freeze, and in it only what was written since (DirtyPages.h).
  // Not for a tracker held by the caller (in_process): only a keeper's
  // lifts the precopy's protection again when the dump fails.
  std::unique_ptr<Precopy> precopy;
  if (parent && !o.kill && !o.in_process && !maps_before.entries.empty()) {
    std::vector<PageRange> registered;  // as smaps showed them: one scan each
    for (const x86::MapsEntry& e : maps_before.entries)
      if (e.has_flag("uw")) registered.push_back({e.start, e.end});
    precopy = tracker->precopy(parent->vmas, registered);
    x86::fault_point("dump: precopied");
  }
  // A snapshot protects the root's memory before the freeze (Snapshot.h).
  // Its protection is lifted from pages written until Snapshot::protect,
  // in the freeze: ckpt's own writes there (injected calls' frames) too.
  DumpReport r;
  std::unique_ptr<Snapshot> snapshot;
  if (o.snapshot && !o.kill) {
    snapshot = std::make_unique<Snapshot>();
    prepare_snapshot(o.pid, maps_before, *snapshot, r);
    x86::fault_point("dump: snapshot protected before the freeze");
  }
  const auto t0 = std::chrono::steady_clock::now();  // the freeze begins with the seize
  x86::time_point("dump: seize");
  ProcessTree tree(o.pid, o.single);
  x86::time_point("dump: seized");
  // Everything below reads stopped processes; the Tracees' destructors release them.
  check_unshared(tree);
  // Declared after the tree, so destroyed before it: a connection is out of
  // repair mode before the processes run again (TcpConnection.h). One for
  // the whole tree: a connection is read once, whichever members hold it.
  TcpConnections tcp(o.tcp_established);
  const auto& ms = tree.members();
  std::vector<MemberRecords> records(ms.size());
  PtyEnds pty_ends;  // the ptys with both ends in the tree (Pty.h)
  for (size_t i = 0; i < ms.size(); ++i)
    if (ms[i].tracee) find_pty_ends(ms[i].pid, ms[i].pid != o.pid, pty_ends);
  // The user's terminal: the root's controlling terminal, unless a member
  // holds its pty master (then the pair is the tree's own).
  std::set<uint32_t> masters;
  for (const auto& m : ms)
    if (m.tracee) masters.merge(pty_masters_of(m.pid));
  const UserTerminal terminal = find_user_terminal(o.pid, masters);
  // Unix sockets resolve their peers against every socket of the tree (UnixSocket.h).
  std::vector<pid_t> live;
  for (const auto& m : ms)
    if (m.tracee) live.push_back(m.pid);
  const UnixSocketSet unix_sockets = read_tree_unix_sockets(live, o.pid);
  for (size_t i = 0; i < ms.size(); ++i)
    if (ms[i].tracee)
      records[i] = read_member(*ms[i].tracee, o.pid, pty_ends, terminal, unix_sockets, o, r, tcp,
                               ms[i].pid == o.pid ? &maps_before : nullptr);
  if (copies_return.active()) apply_copies_return(records[0].image, copies_return);
  x86::time_point("dump: members read");
  // Tracking and the parent's pages, in the freeze: the pages left to the
  // parent are exactly those unwritten since the image it was armed for.
  ParentPages from_parent;
  std::vector<format::Vma> to_read;  // an incremental dump's: only the parts of tracked areas written since
  if ((o.track || parent) && ms.size() > 1)
    throw DumpError("pid " + std::to_string(o.pid) + " has children: incremental dumps (--track, --parent) are of one "
                    "process (--single dumps it alone)");
  if (o.track && !tracker) tracker = DirtyTracker::start(o.pid, records[0].site);
  if (parent) {
    DirtyTracker::Collected c = tracker->collect(records[0].image.vmas, *parent, precopy.get());
    from_parent = std::move(c.from_parent);
    to_read = std::move(c.to_read);
    format::ParentLink link;
    link.path = parent->path;
    link.checksum = parent->checksum;
    link.depth = parent->depth + 1;
    for (const PageRange& run : from_parent.runs) link.runs.push_back({run.start, (run.end - run.start) / format::kPageSize});
    records[0].image.parent = std::move(link);
    r.pages_from_parent = from_parent.pages();
    for (const PageRange& p : from_parent.precopied) r.pages_precopied += (p.end - p.start) / format::kPageSize;
  }
  if (o.track) {
    if (size_t missed = tracker->arm(records[0].image.vmas))
      r.warnings.push_back(std::to_string(missed) + " memory area(s) of pid " + std::to_string(o.pid) +
                           " cannot be tracked (registered with a userfaultfd of its own?): every dump saves them whole");
  }
  if (!o.kill)
    for (std::string& w : tcp.running_warnings()) r.warnings.push_back(std::move(w));
  format::ProcessTree record = tree.record();
  std::vector<Image*> images(ms.size(), nullptr);
  for (size_t i = 0; i < ms.size(); ++i) {
    record.members[i].subreaper = records[i].subreaper;
    if (ms[i].tracee) images[i] = &records[i].image;
  }
  // Each socket once for the tree; each member's section holds what its sockets need.
  share_unix_sockets(images, o.ignore_fds ? &r.warnings : nullptr);
  link_tree_files(tree, images);
  // Each pty once for the tree; its record goes to every member holding an end of it.
  std::vector<PtyMember> pty_members;
  for (Image* image : images)
    if (image) pty_members.push_back({image->process.pid, &image->files});
  const std::vector<format::Pty> ptys = read_ptys(pty_members, o.ignore_fds ? &r.warnings : nullptr);
  for (Image* image : images) {
    if (!image) continue;
    for (const format::Pty& p : ptys)
      if (std::any_of(image->files.fds.begin(), image->files.fds.end(), [&](const format::FdEntry& f) {
            return (f.kind == format::FdKind::PtyMaster || f.kind == format::FdKind::PtySlave) && f.object == p.id;
          }))
        image->ptys.push_back(p);
  }
  for (const Image* image : images)
    if (image) note_outside_pipes(image->files, o.output, r.warnings, image->process.pid, o.pid);

  x86::time_point("dump: tracking done, files linked");
  // Plan every member's pages, parents first: pages a child still shares
  // copy-on-write with its parent are recorded as the parent's (found
  // against the parent's plan; MemoryCopy::write drops those the parent
  // turns out not to save, which are zero).
  std::vector<std::unique_ptr<MemoryCopy>> copies(ms.size());
  bool frames_hidden = false;
  uint64_t copy_bytes = 0;
  for (size_t i = 0; i < ms.size(); ++i) {
    if (!images[i]) continue;
    InheritedPages inherited;
    const int32_t p = record.members[i].parent;
    if (p >= 0 && images[size_t(p)] && !frames_hidden) {
      inherited = find_inherited_pages(ms[i].pid, images[i]->vmas, ms[size_t(p)].pid, images[size_t(p)]->vmas,
                                       copies[size_t(p)]->planned_chunks());
      if (inherited.frames_hidden) {
        frames_hidden = true;
        r.warnings.push_back(kFramesHiddenWarning);
      }
    }
    // An incremental dump reads only the parts of tracked areas written since its parent.
    copies[i] = std::make_unique<MemoryCopy>(ms[i].pid, parent ? to_read : images[i]->vmas,
                                             inherited.runs.empty() ? nullptr : &inherited,
                                             parent ? &from_parent : nullptr, o.snapshot || parent.has_value());
    copy_bytes += copies[i]->bytes();
    r.vmas += images[i]->vmas.size();
  }
  x86::time_point("dump: pages planned");
  // Copy the pages aside while stopped, then let the tree run while they
  // are compressed and written. With --kill it stays stopped anyway, and
  // without the memory for a copy it stays stopped while its pages are
  // written straight from it.
  const bool aside = !o.kill && (copy_bytes <= arena.size() || fits_in_memory(copy_bytes, o.pid, r.warnings));
  // A snapshot copies only what it cannot protect now, the rest once the tree runs (Snapshot.h).
  if (!aside) snapshot.reset();  // its protection lifted: the tree stays stopped while it is written
  if (aside)
    for (size_t i = 0; i < ms.size(); ++i) {
      if (!copies[i]) continue;
      std::string why;
      if (snapshot && snapshot->protect(*copies[i], images[i]->vmas, ms[i].tracee->tids().front(), records[i].site, &why))
        continue;
      if (snapshot)
        r.warnings.push_back("pid " + std::to_string(ms[i].pid) + " gets no snapshot: " + why +
                             "; its memory was copied while it was stopped");
      copies[i]->copy_all(&arena);
    }
  if (snapshot && snapshot->areas_copied_stopped())
    r.warnings.push_back(std::to_string(snapshot->areas_copied_stopped()) +
                         " memory area(s) could not be write-protected for the snapshot (registered with another "
                         "userfaultfd: the process's own, or a --track keeper's); they were copied while it was stopped");
  x86::fault_point("dump: memory read");
  auto release = [&] {
    // Everything is read: a tree left running goes on while the image is
    // finished and made durable. With --kill it stays stopped until the
    // image is committed, and then dies.
    tcp.release();  // out of repair mode (it already is between reads and freeze)
    tree.release();
    r.frozen_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    x86::time_point("dump: released");
  };
  if (aside) release();
  // Flags taken from before the freeze: still the same once it runs, or
  // they may have been other at the freeze (AddressSpace.h). A snapshot
  // checks after its copy, so that no write waits on this read.
  auto check_flags = [&] {
    for (size_t i = 0; i < ms.size(); ++i)
      if (images[i] && records[i].flags_from_before) check_flags_kept(ms[i].pid, images[i]->vmas);
    x86::time_point("dump: flags checked");
  };
  if (aside && !snapshot) check_flags();
  if (snapshot) {
    x86::fault_point("dump: snapshot running");
    // The flags are checked while the copy runs, on a thread of their own:
    // the sooner after the release, the fewer changes made after the freeze
    // are taken for changes before it.
    std::exception_ptr flags_error;
    std::thread flags([&] {
      try {
        check_flags();
      } catch (...) {
        flags_error = std::current_exception();
      }
    });
    try {
      snapshot->run();
    } catch (...) {
      flags.join();
      throw;
    }
    flags.join();
    r.snapshot = true;
    r.pages_faulted = snapshot->pages_faulted();
    snapshot.reset();  // every protection lifted, every userfaultfd closed
    x86::fault_point("dump: snapshot copied");
    if (flags_error) std::rethrow_exception(flags_error);
  }

  ImageFile file(o.output, o.connection, bool(o.deliver));
  format::ImageWriter writer(file.fd(), o.compression);
  writer.write_tree_metadata(record, std::vector<const Image*>(images.begin(), images.end()));
  MemoryStats mem;
  for (size_t i = 0; i < ms.size(); ++i) {
    if (!images[i]) continue;
    writer.begin_member(uint32_t(i));
    const int32_t p = record.members[i].parent;
    MemoryStats m = copies[i]->write(
        writer,
        [&] {
          file.write_back(writer.bytes_written());
          if (o.on_memory_written) o.on_memory_written(writer.pages_written() * format::kPageSize);
        },
        p >= 0 && images[size_t(p)] ? &writer.chunks(uint32_t(p)) : nullptr);
    copies[i].reset();  // its buffer is no longer needed
    mem.pages_saved += m.pages_saved;
    mem.zero_pages_skipped += m.zero_pages_skipped;
    mem.pages_inherited += m.pages_inherited;
  }
  x86::fault_point("dump: pages written");
  if (!aside && !o.kill) {
    release();
    check_flags();
  }
  writer.finish();
  x86::fault_point("dump: image written");
  check_restorable(o.pid, writer.readable_fd());
  if (o.executable) file.make_executable();
  // The connections go into repair mode for good only now, so that closing
  // them with the process sends nothing (and only if nothing arrived since).
  if (o.kill) tcp.freeze();
  x86::fault_point("dump: tcp frozen");
  writer.end_stream();  // a stream's last record: only now is it a complete image
  file.commit();
  if (o.deliver) o.deliver(file.fd());  // migrate --lazy: returns once the process may die
  if (o.kill) {
    tree.kill();
    r.frozen_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    tcp.keep();  // closed with the processes, in repair mode: no FIN, no RST
    tcp.check_unchanged();
  }
  // The image is committed: it is the base of the tracking from now on (or the tracking ends).
  uint64_t sum = 0;
  if (pread(writer.readable_fd(), &sum, 8, off_t(writer.bytes_written() - 8)) != 8)  // (a stream's copy too)
    throw DumpError(std::string("cannot read back the image's checksum: ") + std::strerror(errno));
  r.as_parent.path = o.output;
  if (char* real = realpath(o.output.c_str(), nullptr)) {
    r.as_parent.path = real;
    free(real);
  }
  r.as_parent.checksum = sum;
  r.as_parent.depth = parent ? parent->depth + 1 : 0;
  r.as_parent.vmas = records[0].image.vmas;
  if (tracker && o.track && !o.kill) {
    if (o.in_process) {
      tracker->went_on_from(sum);
      *o.in_process = tracker;
    } else {
      try {
        tracker->keep(sum);
      } catch (const DumpError& e) {
        r.warnings.push_back(e.what());
      }
    }
  } else if (tracker) {
    tracker->stop();
    if (o.in_process) o.in_process->reset();
  }

  r.image_bytes = writer.bytes_written();
  r.pages_saved = mem.pages_saved;
  r.zero_pages_skipped = mem.zero_pages_skipped;
  r.pages_inherited = mem.pages_inherited;
  r.members = ms.size();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return r;
}

}  // namespace ckpt::dumper

