// Plan construction and the jump into the trampoline (see Launch.h).
#include "restorer/Launch.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>

#include "format/DeletedFile.h"
#include "format/Limits.h"
#include "restorer/PosixTimers.h"
#include "restorer/RestoreError.h"
#include "restorer/Seccomp.h"
#include "trampoline/Blob.h"
#include "trampoline/Plan.h"
#include "restorer/TaskRestore.h"
#include "x86/Cpu.h"
#include "x86/LdtDescriptor.h"
#include "x86/ResumeGadgets.h"
#include "x86/SigFrame.h"
#include "x86/Syscall.h"
#include "x86/SyscallRestart.h"

namespace ckpt::restorer {

using format::kPageSize;
using trampoline::Move;
using trampoline::Plan;
using trampoline::Range;

static constexpr uint64_t kStackSize = 64 * 1024;
static constexpr size_t kMaxKernelAuxv = 2 * 8 * 26;  // sizeof(mm->saved_auxv): AT_VECTOR_SIZE longs

static uint64_t page_up(uint64_t v) { return (v + kPageSize - 1) & ~uint64_t(kPageSize - 1); }
static uint64_t blob_size() { return uint64_t(ckpt_trampoline_blob_end - ckpt_trampoline_blob); }

// Byte offsets inside the home: [blob][plan, arrays, auxv][frame][stack].
struct HomeLayout {
  uint64_t plan, frame, stack_top, size;
  size_t plan_bytes, keep_offset, move_offset, auxv_offset, ldt_offset, shared_offset, thread_offset;
  size_t fd_move_offset, lock_offset, fixup_offset, others_offset, others_pending_offset, lazy_offset, timer_offset;
  size_t seccomp_offset;       // SeccompPlan[], then every filter's instructions
  size_t frame_stride;         // one fallback frame per thread, from `frame`
  uint64_t thread_stacks;      // 16 KiB per other thread, from here
};
static constexpr uint64_t kThreadStackSize = 16 * 1024;

static HomeLayout layout(const format::Image& image) {
  HomeLayout h;
  size_t nkeep = image.vmas.size() + 4, nmove = image.vmas.size() * 2 + 6;
  h.keep_offset = sizeof(Plan);
  h.move_offset = h.keep_offset + nkeep * sizeof(Range);
  h.ldt_offset = h.move_offset + nmove * sizeof(Move);
  h.shared_offset = h.ldt_offset + image.task.ldt.size() * sizeof(trampoline::LdtEntry);
  // One more shared signal than saved: the terminal's SIGWINCH (Terminal.h).
  h.thread_offset = h.shared_offset + (image.task.shared_pending.size() + 1) * sizeof(trampoline::QueuedSignal);
  h.fd_move_offset = h.thread_offset + image.threads[0].pending.size() * sizeof(trampoline::QueuedSignal);
  size_t fd_numbers = image.files.stdio_dups.size(), locks = 0, fixups = 0;
  for (const auto& f : image.files.fds) {
    fd_numbers += 1 + f.dups.size();
    fixups += (f.flags & O_ASYNC) ? 1 : 0;
    fixups += f.kind == format::FdKind::TcpConnection;
    for (const auto& l : f.locks) {
      locks += l.kind == format::LockKind::Posix;
      fixups += l.kind == format::LockKind::Lease;
    }
  }
  h.lock_offset = h.fd_move_offset + fd_numbers * sizeof(trampoline::FdMove);
  h.lock_offset = (h.lock_offset + 7) & ~size_t(7);
  h.fixup_offset = (h.lock_offset + locks * sizeof(trampoline::PosixLock) + 7) & ~size_t(7);
  h.others_offset = (h.fixup_offset + fixups * sizeof(trampoline::FdFixup) + 7) & ~size_t(7);
  h.others_pending_offset = h.others_offset + (image.threads.size() - 1) * sizeof(trampoline::ThreadPlan);
  size_t others_pending = 0;
  for (size_t i = 1; i < image.threads.size(); ++i) others_pending += image.threads[i].pending.size();
  h.lazy_offset = h.others_pending_offset + others_pending * sizeof(trampoline::QueuedSignal);
  h.timer_offset = h.lazy_offset + image.vmas.size() * sizeof(Range);
  h.seccomp_offset = (h.timer_offset + image.task.timers.size() * sizeof(trampoline::TimerPlan) + 7) & ~size_t(7);
  size_t seccomp_insns = 0;
  for (const format::SeccompFilter& f : image.seccomp) seccomp_insns += f.program.size();
  h.auxv_offset = h.seccomp_offset + image.seccomp.size() * sizeof(trampoline::SeccompPlan) + seccomp_insns * 8;
  h.plan_bytes = h.auxv_offset + image.mm.auxv.size();
  h.plan = page_up(blob_size());
  h.frame = (h.plan + h.plan_bytes + 63) & ~uint64_t(63);
  size_t biggest = 0;
  for (const auto& t : image.threads) biggest = std::max(biggest, x86::sigframe_size(t.xsave.size()));
  h.frame_stride = (biggest + 63) & ~size_t(63);
  uint64_t stack_bottom = page_up(h.frame + h.frame_stride * image.threads.size());
  h.stack_top = stack_bottom + kStackSize;
  h.thread_stacks = h.stack_top;
  h.size = h.thread_stacks + (image.threads.size() - 1) * kThreadStackSize;
  return h;
}

uint64_t home_size(const format::Image& image) { return layout(image).size; }

static std::pair<uint64_t, uint64_t> saved_vdso_span(const format::Image& image) {
  uint64_t lo = 0, hi = 0;
  for (const format::Vma& v : image.vmas)
    if (format::vma_kind_is_special(v.kind)) {
      if (!lo) lo = v.start;
      hi = v.end;
    }
  return {lo, hi};
}

uint64_t vdso_scratch_size(const format::Image& image, const VdsoGroup& vdso) {
  auto [lo, hi] = saved_vdso_span(image);
  if (!lo || vdso.parts.empty()) return 0;
  uint64_t cur_lo = vdso.parts.front().start, cur_hi = vdso.parts.back().end;
  return (lo < cur_hi && cur_lo < hi) ? cur_hi - cur_lo : 0;
}

static bool has_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

// Whether prctl(PR_SET_MM_MAP) will accept these fields (kernel/sys.c).
static bool mm_fields_acceptable(const format::MmInfo& m) {
  for (uint64_t a : {m.start_code, m.end_code, m.start_data, m.end_data, m.start_brk, m.brk, m.start_stack,
                     m.arg_start, m.arg_end, m.env_start, m.env_end})
    if (a < 65536 || a >= format::kUserSpaceEnd) return false;
  if (m.start_code >= m.end_code) return false;  // the kernel wants this pair strictly ordered
  rlimit data;
  if (getrlimit(RLIMIT_DATA, &data) == 0 && data.rlim_cur != RLIM_INFINITY &&
      (m.brk - m.start_brk) + (m.end_data - m.start_data) > data.rlim_cur)
    return false;
  return m.auxv.size() <= kMaxKernelAuxv;
}

// The saved address space as staged before the point of no return: which
// VMA holds an address (binary search: an image may have a million VMAs
// and thousands of threads), where its bytes are now, and how much of it
// is backed by its file or shared object (touching a page past that would
// raise SIGBUS in the launcher).
class StagedView {
 public:
  StagedView(const format::Image& image, const MachineFit& fit, const AddressPlan& ap)
      : image_(image), fit_(fit), ap_(ap), special_(image.vmas.size(), SIZE_MAX) {
    size_t n = 0;
    for (size_t i = 0; i < image.vmas.size(); ++i)
      if (format::vma_kind_is_special(image.vmas[i].kind)) special_[i] = n++;
    for (const format::SharedObject& o : image.files.objects) object_size_[o.id] = o.size;
  }

  // The VMA holding `addr`, or SIZE_MAX.
  size_t find(uint64_t addr) const {
    const auto& v = image_.vmas;
    auto it = std::upper_bound(v.begin(), v.end(), addr, [](uint64_t a, const format::Vma& x) { return a < x.start; });
    if (it == v.begin() || addr >= std::prev(it)->end) return SIZE_MAX;
    return size_t(std::prev(it) - v.begin());
  }

  // End of the part of VMA `i` backed by its file or object.
  uint64_t backed_end(size_t i) const {
    const format::Vma& v = image_.vmas[i];
    uint64_t size;
    if (format::vma_kind_has_file(v.kind)) size = v.file.size;
    else if (format::vma_kind_is_deleted(v.kind)) {
      const format::DeletedFile* d = format::find_deleted(image_.files.deleted, v.file.ino);
      size = d ? d->size : 0;
    } else if (format::vma_kind_has_object(v.kind)) {
      auto it = object_size_.find(v.file.ino);
      size = it == object_size_.end() ? 0 : it->second;
    } else return v.end;
    size = page_up(size);
    return size <= v.pgoff ? v.start : std::min(v.end, v.start + (size - v.pgoff));
  }

  // Where a saved address can be read now: in its staged area, or for the
  // vdso in the launcher's own (identical) vdso. nullptr when it cannot be
  // read (no such area, not readable, lazy, past its file's end). `*avail`:
  // the bytes readable from there on.
  const uint8_t* readable(uint64_t addr, size_t* avail) const {
    size_t i = find(addr);
    if (i == SIZE_MAX) return nullptr;
    const format::Vma& v = image_.vmas[i];
    if (format::vma_kind_is_special(v.kind)) {
      *avail = v.end - addr;
      if (v.kind == format::VmaKind::Vdso && special_[i] < fit_.vdso.parts.size())
        return reinterpret_cast<const uint8_t*>(fit_.vdso.parts[special_[i]].start + (addr - v.start));
      return nullptr;
    }
    uint64_t end = backed_end(i);
    // A SysV attachment is made only after these checks (restorer/SysvShm.h).
    if (!(v.prot & PROT_READ) || !ap_.staged[i] || ap_.is_lazy(i) || addr >= end || v.kind == format::VmaKind::SysvShm)
      return nullptr;
    *avail = end - addr;
    return reinterpret_cast<const uint8_t*>(ap_.staged[i] + (addr - v.start));
  }

  // Where `len` bytes at a saved address can be written now, in their
  // staged area (which must be writable in the image too); nullptr if not.
  uint8_t* writable(uint64_t addr, size_t len) const {
    size_t i = find(addr);
    if (i == SIZE_MAX) return nullptr;
    const format::Vma& v = image_.vmas[i];
    if (format::vma_kind_is_special(v.kind) || !ap_.staged[i] || ap_.is_lazy(i) || !(v.prot & PROT_WRITE) ||
        v.kind == format::VmaKind::FileShared || v.kind == format::VmaKind::SysvShm ||
        v.kind == format::VmaKind::FileSharedOwn || v.kind == format::VmaKind::DeletedShared || len > backed_end(i) - std::min(addr, backed_end(i)))
      return nullptr;
    return reinterpret_cast<uint8_t*>(ap_.staged[i] + (addr - v.start));
  }

  // A thread's frame on its own stack: below the red zone, 64-aligned for
  // XSAVE, in the writable staged area its stack pointer is in. Returns the
  // frame's saved address (0: no room) and sets *write_at.
  uint64_t frame_on_stack(const format::ThreadState& thread, size_t frame_size, uint8_t** write_at) const {
    uint64_t rsp = thread.gpr[format::RSP];
    if (rsp == 0) return 0;
    size_t i = find(rsp - 1);  // rsp may sit at the very end of its area
    if (i == SIZE_MAX) return 0;
    const format::Vma& v = image_.vmas[i];
    if (format::vma_kind_is_special(v.kind) || !ap_.staged[i] || ap_.is_lazy(i)) return 0;
    if ((v.prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE) || v.kind == format::VmaKind::FileShared ||
        v.kind == format::VmaKind::DeletedShared)
      return 0;
    uint64_t frame = (rsp - 128 - frame_size) & ~uint64_t(63);
    if (rsp < 128 + frame_size + 64 || frame < v.start || rsp > backed_end(i)) return 0;
    *write_at = reinterpret_cast<uint8_t*>(ap_.staged[i] + (frame - v.start));
    return frame;
  }

 private:
  const format::Image& image_;
  const MachineFit& fit_;
  const AddressPlan& ap_;
  std::vector<size_t> special_;  // per VMA: its index among the vdso group, or SIZE_MAX
  std::map<uint64_t, uint64_t> object_size_;
};

// glibc's cached thread id must name the thread's new id, or raise(),
// pthread_kill() and owner-checking mutexes fail. The leader's new id is
// this process's pid; the kernel writes the others' as it clones them.
static void rewrite_cached_tid(const format::Image& image, const StagedView& mem, bool dry) {
  const format::ThreadState& t = image.threads[0];
  if (!t.cached_tid_address) return;
  uint8_t* p = mem.writable(t.cached_tid_address, 4);
  if (!p) throw RestoreError("the C library's cached thread id is not in writable memory");
  if (dry) return;
  int32_t tid = int32_t(getpid());
  std::memcpy(p, &tid, 4);
}

// A thread stopped inside an rseq critical section resumes at its abort
// handler, as the kernel would have moved it on preemption; the area's
// rseq_cs pointer is cleared, as the kernel does. (struct rseq: rseq_cs at
// offset 8; struct rseq_cs: version, flags, start_ip, post_commit_offset,
// abort_ip; the signature sits in the 4 bytes before abort_ip.) `dry`:
// only the checks, nothing written.
static void apply_rseq_abort(const StagedView& mem, const format::ThreadState& thread, x86::UserRegs& regs, bool dry) {
  const format::RseqConfig& rs = thread.rseq;
  if (!rs.address) return;
  uint8_t* area = mem.writable(rs.address + 8, 8);
  if (!area) return;
  uint64_t cs_addr;
  std::memcpy(&cs_addr, area, 8);
  if (!cs_addr) return;
  size_t avail = 0;
  const uint8_t* cs = mem.readable(cs_addr, &avail);
  if (cs && avail >= 32) {
    uint64_t start, post_commit, abort_ip;
    std::memcpy(&start, cs + 8, 8);
    std::memcpy(&post_commit, cs + 16, 8);
    std::memcpy(&abort_ip, cs + 24, 8);
    if (regs.rip >= start && regs.rip - start < post_commit) {
      size_t sig_avail = 0;
      const uint8_t* sig = abort_ip >= 4 ? mem.readable(abort_ip - 4, &sig_avail) : nullptr;
      uint32_t signature = 0;
      if (sig && sig_avail >= 4) std::memcpy(&signature, sig, 4);
      if (signature != rs.signature)
        throw RestoreError("the thread is inside an rseq critical section whose abort handler lacks the signature");
      regs.rip = abort_ip;
    }
  }
  if (!dry) std::memset(area, 0, 8);
}

// The no-trace finish (x86/ResumeGadgets.h) needs both gadgets intact in the
// staged memory.
static bool gadgets_usable(const format::Image& image, const StagedView& mem) {
  const format::MmInfo& m = image.mm;
  if (!m.syscall_gadget || !m.sigreturn_gadget) return false;
  size_t g_avail = 0, r_avail = 0;
  const uint8_t* g = mem.readable(m.syscall_gadget, &g_avail);
  if (!g || !x86::is_syscall_gadget(g, g_avail)) return false;
  const uint8_t* r = mem.readable(m.sigreturn_gadget, &r_avail);
  return r && x86::is_sigreturn_gadget(r, r_avail);
}

static void unregister_own_rseq() {
  if (__rseq_size == 0) return;
  auto* area = reinterpret_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
  // glibc registers sizeof(struct rseq) (32) even where __rseq_size reports the feature size.
  for (unsigned len : {32u, unsigned(__rseq_size)})
    if (syscall(SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0) return;
}

// The saved executable, for /proc/PID/exe: looked at through O_PATH first
// (a FIFO or a device there must neither hang restore nor run a driver's
// open), and used only if it is a regular file the caller may execute, as
// prctl(PR_SET_MM_EXE_FILE) requires. -1 otherwise.
static int open_saved_exe(const format::Image& image, const MachineFit& fit) {
  const std::string& path = image.process.exe;
  // The executable is nearly always mapped too: check_machine has opened
  // it read-only and checked it is a regular file; only the right to
  // execute it is left to see.
  for (size_t i = 0; i < image.vmas.size(); ++i)
    if (image.vmas[i].kind == format::VmaKind::FilePrivate && image.vmas[i].file.path == path && fit.file_fds[i] >= 0)
      return faccessat(fit.file_fds[i], "", X_OK, AT_EMPTY_PATH | AT_EACCESS) == 0 ? fit.file_fds[i] : -1;
  int probe = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (probe < 0) return -1;
  struct stat st;
  int fd = -1;
  if (fstat(probe, &st) == 0 && S_ISREG(st.st_mode) && faccessat(probe, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) == 0)
    fd = ::open(("/proc/self/fd/" + std::to_string(probe)).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  ::close(probe);
  return fd;
}

// Where the threads' rendezvous fds go: near the top of the fd table, away
// from every number the program uses or will get from open() soon. Below
// the saved RLIMIT_NOFILE if that leaves room above every placed fd (the
// kernel never shrinks a table it grew for a high number), else below the
// caller's, which is in force until the trampoline's very end.
static int32_t sync_fd_base(const format::Image& image, int32_t close_upto) {
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  const uint64_t need = image.threads.size() + 2;
  uint64_t limit = std::min<uint64_t>(nofile.rlim_cur, INT32_MAX);
  uint64_t saved = image.task.rlimits[RLIMIT_NOFILE].cur;
  if (saved < limit && saved >= uint64_t(close_upto) + need + 64) limit = saved;
  return int32_t(limit > need + 64 ? limit - need : 0);
}

void check_launch_layout(const format::Image& image) {
  // Where each area will be staged does not matter to this check, only
  // whether it will be: the addresses below are never dereferenced.
  AddressPlan ap;
  ap.staged.assign(image.vmas.size(), 0);
  for (size_t i = 0; i < image.vmas.size(); ++i)
    if (is_staged(image.vmas[i])) ap.staged[i] = image.vmas[i].start;
  const MachineFit fit;
  rewrite_cached_tid(image, StagedView(image, fit, ap), true);
}

void check_launch(const format::Image& image, const MachineFit& fit, const AddressPlan& ap) {
  const StagedView mem(image, fit, ap);
  rewrite_cached_tid(image, mem, true);
  for (const format::ThreadState& t : image.threads) {
    x86::UserRegs regs;
    std::memcpy(&regs, t.gpr.data(), sizeof regs);
    regs = x86::resume_registers(regs);
    apply_rseq_abort(mem, t, regs, true);
  }
  trampoline::Rlimit limits[format::kRlimitCount];
  uint32_t mask = 0;
  plan_rlimits(image, limits, &mask);
}

void launch(const format::Image& image, const MachineFit& fit, const AddressPlan& ap, const PreparedFiles& files,
            const LaunchOptions& options) {
  const format::ThreadState& thread = image.threads[0];
  const HomeLayout h = layout(image);

  // Everything that might still fail happens before the first irreversible step.
  // PR_SET_MM_MAP needs no capability for the address fields; replacing the
  // exe link needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.
  bool set_mm = mm_fields_acceptable(image.mm);
  if (!set_mm)
    std::fprintf(stderr, "restore: warning: the image's mm fields are out of the kernel's range; the restored "
                         "process keeps the launcher's brk, cmdline, environ and auxv locations\n");
  int exe_fd = -1;
  if (set_mm && (has_capability(CAP_SYS_ADMIN) || has_capability(CAP_CHECKPOINT_RESTORE)))
    exe_fd = files.deleted_exe >= 0 ? files.deleted_exe : open_saved_exe(image, fit);
  if (set_mm && exe_fd < 0)
    std::fprintf(stderr, "restore: warning: /proc/PID/exe of the restored process will name restore, not %s "
                         "(needs CAP_CHECKPOINT_RESTORE and the file)\n", image.process.exe.c_str());

  void* home = mmap(reinterpret_cast<void*>(ap.home), h.size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (home == MAP_FAILED) throw RestoreError(std::string("cannot map the trampoline's home: ") + std::strerror(errno));
  auto* base = static_cast<uint8_t*>(home);
  std::memcpy(base, ckpt_trampoline_blob, blob_size());

  auto* plan = reinterpret_cast<Plan*>(base + h.plan);
  std::memset(plan, 0, h.plan_bytes);
  plan->magic = trampoline::kPlanMagic;
  plan->total_size = h.plan_bytes;
  plan->keep_offset = h.keep_offset;
  plan->move_offset = h.move_offset;
  plan->unmap_end = format::kUserSpaceEnd;

  std::vector<Range> keep;
  keep.push_back({ap.home, ap.home + h.size});
  std::vector<Move> moves;
  // The vdso group first, through the scratch span if its saved place overlaps its current one.
  if (saved_vdso_span(image).first) {
    size_t part = 0;
    for (const format::Vma& v : image.vmas) {
      if (!format::vma_kind_is_special(v.kind)) continue;
      const auto& cur = fit.vdso.parts[part++];
      keep.push_back({cur.start, cur.end});
      if (ap.scratch) {
        uint64_t via = ap.scratch + (cur.start - fit.vdso.parts.front().start);
        moves.push_back({cur.start, via, v.size()});
        moves.push_back({via, v.start, v.size()});
      } else if (cur.start != v.start) {
        moves.push_back({cur.start, v.start, v.size()});
      }
    }
    // Moving through the scratch span needs the later parts to leave first when they overlap.
    if (ap.scratch) {
      std::vector<Move> ordered;
      for (size_t i = 0; i < moves.size(); i += 2) ordered.push_back(moves[i]);
      for (size_t i = 1; i < moves.size(); i += 2) ordered.push_back(moves[i]);
      moves = ordered;
    }
  }
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    if (!ap.staged[i]) continue;
    const format::Vma& v = image.vmas[i];
    keep.push_back({ap.staged[i], ap.staged[i] + v.size()});
    if (ap.staged[i] != v.start) moves.push_back({ap.staged[i], v.start, v.size()});
  }
  std::sort(keep.begin(), keep.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
  plan->keep_count = uint32_t(keep.size());
  plan->move_count = uint32_t(moves.size());
  std::memcpy(base + h.plan + h.keep_offset, keep.data(), keep.size() * sizeof(Range));
  std::memcpy(base + h.plan + h.move_offset, moves.data(), moves.size() * sizeof(Move));

  const format::MmInfo& m = image.mm;
  plan->set_mm = set_mm;
  plan->mdwe = image.task.mdwe;
  plan->mm = {m.start_code, m.end_code, m.start_data, m.end_data, m.start_brk, m.brk, m.start_stack,
              m.arg_start, m.arg_end, m.env_start, m.env_end, 0, 0, uint32_t(exe_fd)};
  if (!m.auxv.empty()) {
    std::memcpy(base + h.plan + h.auxv_offset, m.auxv.data(), m.auxv.size());
    plan->mm.auxv = ap.home + h.plan + h.auxv_offset;
    plan->mm.auxv_size = uint32_t(m.auxv.size());
  }
  plan->uffd = options.uffd;
  plan->lazy_go_fd = options.lazy_go_fd;
  plan->lazy_offset = h.lazy_offset;
  if (options.uffd >= 0)
    for (size_t i = 0; i < image.vmas.size(); ++i)
      if (ap.is_lazy(i))
        reinterpret_cast<Range*>(base + h.plan + h.lazy_offset)[plan->lazy_count++] = {image.vmas[i].start,
                                                                                       image.vmas[i].end};
  plan->timer_offset = h.timer_offset;
  plan->timer_count = uint32_t(image.task.timers.size());
  plan_posix_timers(image, reinterpret_cast<trampoline::TimerPlan*>(base + h.plan + h.timer_offset));
  // The carried seccomp filters: each SeccompPlan's sock_fprog points at its
  // instructions, placed after the array, at their final address.
  plan->seccomp_offset = h.seccomp_offset;
  plan->seccomp_count = uint32_t(image.seccomp.size());
  {
    auto* sp = reinterpret_cast<trampoline::SeccompPlan*>(base + h.plan + h.seccomp_offset);
    size_t insn_at = h.seccomp_offset + image.seccomp.size() * sizeof(trampoline::SeccompPlan);
    for (const format::SeccompFilter& f : image.seccomp) {
      sp->len = uint16_t(f.program.size());
      sp->filter = ap.home + h.plan + insn_at;
      sp->flags = f.flags;
      // SeccompInsn is laid out as struct sock_filter (format/Seccomp.h).
      std::memcpy(base + h.plan + insn_at, f.program.data(), f.program.size() * sizeof(format::SeccompInsn));
      insn_at += f.program.size() * sizeof(format::SeccompInsn);
      ++sp;
    }
  }
  plan->close_upto = files.close_upto;
  plan->close_from = options.tree.root ? 3 : 0;
  plan->tree_member = options.tree.member;
  plan->tree_arrive_fd = options.tree.arrive_fd;
  plan->tree_resume_fd = options.tree.resume_fd;
  plan->tree_wait_count = options.tree.wait_count;
  plan->tree_root = options.tree.root;
  plan->fd_move_offset = h.fd_move_offset;
  plan->fd_move_count = uint32_t(files.moves.size());
  // By target number: the trampoline closes the gaps between targets in one pass.
  std::vector<trampoline::FdMove> fd_moves = files.moves;
  std::sort(fd_moves.begin(), fd_moves.end(), [](const auto& a, const auto& b) { return a.to < b.to; });
  std::memcpy(base + h.plan + h.fd_move_offset, fd_moves.data(), fd_moves.size() * sizeof(trampoline::FdMove));
  plan->fd_fixup_offset = h.fixup_offset;
  plan->fd_fixup_count = uint32_t(files.fixups.size());
  std::memcpy(base + h.plan + h.fixup_offset, files.fixups.data(), files.fixups.size() * sizeof(trampoline::FdFixup));
  plan->posix_lock_offset = h.lock_offset;
  plan->posix_lock_count = uint32_t(files.posix_locks.size());
  std::memcpy(base + h.plan + h.lock_offset, files.posix_locks.data(),
              files.posix_locks.size() * sizeof(trampoline::PosixLock));
  plan->rseq_address = thread.rseq.address;
  plan->rseq_length = thread.rseq.length;
  plan->rseq_signature = thread.rseq.signature;
  plan->robust_list = thread.robust_list;
  plan->robust_list_len = thread.robust_list_len;
  plan->clear_child_tid = thread.clear_child_tid;
  plan->fs_base = thread.gpr[format::FS_BASE];
  plan->gs_base = thread.gpr[format::GS_BASE];

  const StagedView mem(image, fit, ap);
  rewrite_cached_tid(image, mem, false);
  const format::TaskState& task = image.task;
  static_assert(sizeof(format::SigAction) == sizeof(trampoline::KernelSigaction));
  std::memcpy(plan->sigactions, task.sigactions.data(), sizeof plan->sigactions);
  for (size_t i = 0; i < 3; ++i) {
    const format::Itimer& it = task.itimers[i];
    plan->itimers[i] = {it.interval_sec, it.interval_usec, it.value_sec, it.value_usec};
  }
  plan->ldt_offset = h.ldt_offset;
  for (size_t i = 0; i < task.ldt.size(); ++i) {
    if (x86::descriptor_is_empty(task.ldt[i])) continue;
    user_desc ud = x86::descriptor_to_user_desc(task.ldt[i], unsigned(i));
    std::memcpy(base + h.plan + h.ldt_offset + plan->ldt_count++ * sizeof(trampoline::LdtEntry), &ud, sizeof ud);
  }
  plan->ds = uint16_t(thread.gpr[format::DS] == 0x2b ? 0 : thread.gpr[format::DS]);
  plan->es = uint16_t(thread.gpr[format::ES] == 0x2b ? 0 : thread.gpr[format::ES]);
  plan->fs = uint16_t(thread.gpr[format::FS]);
  plan->gs = uint16_t(thread.gpr[format::GS]);
  plan->have_fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0;  // HWCAP2_FSGSBASE
  plan->shared_pending_offset = h.shared_offset;
  plan->shared_pending_count = uint32_t(task.shared_pending.size());
  for (size_t i = 0; i < task.shared_pending.size(); ++i)
    std::memcpy(base + h.plan + h.shared_offset + i * 128, task.shared_pending[i].data(), 128);
  if (options.sigwinch) {
    // As the kernel sends it on a resize (SI_KERNEL, from no one): the
    // program learns the new terminal's size and redraws.
    format::SigInfo winch{};
    const int32_t signo = SIGWINCH, code = 0x80;  // SI_KERNEL
    std::memcpy(winch.data(), &signo, 4);
    std::memcpy(winch.data() + 8, &code, 4);
    std::memcpy(base + h.plan + h.shared_offset + plan->shared_pending_count++ * 128, winch.data(), 128);
  }
  plan->thread_pending_offset = h.thread_offset;
  plan->thread_pending_count = uint32_t(thread.pending.size());
  for (size_t i = 0; i < thread.pending.size(); ++i)
    std::memcpy(base + h.plan + h.thread_offset + i * 128, thread.pending[i].data(), 128);
  // Every thread's frame: on its own stack when the process's own code can
  // finish the restore (then nothing of the restorer stays), else in the home.
  std::vector<uint64_t> frame_addr(image.threads.size());
  std::vector<uint8_t*> frame_at(image.threads.size());
  bool on_stacks = gadgets_usable(image, mem);
  for (size_t i = 0; i < image.threads.size() && on_stacks; ++i) {
    const format::ThreadState& t = image.threads[i];
    frame_addr[i] = mem.frame_on_stack(t, x86::sigframe_size(t.xsave.size()), &frame_at[i]);
    on_stacks = frame_addr[i] != 0;
  }
  if (on_stacks) {
    plan->finish_gadget = image.mm.syscall_gadget;
    plan->home_start = ap.home;
    plan->home_length = h.size;
  } else {
    std::fprintf(stderr, "restore: warning: the process has no usable resume code; the restorer's page stays mapped at "
                         "%#lx\n", (unsigned long)ap.home);
    for (size_t i = 0; i < image.threads.size(); ++i) {
      frame_addr[i] = ap.home + h.frame + i * h.frame_stride;
      frame_at[i] = base + h.frame + i * h.frame_stride;
    }
  }
  // A frame carries only the XSAVE components every process is granted:
  // sigreturn loads nothing if xstate_size exceeds what the kernel lets this
  // process use, and one granted on request (AMX tile data) is never in use
  // in an image (the dump refuses that).
  const uint64_t frame_features_mask = ~x86::xfeatures_on_request(x86::xcr0());
  // The terminal's SIGWINCH reaches the leader first if it has a handler
  // and does not block it: its interrupted call ends as that delivery
  // would end it (x86::handler_registers).
  const format::SigAction& winch_action = task.sigactions[SIGWINCH - 1];
  const bool winch_to_leader = options.sigwinch && winch_action.handler > 1 &&
                               !(thread.sigmask & (1ull << (SIGWINCH - 1)));
  auto build_frame = [&](size_t i) {
    const format::ThreadState& t = image.threads[i];
    const uint64_t frame_features = t.xfeatures & frame_features_mask;
    const size_t frame_xsave = std::min(t.xsave.size(), size_t(x86::xsave_size_of(frame_features)));
    x86::UserRegs regs;
    std::memcpy(&regs, t.gpr.data(), sizeof regs);
    regs = i == 0 && winch_to_leader ? x86::handler_registers(regs, winch_action.flags & SA_RESTART)
                                     : x86::resume_registers(regs);
    apply_rseq_abort(mem, t, regs, false);
    x86::KernelStack altstack{t.altstack_sp, t.altstack_flags, 0, t.altstack_size};
    return x86::build_sigframe(frame_at[i], frame_addr[i], regs, t.sigmask, t.xsave.data(), frame_xsave,
                               frame_features, on_stacks ? image.mm.sigreturn_gadget : 0, &altstack);
  };
  plan->resume_rsp = build_frame(0);

  // The other threads, each with its own plan, pending signals and stack.
  plan->thread_offset = h.others_offset;
  plan->thread_count = uint32_t(image.threads.size() - 1);
  size_t pending_at = h.others_pending_offset;
  for (size_t i = 1; i < image.threads.size(); ++i) {
    const format::ThreadState& t = image.threads[i];
    trampoline::ThreadPlan& tp = trampoline::plan_threads(plan)[i - 1];
    std::memset(&tp, 0, sizeof tp);
    tp.resume_rsp = build_frame(i);
    tp.fs_base = t.gpr[format::FS_BASE];
    tp.gs_base = t.gpr[format::GS_BASE];
    tp.robust_list = t.robust_list;
    tp.robust_list_len = t.robust_list_len;
    tp.clear_child_tid = t.clear_child_tid;
    tp.cached_tid = t.cached_tid_address;
    tp.want_tid = options.saved_tids ? t.tid : 0;
    tp.rseq_address = t.rseq.address;
    tp.rseq_length = t.rseq.length;
    tp.rseq_signature = t.rseq.signature;
    tp.pending_offset = pending_at;
    tp.pending_count = uint32_t(t.pending.size());
    for (const auto& info : t.pending) {
      std::memcpy(base + h.plan + pending_at, info.data(), 128);
      pending_at += 128;
    }
    tp.stack_top = ap.home + h.thread_stacks + i * kThreadStackSize;  // 16-aligned top of stack i-1
    std::strncpy(tp.comm, t.comm.c_str(), sizeof tp.comm - 1);
  }
  // The threads' rendezvous fds go near the top of the fd table, away from
  // every number the program uses or will get from open() soon.
  // The saved limits are applied only at the very end, so the caller's are
  // in force for every fd the trampoline places or creates.
  plan->sync_fd_base = sync_fd_base(image, files.close_upto);
  if (plan->thread_count && plan->sync_fd_base < files.close_upto)
    throw RestoreError("RLIMIT_NOFILE is too low to restore " + std::to_string(image.threads.size()) + " threads");
  std::string limit_warnings = plan_rlimits(image, plan->rlimits, &plan->rlimit_mask);
  if (mprotect(base, page_up(blob_size()), PROT_READ | PROT_EXEC) != 0)
    throw RestoreError(std::string("cannot make the trampoline executable: ") + std::strerror(errno));
  if (options.verbose)
    std::fprintf(stderr, "restore: home at %#lx (%lu bytes), %zu moves, %zu kept ranges\n", (unsigned long)ap.home,
                 (unsigned long)h.size, moves.size(), keep.size());
  const std::string state_warnings = apply_process_state(image);
  if (!image.seccomp.empty()) {
    // Filters the trampoline would attach and then be stopped by, or that
    // the kernel would not take: refused here (restorer/Seccomp.h). The
    // probe runs with the credentials and no_new_privs just applied.
    SeccompFinish finish;
    finish.filters_at = ap.home + h.plan + h.seccomp_offset;
    finish.tsync = plan->thread_count != 0;
    finish.unmap_home = plan->finish_gadget != 0;
    finish.home_start = plan->home_start;
    finish.home_length = plan->home_length;
    finish.first_done_fd = plan->sync_fd_base;
    finish.done_fds = int32_t(plan->thread_count ? plan->thread_count + 1 : 0);
    check_seccomp_finish(image, finish);
    probe_seccomp(image);
  }
  std::fputs((limit_warnings + state_warnings).c_str(), stderr);
  std::fflush(nullptr);
  // Last of all (a full-screen program's raw mode would garble the lines
  // above); put back by the Terminal if anything threw before this.
  if (options.terminal) options.terminal->apply();

  // Point of no return. No signal may be handled from here on: the
  // launcher's code is about to disappear, and the saved actions (SIG_DFL:
  // death, for most) are put in place before the pending signals are queued.
  // The raw call with all 64 bits: glibc's sigfillset/sigprocmask leave its
  // internal signals 32 and 33 unblocked, and a pending 32 would kill the
  // restored process.
  x86::block_all_signals();
  unregister_own_rseq();
  uint64_t entry = ap.home;
  uint64_t sp = ap.home + h.stack_top - 8;  // as if called: rsp % 16 == 8 at entry
  uint64_t plan_addr = ap.home + h.plan;
  asm volatile("mov %0, %%rsp\n\t"
               "xor %%ebp, %%ebp\n\t"
               "jmp *%1"
               :
               : "r"(sp), "r"(entry), "D"(plan_addr)
               : "memory");
  __builtin_unreachable();
}

}  // namespace ckpt::restorer
