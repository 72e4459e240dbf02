// Field-by-field encoding of the metadata sections (docs/format.md, "Sections").
#include "format/Sections.h"

#include "format/Codec.h"
#include "format/DeletedFile.h"
#include "format/Inotify.h"
#include "format/Limits.h"

#include <cstring>

namespace ckpt::format {

const char* section_name(SectionType type) {
  switch (type) {
    case SectionType::Process: return "process";
    case SectionType::Mm: return "mm";
    case SectionType::Vmas: return "vmas";
    case SectionType::Threads: return "threads";
    case SectionType::PageIndex: return "page_index";
    case SectionType::PageData: return "page_data";
    case SectionType::Task: return "task";
    case SectionType::Files: return "files";
    case SectionType::SysvShm: return "sysv_shm";
    case SectionType::InetSockets: return "inet_sockets";
    case SectionType::Tcp: return "tcp";
    case SectionType::Ptys: return "ptys";
    case SectionType::Terminal: return "terminal";
    case SectionType::Scheduling: return "scheduling";
    case SectionType::Credentials: return "credentials";
    case SectionType::Seccomp: return "seccomp";
    case SectionType::Parent: return "parent";
    case SectionType::Tree: return "tree";
    case SectionType::UnixSockets: return "unix_sockets";
  }
  return "unknown";
}

const char* vma_kind_name(VmaKind kind) {
  switch (kind) {
    case VmaKind::AnonPrivate: return "anon-private";
    case VmaKind::FilePrivate: return "file-private";
    case VmaKind::FileShared: return "file-shared";
    case VmaKind::AnonShared: return "anon-shared";
    case VmaKind::Heap: return "heap";
    case VmaKind::Stack: return "stack";
    case VmaKind::Vdso: return "vdso";
    case VmaKind::Vvar: return "vvar";
    case VmaKind::VvarVclock: return "vvar_vclock";
    case VmaKind::MemfdShared: return "memfd-shared";
    case VmaKind::DeletedPrivate: return "deleted-private";
    case VmaKind::DeletedShared: return "deleted-shared";
    case VmaKind::MemfdPrivate: return "memfd-private";
    case VmaKind::AnonSharedPrivate: return "anon-shared-private";
    case VmaKind::DevZeroPrivate: return "devzero-private";
    case VmaKind::SysvShm: return "sysv-shm";
    case VmaKind::FileSharedOwn: return "file-shared-own";
    case VmaKind::HugetlbShared: return "hugetlb-shared";
  }
  return "unknown";
}

uint64_t vma_alignment(const Vma& v) {
  if (!(v.flags & kVmaHugetlb)) return kPageSize;
  return (v.flags & kVmaHuge1G) ? 1ull << 30 : 2ull << 20;
}

bool vma_kind_is_valid(uint32_t raw) {
  return (raw >= 1 && raw <= uint32_t(VmaKind::DeletedShared)) ||
         (raw >= uint32_t(VmaKind::MemfdPrivate) && raw <= uint32_t(VmaKind::HugetlbShared));
}

const char* fd_kind_name(FdKind kind) {
  switch (kind) {
    case FdKind::RegularFile: return "file";
    case FdKind::Directory: return "directory";
    case FdKind::CharDevice: return "device";
    case FdKind::DeletedFile: return "deleted file";
    case FdKind::Pipe: return "pipe";
    case FdKind::Fifo: return "fifo";
    case FdKind::EventFd: return "eventfd";
    case FdKind::Epoll: return "epoll";
    case FdKind::SignalFd: return "signalfd";
    case FdKind::TimerFd: return "timerfd";
    case FdKind::Memfd: return "memfd";
    case FdKind::Inotify: return "inotify";
    case FdKind::UnixSocket: return "unix-socket";
    case FdKind::InetSocket: return "inet socket";
    case FdKind::NetlinkSocket: return "netlink socket";
    case FdKind::TcpConnection: return "tcp connection";
    case FdKind::PtyMaster: return "pty-master";
    case FdKind::PtySlave: return "pty-slave";
    case FdKind::Terminal: return "terminal";
  }
  return "unknown";
}

bool fd_kind_is_valid(uint32_t raw) { return raw >= 1 && raw <= uint32_t(FdKind::NetlinkSocket); }

const char* lock_kind_name(LockKind kind) {
  switch (kind) {
    case LockKind::Posix: return "POSIX lock";
    case LockKind::Ofd: return "OFD lock";
    case LockKind::Flock: return "flock";
    case LockKind::Lease: return "lease";
  }
  return "unknown lock";
}

static void put_siginfos(ByteWriter& w, const std::vector<SigInfo>& infos) {
  w.u32(uint32_t(infos.size()));
  for (const SigInfo& i : infos) w.put(i.data(), i.size());
}

static std::vector<SigInfo> get_siginfos(ByteReader& r, const char* what) {
  uint32_t n = r.count(what, kMaxPendingSignals, sizeof(SigInfo));
  std::vector<SigInfo> infos(n);
  for (SigInfo& i : infos) {
    uint64_t at = r.offset();
    for (size_t k = 0; k < i.size(); k += 8) {
      uint64_t v = r.u64("siginfo");
      std::memcpy(i.data() + k, &v, 8);
    }
    int32_t signo;
    std::memcpy(&signo, i.data(), 4);
    if (signo < 1 || signo > int32_t(kSignalCount) || signo == 9 || signo == 19)
      throw FormatError(at, "pending signal number " + std::to_string(signo) + " is invalid");
  }
  return infos;
}

std::vector<uint8_t> encode_process(const ProcessInfo& p) {
  ByteWriter w;
  w.i32(p.pid);
  w.str(p.comm);
  w.str(p.exe);
  for (uint32_t id : {p.uid, p.euid, p.suid, p.fsuid, p.gid, p.egid, p.sgid, p.fsgid}) w.u32(id);
  w.str(p.kernel_release);
  return w.bytes();
}

ProcessInfo decode_process(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  ProcessInfo p;
  p.pid = r.i32("pid");
  p.comm = r.str("comm", kMaxStringLength);
  p.exe = r.str("exe path", kMaxStringLength);
  for (uint32_t* id : {&p.uid, &p.euid, &p.suid, &p.fsuid, &p.gid, &p.egid, &p.sgid, &p.fsgid}) *id = r.u32("credential");
  p.kernel_release = r.str("kernel release", kMaxStringLength);
  r.expect_end("process section");
  return p;
}

std::vector<uint8_t> encode_mm(const MmInfo& m) {
  ByteWriter w;
  for (uint64_t v : {m.start_code, m.end_code, m.start_data, m.end_data, m.start_brk, m.brk, m.start_stack,
                     m.arg_start, m.arg_end, m.env_start, m.env_end})
    w.u64(v);
  w.blob(m.auxv);
  w.u64(m.vdso_size);
  w.u64(m.vdso_hash);
  w.u64(m.syscall_gadget);
  w.u64(m.sigreturn_gadget);
  return w.bytes();
}

MmInfo decode_mm(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  MmInfo m;
  for (uint64_t* v : {&m.start_code, &m.end_code, &m.start_data, &m.end_data, &m.start_brk, &m.brk, &m.start_stack,
                      &m.arg_start, &m.arg_end, &m.env_start, &m.env_end})
    *v = r.u64("mm field");
  m.auxv = r.blob("auxv", kMaxAuxvBytes);
  m.vdso_size = r.u64("vdso size");
  m.vdso_hash = r.u64("vdso hash");
  m.syscall_gadget = r.u64("syscall gadget");
  m.sigreturn_gadget = r.u64("sigreturn gadget");
  r.expect_end("mm section");
  return m;
}

static void put_file_id(ByteWriter& w, const FileId& f) {
  w.str(f.path);
  w.u64(f.dev);
  w.u64(f.ino);
  w.u64(f.size);
  w.i64(f.mtime_ns);
}

// `what` names the record in messages ("VMA file", "file").
static FileId get_file_id(ByteReader& r, const std::string& what) {
  FileId f;
  f.path = r.str((what + " path").c_str(), kMaxStringLength);
  f.dev = r.u64((what + " device").c_str());
  f.ino = r.u64((what + " inode").c_str());
  f.size = r.u64((what + " size").c_str());
  f.mtime_ns = r.i64((what + " mtime").c_str());
  return f;
}

// Fixed part of a VMA record: start, end, pgoff, prot, flags, kind, then the
// file identity (path string, dev, ino, size, mtime), then the guard count.
static constexpr size_t kMinVmaRecord = 8 * 3 + 4 * 3 + 4 + 8 * 4 + 4;

std::vector<uint8_t> encode_vmas(const std::vector<Vma>& vmas) {
  ByteWriter w;
  w.u32(uint32_t(vmas.size()));
  for (const Vma& v : vmas) {
    w.u64(v.start);
    w.u64(v.end);
    w.u64(v.pgoff);
    w.u32(v.prot);
    w.u32(v.flags);
    w.u32(uint32_t(v.kind));
    put_file_id(w, v.file);
    w.u32(uint32_t(v.guards.size()));
    for (const GuardRange& g : v.guards) w.u64(g.start), w.u64(g.end);
  }
  return w.bytes();
}

std::vector<Vma> decode_vmas(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  uint32_t count = r.count("VMA count", kMaxVmas, kMinVmaRecord);
  std::vector<Vma> vmas(count);
  for (Vma& v : vmas) {
    v.start = r.u64("VMA start");
    v.end = r.u64("VMA end");
    v.pgoff = r.u64("VMA offset");
    v.prot = r.u32("VMA prot");
    v.flags = r.u32("VMA flags");
    uint64_t at = r.offset();
    uint32_t kind = r.u32("VMA kind");
    if (!vma_kind_is_valid(kind)) throw FormatError(at, "unknown VMA kind " + std::to_string(kind));
    v.kind = VmaKind(kind);
    v.file = get_file_id(r, "VMA file");
    v.guards.resize(r.count("VMA guard range count", kMaxGuardRanges, 16));
    for (GuardRange& g : v.guards) g.start = r.u64("VMA guard start"), g.end = r.u64("VMA guard end");
  }
  r.expect_end("vmas section");
  return vmas;
}

static constexpr size_t kMinThreadRecord = 4 + 4 + 8 * kGprCount + 8 + 8 + 4 * 3 + 8 * 3 + 8 * 3 + 4 + 4 + 8 + 4;

std::vector<uint8_t> encode_threads(const std::vector<ThreadState>& threads) {
  ByteWriter w;
  w.u32(uint32_t(threads.size()));
  for (const ThreadState& t : threads) {
    w.i32(t.tid);
    w.str(t.comm);
    for (uint64_t g : t.gpr) w.u64(g);
    w.u64(t.sigmask);
    w.u64(t.rseq.address);
    w.u32(t.rseq.length);
    w.u32(t.rseq.flags);
    w.u32(t.rseq.signature);
    w.u64(t.robust_list);
    w.u64(t.robust_list_len);
    w.u64(t.clear_child_tid);
    w.u64(t.cached_tid_address);
    w.u64(t.altstack_sp);
    w.u64(t.altstack_size);
    w.i32(t.altstack_flags);
    put_siginfos(w, t.pending);
    w.u64(t.xfeatures);
    w.blob(t.xsave);
  }
  return w.bytes();
}

std::vector<ThreadState> decode_threads(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  uint32_t count = r.count("thread count", kMaxThreads, kMinThreadRecord);
  if (count == 0) throw FormatError(base, "image has no thread");
  std::vector<ThreadState> threads(count);
  for (ThreadState& t : threads) {
    t.tid = r.i32("tid");
    t.comm = r.str("thread name", 16);
    for (uint64_t& g : t.gpr) g = r.u64("register");
    t.sigmask = r.u64("signal mask");
    t.rseq.address = r.u64("rseq address");
    t.rseq.length = r.u32("rseq length");
    t.rseq.flags = r.u32("rseq flags");
    t.rseq.signature = r.u32("rseq signature");
    t.robust_list = r.u64("robust list");
    t.robust_list_len = r.u64("robust list length");
    t.clear_child_tid = r.u64("clear-child-tid address");
    t.cached_tid_address = r.u64("cached tid address");
    t.altstack_sp = r.u64("alternate stack address");
    t.altstack_size = r.u64("alternate stack size");
    t.altstack_flags = r.i32("alternate stack flags");
    t.pending = get_siginfos(r, "thread pending signal count");
    t.xfeatures = r.u64("xfeatures");
    t.xsave = r.blob("XSAVE area", kMaxXsaveBytes);
  }
  r.expect_end("threads section");
  return threads;
}

static constexpr size_t kChunkRecord = 8 + 4 + 4 + 8 + 8 + 8;

std::vector<uint8_t> encode_page_index(const std::vector<PageChunk>& chunks) {
  ByteWriter w;
  w.u32(uint32_t(chunks.size()));
  for (const PageChunk& c : chunks) {
    w.u64(c.vaddr);
    w.u32(c.npages);
    w.u32(uint32_t(c.encoding));
    w.u64(c.offset);
    w.u64(c.stored_size);
    w.u64(c.checksum);
  }
  return w.bytes();
}

std::vector<PageChunk> decode_page_index(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  uint32_t count = r.count("chunk count", kMaxChunks, kChunkRecord);
  std::vector<PageChunk> chunks(count);
  for (PageChunk& c : chunks) {
    c.vaddr = r.u64("chunk address");
    c.npages = r.u32("chunk page count");
    uint64_t at = r.offset();
    uint32_t enc = r.u32("chunk encoding");
    if (enc > uint32_t(ChunkEncoding::Inherited)) throw FormatError(at, "unknown chunk encoding " + std::to_string(enc));
    c.encoding = ChunkEncoding(enc);
    c.offset = r.u64("chunk offset");
    c.stored_size = r.u64("chunk stored size");
    c.checksum = r.u64("chunk checksum");
  }
  r.expect_end("page_index section");
  return chunks;
}

std::vector<uint8_t> encode_task(const TaskState& t) {
  ByteWriter w;
  w.str(t.cwd);
  w.u32(t.umask);
  w.u32(t.personality);
  w.u32(kRlimitCount);
  for (const Rlimit& l : t.rlimits) w.u64(l.cur), w.u64(l.max);
  w.i32(t.pdeath_signal);
  w.i32(t.dumpable);
  w.u32(t.no_new_privs);
  w.u32(t.thp_disable);
  w.u32(kSignalCount);
  for (const SigAction& a : t.sigactions) w.u64(a.handler), w.u64(a.flags), w.u64(a.restorer), w.u64(a.mask);
  put_siginfos(w, t.shared_pending);
  for (const Itimer& i : t.itimers) w.i64(i.interval_sec), w.i64(i.interval_usec), w.i64(i.value_sec), w.i64(i.value_usec);
  w.u32(uint32_t(t.ldt.size()));
  for (uint64_t d : t.ldt) w.u64(d);
  w.u64(t.xcomp_perm);
  w.i32(t.oom_score_adj);
  w.u32(t.membarrier);
  w.i64(t.monotonic_ns);
  w.i64(t.boottime_ns);
  w.u32(uint32_t(t.timers.size()));
  for (const PosixTimer& p : t.timers) {
    w.i32(p.id);
    w.i32(p.clock);
    w.i32(p.signo);
    w.i32(p.notify);
    w.u64(p.sigev_value);
    w.i32(p.target_tid);
    w.i64(p.value_ns);
    w.i64(p.interval_ns);
    w.i32(p.overrun);
  }
  w.u32(t.mdwe);
  return w.bytes();
}

TaskState decode_task(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  TaskState t;
  t.cwd = r.str("cwd", kMaxStringLength);
  t.umask = r.u32("umask");
  t.personality = r.u32("personality");
  uint64_t at = r.offset();
  if (r.u32("rlimit count") != kRlimitCount) throw FormatError(at, "rlimit count is not " + std::to_string(kRlimitCount));
  for (Rlimit& l : t.rlimits) l.cur = r.u64("rlimit"), l.max = r.u64("rlimit");
  t.pdeath_signal = r.i32("pdeath signal");
  t.dumpable = r.i32("dumpable");
  t.no_new_privs = r.u32("no_new_privs");
  t.thp_disable = r.u32("THP disable");
  at = r.offset();
  if (r.u32("signal count") != kSignalCount) throw FormatError(at, "signal count is not " + std::to_string(kSignalCount));
  for (SigAction& a : t.sigactions)
    a.handler = r.u64("sigaction"), a.flags = r.u64("sigaction"), a.restorer = r.u64("sigaction"), a.mask = r.u64("sigaction");
  t.shared_pending = get_siginfos(r, "shared pending signal count");
  for (Itimer& i : t.itimers)
    i.interval_sec = r.i64("itimer"), i.interval_usec = r.i64("itimer"), i.value_sec = r.i64("itimer"),
    i.value_usec = r.i64("itimer");
  uint32_t nldt = r.count("LDT entry count", kMaxLdtEntries, 8);
  t.ldt.resize(nldt);
  for (uint64_t& d : t.ldt) d = r.u64("LDT entry");
  t.xcomp_perm = r.u64("XSAVE permission");
  t.oom_score_adj = r.i32("oom_score_adj");
  t.membarrier = r.u32("membarrier registrations");
  t.monotonic_ns = r.i64("CLOCK_MONOTONIC at dump");
  t.boottime_ns = r.i64("CLOCK_BOOTTIME at dump");
  t.timers.resize(r.count("POSIX timer count", kMaxPosixTimers, 4 * 4 + 8 + 4 + 8 * 2 + 4));
  for (PosixTimer& p : t.timers) {
    p.id = r.i32("timer id");
    p.clock = r.i32("timer clock");
    p.signo = r.i32("timer signal");
    p.notify = r.i32("timer notification");
    p.sigev_value = r.u64("timer sigev_value");
    p.target_tid = r.i32("timer target thread");
    p.value_ns = r.i64("timer value");
    p.interval_ns = r.i64("timer interval");
    p.overrun = r.i32("timer overrun");
  }
  t.mdwe = r.u32("memory-deny-write-execute flags");
  r.expect_end("task section");
  return t;
}

std::vector<uint8_t> encode_files(const FileTable& t) {
  ByteWriter w;
  w.u32(uint32_t(t.objects.size()));
  for (const SharedObject& o : t.objects) {
    w.u64(o.id);
    w.u32(o.memfd);
    w.str(o.name);
    w.u64(o.size);
    w.u32(o.seals);
    w.u32(uint32_t(o.data.size()));
    for (const SharedObject::Extent& e : o.data) {
      w.u64(e.offset);
      w.blob(e.bytes);
    }
    w.u32(o.mode);
  }
  w.u32(uint32_t(t.fds.size()));
  for (const FdEntry& f : t.fds) {
    w.i32(f.fd);
    w.u32(uint32_t(f.kind));
    w.u32(f.flags);
    w.u32(f.cloexec);
    w.i64(f.pos);
    put_file_id(w, f.file);
    w.u64(f.rdev);
    w.u64(f.object);
    w.u32(f.external);
    w.u32(f.pipe_size);
    w.blob(f.contents);
    w.u64(f.count);
    w.u64(f.sigmask);
    w.i32(f.clockid);
    w.i64(f.value_ns);
    w.i64(f.interval_ns);
    w.u32(uint32_t(f.targets.size()));
    for (const EpollTarget& e : f.targets) {
      w.i32(e.fd);
      w.u32(e.events);
      w.u64(e.data);
      w.i32(e.file);
    }
    w.u32(uint32_t(f.dups.size()));
    for (const FdNumber& d : f.dups) {
      w.i32(d.fd);
      w.u32(d.cloexec);
    }
    w.u32(uint32_t(f.locks.size()));
    for (const FileLock& l : f.locks) {
      w.u32(uint32_t(l.kind));
      w.u32(l.write);
      w.i64(l.start);
      w.i64(l.length);
    }
    w.u32(f.timer_flags);
    w.u64(f.ticks);
    w.i64(f.expiry_ns);
    w.u32(f.owner);
    w.i32(f.owner_signal);
    put_inotify_watches(w, f.watches);
    w.u64(f.description);
  }
  w.u32(uint32_t(t.stdio_dups.size()));
  for (const StdioDup& d : t.stdio_dups) {
    w.i32(d.fd);
    w.u32(d.cloexec);
    w.i32(d.of);
  }
  put_deleted_files(w, t.deleted);
  return w.bytes();
}

FileTable decode_files(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  FileTable t;
  t.objects.resize(r.count("shared object count", kMaxSharedObjects, 8 + 4 + 4 + 8 + 4 + 4 + 4));
  for (SharedObject& o : t.objects) {
    o.id = r.u64("object id");
    o.memfd = r.u32("object kind") != 0;
    o.name = r.str("memfd name", kMaxStringLength);
    o.size = r.u64("object size");
    o.seals = r.u32("object seals");
    o.data.resize(r.count("object extent count", kMaxChunks, 12));
    for (SharedObject::Extent& e : o.data) {
      e.offset = r.u64("extent offset");
      e.bytes = r.blob("extent bytes", kMaxBlobBytes);
    }
    o.mode = r.u32("object mode");
  }
  t.fds.resize(r.count("fd count", kMaxFds, 4 * 4 + 8 + 4 + 8 * 4 + 8 * 2 + 4 * 2 + 4 + 8 * 2 + 4 + 8 * 2 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 4 + 4));
  for (FdEntry& f : t.fds) {
    f.fd = r.i32("fd number");
    uint64_t at = r.offset();
    uint32_t kind = r.u32("fd kind");
    if (!fd_kind_is_valid(kind)) throw FormatError(at, "unknown fd kind " + std::to_string(kind));
    f.kind = FdKind(kind);
    f.flags = r.u32("fd flags");
    f.cloexec = r.u32("fd cloexec");
    f.pos = r.i64("fd offset");
    f.file = get_file_id(r, "file");
    f.rdev = r.u64("device number");
    f.object = r.u64("fd object");
    f.external = r.u32("external end");
    f.pipe_size = r.u32("pipe size");
    f.contents = r.blob("fd contents", kMaxBlobBytes);
    f.count = r.u64("eventfd count");
    f.sigmask = r.u64("signalfd mask");
    f.clockid = r.i32("timerfd clock");
    f.value_ns = r.i64("timerfd value");
    f.interval_ns = r.i64("timerfd interval");
    f.targets.resize(r.count("epoll target count", kMaxEpollTargets, 20));
    for (EpollTarget& e : f.targets) {
      e.fd = r.i32("epoll target fd");
      e.events = r.u32("epoll events");
      e.data = r.u64("epoll data");
      e.file = r.i32("epoll target file");
    }
    f.dups.resize(r.count("dup count", kMaxFds, 8));
    for (FdNumber& d : f.dups) {
      d.fd = r.i32("dup fd number");
      d.cloexec = r.u32("dup cloexec");
    }
    f.locks.resize(r.count("lock count", kMaxLocks, 24));
    for (FileLock& l : f.locks) {
      uint64_t at = r.offset();
      uint32_t kind = r.u32("lock kind");
      if (kind < 1 || kind > uint32_t(LockKind::Lease)) throw FormatError(at, "unknown lock kind " + std::to_string(kind));
      l.kind = LockKind(kind);
      l.write = r.u32("lock type");
      l.start = r.i64("lock start");
      l.length = r.i64("lock length");
    }
    f.timer_flags = r.u32("timerfd flags");
    f.ticks = r.u64("timerfd ticks");
    f.expiry_ns = r.i64("timerfd expiry");
    f.owner = r.u32("fd owner");
    f.owner_signal = r.i32("fd owner signal");
    f.watches = get_inotify_watches(r);
    f.description = r.u64("fd description");
  }
  t.stdio_dups.resize(r.count("stdio dup count", kMaxFds, 12));
  for (StdioDup& d : t.stdio_dups) {
    d.fd = r.i32("stdio dup fd");
    d.cloexec = r.u32("stdio dup cloexec");
    d.of = r.i32("stdio dup of");
  }
  t.deleted = get_deleted_files(r);
  r.expect_end("files section");
  return t;
}

// key, id, mode, uid, gid, size, extent count.
static constexpr size_t kMinSysvRecord = 4 * 5 + 8 + 4;

std::vector<uint8_t> encode_sysv_shm(const std::vector<SysvSegment>& segments) {
  ByteWriter w;
  w.u32(uint32_t(segments.size()));
  for (const SysvSegment& g : segments) {
    w.i32(g.key);
    w.i32(g.id);
    w.u32(g.mode);
    w.u32(g.uid);
    w.u32(g.gid);
    w.u64(g.size);
    w.u32(uint32_t(g.data.size()));
    for (const SharedObject::Extent& e : g.data) {
      w.u64(e.offset);
      w.blob(e.bytes);
    }
  }
  return w.bytes();
}

std::vector<SysvSegment> decode_sysv_shm(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  std::vector<SysvSegment> segments(r.count("SysV segment count", kMaxSysvSegments, kMinSysvRecord));
  for (SysvSegment& g : segments) {
    g.key = r.i32("SysV key");
    g.id = r.i32("SysV id");
    g.mode = r.u32("SysV mode");
    g.uid = r.u32("SysV uid");
    g.gid = r.u32("SysV gid");
    g.size = r.u64("SysV size");
    g.data.resize(r.count("SysV extent count", kMaxChunks, 12));
    for (SharedObject::Extent& e : g.data) {
      e.offset = r.u64("SysV extent offset");
      e.bytes = r.blob("SysV extent bytes", kMaxBlobBytes);
    }
  }
  r.expect_end("sysv_shm section");
  return segments;
}

}  // namespace ckpt::format

namespace ckpt::format {

// Tree section: u32 count, then per member 32 bytes and a comm string
// (docs/format.md, "Process trees").
static constexpr size_t kTreeMemberBytes = 36;

std::vector<uint8_t> encode_tree(const ProcessTree& tree) {
  ByteWriter w;
  w.u32(uint32_t(tree.members.size()));
  for (const TreeMember& m : tree.members) {
    w.i32(m.pid);
    w.i32(m.parent);
    w.i32(m.pgid);
    w.i32(m.sid);
    w.u32(m.state);
    w.i32(m.exit_status);
    w.u32(m.subreaper);
    w.u32(m.reserved);
    w.str(m.comm);
  }
  return w.bytes();
}

ProcessTree decode_tree(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  ProcessTree t;
  uint32_t count = r.count("member count", kMaxMembers, kTreeMemberBytes);
  if (count == 0) throw FormatError(base, "tree: no members");
  t.members.resize(count);
  for (TreeMember& m : t.members) {
    m.pid = r.i32("member pid");
    m.parent = r.i32("member parent");
    m.pgid = r.i32("member pgid");
    m.sid = r.i32("member sid");
    m.state = r.u32("member state");
    m.exit_status = r.i32("member exit status");
    m.subreaper = r.u32("member subreaper");
    m.reserved = r.u32("member reserved");
    m.comm = r.str("member comm", 16);  // TASK_COMM_LEN
  }
  r.expect_end("tree section");
  return t;
}

}  // namespace ckpt::format
