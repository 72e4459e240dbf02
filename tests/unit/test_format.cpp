// The image format (format/): a realistic image written with ImageWriter
// reads back field for field with ImageReader, raw and zstd; and every check
// the reader makes refuses the bad input it exists for, with a message that
// says what is wrong.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader, to look inside a frame
#include <zstd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "format/Hex.h"
#include "format/Checksum.h"
#include "format/Codec.h"
#include "format/FormatError.h"
#include "format/Image.h"
#include "format/ImageChain.h"
#include "format/ImageReader.h"
#include "format/ImageWriter.h"
#include "format/Layout.h"
#include "format/Limits.h"
#include "format/ParentLink.h"
#include "format/Sections.h"
#include "format/UnixSocket.h"

using namespace ckpt::format;

namespace {

// doctest's matcher for "the exception's message contains this".
doctest::Contains has(const std::string& s) { return doctest::Contains(doctest::String(s.c_str())); }

// ---------------------------------------------------------------- fixtures

// An unlinked temporary file, closed on destruction.
class TempFile {
 public:
  TempFile() {
    char name[] = "/tmp/ckpt-test-format-XXXXXX";
    fd_ = ::mkstemp(name);
    REQUIRE(fd_ >= 0);
    ::unlink(name);
  }
  ~TempFile() { ::close(fd_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct ZstdDctx {
  ZSTD_DCtx* p = ZSTD_createDCtx();
  ~ZstdDctx() { ZSTD_freeDCtx(p); }
};

constexpr uint64_t kExeText = 0x555555556000;
constexpr uint64_t kHeap = 0x555555560000;
constexpr uint64_t kHeapPages = 512;
constexpr uint64_t kAnon = 0x7ffff7a00000;
constexpr uint64_t kAnonPages = 1024;
constexpr uint64_t kShared = 0x7ffff7e00000;
constexpr uint64_t kVvar = 0x7ffff7fc1000;
constexpr uint64_t kVdso = 0x7ffff7fc5000;
constexpr uint64_t kStackEnd = 0x7ffffffff000;
constexpr uint64_t kStack = kStackEnd - 0x21000;

Vma vma(uint64_t start, uint64_t end, uint32_t prot, VmaKind kind, uint32_t flags = 0) {
  Vma v;
  v.start = start;
  v.end = end;
  v.prot = prot;
  v.kind = kind;
  v.flags = flags;
  return v;
}

Vma file_vma(uint64_t start, uint64_t end, uint32_t prot, VmaKind kind, const std::string& path, uint64_t pgoff) {
  Vma v = vma(start, end, prot, kind);
  v.pgoff = pgoff;
  v.file.path = path;
  v.file.dev = 0xfd01;
  v.file.ino = 1316089;
  v.file.size = 6'831'288;
  v.file.mtime_ns = 1'700'000'000'123'456'789;
  return v;
}

// What a small python3 might look like: code and data of the executable, a
// heap, a large anonymous area, a shared file, vvar, vdso and the stack.
Image realistic_image() {
  Image img;
  img.process.pid = 41237;
  img.process.comm = "python3";
  img.process.exe = "/usr/bin/python3.11";
  img.process.uid = 1000, img.process.euid = 1001, img.process.suid = 1002, img.process.fsuid = 1003;
  img.process.gid = 100, img.process.egid = 101, img.process.sgid = 102, img.process.fsgid = 103;
  img.process.kernel_release = "6.18.0-ckpt";

  MmInfo& m = img.mm;
  m.start_code = kExeText, m.end_code = kExeText + 0x3000;
  m.start_data = 0x55555555a000, m.end_data = 0x55555555b000;
  m.start_brk = kHeap, m.brk = kHeap + kHeapPages * kPageSize;
  m.start_stack = kStackEnd - 0x1000;
  m.arg_start = kStackEnd - 0x800, m.arg_end = kStackEnd - 0x700;
  m.env_start = kStackEnd - 0x700, m.env_end = kStackEnd - 0x10;
  for (uint64_t kv : {uint64_t(33), kVdso, uint64_t(6), uint64_t(4096), uint64_t(25), kStackEnd - 0x900,
                      uint64_t(0), uint64_t(0)}) {  // AT_SYSINFO_EHDR, AT_PAGESZ, AT_RANDOM, AT_NULL
    uint8_t b[8];
    std::memcpy(b, &kv, 8);
    m.auxv.insert(m.auxv.end(), b, b + 8);
  }
  m.vdso_size = 0x2000;
  m.vdso_hash = 0x0123456789abcdefull;
  m.syscall_gadget = kExeText + 0x456;  // in the executable's code
  m.sigreturn_gadget = kVdso + 0x880;   // in the vdso

  img.vmas = {
      file_vma(kExeText - 0x2000, kExeText, PROT_READ, VmaKind::FilePrivate, "/usr/bin/python3.11", 0),
      file_vma(kExeText, kExeText + 0x3000, PROT_READ | PROT_EXEC, VmaKind::FilePrivate, "/usr/bin/python3.11",
               0x2000),
      file_vma(0x55555555a000, 0x55555555b000, PROT_READ | PROT_WRITE, VmaKind::FilePrivate,
               "/usr/bin/python3.11", 0x5000),
      vma(kHeap, kHeap + kHeapPages * kPageSize, PROT_READ | PROT_WRITE, VmaKind::Heap),
      vma(kAnon, kAnon + kAnonPages * kPageSize, PROT_READ | PROT_WRITE, VmaKind::AnonPrivate, kVmaDontDump),
      file_vma(kShared, kShared + 0x4000, PROT_READ | PROT_WRITE, VmaKind::FileShared, "/dev/shm/my shared data",
               0x1000),
      vma(kVvar, kVvar + 0x4000, PROT_READ, VmaKind::Vvar),
      vma(kVdso, kVdso + 0x2000, PROT_READ | PROT_EXEC, VmaKind::Vdso),
      vma(kStack, kStackEnd, PROT_READ | PROT_WRITE, VmaKind::Stack, kVmaGrowsDown),
  };

  ThreadState t;
  t.tid = 41237;
  for (unsigned i = 0; i < kGprCount; ++i) t.gpr[i] = 0x1111111111111111ull * (i % 15 + 1) + i;
  t.gpr[RIP] = kExeText + 0x123;
  t.gpr[RSP] = kStackEnd - 0x1f00;
  t.gpr[CS] = 0x33;
  t.gpr[SS] = 0x2b;
  t.gpr[EFLAGS] = 0x246;
  t.gpr[ORIG_RAX] = uint64_t(-1);
  t.gpr[FS_BASE] = 0x7ffff7d8a740;
  t.gpr[GS_BASE] = 0;
  t.sigmask = (1ull << (10 - 1)) | (1ull << (12 - 1));
  t.rseq = {0x7ffff7d8ae00, 32, 0, 0x53053053};
  t.robust_list = 0x7ffff7d8aa20;
  t.robust_list_len = 24;
  t.clear_child_tid = 0x7ffff7d8aa10;
  t.xfeatures = 0xe7;
  t.xsave.resize(2432);
  for (size_t i = 0; i < t.xsave.size(); ++i) t.xsave[i] = uint8_t(i * 7 + 3);
  // What the validation's CPU-state rules require of real state: restorable
  // selectors, MXCSR without reserved bits, a standard-format XSAVE header.
  t.gpr[DS] = t.gpr[ES] = t.gpr[FS] = t.gpr[GS] = 0;
  t.altstack_sp = kAnon + 0x10000, t.altstack_size = 0x4000, t.altstack_flags = 0;
  const uint32_t mxcsr = 0x1f80;
  std::memcpy(t.xsave.data() + 24, &mxcsr, 4);
  std::fill(t.xsave.begin() + 512, t.xsave.begin() + 576, 0);
  t.xsave[512] = 0x07;  // XSTATE_BV: x87, SSE, AVX
  img.threads = {t};
  img.task.oom_score_adj = -345;
  img.task.membarrier = (1u << 4) | (1u << 6);
  img.task.monotonic_ns = 123456789012345;
  img.task.boottime_ns = 123456789999999;
  PosixTimer p;
  p.id = 5, p.clock = 1, p.signo = 10, p.notify = kNotifySignal, p.sigev_value = 111;
  p.value_ns = 20000000, p.interval_ns = 20000000, p.overrun = 3;
  img.task.timers.push_back(p);
  p.id = 7, p.clock = -6, p.signo = 32, p.notify = kNotifyThreadId, p.target_tid = 41237;
  p.sigev_value = 0x5555deadbeef, p.value_ns = 0, p.interval_ns = 0, p.overrun = 0;
  img.task.timers.push_back(p);
  img.scheduling = Scheduling{3, 0, 7, 0, (2 << 13) | 6, 123456, {0x5}};
  Credentials c;
  c.groups = {4, 24, 27};
  c.cap_permitted = c.cap_effective = 0x3000;
  c.cap_bounding = 0x1ffffffffff;
  c.securebits = 0x2f;
  c.seccomp_mode = 2, c.seccomp_filters = 3;
  img.credentials = c;
  return img;
}

// A run of pages to save: where, and its contents.
struct Run {
  uint64_t vaddr;
  std::vector<uint8_t> bytes;
  uint64_t npages() const { return bytes.size() / kPageSize; }
};

std::vector<uint8_t> compressible_pages(uint64_t npages, uint32_t seed) {
  std::vector<uint8_t> b(npages * kPageSize);
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t((i / 64 + seed) % 7);
  return b;
}

std::vector<uint8_t> random_pages(uint64_t npages, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> b(npages * kPageSize);
  for (size_t i = 0; i < b.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&b[i], &v, 8);
  }
  return b;
}

// Ascending, each inside one page-taking VMA; the heap and anon runs are
// longer than a chunk, so they split (ImageWriter::chunk_pages: 64 pages
// each for the first 1024, then up to kMaxChunkPages).
std::vector<Run> realistic_runs() {
  return {
      {0x55555555a000, random_pages(1, 1)},           // a dirty page of the executable's data
      {kHeap, compressible_pages(300, 2)},            // 4 x 64 + 44
      {kHeap + 310 * kPageSize, random_pages(3, 3)},  // incompressible, raw even under zstd
      {kAnon, random_pages(600, 4)},                  // 9 x 64 + 24, raw even under zstd
      {kAnon + 700 * kPageSize, compressible_pages(257, 5)},  // 64 + 64 + 129 (past the first 1024 pages)
      {kStackEnd - 3 * kPageSize, compressible_pages(3, 6)},
  };
}

void write_image(int fd, const Image& img, const std::vector<Run>& runs, Compression c) {
  ImageWriter w(fd, c);
  w.write_metadata(img);
  for (const Run& r : runs) w.add_pages(r.vaddr, r.bytes.data(), r.npages());
  w.finish();
}

std::vector<uint8_t> file_bytes(int fd) {
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  std::vector<uint8_t> b(size_t(st.st_size));
  REQUIRE(::pread(fd, b.data(), b.size(), 0) == ssize_t(b.size()));
  return b;
}

std::vector<uint8_t> image_bytes(const Image& img, const std::vector<Run>& runs, Compression c) {
  TempFile f;
  write_image(f.fd(), img, runs, c);
  return file_bytes(f.fd());
}

// A reader over an in-memory image, kept alive with its file.
struct OpenImage {
  TempFile file;
  std::unique_ptr<ImageReader> reader;
};

std::unique_ptr<OpenImage> open_bytes(const std::vector<uint8_t>& bytes) {
  auto o = std::make_unique<OpenImage>();
  if (!bytes.empty()) REQUIRE(::pwrite(o->file.fd(), bytes.data(), bytes.size(), 0) == ssize_t(bytes.size()));
  o->reader = std::make_unique<ImageReader>(o->file.fd());
  return o;
}

// Writes `img` with one small compressible run per run given, and opens it.
std::unique_ptr<OpenImage> write_and_open(const Image& img, const std::vector<Run>& runs,
                                          Compression c = {ChunkEncoding::Zstd, 3}) {
  return open_bytes(image_bytes(img, runs, c));
}

// A minimal valid image: the realistic metadata and one stack page.
std::vector<Run> one_page() { return {{kStackEnd - kPageSize, compressible_pages(1, 9)}}; }

// ------------------------------------------------- raw structure patching

template <typename T>
T get(const std::vector<uint8_t>& b, uint64_t at) {
  T v;
  REQUIRE(at + sizeof v <= b.size());
  std::memcpy(&v, &b[at], sizeof v);
  return v;
}

template <typename T>
void put(std::vector<uint8_t>& b, uint64_t at, T v) {
  REQUIRE(at + sizeof v <= b.size());
  std::memcpy(&b[at], &v, sizeof v);
}

FileHeader header(const std::vector<uint8_t>& b) { return get<FileHeader>(b, 0); }

void put_header(std::vector<uint8_t>& b, FileHeader h, bool fix_checksum = true) {
  if (fix_checksum) h.checksum = checksum(&h, offsetof(FileHeader, checksum));
  put(b, 0, h);
}

uint64_t trailer_entry_at(const std::vector<uint8_t>& b, size_t i) {
  return header(b).trailer_offset + sizeof(TrailerHeader) + i * sizeof(TrailerEntry);
}

size_t trailer_index(const std::vector<uint8_t>& b, SectionType t) {
  auto th = get<TrailerHeader>(b, header(b).trailer_offset);
  for (size_t i = 0; i < th.count; ++i)
    if (get<TrailerEntry>(b, trailer_entry_at(b, i)).type == uint32_t(t)) return i;
  FAIL("no such section");
  return 0;
}

void fix_trailer_checksum(std::vector<uint8_t>& b) {
  uint64_t at = header(b).trailer_offset;
  auto th = get<TrailerHeader>(b, at);
  size_t n = sizeof th + th.count * sizeof(TrailerEntry);
  put(b, at + n, checksum(&b[at], n));
}

// Replaces a metadata section's payload by one of the same length, with the
// section header, trailer entry and trailer checksum made consistent again:
// what a hostile image that passes every checksum looks like.
void replace_payload(std::vector<uint8_t>& b, SectionType t, const std::vector<uint8_t>& payload) {
  size_t i = trailer_index(b, t);
  uint64_t eat = trailer_entry_at(b, i);
  auto e = get<TrailerEntry>(b, eat);
  REQUIRE(e.length == payload.size());
  std::memcpy(&b[e.offset + sizeof(SectionHeader)], payload.data(), payload.size());
  auto sh = get<SectionHeader>(b, e.offset);
  sh.checksum = e.checksum = checksum(payload.data(), payload.size());
  put(b, e.offset, sh);
  put(b, eat, e);
  fix_trailer_checksum(b);
}

// --------------------------------------------------------------- checks

void check_same_image(const Image& got, const Image& want) {
  CHECK(got.version == want.version);
  CHECK(got.flags == want.flags);
  REQUIRE(got.scheduling.has_value() == want.scheduling.has_value());
  if (want.scheduling) {
    const Scheduling &a = *got.scheduling, &b = *want.scheduling;
    CHECK(a.policy == b.policy);
    CHECK(a.flags == b.flags);
    CHECK(a.nice == b.nice);
    CHECK(a.rt_priority == b.rt_priority);
    CHECK(a.ioprio == b.ioprio);
    CHECK(a.timer_slack_ns == b.timer_slack_ns);
    CHECK(a.affinity == b.affinity);
  }
  REQUIRE(got.credentials.has_value() == want.credentials.has_value());
  if (want.credentials) {
    const Credentials &a = *got.credentials, &b = *want.credentials;
    CHECK(a.groups == b.groups);
    CHECK(a.cap_inheritable == b.cap_inheritable);
    CHECK(a.cap_permitted == b.cap_permitted);
    CHECK(a.cap_effective == b.cap_effective);
    CHECK(a.cap_bounding == b.cap_bounding);
    CHECK(a.cap_ambient == b.cap_ambient);
    CHECK(a.securebits == b.securebits);
    CHECK(a.seccomp_mode == b.seccomp_mode);
    CHECK(a.seccomp_filters == b.seccomp_filters);
  }

  const ProcessInfo &p = got.process, &q = want.process;
  CHECK(p.pid == q.pid);
  CHECK(p.comm == q.comm);
  CHECK(p.exe == q.exe);
  CHECK(p.uid == q.uid);
  CHECK(p.euid == q.euid);
  CHECK(p.suid == q.suid);
  CHECK(p.fsuid == q.fsuid);
  CHECK(p.gid == q.gid);
  CHECK(p.egid == q.egid);
  CHECK(p.sgid == q.sgid);
  CHECK(p.fsgid == q.fsgid);
  CHECK(p.kernel_release == q.kernel_release);

  const MmInfo &m = got.mm, &n = want.mm;
  CHECK(m.start_code == n.start_code);
  CHECK(m.end_code == n.end_code);
  CHECK(m.start_data == n.start_data);
  CHECK(m.end_data == n.end_data);
  CHECK(m.start_brk == n.start_brk);
  CHECK(m.brk == n.brk);
  CHECK(m.start_stack == n.start_stack);
  CHECK(m.arg_start == n.arg_start);
  CHECK(m.arg_end == n.arg_end);
  CHECK(m.env_start == n.env_start);
  CHECK(m.env_end == n.env_end);
  CHECK(m.auxv == n.auxv);
  CHECK(m.vdso_size == n.vdso_size);
  CHECK(m.vdso_hash == n.vdso_hash);
  CHECK(m.syscall_gadget == n.syscall_gadget);
  CHECK(m.sigreturn_gadget == n.sigreturn_gadget);

  REQUIRE(got.vmas.size() == want.vmas.size());
  for (size_t i = 0; i < got.vmas.size(); ++i) {
    CAPTURE(i);
    const Vma &v = got.vmas[i], &w = want.vmas[i];
    CHECK(v.start == w.start);
    CHECK(v.end == w.end);
    CHECK(v.pgoff == w.pgoff);
    CHECK(v.prot == w.prot);
    CHECK(v.flags == w.flags);
    CHECK(v.kind == w.kind);
    CHECK(v.file.path == w.file.path);
    CHECK(v.file.dev == w.file.dev);
    CHECK(v.file.ino == w.file.ino);
    CHECK(v.file.size == w.file.size);
    CHECK(v.file.mtime_ns == w.file.mtime_ns);
  }

  REQUIRE(got.threads.size() == want.threads.size());
  for (size_t i = 0; i < got.threads.size(); ++i) {
    const ThreadState &t = got.threads[i], &u = want.threads[i];
    CHECK(t.tid == u.tid);
    CHECK(t.gpr == u.gpr);
    CHECK(t.sigmask == u.sigmask);
    CHECK(t.rseq.address == u.rseq.address);
    CHECK(t.rseq.length == u.rseq.length);
    CHECK(t.rseq.flags == u.rseq.flags);
    CHECK(t.rseq.signature == u.rseq.signature);
    CHECK(t.robust_list == u.robust_list);
    CHECK(t.robust_list_len == u.robust_list_len);
    CHECK(t.clear_child_tid == u.clear_child_tid);
    CHECK(t.xfeatures == u.xfeatures);
    CHECK(t.xsave == u.xsave);
  }

  const TaskState &a = got.task, &b = want.task;
  CHECK(a.oom_score_adj == b.oom_score_adj);
  CHECK(a.membarrier == b.membarrier);
  CHECK(a.monotonic_ns == b.monotonic_ns);
  CHECK(a.boottime_ns == b.boottime_ns);
  REQUIRE(a.timers.size() == b.timers.size());
  for (size_t i = 0; i < a.timers.size(); ++i) {
    const PosixTimer &x = a.timers[i], &y = b.timers[i];
    CHECK(x.id == y.id);
    CHECK(x.clock == y.clock);
    CHECK(x.signo == y.signo);
    CHECK(x.notify == y.notify);
    CHECK(x.sigev_value == y.sigev_value);
    CHECK(x.target_tid == y.target_tid);
    CHECK(x.value_ns == y.value_ns);
    CHECK(x.interval_ns == y.interval_ns);
    CHECK(x.overrun == y.overrun);
  }
}

// The chunks the writer must produce for `runs`: split at chunk_pages().
struct ExpectedChunk {
  uint64_t vaddr;
  uint32_t npages;
  const uint8_t* bytes;
};

std::vector<ExpectedChunk> expected_chunks(const std::vector<Run>& runs) {
  std::vector<ExpectedChunk> out;
  uint64_t written = 0;
  for (const Run& r : runs)
    for (uint64_t done = 0; done < r.npages();) {
      uint32_t n = uint32_t(std::min<uint64_t>(ImageWriter::chunk_pages(written), r.npages() - done));
      out.push_back({r.vaddr + done * kPageSize, n, r.bytes.data() + done * kPageSize});
      done += n;
      written += n;
    }
  return out;
}

void check_round_trip(Compression c) {
  const Image img = realistic_image();
  const std::vector<Run> runs = realistic_runs();
  TempFile f;
  write_image(f.fd(), img, runs, c);

  ImageReader reader(f.fd());
  check_same_image(reader.image(), img);

  struct stat st;
  REQUIRE(::fstat(f.fd(), &st) == 0);
  CHECK(reader.file_size() == uint64_t(st.st_size));
  REQUIRE(reader.sections().size() == 11);
  const SectionType order[] = {SectionType::Tree,       SectionType::Process,     SectionType::Mm,
                               SectionType::Task,       SectionType::Files,       SectionType::Vmas,
                               SectionType::Threads,    SectionType::Scheduling,  SectionType::Credentials,
                               SectionType::PageData,   SectionType::PageIndex};
  for (size_t i = 0; i < 11; ++i) {
    CHECK(reader.sections()[i].type == order[i]);
    CHECK(reader.sections()[i].offset % 8 == 0);
  }

  const std::vector<ExpectedChunk> want = expected_chunks(runs);
  const std::vector<PageChunk>& chunks = reader.image().chunks;
  REQUIRE(chunks.size() == want.size());
  REQUIRE(chunks.size() == 21);
  ZstdDctx dctx;
  std::vector<uint8_t> scratch, page(size_t(kMaxChunkPages) * kPageSize), direct(page.size());
  size_t raw = 0, zstd = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    CAPTURE(i);
    const PageChunk& ch = chunks[i];
    CHECK(ch.vaddr == want[i].vaddr);
    REQUIRE(ch.npages == want[i].npages);
    reader.read_chunk(ch, page.data(), dctx.p, scratch);
    CHECK(std::memcmp(page.data(), want[i].bytes, ch.size()) == 0);
    // The same pages through a sink: in order, whole, raw ones in pieces.
    std::vector<uint8_t> pieces, pages;
    size_t calls = 0;
    reader.read_chunk(ch, dctx.p, scratch, pages, [&](uint64_t at, const uint8_t* data, size_t n) {
      CHECK(at == pieces.size());
      CHECK(n <= (ch.encoding == ChunkEncoding::Raw ? ImageReader::kChunkPiece : ch.size()));
      pieces.insert(pieces.end(), data, data + n);
      ++calls;
    });
    REQUIRE(pieces.size() == ch.size());
    CHECK(std::memcmp(pieces.data(), want[i].bytes, ch.size()) == 0);
    CHECK(calls == (ch.encoding == ChunkEncoding::Raw ? (ch.size() + ImageReader::kChunkPiece - 1) / ImageReader::kChunkPiece : 1));
    if (ch.encoding == ChunkEncoding::Raw) {
      ++raw;
      // Raw chunks can be mapped straight from the file.
      CHECK(ch.offset % kPageSize == 0);
      CHECK(ch.stored_size == ch.size());
      REQUIRE(::pread(f.fd(), direct.data(), ch.size(), off_t(ch.offset)) == ssize_t(ch.size()));
      CHECK(std::memcmp(direct.data(), want[i].bytes, ch.size()) == 0);
    } else {
      ++zstd;
      CHECK(ch.stored_size < ch.size());
    }
  }
  reader.verify_page_data();
  if (c.encoding == ChunkEncoding::Raw) {
    CHECK(zstd == 0);
  } else {
    CHECK(zstd == 9);  // heap 4 x 64 + 44, anon 64 + 64 + 129, stack 3
    CHECK(raw == 12);  // the random runs: 1, 3, 9 x 64 + 24
  }
}

}  // namespace

// =================================================================== round trip

TEST_CASE("format: a realistic image round-trips, raw") { check_round_trip({ChunkEncoding::Raw, 0}); }

TEST_CASE("format: a realistic image round-trips, zstd with raw chunks for incompressible pages") {
  check_round_trip({ChunkEncoding::Zstd, 3});
}

// Pages of which every one holds `unique` random bytes, then the same bytes
// again and again to its end: zstd (any level) shrinks a page to about
// `unique` bytes, whatever it does with literals.
std::vector<uint8_t> pages_shrinking_to(uint64_t npages, size_t unique, uint32_t seed) {
  std::vector<uint8_t> b = random_pages(npages, seed);
  for (uint64_t p = 0; p < npages; ++p)
    for (size_t i = unique; i < kPageSize; ++i) b[p * kPageSize + i] = b[p * kPageSize + i - unique];
  return b;
}

// The writer's rule for restore speed (ImageWriter.h kMinRatio): a chunk
// that zstd shrinks by less than half is stored raw (decompressing it would
// cost more at restore than reading the bytes it saves); one that shrinks
// to half or less stays compressed. Both read back byte for byte.
TEST_CASE("format: zstd keeps a chunk compressed only where it shrinks to half or less") {
  const std::vector<Run> runs = {
      {kHeap, pages_shrinking_to(64, 3072, 7)},                          // about 1.33 : 1
      {kHeap + 64 * kPageSize, pages_shrinking_to(64, 1024, 8)},         // about 4 : 1
      {kHeap + 128 * kPageSize, pages_shrinking_to(64, 2048 - 160, 9)},  // just over 2 : 1
  };
  TempFile f;
  write_image(f.fd(), realistic_image(), runs, {ChunkEncoding::Zstd, 3});
  ImageReader reader(f.fd());
  const std::vector<PageChunk>& chunks = reader.image().chunks;
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0].encoding == ChunkEncoding::Raw);
  CHECK(chunks[0].offset % kPageSize == 0);
  for (size_t i : {1, 2}) {
    CAPTURE(i);
    CHECK(chunks[i].encoding == ChunkEncoding::Zstd);
    CHECK(chunks[i].stored_size * kMinRatio <= chunks[i].size());
  }
  ZstdDctx dctx;
  std::vector<uint8_t> scratch, page(64 * kPageSize);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    reader.read_chunk(chunks[i], page.data(), dctx.p, scratch);
    CHECK(std::memcmp(page.data(), runs[i].bytes.data(), page.size()) == 0);
  }
}

// The literals section types of the compressed blocks of a zstd frame
// (RFC 8878 3.1.1.2, 3.1.1.3.1.1): 0 raw, 1 RLE, 2 Huffman-coded, 3 treeless.
std::vector<int> literal_block_types(const std::vector<uint8_t>& frame) {
  ZSTD_frameHeader h;
  REQUIRE(ZSTD_getFrameHeader(&h, frame.data(), frame.size()) == 0);
  std::vector<int> types;
  for (size_t at = h.headerSize; at + 3 <= frame.size();) {
    const uint32_t bh = uint32_t(frame[at]) | uint32_t(frame[at + 1]) << 8 | uint32_t(frame[at + 2]) << 16;
    const uint32_t type = (bh >> 1) & 3, size = bh >> 3;
    at += 3;
    if (type == 2) types.push_back(frame[at] & 3);  // a compressed block starts with its literals section
    at += type == 1 ? 1 : size;                      // an RLE block stores one byte
    if (bh & 1) break;                               // the last block
  }
  return types;
}

// At the default level literals are stored as they are (ImageWriter.h
// kFastLevel: Huffman-coded literals made program memory 16-20 % slower to
// decompress); zstd:19 still codes them.
TEST_CASE("format: zstd:3 leaves literals uncoded, zstd:19 codes them") {
  // 1 KiB of letters (4 bits of 8 used: Huffman would halve them) repeated
  // to the end of each page.
  std::vector<uint8_t> pages = random_pages(64, 12);
  for (uint64_t p = 0; p < 64; ++p)
    for (size_t i = 0; i < kPageSize; ++i) {
      uint8_t& b = pages[p * kPageSize + i];
      b = i < 1024 ? uint8_t('a' + b % 16) : pages[p * kPageSize + i - 1024];
    }
  for (int level : {3, 19}) {
    CAPTURE(level);
    TempFile f;
    write_image(f.fd(), realistic_image(), {{kHeap, pages}}, {ChunkEncoding::Zstd, level});
    ImageReader reader(f.fd());
    REQUIRE(reader.image().chunks.size() == 1);
    const PageChunk& c = reader.image().chunks[0];
    REQUIRE(c.encoding == ChunkEncoding::Zstd);
    std::vector<uint8_t> stored(c.stored_size);
    REQUIRE(::pread(f.fd(), stored.data(), stored.size(), off_t(c.offset)) == ssize_t(stored.size()));
    const std::vector<int> types = literal_block_types(stored);
    REQUIRE(!types.empty());
    const auto coded = std::count(types.begin(), types.end(), 2) + std::count(types.begin(), types.end(), 3);
    if (level == 3)
      CHECK(coded == 0);
    else
      CHECK(coded > 0);
    ZstdDctx dctx;
    std::vector<uint8_t> scratch, back(c.size());
    reader.read_chunk(c, back.data(), dctx.p, scratch);
    CHECK(back == pages);
  }
}

TEST_CASE("format: the file starts with the magic binfmt_misc matches") {
  auto b = image_bytes(realistic_image(), one_page(), {ChunkEncoding::Raw, 0});
  REQUIRE(b.size() > 8);
  CHECK(std::memcmp(b.data(), kMagic.data(), 8) == 0);
  FileHeader h = header(b);
  CHECK(h.version == kVersion);
  CHECK(h.file_size == b.size());
  CHECK(h.page_size == kPageSize);
  CHECK(std::memcmp(&b[h.trailer_offset], kTrailerMagic.data(), 8) == 0);
}

TEST_CASE("format: an image without pages is valid") {
  auto o = write_and_open(realistic_image(), {});
  CHECK(o->reader->image().chunks.empty());
  CHECK(o->reader->page_data().length == 0);
  o->reader->verify_page_data();
}

// ============================================================ framing checks

TEST_CASE("format: an empty file is refused") {
  CHECK_THROWS_WITH_AS(open_bytes({}), has("too short to be an image (0 bytes)"), FormatError);
}

TEST_CASE("format: a file shorter than the header is refused") {
  auto b = image_bytes(realistic_image(), one_page(), {});
  b.resize(40);
  CHECK_THROWS_WITH_AS(open_bytes(b), has("too short to be an image (40 bytes)"), FormatError);
}

TEST_CASE("format: bad magic is refused") {
  auto b = image_bytes(realistic_image(), one_page(), {});
  b[1] = 'X';
  CHECK_THROWS_WITH_AS(open_bytes(b), has("not a ckpt image (bad magic)"), FormatError);
  // Even a text file of the right size.
  std::vector<uint8_t> text(200, 'a');
  CHECK_THROWS_WITH_AS(open_bytes(text), has("bad magic"), FormatError);
}

TEST_CASE("format: a corrupted file header is refused by its checksum") {
  auto b = image_bytes(realistic_image(), one_page(), {});
  b[offsetof(FileHeader, trailer_offset)] ^= 0x08;
  CHECK_THROWS_WITH_AS(open_bytes(b), has("file header checksum mismatch"), FormatError);
}

TEST_CASE("format: an unsupported version is refused, naming both versions") {
  auto b = image_bytes(realistic_image(), one_page(), {});
  FileHeader h = header(b);
  h.version = kVersion + 1;
  put_header(b, h);
  CHECK_THROWS_WITH_AS(open_bytes(b), has("unsupported format version 7 (this build reads versions 5 and 6)"),
                       FormatError);
  // Images of earlier editions (1: first release; 2: one process only) are refused the same way: dump again.
  h.version = 1;
  put_header(b, h);
  CHECK_THROWS_WITH_AS(open_bytes(b), has("unsupported format version 1 (this build reads versions 5 and 6)"),
                       FormatError);
  h.version = 2;
  put_header(b, h);
  CHECK_THROWS_WITH_AS(open_bytes(b), has("unsupported format version 2 (this build reads versions 5 and 6)"),
                       FormatError);
  h.version = 3;  // 3: before the scheduling and credentials sections
  put_header(b, h);
  CHECK_THROWS_WITH_AS(open_bytes(b), has("unsupported format version 3 (this build reads versions 5 and 6)"),
                       FormatError);
  h.version = 4;  // 4: before memory-deny-write-execute in the task record
  put_header(b, h);
  CHECK_THROWS_WITH_AS(open_bytes(b), has("unsupported format version 4 (this build reads versions 5 and 6)"),
                       FormatError);
  // 5: version 6 without the seccomp section, still read.
  h.version = 5;
  put_header(b, h);
  CHECK_NOTHROW(open_bytes(b));
}

TEST_CASE("format: a carried seccomp chain round-trips, and a version-5 image cannot hold one") {
  Image img = realistic_image();
  img.credentials->seccomp_mode = 2;
  img.credentials->seccomp_filters = 1;
  img.seccomp = {{kSeccompFlagLog, {{0x06 /* BPF_RET | BPF_K */, 0, 0, 0x7fff0000 /* ALLOW */}}}};
  auto b = image_bytes(img, one_page(), {});
  CHECK(open_bytes(b)->reader->image().seccomp == img.seccomp);
  FileHeader h = header(b);
  h.version = 5;
  put_header(b, h);
  CHECK_THROWS_WITH_AS(open_bytes(b), has("seccomp section in a version-5 image"), FormatError);
}

TEST_CASE("format: other header fields are checked") {
  const auto good = image_bytes(realistic_image(), one_page(), {});
  auto with = [&](auto change) {
    auto b = good;
    FileHeader h = header(b);
    change(h);
    put_header(b, h);
    return b;
  };
  CHECK_THROWS_WITH_AS(open_bytes(with([](FileHeader& h) { h.machine = 3; })), has("not for x86-64"),
                       FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with([](FileHeader& h) { h.flags = 1; })), has("unknown header flags"),
                       FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with([](FileHeader& h) { h.header_size = 128; })),
                       has("unexpected header size"), FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with([](FileHeader& h) { h.page_size = 16384; })),
                       has("unsupported page size"), FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with([](FileHeader& h) { h.reserved0 = 1; })),
                       has("reserved header bytes are set"), FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with([](FileHeader& h) { h.reserved1 = 1ull << 40; })),
                       has("reserved header bytes are set"), FormatError);
}

TEST_CASE("format: a truncated or extended file is refused by its size") {
  const auto good = image_bytes(realistic_image(), one_page(), {});
  auto shorter = good;
  shorter.pop_back();
  CHECK_THROWS_WITH_AS(open_bytes(shorter), has("(truncated or extended)"), FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(shorter), has("image is " + std::to_string(good.size() - 1) + " bytes"),
                       FormatError);
  auto longer = good;
  longer.resize(good.size() + 4096);
  CHECK_THROWS_WITH_AS(open_bytes(longer), has("header says " + std::to_string(good.size())), FormatError);
}

TEST_CASE("format: a trailer offset out of range is refused") {
  const auto good = image_bytes(realistic_image(), one_page(), {});
  for (uint64_t off : {uint64_t(0), uint64_t(32), uint64_t(good.size()), uint64_t(good.size() - 8),
                       header(good).trailer_offset + 4, ~uint64_t(0) & ~uint64_t(7)}) {
    CAPTURE(off);
    auto b = good;
    FileHeader h = header(b);
    h.trailer_offset = off;
    put_header(b, h);
    CHECK_THROWS_WITH_AS(open_bytes(b), has("trailer offset out of range"), FormatError);
  }
}

TEST_CASE("format: a corrupted trailer is refused by its checksum") {
  const auto good = image_bytes(realistic_image(), one_page(), {});
  auto b = good;
  uint64_t e = trailer_entry_at(b, 2);
  b[e + offsetof(TrailerEntry, checksum)] ^= 1;
  CHECK_THROWS_WITH_AS(open_bytes(b), has("trailer checksum mismatch"), FormatError);
  b = good;
  b[b.size() - 1] ^= 0x80;  // the checksum itself
  CHECK_THROWS_WITH_AS(open_bytes(b), has("trailer checksum mismatch"), FormatError);
}

TEST_CASE("format: a bad trailer header is refused") {
  const auto good = image_bytes(realistic_image(), one_page(), {});
  const uint64_t at = header(good).trailer_offset;
  auto b = good;
  b[at + 3] ^= 0x20;
  CHECK_THROWS_WITH_AS(open_bytes(b), has("bad trailer magic"), FormatError);
  for (uint32_t count : {0u, kMaxSections + 1, 8u, 10u}) {
    CAPTURE(count);
    b = good;
    put(b, at + offsetof(TrailerHeader, count), count);  // checked before the trailer checksum
    CHECK_THROWS_AS(open_bytes(b), FormatError);
  }
  b = good;
  put(b, at + offsetof(TrailerHeader, reserved), uint32_t(1));
  fix_trailer_checksum(b);
  CHECK_THROWS_WITH_AS(open_bytes(b), has("bad section count"), FormatError);
}

TEST_CASE("format: a section header that disagrees with the trailer is refused") {
  const auto good = image_bytes(realistic_image(), one_page(), {});
  for (size_t field : {offsetof(SectionHeader, type), offsetof(SectionHeader, flags), offsetof(SectionHeader, length),
                       offsetof(SectionHeader, checksum), offsetof(SectionHeader, reserved)}) {
    CAPTURE(field);
    auto b = good;
    auto e = get<TrailerEntry>(b, trailer_entry_at(b, trailer_index(b, SectionType::Vmas)));
    b[e.offset + field] ^= 0x04;
    CHECK_THROWS_WITH_AS(open_bytes(b), has("vmas section header does not match the trailer"), FormatError);
  }
}

TEST_CASE("format: trailer entries that break the section structure are refused") {
  const auto good = image_bytes(realistic_image(), one_page(), {});
  auto with_entry = [&](SectionType t, auto change) {
    auto b = good;
    uint64_t at = trailer_entry_at(b, trailer_index(b, t));
    auto e = get<TrailerEntry>(b, at);
    change(e);
    put(b, at, e);
    fix_trailer_checksum(b);
    return b;
  };
  CHECK_THROWS_WITH_AS(open_bytes(with_entry(SectionType::Mm, [](TrailerEntry& e) { e.type = 9; })),
                       has("unknown section type 9"), FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with_entry(SectionType::Mm, [](TrailerEntry& e) { e.type = 1; })),
                       has("duplicate process section"), FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with_entry(SectionType::Threads, [](TrailerEntry& e) { e.length = 1ull << 40; })),
                       has("threads section lies outside its bounds"), FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with_entry(SectionType::Mm, [](TrailerEntry& e) { e.offset = 8; })),
                       has("mm section lies outside its bounds"), FormatError);
}

TEST_CASE("format: a flipped byte in any metadata section is caught by its checksum") {
  const auto good = image_bytes(realistic_image(), realistic_runs(), {});
  auto o = open_bytes(good);
  for (const SectionInfo& s : o->reader->sections()) {
    if (s.type == SectionType::PageData) continue;
    const std::string name = section_name(s.type);
    CAPTURE(name);
    REQUIRE(s.length > 0);
    for (uint64_t at : {s.payload(), s.payload() + s.length / 2, s.payload() + s.length - 1}) {
      auto b = good;
      b[at] ^= 0x10;
      CHECK_THROWS_WITH_AS(open_bytes(b), has(name + " section checksum mismatch"), FormatError);
    }
  }
}

TEST_CASE("format: a flipped byte in page data is caught, raw and zstd") {
  for (Compression c : {Compression{ChunkEncoding::Raw, 0}, Compression{ChunkEncoding::Zstd, 3}}) {
    CAPTURE(int(c.encoding));
    const auto good = image_bytes(realistic_image(), realistic_runs(), c);
    auto o = open_bytes(good);
    const auto chunks = o->reader->image().chunks;  // [1] is heap, compressible
    for (size_t i : {size_t(0), size_t(1), size_t(3)}) {
      CAPTURE(i);
      const PageChunk& ch = chunks[i];
      auto b = good;
      b[ch.offset + ch.stored_size / 2] ^= 0x01;
      auto bad = open_bytes(b);  // metadata intact: opening succeeds
      CHECK_THROWS_WITH_AS(bad->reader->verify_page_data(), has("page_data section checksum mismatch"),
                           FormatError);
      ZstdDctx dctx;
      std::vector<uint8_t> scratch, dest(ch.size());
      CHECK_THROWS_WITH_AS(bad->reader->read_chunk(ch, dest.data(), dctx.p, scratch),
                           has("page data checksum mismatch for the chunk at " + hex(ch.vaddr)),
                           FormatError);
      std::vector<uint8_t> pages;
      CHECK_THROWS_WITH_AS(bad->reader->read_chunk(ch, dctx.p, scratch, pages, [](uint64_t, const uint8_t*, size_t) {}),
                           has("page data checksum mismatch for the chunk at " + hex(ch.vaddr)),
                           FormatError);
      // Its neighbours still read.
      const PageChunk& other = chunks[i + 1];
      std::vector<uint8_t> dest2(other.size());
      bad->reader->read_chunk(other, dest2.data(), dctx.p, scratch);
    }
  }
}

// ============================================================ semantic rules

TEST_CASE("format: VMAs out of order are refused") {
  Image img = realistic_image();
  std::swap(img.vmas[3], img.vmas[4]);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("overlaps or is out of order with the previous VMA"),
                       FormatError);
}

TEST_CASE("format: overlapping VMAs are refused") {
  Image img = realistic_image();
  img.vmas[4].end = img.vmas[5].start + kPageSize;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("VMA #5"), FormatError);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("overlaps or is out of order"), FormatError);
}

TEST_CASE("format: VMAs not page-aligned are refused") {
  Image img = realistic_image();
  img.vmas[3].end += 8;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("not page-aligned"), FormatError);
  img = realistic_image();
  img.vmas[0].start += 1;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("VMA #0"), FormatError);
}

TEST_CASE("format: VMAs beyond the user-space limit are refused") {
  Image img = realistic_image();
  img.vmas.push_back(vma(0xffffffffff600000ull, 0xffffffffff601000ull, PROT_EXEC, VmaKind::AnonPrivate));
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("beyond the user-space limit 0x7ffffffff000"),
                       FormatError);
  img = realistic_image();
  img.vmas.back().end = kUserSpaceEnd + kPageSize;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("beyond the user-space limit"), FormatError);
}

TEST_CASE("format: empty or inverted VMAs are refused") {
  Image img = realistic_image();
  std::swap(img.vmas[3].start, img.vmas[3].end);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("empty or inverted range"), FormatError);
  img = realistic_image();
  img.vmas[3].end = img.vmas[3].start;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("empty or inverted range"), FormatError);
}

TEST_CASE("format: a file VMA needs an absolute path") {
  for (const char* path : {"", "lib/libc.so.6"}) {
    CAPTURE(path);
    Image img = realistic_image();
    img.vmas[1].file.path = path;
    CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("file mapping without an absolute path"), FormatError);
  }
  Image img = realistic_image();
  img.vmas[5].file.path = "";  // file-shared too
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("VMA #5"), FormatError);
}

TEST_CASE("format: an anonymous VMA with a file is refused") {
  Image img = realistic_image();
  img.vmas[4].file.path = "/usr/lib/libc.so.6";
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("a anon-private mapping has a file"), FormatError);
  img = realistic_image();
  img.vmas[3].pgoff = 0x1000;  // a heap with a file offset
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("heap mapping has a file"), FormatError);
}

TEST_CASE("format: the vdso VMA must match the mm section's vdso size") {
  Image img = realistic_image();
  img.mm.vdso_size = 0x3000;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("vdso size differs from the mm section's"), FormatError);
  img = realistic_image();
  img.vmas.erase(img.vmas.begin() + 7);  // the vdso
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("mm section names a vdso but no VMA is one"), FormatError);
}

TEST_CASE("format: resume gadgets must lie in the process's code") {
  Image img = realistic_image();
  img.mm.syscall_gadget = kHeap + 0x10;  // writable data, not code
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("resume gadget 0x555555560010 is not inside the process's code"),
                       FormatError);
  img = realistic_image();
  img.mm.sigreturn_gadget = kExeText - 0x1000;  // the executable, but its read-only part
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("is not inside the process's code"), FormatError);
  img = realistic_image();
  img.mm.sigreturn_gadget = 0x1000;  // in no VMA
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("is not inside the process's code"), FormatError);
  img = realistic_image();
  img.mm.syscall_gadget = img.mm.sigreturn_gadget = 0;  // none found: fine
  CHECK(write_and_open(img, {})->reader->image().mm.syscall_gadget == 0);
}

TEST_CASE("format: a chunk outside every VMA is refused") {
  Image img = realistic_image();
  CHECK_THROWS_WITH_AS(write_and_open(img, {{0x10000, compressible_pages(1, 0)}}), has("not inside one VMA"),
                       FormatError);
  // In the hole between the heap and the anonymous area.
  CHECK_THROWS_WITH_AS(write_and_open(img, {{kHeap + kHeapPages * kPageSize, compressible_pages(1, 0)}}),
                       has("not inside one VMA"), FormatError);
}

TEST_CASE("format: a chunk spanning two VMAs is refused") {
  Image img = realistic_image();
  // Two adjacent private file VMAs of the executable.
  CHECK_THROWS_WITH_AS(write_and_open(img, {{kExeText - kPageSize, compressible_pages(2, 0)}}),
                       has("chunk #0 at 0x555555555000: not inside one VMA"), FormatError);
}

TEST_CASE("format: a chunk in a VMA that takes no saved pages is refused") {
  Image img = realistic_image();
  CHECK_THROWS_WITH_AS(write_and_open(img, {{kVdso, compressible_pages(1, 0)}}), has("inside a vdso VMA"),
                       FormatError);
  CHECK_THROWS_WITH_AS(write_and_open(img, {{kVvar, compressible_pages(1, 0)}}), has("inside a vvar VMA"),
                       FormatError);
  CHECK_THROWS_WITH_AS(write_and_open(img, {{kShared, compressible_pages(1, 0)}}),
                       has("inside a file-shared VMA"), FormatError);
}

TEST_CASE("format: a thread with a tiny XSAVE area is refused") {
  Image img = realistic_image();
  img.threads[0].xsave.resize(512);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("XSAVE area is smaller than its legacy part and header"),
                       FormatError);
}

TEST_CASE("format: an image needs a thread, and at most kMaxThreads") {
  Image img = realistic_image();
  img.threads.clear();
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("image has no thread"), FormatError);
  img = realistic_image();
  while (img.threads.size() <= kMaxThreads) img.threads.push_back(img.threads[0]);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}),
                       has("thread count is " + std::to_string(kMaxThreads + 1) + ", limit " +
                                std::to_string(kMaxThreads)),
                       FormatError);
}

TEST_CASE("format: a thread outside user space is refused") {
  Image img = realistic_image();
  img.threads[0].gpr[RIP] = 0xffffffff81000000ull;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("non-user instruction or stack pointer"), FormatError);
  img = realistic_image();
  img.threads[0].tid = 0;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("thread id 0 is invalid"), FormatError);
}

TEST_CASE("format: a zstd chunk must decode to exactly its declared size") {
  const Image img = realistic_image();
  const std::vector<Run> runs = {{kHeap, compressible_pages(4, 7)}};
  const auto good = image_bytes(img, runs, {ChunkEncoding::Zstd, 3});
  auto o = open_bytes(good);
  REQUIRE(o->reader->image().chunks.size() == 1);
  const PageChunk orig = o->reader->image().chunks[0];
  REQUIRE(orig.encoding == ChunkEncoding::Zstd);

  auto with_npages = [&](uint32_t npages) {
    std::vector<PageChunk> chunks = {orig};
    chunks[0].npages = npages;
    auto b = good;
    replace_payload(b, SectionType::PageIndex, encode_page_index(chunks));
    return open_bytes(b);  // passes every structural check
  };
  ZstdDctx dctx;
  std::vector<uint8_t> scratch, dest(8 * kPageSize);

  auto fewer = with_npages(5);  // decodes to 4 pages, 5 declared
  fewer->reader->verify_page_data();
  CHECK_THROWS_WITH_AS(fewer->reader->read_chunk(fewer->reader->image().chunks[0], dest.data(), dctx.p, scratch),
                       has("chunk decompresses to 16384 bytes, not the declared 20480"), FormatError);

  auto more = with_npages(3);  // would expand past its declared 3 pages
  CHECK_THROWS_WITH_AS(more->reader->read_chunk(more->reader->image().chunks[0], dest.data(), dctx.p, scratch),
                       has("page data does not decompress"), FormatError);

  auto same = with_npages(4);  // the helper itself changes nothing else
  same->reader->read_chunk(same->reader->image().chunks[0], dest.data(), dctx.p, scratch);
  CHECK(std::memcmp(dest.data(), runs[0].bytes.data(), 4 * kPageSize) == 0);
}

TEST_CASE("format: a chunk whose stored bytes lie outside page data is refused") {
  const auto good = image_bytes(realistic_image(), realistic_runs(), {ChunkEncoding::Raw, 0});
  auto o = open_bytes(good);
  std::vector<PageChunk> chunks = o->reader->image().chunks;
  chunks[0].offset = 0;  // page-aligned, but the file header
  auto b = good;
  replace_payload(b, SectionType::PageIndex, encode_page_index(chunks));
  CHECK_THROWS_WITH_AS(open_bytes(b), has("stored bytes lie outside the page_data section"), FormatError);

  chunks = o->reader->image().chunks;
  chunks[0].offset += 1;  // raw, no longer mappable
  b = good;
  replace_payload(b, SectionType::PageIndex, encode_page_index(chunks));
  CHECK_THROWS_WITH_AS(open_bytes(b), has("raw chunk not page-aligned in the file"), FormatError);
}

// ============================================================ codec limits

TEST_CASE("codec: a string longer than kMaxStringLength is refused before it is read") {
  ProcessInfo p;
  p.comm = "python3";
  p.exe = std::string(kMaxStringLength + 1, 'x');
  std::vector<uint8_t> b = encode_process(p);
  CHECK_THROWS_WITH_AS(decode_process(b.data(), b.size(), 1000),
                       has("exe path length " + std::to_string(kMaxStringLength + 1) + " exceeds limit " +
                                std::to_string(kMaxStringLength)),
                       FormatError);
  p.exe = std::string(kMaxStringLength, 'x');  // at the limit: fine
  b = encode_process(p);
  CHECK(decode_process(b.data(), b.size(), 0).exe.size() == kMaxStringLength);

  // And through the reader, in a VMA path.
  Image img = realistic_image();
  img.vmas[0].file.path = "/" + std::string(kMaxStringLength, 'p');
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("VMA file path length 4097 exceeds limit 4096"),
                       FormatError);
}

TEST_CASE("codec: a string or blob running past its section is refused") {
  ByteWriter w;
  w.u32(100);
  w.put("short", 5);
  ByteReader r(w.bytes().data(), w.bytes().size(), 5000);
  CHECK_THROWS_WITH_AS(r.str("comm", kMaxStringLength), has("at offset 5000: comm runs past the end"),
                       FormatError);
  ByteReader r2(w.bytes().data(), w.bytes().size(), 0);
  CHECK_THROWS_WITH_AS(r2.blob("auxv", 50), has("auxv length 100 exceeds limit 50"), FormatError);
}

TEST_CASE("codec: a count over its limit is refused") {
  ByteWriter w;
  w.u32(kMaxVmas + 1);
  ByteReader r(w.bytes().data(), w.bytes().size(), 64);
  CHECK_THROWS_WITH_AS(r.count("VMA count", kMaxVmas, 1),
                       has("at offset 64: VMA count is " + std::to_string(kMaxVmas + 1) + ", limit " +
                                std::to_string(kMaxVmas)),
                       FormatError);

  std::vector<PageChunk> none;
  std::vector<uint8_t> idx = encode_page_index(none);
  uint32_t huge = kMaxChunks + 1;
  std::memcpy(idx.data(), &huge, 4);
  CHECK_THROWS_WITH_AS(decode_page_index(idx.data(), idx.size(), 0), has("chunk count is"), FormatError);
}

TEST_CASE("codec: a count larger than the remaining bytes can hold is refused") {
  // Declares 1000 VMAs but holds one: refused before allocating 1000 records.
  std::vector<uint8_t> b = encode_vmas({realistic_image().vmas[3]});
  uint32_t n = 1000;
  std::memcpy(b.data(), &n, 4);
  CHECK_THROWS_WITH_AS(decode_vmas(b.data(), b.size(), 0), has("VMA count 1000 does not fit in the section"),
                       FormatError);

  ByteWriter w;
  w.u32(3);
  w.put("0123456789ab", 12);
  ByteReader r(w.bytes().data(), w.bytes().size(), 0);
  CHECK_THROWS_WITH_AS(r.count("things", 10, 8), has("things 3 does not fit in the section"), FormatError);
  ByteReader ok(w.bytes().data(), w.bytes().size(), 0);
  CHECK(ok.count("things", 10, 4) == 3);
}

TEST_CASE("codec: truncated fields, trailing bytes and unknown enums are refused") {
  std::vector<uint8_t> mm = encode_mm(realistic_image().mm);
  CHECK_THROWS_WITH_AS(decode_mm(mm.data(), mm.size() - 4, 0), has("section ends inside "),
                       FormatError);
  mm.push_back(0);
  CHECK_THROWS_WITH_AS(decode_mm(mm.data(), mm.size(), 0), has("1 unexpected trailing bytes in mm section"),
                       FormatError);

  Vma v = realistic_image().vmas[3];
  v.kind = VmaKind(42);
  std::vector<uint8_t> b = encode_vmas({v});
  CHECK_THROWS_WITH_AS(decode_vmas(b.data(), b.size(), 0), has("unknown VMA kind 42"), FormatError);

  PageChunk c;
  c.encoding = ChunkEncoding(7);
  b = encode_page_index({c});
  CHECK_THROWS_WITH_AS(decode_page_index(b.data(), b.size(), 0), has("unknown chunk encoding 7"), FormatError);
}

// The CPU-state rules restore used to check only after reading (now in
// format/Validate.cpp, so that ckpt dump refuses the same images).
TEST_CASE("format: the saved CPU state must be resumable") {
  Image ok = realistic_image();
  CHECK_NOTHROW(write_and_open(ok, {}));

  Image img = realistic_image();
  img.process.pid = 41238;  // threads[0] (41237) is then not the leader
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("first thread is not the thread group leader"), FormatError);

  img = realistic_image();
  img.threads[0].gpr[ES] = 0x33;  // the user code selector: loadable, but not by the restorer
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("holds segment selector 51, which cannot be restored"),
                       FormatError);
  img = realistic_image();
  img.threads[0].gpr[GS] = 0x0f;  // LDT entry 1, which the image does not have
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("holds segment selector 15"), FormatError);

  img = realistic_image();
  ThreadState other = img.threads[0];
  other.tid = 41240;
  other.gpr[DS] = 0x2b;
  img.threads.push_back(other);
  CHECK_NOTHROW(write_and_open(img, {}));
  img.threads[1].gpr[FS] = 0x0f;  // an LDT selector is loaded again for the leader only
  img.task.ldt = {0, 0x00cff3000000ffffull};  // entry 1: a present 32-bit data segment, DPL 3
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("thread 41240: holds segment selector 15"), FormatError);
  img.threads.pop_back();
  img.threads[0].gpr[FS] = 0x0f;
  CHECK_NOTHROW(write_and_open(img, {}));
  img.task.ldt = {0, 0x00cf93000000ffffull};  // DPL 0: modify_ldt cannot install it
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("LDT entry 1 cannot be installed"), FormatError);

  img = realistic_image();
  img.threads[0].xsave[26] = 1;  // a reserved MXCSR bit
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("reserved MXCSR bits"), FormatError);

  img = realistic_image();
  img.threads[0].altstack_size = 2047;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("smaller than MINSIGSTKSZ"), FormatError);
  img.threads[0].altstack_flags = 2;  // SS_DISABLE: the size does not matter
  CHECK_NOTHROW(write_and_open(img, {}));

  img = realistic_image();
  img.threads[0].cached_tid_address = kHeap + 0x2d0;
  CHECK_NOTHROW(write_and_open(img, {}));
  for (uint64_t bad : {kExeText + 0x10, kShared + 0x10, kVvar + 0x10,
                       uint64_t(0x1000)}) {
    img.threads[0].cached_tid_address = bad;
    CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("cached thread id"), FormatError);
  }
}

TEST_CASE("format: POSIX timers, oom_score_adj, membarrier and clocks out of range are refused") {
  auto refused = [](void (*change)(Image&), const char* why) {
    Image img = realistic_image();
    change(img);
    CHECK_THROWS_WITH_AS(write_and_open(img, {}), has(why), FormatError);
  };
  refused([](Image& i) { i.task.timers[1].id = 5; }, "POSIX timer 5: ids must be non-negative, sorted and unique");
  refused([](Image& i) { i.task.timers[0].id = -1; }, "ids must be non-negative");
  refused([](Image& i) { i.task.timers[0].clock = 3; }, "POSIX timer 5: clock 3 cannot be restored");
  refused([](Image& i) { i.task.timers[0].clock = -2; }, "clock -2 cannot be restored");
  refused([](Image& i) { i.task.timers[0].clock = (~1234 << 3) | 2; }, "cannot be restored");
  refused([](Image& i) { i.task.timers[0].notify = 3; }, "unknown notification 3");
  refused([](Image& i) { i.task.timers[0].signo = 65; }, "invalid signal 65");
  refused([](Image& i) { i.task.timers[0].signo = 0; }, "invalid signal 0");
  refused([](Image& i) { i.task.timers[1].target_tid = 999; }, "targets thread 999, which is not in the image");
  refused([](Image& i) { i.task.timers[1].target_tid = 0; }, "target thread given without SIGEV_THREAD_ID or missing");
  refused([](Image& i) { i.task.timers[0].target_tid = 41237; }, "target thread given without");
  refused([](Image& i) { i.task.timers[0].value_ns = -1; }, "POSIX timer 5: negative time");
  refused([](Image& i) { i.task.timers[0].interval_ns = -1; }, "negative time");
  refused([](Image& i) { i.task.oom_score_adj = 1001; }, "oom_score_adj out of [-1000, 1000]");
  refused([](Image& i) { i.task.oom_score_adj = -1001; }, "oom_score_adj out of");
  refused([](Image& i) { i.task.membarrier = 1u << 3; }, "unknown membarrier registration bits");
  refused([](Image& i) { i.task.monotonic_ns = -1; }, "negative clock value");
  refused([](Image& i) { i.task.boottime_ns = -1; }, "negative clock value");
  refused([](Image& i) { i.task.mdwe = 4; }, "invalid memory-deny-write-execute flags");
  refused([](Image& i) { i.task.mdwe = 2; }, "invalid memory-deny-write-execute flags");  // NO_INHERIT alone
  {
    Image img = realistic_image();
    img.task.mdwe = 3;
    CHECK(write_and_open(img, {})->reader->image().task.mdwe == 3);
  }
  // SIGEV_NONE carries no signal: any number is kept as it was.
  Image img = realistic_image();
  img.task.timers[0].notify = kNotifyNone, img.task.timers[0].signo = 0;
  CHECK_NOTHROW(write_and_open(img, {}));

  std::vector<uint8_t> b = encode_task(realistic_image().task);
  b[b.size() - 4 - 2 * (4 * 4 + 8 + 4 + 8 * 2 + 4) - 4] = 0xff;  // the timer count's low byte: 255 timers
  CHECK_THROWS_WITH_AS(decode_task(b.data(), b.size(), 0), has("POSIX timer count"), FormatError);
}

// Guard pages (MADV_GUARD_INSTALL) recorded per VMA.
static Vma& anon_vma(Image& img) {
  for (Vma& v : img.vmas)
    if (v.start == kAnon) return v;
  FAIL("no VMA at kAnon");
  return img.vmas[0];
}

TEST_CASE("format: guard ranges round-trip and keep chunks out") {
  Image img = realistic_image();
  anon_vma(img).guards = {{kAnon + 650 * kPageSize, kAnon + 652 * kPageSize}, {kAnon + 690 * kPageSize, kAnon + 691 * kPageSize}};
  auto o = write_and_open(img, realistic_runs());
  const Image& got = o->reader->image();
  bool found = false;
  for (const Vma& v : got.vmas)
    if (v.start == kAnon) {
      found = true;
      REQUIRE(v.guards.size() == 2);
      CHECK(v.guards[0].start == kAnon + 650 * kPageSize);
      CHECK(v.guards[1].end == kAnon + 691 * kPageSize);
    }
  CHECK(found);
  // A saved page under a guard is refused.
  anon_vma(img).guards = {{kAnon + 10 * kPageSize, kAnon + 11 * kPageSize}};
  CHECK_THROWS_WITH_AS(write_and_open(img, realistic_runs()), has("covers a guard page"), FormatError);
}

TEST_CASE("format: bad guard ranges are refused") {
  auto refused = [](std::vector<GuardRange> g, const char* why, uint32_t flags = 0) {
    Image img = realistic_image();
    anon_vma(img).guards = g;
    anon_vma(img).flags |= flags;
    CHECK_THROWS_WITH_AS(write_and_open(img, {}), has(why), FormatError);
  };
  refused({{kAnon + 1, kAnon + kPageSize}}, "guard range not page-aligned or empty");
  refused({{kAnon + kPageSize, kAnon + kPageSize}}, "guard range not page-aligned or empty");
  refused({{kAnon + 2 * kPageSize, kAnon + 3 * kPageSize}, {kAnon, kAnon + kPageSize}}, "out of order or outside");
  refused({{kAnon - kPageSize, kAnon + kPageSize}}, "out of order or outside");
  refused({{kAnon, kAnon + kPageSize}}, "guard pages in a vdso/vvar, locked or huge-page VMA", kVmaLocked);
}

TEST_CASE("format: private mappings of /dev/zero and of shared objects") {
  Image img = realistic_image();
  anon_vma(img).kind = VmaKind::DevZeroPrivate;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("not of /dev/zero"), FormatError);
  anon_vma(img).file.path = "/dev/zero";
  auto o = write_and_open(img, realistic_runs());  // takes pages like anonymous memory
  CHECK(o->reader->image().chunks.size() > 0);
  anon_vma(img).kind = VmaKind::MemfdPrivate;
  anon_vma(img).file.path = "/memfd:x (deleted)";
  anon_vma(img).file.ino = 4242;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("shared memory object 4242 is not in the files section"), FormatError);
  SharedObject obj;
  obj.id = 4242;
  obj.memfd = false;
  obj.size = kAnonPages * kPageSize;
  img.files.objects.push_back(obj);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("shared memory object of the wrong kind"), FormatError);
  img.files.objects.back().memfd = true;
  CHECK(write_and_open(img, realistic_runs())->reader->image().vmas.size() == img.vmas.size());
  anon_vma(img).kind = VmaKind(19);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("unknown VMA kind 19"), FormatError);
}

TEST_CASE("format: SysV segments round-trip and are checked") {
  Image img = realistic_image();
  Vma& v = anon_vma(img);
  v.kind = VmaKind::SysvShm;
  v.file.path = "/SYSV7c000001 (deleted)";
  v.file.ino = 7;
  SysvSegment g;
  g.key = 0x7c000001;
  g.id = 7;
  g.mode = 0640;
  g.size = kAnonPages * kPageSize - 100;
  g.data.push_back({4096, std::vector<uint8_t>(10, 'x')});
  img.sysv_shm = {g};
  {
    auto o = write_and_open(img, {});
    const auto& got = o->reader->image().sysv_shm;
    REQUIRE(got.size() == 1);
    CHECK(got[0].key == g.key);
    CHECK(got[0].id == 7);
    CHECK(got[0].mode == 0640);
    CHECK(got[0].size == g.size);
    REQUIRE(got[0].data.size() == 1);
    CHECK(got[0].data[0].offset == 4096);
  }
  auto refused = [&](Image bad, const char* why) { CHECK_THROWS_WITH_AS(write_and_open(bad, {}), has(why), FormatError); };
  Image b = img;
  b.sysv_shm[0].mode |= 04000;
  refused(b, "unknown mode bits");
  b = img;
  b.sysv_shm[0].mode |= kShmDest;
  refused(b, "marked for removal but has a key");
  b = img;
  b.sysv_shm[0].data[0].offset = g.size;
  refused(b, "data extent out of order or outside the segment");
  b = img;
  b.sysv_shm[0].size = 4096;
  b.sysv_shm[0].data.clear();
  refused(b, "is not a whole attachment of SysV segment 7");
  b = img;
  anon_vma(b).file.ino = 8;
  refused(b, "attaches SysV segment 8, which is not in the image");
  b = img;
  b.sysv_shm.push_back(g);
  refused(b, "ids not ascending");
  b = img;
  b.sysv_shm[0].size = 0;
  refused(b, "size out of range");
  b = img;
  anon_vma(b).kind = VmaKind::AnonPrivate;
  anon_vma(b).file = {};
  refused(b, "SysV segment 7 is attached nowhere");
}

TEST_CASE("format: per-process file mappings must name /DIR/PID and their whole file") {
  Image img = realistic_image();
  Vma& v = anon_vma(img);
  v.kind = VmaKind::FileSharedOwn;
  v.file.size = 3 * kPageSize;
  for (const char* p : {"/tmp/hsperfdata_root/x12", "relative/12", "/12", "/tmp/dir/", "/tmp/../12/../34"}) {
    CAPTURE(p);
    anon_vma(img).file.path = p;
    CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("not /DIR/PID"), FormatError);
  }
  anon_vma(img).file.path = "/tmp/hsperfdata_root/1234";
  CHECK(write_and_open(img, realistic_runs())->reader->image().vmas.size() == img.vmas.size());
  anon_vma(img).file.size = kAnonPages * kPageSize + 1;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("does not map its whole file"), FormatError);
}

TEST_CASE("format: huge-page memory must be aligned and of a kind that has it") {
  Image img = realistic_image();
  anon_vma(img).flags = kVmaHugetlb;  // kAnon is 2 MiB aligned, 4 MiB long
  CHECK(write_and_open(img, realistic_runs())->reader->image().vmas.size() == img.vmas.size());
  anon_vma(img).flags = kVmaHugetlb | kVmaHuge1G;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("not aligned to its page size"), FormatError);
  anon_vma(img).flags = kVmaHuge1G;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("without the huge-page flag"), FormatError);
  anon_vma(img).flags = 0;
  anon_vma(img).kind = VmaKind::HugetlbShared;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("without the huge-page flag"), FormatError);
  img = realistic_image();
  img.vmas[3].flags |= kVmaHugetlb;  // the heap
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("huge-page flag on a kind without huge pages"), FormatError);
}

// A fresh-clone corruption sweep flipped every flag of a file mapping on:
// restore --check passed it, and restore's madvise then failed.
TEST_CASE("format: wipe-on-fork only on memory with no file behind it") {
  Image img = realistic_image();
  anon_vma(img).flags = kVmaWipeOnFork;
  CHECK(write_and_open(img, realistic_runs())->reader->image().vmas.size() == img.vmas.size());
  anon_vma(img).flags = kVmaWipeOnFork | kVmaHugetlb;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("wipe-on-fork flag on a kind with a file"), FormatError);
  img = realistic_image();
  img.vmas[0].flags |= kVmaWipeOnFork;
  REQUIRE(img.vmas[0].kind == VmaKind::FilePrivate);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("wipe-on-fork flag on a kind with a file"), FormatError);
}

// Issue 16: rules a crafted image once slipped past (format.md §8).
TEST_CASE("format: the fs and gs bases must be user addresses") {
  Image img = realistic_image();
  img.threads[0].gpr[GS_BASE] = kUserSpaceEnd;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("fs or gs base beyond user space"), FormatError);
}

TEST_CASE("format: the fds of one pipe carry no more data together than the pipe holds") {
  Image img = realistic_image();
  FdEntry a;
  a.fd = 900, a.kind = FdKind::Pipe, a.object = 77, a.pipe_size = 4096;
  a.contents.assign(3000, 'a');
  FdEntry b = a;
  b.fd = 901;
  img.files.fds = {a, b};
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("ends carry 6000 bytes of unread data, more than the pipe holds"),
                       FormatError);
  img.files.fds[1].contents.assign(1096, 'b');
  CHECK_NOTHROW(write_and_open(img, {}));
  img.files.fds[1].pipe_size = 8192;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("pipe size differs from fd 900's"), FormatError);
}

TEST_CASE("format: epoll targets are fds epoll can watch, each once") {
  Image img = realistic_image();
  FdEntry ev, del, ep;
  ev.fd = 900, ev.kind = FdKind::EventFd;
  del.fd = 901, del.kind = FdKind::DeletedFile, del.file.path = "/tmp/gone", del.object = 31;
  DeletedFile gone;
  gone.id = 31, gone.mode = S_IFREG | 0600, gone.path = "/tmp/gone";
  img.files.deleted = {gone};
  ep.fd = 902, ep.kind = FdKind::Epoll;
  ep.targets = {{900, 1, 0, 900}, {0, 1, 0, 0}};
  img.files.fds = {ev, del, ep};
  CHECK_NOTHROW(write_and_open(img, {}));
  img.files.fds[2].targets = {{900, 1, 0, 900}, {900, 4, 0, 900}};
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("epoll fd 902: fd 900 is watched twice for one file"), FormatError);
  img.files.fds[2].targets = {{901, 1, 0, 901}};
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("watches a deleted file, which epoll cannot watch"), FormatError);
  img.files.fds[2].targets = {{-1, 1, 0, -1}};
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("entry for fd -1: number out of range"), FormatError);
  img.files.fds[2].targets = {{900, (1u << 28) | 0x2 /* EPOLLPRI */, 0, 900}};
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("EPOLLEXCLUSIVE with bits it excludes"), FormatError);
}

TEST_CASE("format: shared objects have unique ids and known seals; threads unique ids") {
  Image img = realistic_image();
  SharedObject o;
  o.id = 5, o.memfd = true, o.size = 4096;
  img.files.objects = {o, o};
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("duplicate shared object 5"), FormatError);
  img.files.objects = {o};
  img.files.objects[0].seals = 0x40;
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("has unknown seals"), FormatError);
  img = realistic_image();
  img.threads.push_back(img.threads[0]);
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("thread id 41237 appears twice"), FormatError);
}

TEST_CASE("format: the rseq area must be in writable memory") {
  Image img = realistic_image();
  img.threads[0].rseq.address = kExeText;  // read-only code
  CHECK_THROWS_WITH_AS(write_and_open(img, {}), has("rseq area is not in readable and writable memory"), FormatError);
}

// ------------------------------------------- deleted files, inotify, memfd mode

namespace {
// The realistic image with one deleted file on fd 5, an inotify fd 6 with
// two watches, and a memfd with a mode.
Image image_with_file_kinds() {
  Image img = realistic_image();
  DeletedFile d;
  d.id = 777;
  d.mode = S_IFREG | 0641;
  d.uid = 4321, d.gid = 8765;
  d.atime_ns = 1000000000500000000, d.mtime_ns = 1200000000250000000;
  d.size = 10;
  d.path = "/tmp/gone";
  d.data.push_back({2, {'a', 'b', 'c'}});
  img.files.deleted.push_back(d);
  FdEntry f;
  f.fd = 5;
  f.kind = FdKind::DeletedFile;
  f.flags = O_RDWR;
  f.file.path = "/tmp/gone";
  f.object = 777;
  img.files.fds.push_back(f);
  FdEntry n;
  n.fd = 6;
  n.kind = FdKind::Inotify;
  n.watches.push_back({1, 0x100, "/tmp", 1, 2});
  n.watches.push_back({4, 0x2, "/etc/passwd", 1, 3});
  img.files.fds.push_back(n);
  SharedObject o;
  o.id = 99, o.memfd = true, o.name = "m", o.size = 0, o.mode = 0750;
  img.files.objects.push_back(o);
  return img;
}
}  // namespace

TEST_CASE("format: deleted files, inotify watches and memfd modes round-trip") {
  Image img = image_with_file_kinds();
  auto o = write_and_open(img, one_page());
  const FileTable& t = o->reader->image().files;
  REQUIRE(t.deleted.size() == 1);
  CHECK(t.deleted[0].mode == (S_IFREG | 0641));
  CHECK(t.deleted[0].uid == 4321);
  CHECK(t.deleted[0].atime_ns == 1000000000500000000);
  CHECK(t.deleted[0].mtime_ns == 1200000000250000000);
  REQUIRE(t.deleted[0].data.size() == 1);
  CHECK(t.deleted[0].data[0].bytes.size() == 3);
  REQUIRE(t.fds.size() == 2);
  CHECK(t.fds[0].object == 777);
  REQUIRE(t.fds[1].watches.size() == 2);
  CHECK(t.fds[1].watches[1].wd == 4);
  CHECK(t.fds[1].watches[1].path == "/etc/passwd");
  CHECK(t.objects[0].mode == 0750);
}

TEST_CASE("format: bad deleted files are refused") {
  Image img = image_with_file_kinds();
  img.files.fds[0].object = 778;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("its deleted file 778 is not in the image"), FormatError);
  img = image_with_file_kinds();
  img.files.deleted[0].mode |= S_ISUID;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("set-id"), FormatError);
  img = image_with_file_kinds();
  img.files.deleted[0].mode = S_IFCHR | 0600;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("not a regular file, FIFO or directory"), FormatError);
  img = image_with_file_kinds();
  img.files.deleted.push_back(img.files.deleted[0]);
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("not sorted by id, or a duplicate"), FormatError);
  img = image_with_file_kinds();
  img.files.deleted[0].data[0].offset = 9;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("beyond its size"), FormatError);
  img = image_with_file_kinds();
  img.files.deleted[0].handle = {1, 2};
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("a handle without a mount point"), FormatError);
  img = image_with_file_kinds();
  img.files.deleted[0].mount = "/";
  img.files.deleted[0].handle = {1, 2};
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("no contents"), FormatError);
  img = image_with_file_kinds();
  img.files.deleted[0].path = "relative";
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("no absolute path"), FormatError);
  img = image_with_file_kinds();
  img.files.deleted[0].flags = kDeletedIsCwd;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("a working directory that is not one directory"), FormatError);
}

TEST_CASE("format: a mapping of a deleted file must name a deleted regular file") {
  Image img = image_with_file_kinds();
  Vma& v = img.vmas[0];
  v.kind = VmaKind::DeletedShared;
  v.file = FileId{};
  v.file.ino = 12345;
  v.pgoff = 0;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("names no deleted regular file"), FormatError);
}

TEST_CASE("format: bad inotify watches and memfd modes are refused") {
  Image img = image_with_file_kinds();
  std::swap(img.files.fds[1].watches[0], img.files.fds[1].watches[1]);
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("sorted and unique"), FormatError);
  img = image_with_file_kinds();
  img.files.fds[1].watches[0].mask = 0x00400000u;  // unknown
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("unknown mask bits"), FormatError);
  img = image_with_file_kinds();
  img.files.fds[1].watches[1].wd = kMaxInotifyWd + 1;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("too large"), FormatError);
  img = image_with_file_kinds();
  img.files.fds[1].watches[0].path = "tmp";
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("no absolute path"), FormatError);
  img = image_with_file_kinds();
  img.files.fds[0].watches = img.files.fds[1].watches;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("inotify watches on a deleted file"), FormatError);
  img = image_with_file_kinds();
  img.files.objects[0].mode = 04755;
  CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has("mode bits beyond 0777"), FormatError);
}

TEST_CASE("format: TCP connections round-trip and are checked") {
  Image img = realistic_image();
  TcpConnection c;
  c.id = 4242;
  c.family = 10;  // AF_INET6
  c.state = kTcpFinWait1;
  c.local_addr[15] = 1;  // ::1
  c.peer_addr[15] = 1;
  c.local_port = 40000;
  c.peer_port = 5000;
  c.send_seq = 0xfffffff0;  // wraps inside the queue
  c.recv_seq = 77;
  c.send_queue.assign(100, 's');
  c.unsent = 0;
  c.recv_queue.assign(30, 'r');
  c.mss = 65483;
  c.tcp_options = kTcpTimestamps | kTcpSack | kTcpWindowScale;
  c.snd_wscale = 7;
  c.rcv_wscale = 10;
  c.timestamp = 123456;
  c.snd_wl1 = 77 + 30;
  c.snd_wnd = 65536;
  c.max_window = 65536;
  c.rcv_wnd = 65536;
  c.rcv_wup = 77 + 30;
  c.options.push_back({6 /* IPPROTO_TCP */, 1 /* TCP_NODELAY */, {1, 0, 0, 0}});
  c.reuseaddr = 1;
  c.shutdown = kTcpShutRead | kTcpShutWrite;
  img.tcp = {c};
  FdEntry f;
  f.fd = 90;
  f.kind = FdKind::TcpConnection;
  f.flags = 02 | 04000;  // O_RDWR | O_NONBLOCK
  f.object = 4242;
  f.file.path = "socket:[4242]";
  img.files.fds.push_back(f);
  {
    auto o = write_and_open(img, {});
    const auto& got = o->reader->image().tcp;
    REQUIRE(got.size() == 1);
    CHECK(got[0].id == 4242);
    CHECK(got[0].family == 10);
    CHECK(got[0].state == kTcpFinWait1);
    CHECK(got[0].local_addr == c.local_addr);
    CHECK(got[0].peer_port == 5000);
    CHECK(got[0].send_seq == 0xfffffff0);
    CHECK(got[0].send_queue == c.send_queue);
    CHECK(got[0].recv_queue == c.recv_queue);
    CHECK(got[0].unsent == 0);
    CHECK(got[0].snd_wscale == 7);
    CHECK(got[0].rcv_wup == c.rcv_wup);
    CHECK(got[0].options == c.options);
    CHECK(got[0].reuseaddr == 1);
    CHECK(got[0].shutdown == (kTcpShutRead | kTcpShutWrite));
    CHECK(o->reader->image().files.fds.back().kind == FdKind::TcpConnection);
  }
  auto refused = [&](Image bad, const char* why) { CHECK_THROWS_WITH_AS(write_and_open(bad, {}), has(why), FormatError); };
  Image b = img;
  b.tcp[0].state = 9;  // LAST-ACK
  refused(b, "state LAST-ACK is not carried");
  b = img;
  b.tcp[0].state = 8;  // CLOSE-WAIT: the peer's FIN, not ours
  refused(b, "disagrees with its state CLOSE-WAIT");
  b = img;
  b.tcp[0].state = kTcpEstablished;
  refused(b, "disagrees with its state ESTABLISHED");
  b = img;
  b.tcp[0].family = 1;
  refused(b, "unknown family 1");
  b = img;
  b.tcp[0].family = 2;
  refused(b, "an IPv4 address with bytes past its fourth");
  b = img;
  b.tcp[0].peer_port = 0;
  refused(b, "a port outside 1..65535");
  b = img;
  b.tcp[0].state = kTcpEstablished;
  b.tcp[0].shutdown = 0;
  b.tcp[0].unsent = 101;
  refused(b, "more unsent bytes than the send queue holds");
  b = img;
  b.tcp[0].unsent = 60;
  refused(b, "data never sent in state FIN-WAIT-1");
  b = img;
  b.tcp[0].rcv_wscale = 15;
  refused(b, "a window scale above 14");
  b = img;
  b.tcp[0].tcp_options = kTcpSack;
  refused(b, "window scales without window scaling");
  b = img;
  b.tcp[0].rcv_wup = 77 + 31;
  refused(b, "rcv_wup lies after the end of the receive queue");
  b = img;
  b.tcp[0].options.insert(b.tcp[0].options.begin(), {1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, {1, 0, 0, 0}});
  refused(b, "is not held as an ordinary option");
  b = img;
  b.tcp[0].shutdown = 8;
  refused(b, "unknown shutdown bits");
  b = img;
  b.files.fds.back().object = 4243;
  refused(b, "names socket 4243, which the tcp section lacks");
  b = img;
  b.files.fds.back().flags |= 02000;  // O_APPEND
  refused(b, "flags other than O_RDWR, O_NONBLOCK and O_ASYNC");
  b = img;
  b.files.fds.pop_back();
  refused(b, "is held by no fd");
  b = img;
  b.tcp.push_back(c);
  refused(b, "not sorted by id, or a duplicate");
}

// ------------------------------------------- ptys

namespace {
// The realistic image with pty 7: master fd 10, slave fds 11 and 12, queued
// data both ways, the process's controlling terminal.
Image image_with_pty() {
  Image img = realistic_image();
  Pty p;
  p.id = 7;
  p.lflag = 0000002;  // ICANON
  p.cc.assign(kPtyCcCount, 0);
  p.cc[2] = 0x7f;
  p.rows = 24, p.cols = 80, p.xpixel = 640, p.ypixel = 480;
  p.packet = 1, p.locked = 1, p.excl_slave = 1;
  p.input.push_back({{'l', 's', '\n'}, kPtyEndChar});
  p.input.push_back({{}, kPtyEndEof});
  p.input.push_back({{'p', 'a'}, kPtyPartial});
  p.output = {'o', 'u', 't'};
  p.session = p.foreground = img.process.pid;
  img.ptys.push_back(p);
  for (int fd : {10, 11, 12}) {
    FdEntry f;
    f.fd = fd;
    f.kind = fd == 10 ? FdKind::PtyMaster : FdKind::PtySlave;
    f.flags = fd == 12 ? O_RDONLY : O_RDWR;
    f.object = 7;
    img.files.fds.push_back(f);
  }
  return img;
}
}  // namespace

TEST_CASE("format: ptys round-trip") {
  Image img = image_with_pty();
  auto o = write_and_open(img, one_page());
  const Image& back = o->reader->image();
  REQUIRE(back.ptys.size() == 1);
  const Pty& p = back.ptys[0];
  CHECK(p.id == 7);
  CHECK(p.cc.size() == kPtyCcCount);
  CHECK(p.cc[2] == 0x7f);
  CHECK((p.rows == 24 && p.cols == 80 && p.xpixel == 640 && p.ypixel == 480));
  CHECK((p.packet == 1 && p.locked == 1 && p.excl_slave == 1 && p.excl_master == 0));
  REQUIRE(p.input.size() == 3);
  CHECK(p.input[0].end == kPtyEndChar);
  CHECK(p.input[1].bytes.empty());
  CHECK(p.input[2].bytes.size() == 2);
  CHECK(p.output.size() == 3);
  CHECK(p.session == img.process.pid);
  REQUIRE(back.files.fds.size() == 3);
  CHECK(back.files.fds[0].kind == FdKind::PtyMaster);
  CHECK(back.files.fds[2].kind == FdKind::PtySlave);
  CHECK(back.files.fds[2].object == 7);
}

TEST_CASE("format: bad pty records are refused") {
  auto refused = [](void (*edit)(Image&), const char* why) {
    Image img = image_with_pty();
    edit(img);
    CHECK_THROWS_WITH_AS(write_and_open(img, one_page()), has(why), FormatError);
  };
  refused([](Image& i) { i.ptys[0].line = 2; }, "is not N_TTY");
  refused([](Image& i) { i.ptys[0].cols = 1u << 16; }, "window size out of range");
  refused([](Image& i) { i.ptys[0].locked = 2; }, "a flag is not 0 or 1");
  refused([](Image& i) { i.ptys[0].input[0].end = 3; }, "unknown end");
  refused([](Image& i) { i.ptys[0].input[0].end = kPtyPartial; }, "only the last input line may be unfinished");
  refused([](Image& i) { i.ptys[0].lflag = 0; }, "input lines on a terminal not in canonical mode");
  refused([](Image& i) { i.ptys[0].input[2].bytes.assign(4095, 'x'); }, "more queued input than a line discipline holds");
  refused([](Image& i) { i.ptys[0].session = 1; }, "which no process leads in the image");
  refused([](Image& i) { i.ptys[0].foreground = 1; }, "which has no such group in the image");
  refused([](Image& i) { i.ptys[0].foreground = 0; }, "both be set or both 0");
  refused([](Image& i) { i.files.fds[0].kind = FdKind::PtySlave; }, "0 master fds, not 1");
  refused([](Image& i) { i.files.fds.resize(1); }, "no slave fd");
  refused([](Image& i) { i.files.fds.clear(); }, "pty 7: no fd names it");
  refused([](Image& i) { i.files.fds[1].object = 8; }, "pty 8 is not in the ptys section");
  refused([](Image& i) { i.files.fds[0].flags = O_RDONLY; }, "a pty master is open read-write");
  refused([](Image& i) { i.ptys.push_back(i.ptys[0]); }, "ids not ascending");
  refused([](Image& i) { i.ptys[0].cc.resize(18); }, "pty control characters: 18, not 19");
}

TEST_CASE("format: inherited chunks (encoding 2) carry no bytes and need a parent") {
  const auto good = image_bytes(realistic_image(), {{kHeap, compressible_pages(4, 7)}}, {ChunkEncoding::Raw, 0});
  auto o = open_bytes(good);
  REQUIRE(o->reader->image().chunks.size() == 1);
  auto with = [&](auto change) {
    std::vector<PageChunk> chunks = o->reader->image().chunks;
    change(chunks[0]);
    auto b = good;
    replace_payload(b, SectionType::PageIndex, encode_page_index(chunks));
    return b;
  };
  auto inherited = [](PageChunk& c) {
    c.encoding = ChunkEncoding::Inherited;
    c.offset = c.stored_size = c.checksum = 0;
  };
  // A single process (or a tree's root) has no parent to inherit from.
  CHECK_THROWS_WITH_AS(open_bytes(with(inherited)), has("inherited, but the process has no parent in the image"),
                       FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with([&](PageChunk& c) {
                         inherited(c);
                         c.stored_size = 4096;
                       })),
                       has("inherited chunk with stored bytes"), FormatError);
  CHECK_THROWS_WITH_AS(open_bytes(with([](PageChunk& c) { c.encoding = ChunkEncoding(3); })),
                       has("unknown chunk encoding 3"), FormatError);
  // Only in memory a fork passes on unchanged (here: a private file mapping's page).
  CHECK_THROWS_WITH_AS(open_bytes(with([&](PageChunk& c) {
                         inherited(c);
                         c.vaddr = 0x55555555a000;
                         c.npages = 1;
                       })),
                       has("whose pages a fork cannot share"), FormatError);
  // Reading one is a caller's mistake, refused.
  ZstdDctx dctx;
  std::vector<uint8_t> scratch, dest(4 * kPageSize);
  PageChunk c = o->reader->image().chunks[0];
  inherited(c);
  CHECK_THROWS_WITH_AS(o->reader->read_chunk(c, dest.data(), dctx.p, scratch), has("holds its parent's pages"),
                       FormatError);
}

TEST_CASE("format: a tree's child inherits pages its parent saved, checked against that parent") {
  // Root: heap pages 0-3 saved. Child (fork of it): page 1 its own, the rest inherited.
  Image root = realistic_image(), child = realistic_image();
  child.process.pid = child.threads[0].tid = 41300;
  child.task.timers.clear();  // they name the root's thread
  ProcessTree tree;
  tree.members.resize(2);
  tree.members[0].pid = root.process.pid;
  tree.members[0].pgid = tree.members[0].sid = root.process.pid;
  tree.members[1].pid = child.process.pid;
  tree.members[1].parent = 0;
  tree.members[1].pgid = tree.members[1].sid = root.process.pid;
  auto write = [&](uint64_t child_from, uint64_t child_pages) {
    TempFile f;
    {
      ImageWriter w(f.fd(), {ChunkEncoding::Raw, 0});
      w.write_tree_metadata(tree, {&root, &child});
      std::vector<uint8_t> pages = compressible_pages(4, 5);
      w.add_pages(kHeap, pages.data(), 4);
      w.begin_member(1);
      w.add_inherited(kHeap, 1);
      w.add_pages(kHeap + kPageSize, pages.data(), 1);
      w.add_inherited(kHeap + child_from * kPageSize, child_pages);
      w.finish();
    }
    std::vector<uint8_t> b(size_t(lseek(f.fd(), 0, SEEK_END)));
    REQUIRE(pread(f.fd(), b.data(), b.size(), 0) == ssize_t(b.size()));
    return b;
  };
  auto o = open_bytes(write(2, 2));
  REQUIRE(o->reader->member_count() == 2);
  const std::vector<PageChunk>& c = o->reader->member(1).chunks;
  REQUIRE(c.size() == 3);
  CHECK(c[0].inherited());
  CHECK_FALSE(c[1].inherited());
  CHECK(c[2].inherited());
  CHECK(c[2].npages == 2);
  o->reader->verify_chunks();  // reads the stored chunks, skips the inherited ones
  // A child's stored chunk is checked too (ckpt verify, restore --check).
  std::vector<uint8_t> bad = write(2, 2);
  bad[c[1].offset + 100] ^= 1;
  CHECK_THROWS_WITH_AS(open_bytes(bad)->reader->verify_chunks(), has("page data checksum mismatch"), FormatError);
  // Inheriting a page the parent did not save (heap page 4) is refused.
  CHECK_THROWS_WITH_AS(open_bytes(write(2, 3)), has("inherited, but the parent saved no page at"), FormatError);
}

// ------------------------------------------------------------ process trees
namespace {

// A root (realistic_image), a live child and a zombie that exited 3.
struct TreeCase {
  Image root = realistic_image(), child = realistic_image();
  ProcessTree tree;
  std::vector<const Image*> members;
  TreeCase() {
    child.process.pid = 41300;
    child.threads[0].tid = 41300;
    child.task.timers.clear();
    tree.members.resize(3);
    tree.members[0] = {41237, -1, 41237, 41237, kMemberLive, 0, 1, 0};
    tree.members[1] = {41300, 0, 41237, 41237, kMemberLive, 0, 0, 0};
    tree.members[2] = {41301, 0, 41237, 41237, kMemberZombie, 3 << 8, 0, 0, "sh"};
    members = {&root, &child, nullptr};
  }
  std::vector<uint8_t> bytes() const {
    TempFile f;
    ImageWriter w(f.fd(), {ChunkEncoding::Raw, 0});
    w.write_tree_metadata(tree, members);
    const std::vector<uint8_t> page = compressible_pages(1, 9);
    for (uint32_t i = 0; i < members.size(); ++i)
      if (members[i]) {
        w.begin_member(i);
        w.add_pages(kStackEnd - kPageSize, page.data(), 1);
      }
    w.finish();
    return file_bytes(f.fd());
  }
};

}  // namespace

TEST_CASE("format: a process tree round-trips, each member with its own sections and pages") {
  TreeCase t;
  auto o = open_bytes(t.bytes());
  const ImageReader& r = *o->reader;
  REQUIRE(r.member_count() == 3);
  CHECK(r.tree().members[1].pid == 41300);
  CHECK(r.tree().members[2].state == kMemberZombie);
  CHECK(r.tree().members[2].exit_status == (3 << 8));
  CHECK(r.tree().members[2].comm == "sh");
  CHECK(r.tree().members[0].subreaper == 1);
  CHECK(r.image().process.pid == 41237);
  CHECK(r.member(1).process.pid == 41300);
  CHECK(r.member(1).chunks.size() == 1);
  CHECK(r.member(2).vmas.empty());
  size_t per_member = 0;
  for (const SectionInfo& s : r.sections()) per_member += s.member == 1;
  CHECK(per_member == 9);  // process, mm, task, files, vmas, threads, scheduling, credentials, page_index
  r.verify_chunks();
}

TEST_CASE("format: the tree's rules") {
  auto refused = [](auto change, const char* why) {
    TreeCase t;
    change(t);
    CAPTURE(why);
    CHECK_THROWS_WITH_AS(open_bytes(t.bytes()), has(why), FormatError);
  };
  refused([](TreeCase& t) { t.tree.members[1].parent = 2; }, "its parent must be a member listed before it");
  refused([](TreeCase& t) { t.tree.members[2].parent = 1; t.tree.members[1].state = kMemberZombie;
                            t.tree.members[1].exit_status = 0; t.members[1] = nullptr; }, "its parent is a zombie");
  refused([](TreeCase& t) { t.tree.members[2].pid = 41300; }, "its pid appears twice");
  refused([](TreeCase& t) { t.tree.members[2].exit_status = 0x7f; }, "is not a zombie's wait status");
  refused([](TreeCase& t) { t.tree.members[2].exit_status = (3 << 8) | 0x80; }, "is not a zombie's wait status");
  refused([](TreeCase& t) { t.tree.members[1].exit_status = 9; }, "is not a zombie's wait status");
  refused([](TreeCase& t) { t.tree.members[2].state = 3; }, "unknown state 3");
  refused([](TreeCase& t) { t.tree.members[1].subreaper = 2; }, "subreaper is not 0 or 1");
  refused([](TreeCase& t) { t.tree.members[1].comm = "x"; }, "a live member's comm belongs in its process section");
  refused([](TreeCase& t) { t.tree.members[2].comm = std::string(17, 'x'); }, "member comm length 17 exceeds limit 16");
  refused([](TreeCase& t) { t.tree.members[1].sid = 999; }, "its session is neither its own nor its parent's");
  refused([](TreeCase& t) { t.tree.members[1].sid = 41300; }, "a session leader outside its own process group");
  refused([](TreeCase& t) { t.tree.members[1].pgid = 999; }, "its process group 999 is not its own");
  refused([](TreeCase& t) { t.tree.members[0].parent = 1; }, "the root has a parent");
  refused([](TreeCase& t) { t.child.process.pid = 41302; t.child.threads[0].tid = 41302; },
          "its process section names another pid");
  refused([](TreeCase& t) { t.tree.members[1].state = kMemberZombie; t.tree.members[1].exit_status = 0; },
          "which the tree does not list as a live member");
  refused([](TreeCase& t) { t.members[1] = nullptr; }, "missing process section of member 1");
  // A group led by an earlier member of the same session is fine; a later one is not.
  {
    TreeCase t;
    t.tree.members[1].pgid = 41300;  // leads its own group
    t.tree.members[2].pgid = 41300;  // a zombie in it
    CHECK_NOTHROW(open_bytes(t.bytes()));
    t.tree.members[1].pgid = 41301;
    t.tree.members[2].pgid = 41301;
    CHECK_THROWS_WITH_AS(open_bytes(t.bytes()), has("led by a member of its session listed before it"), FormatError);
  }
}

TEST_CASE("format: open file descriptions and pipes across the tree's members") {
  auto with_fds = [](TreeCase& t, FdEntry a, FdEntry b) {
    t.root.files.fds.push_back(a);
    t.child.files.fds.push_back(b);
  };
  FdEntry r;
  r.fd = 40;
  r.kind = FdKind::Pipe;
  r.flags = O_RDONLY;
  r.object = 777;
  r.pipe_size = 4096;
  r.description = 5;
  FdEntry c = r;
  c.fd = 3;
  {
    TreeCase t;
    with_fds(t, r, c);
    auto o = open_bytes(t.bytes());
    CHECK(o->reader->member(1).files.fds.back().description == 5);
  }
  {
    TreeCase t;
    FdEntry other = c;
    other.flags = O_WRONLY;
    with_fds(t, r, other);
    CHECK_THROWS_WITH_AS(open_bytes(t.bytes()), has("shares an open file description with member 0's fd 40 but differs"),
                         FormatError);
  }
  {
    TreeCase t;
    FdEntry a = r, b = c;
    a.description = 0, b.description = 0;
    b.flags = O_RDONLY;  // two read ends: unread data only on ends that read (inet's rule)
    a.contents.assign(3000, 'x');
    b.contents.assign(3000, 'y');  // one pipe, 6000 bytes in 4096
    with_fds(t, a, b);
    CHECK_THROWS_WITH_AS(open_bytes(t.bytes()), has("its pipe's ends carry more unread data than it holds"), FormatError);
  }
  {
    TreeCase t;  // the same description twice in one member
    FdEntry a = r, b = r;
    b.fd = 41;
    t.root.files.fds.push_back(a);
    t.root.files.fds.push_back(b);
    CHECK_THROWS_WITH_AS(open_bytes(t.bytes()), has("are one open file description recorded twice"), FormatError);
  }
}

TEST_CASE("format: unix sockets across the tree's members") {
  // A socket pair whose ends the root (fd 40) and the child (fd 3) hold:
  // each member's section has both records (what its end leans on).
  auto pair = [](TreeCase& t) {
    UnixSocket a, b;
    a.ino = 10, a.type = 1, a.state = kUnixConnected, a.peer = 11;
    b.ino = 11, b.type = 1, b.state = kUnixConnected, b.peer = 10;
    a.messages = {{{'h', 'i'}, {}, 0}};
    t.root.files.unix_sockets = {a, b};
    t.child.files.unix_sockets = {a, b};
    FdEntry f;
    f.fd = 40;
    f.kind = FdKind::UnixSocket;
    f.flags = O_RDWR;
    f.object = 10;
    t.root.files.fds.push_back(f);
    f.fd = 3;
    f.object = 11;
    t.child.files.fds.push_back(f);
  };
  {
    TreeCase t;
    pair(t);
    auto o = open_bytes(t.bytes());
    CHECK(o->reader->member(1).files.unix_sockets.size() == 2);
  }
  auto refused = [&](auto change, const char* why) {
    TreeCase t;
    pair(t);
    change(t);
    CAPTURE(why);
    CHECK_THROWS_WITH_AS(open_bytes(t.bytes()), has(why), FormatError);
  };
  refused([](TreeCase& t) { t.child.files.unix_sockets[0].rcvbuf = 4096; },
          "unix socket 10: its records in two members differ");
  refused([](TreeCase& t) { t.root.files.fds.pop_back(); }, "unix socket 10 is held by no fd of the tree");
  refused([](TreeCase& t) { t.child.files.fds.back().external = 1; t.child.files.unix_sockets.clear();
                            t.root.files.unix_sockets.clear(); t.root.files.fds.pop_back(); },
          "fd 3 is an outside unix socket, which only the root may hold");
  refused([](TreeCase& t) {
            // Each member's own section is valid; together two sockets bind one name.
            UnixSocket n;
            n.ino = 60, n.type = 2, n.state = kUnixUnconnected, n.name = "/tmp/ckpt-test.sock";
            t.root.files.unix_sockets.push_back(n);
            n.ino = 61;
            t.child.files.unix_sockets.push_back(n);
            FdEntry f = t.root.files.fds.back();
            f.fd = 41, f.object = 60;
            t.root.files.fds.push_back(f);
            f = t.child.files.fds.back();
            f.fd = 4, f.object = 61;
            t.child.files.fds.push_back(f);
          },
          "unix sockets 60 and 61 bind the same name");
}

// ------------------------------------------------- incremental images (section 30)

namespace {

// A directory of its own for a chain of images at real paths, removed with them.
struct ChainDir {
  std::string path;
  ChainDir() {
    char name[] = "/tmp/ckpt-test-chain-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~ChainDir() {
    for (const char* f : {"base", "mid", "top", "other", "noheap"}) ::unlink((path + "/" + f).c_str());
    ::rmdir(path.c_str());
  }
  std::string at(const char* f) const { return path + "/" + f; }
};

// Writes `img` with `runs` of pages to the file `path`; returns its trailer checksum.
uint64_t write_file(const std::string& path, const Image& img, const std::vector<Run>& runs,
                    Compression comp = {ChunkEncoding::Zstd, 3}) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  ::ftruncate(fd, 0);
  write_image(fd, img, runs, comp);
  ImageReader r(fd);
  uint64_t sum = image_checksum(r);
  ::close(fd);
  return sum;
}

Image with_parent(const std::string& path, uint64_t sum, uint32_t depth, std::vector<ParentRun> runs) {
  Image img = realistic_image();
  img.parent = ParentLink{path, sum, depth, std::move(runs)};
  return img;
}

// The bytes of the page at `addr` as the resolved chunks of `r` give them; empty: no chunk has it.
std::vector<uint8_t> page_at(const ImageReader& r, uint64_t addr) {
  ZstdDctx d;
  std::vector<uint8_t> scratch;
  for (const PageChunk& c : r.image().chunks) {
    if (addr < c.vaddr || addr >= c.vaddr + c.size()) continue;
    std::vector<uint8_t> all(c.size());
    r.read_chunk(c, all.data(), d.p, scratch);
    return std::vector<uint8_t>(all.begin() + (addr - c.vaddr), all.begin() + (addr - c.vaddr) + kPageSize);
  }
  return {};
}

std::vector<uint8_t> page_of(const std::vector<uint8_t>& pages, uint64_t i) {
  return std::vector<uint8_t>(pages.begin() + i * kPageSize, pages.begin() + (i + 1) * kPageSize);
}

}  // namespace

TEST_CASE("format: an incremental image's parent record round-trips") {
  Image img = with_parent("/images/base.ckpt", 0x1234, 2, {{kHeap, 3}, {kHeap + 5 * kPageSize, 2}, {kAnon, 300}});
  auto o = write_and_open(img, {{kHeap + 3 * kPageSize, compressible_pages(2, 1)}});
  const Image& back = o->reader->image();
  REQUIRE(back.parent);
  CHECK(back.parent->path == "/images/base.ckpt");
  CHECK(back.parent->checksum == 0x1234);
  CHECK(back.parent->depth == 2);
  REQUIRE(back.parent->runs.size() == 3);
  CHECK(back.parent->runs[2].vaddr == kAnon);
  CHECK(back.parent->runs[2].npages == 300);
  CHECK_FALSE(write_and_open(realistic_image(), one_page())->reader->image().parent);
}

TEST_CASE("format: a parent record that breaks the rules is refused") {
  auto refused = [](Image img, const std::vector<Run>& runs, const char* why) {
    CHECK_THROWS_WITH_AS(write_and_open(img, runs), has(why), FormatError);
  };
  refused(with_parent("base.ckpt", 1, 1, {}), one_page(), "parent path is not absolute");
  refused(with_parent("/b", 1, 1, {{kHeap + 1, 1}}), one_page(), "not page-aligned");
  refused(with_parent("/b", 1, 1, {{kHeap, 0}}), one_page(), "page count 0 out of range");
  refused(with_parent("/b", 1, 1, {{kHeap, 4}, {kHeap + 2 * kPageSize, 1}}), one_page(), "overlaps or is out of order");
  refused(with_parent("/b", 1, 1, {{kHeap + (kHeapPages - 1) * kPageSize, 2}}), one_page(), "not inside one VMA");
  refused(with_parent("/b", 1, 1, {{0x55555555a000, 1}}), one_page(), "whose pages are never the parent's");
  refused(with_parent("/b", 1, 1, {{kStackEnd - 2 * kPageSize, 2}}), one_page(), "overlaps the image's own chunk");
  refused(with_parent("/b", 1, 0, {}), one_page(), "chain depth 0 out of range");
  refused(with_parent("/b", 1, kMaxChainDepth + 1, {}), one_page(), "chain depth");
}

TEST_CASE("format: a chain resolves each page from the newest image that has it") {
  ChainDir dir;
  const std::vector<uint8_t> a = compressible_pages(8, 11), b = random_pages(4, 12), c = compressible_pages(2, 13);
  // base: heap pages 0-7 (a). mid: its own pages 2-5 (b), 0-1 and 6-9 the parent's
  // (8-9: none there, so zero). top: its own 4-5 (c), 0-3 and 6-7 the parent's.
  const uint64_t base = write_file(dir.at("base"), realistic_image(), {{kHeap, a}});
  const uint64_t mid = write_file(dir.at("mid"), with_parent(dir.at("base"), base, 1, {{kHeap, 2}, {kHeap + 6 * kPageSize, 4}}),
                                  {{kHeap + 2 * kPageSize, b}});
  write_file(dir.at("top"), with_parent(dir.at("mid"), mid, 2, {{kHeap, 4}, {kHeap + 6 * kPageSize, 2}}),
             {{kHeap + 4 * kPageSize, c}});
  int fd = open_image(dir.at("top"));
  ImageReader top(fd);
  std::vector<ChainLink> chain = follow_chain(top, dir.at("top"));
  REQUIRE(chain.size() == 3);
  CHECK(chain[2].path == dir.at("base"));
  CHECK(chain[2].checksum == base);
  CHECK(page_at(top, kHeap) == page_of(a, 0));
  CHECK(page_at(top, kHeap + kPageSize) == page_of(a, 1));
  CHECK(page_at(top, kHeap + 2 * kPageSize) == page_of(b, 0));
  CHECK(page_at(top, kHeap + 3 * kPageSize) == page_of(b, 1));
  CHECK(page_at(top, kHeap + 4 * kPageSize) == page_of(c, 0));
  CHECK(page_at(top, kHeap + 5 * kPageSize) == page_of(c, 1));
  CHECK(page_at(top, kHeap + 6 * kPageSize) == page_of(a, 6));
  CHECK(page_at(top, kHeap + 7 * kPageSize) == page_of(a, 7));
  CHECK(page_at(top, kHeap + 8 * kPageSize).empty());  // in no image: zero
  top.verify_chunks();
  verify_chain_page_data(top);
  ::close(fd);
}

TEST_CASE("format: a chain with a missing, different or inconsistent parent is refused") {
  ChainDir dir;
  const uint64_t base = write_file(dir.at("base"), realistic_image(), {{kHeap, compressible_pages(4, 1)}});
  write_file(dir.at("other"), realistic_image(), {{kHeap, compressible_pages(4, 2)}});
  auto follow = [&](const Image& img) {
    write_file(dir.at("top"), img, {});
    int fd = open_image(dir.at("top"));
    ImageReader top(fd);
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    follow_chain(top, dir.at("top"));
  };
  CHECK_NOTHROW(follow(with_parent(dir.at("base"), base, 1, {{kHeap, 4}})));
  CHECK_THROWS_WITH(follow(with_parent(dir.at("gone"), base, 1, {{kHeap, 4}})), has("gone is missing"));
  CHECK_THROWS_WITH(follow(with_parent(dir.at("other"), base, 1, {{kHeap, 4}})),
                    has("is not the image it was dumped against (checksum"));
  CHECK_THROWS_WITH(follow(with_parent(dir.at("base"), base, 2, {{kHeap, 4}})), has("has 0 images below it, not the 1"));
  Image noheap = realistic_image();
  noheap.vmas.erase(noheap.vmas.begin() + 3);  // the heap
  REQUIRE(noheap.vmas[3].kind == VmaKind::AnonPrivate);
  const uint64_t nh = write_file(dir.at("noheap"), noheap, {});
  CHECK_THROWS_WITH(follow(with_parent(dir.at("noheap"), nh, 1, {{kHeap, 1}})),
                    has("but the parent has no private anonymous area there"));
  // A chain copied elsewhere together: the parent is found beside its child.
  CHECK_NOTHROW(follow(with_parent("/nowhere/base", base, 1, {{kHeap, 4}})));
}

TEST_CASE("format: the pieces of one stored chunk read alike however often; a corrupt one is refused every time") {
  ChainDir dir;
  const std::vector<uint8_t> a = random_pages(8, 31), own = compressible_pages(2, 32);
  // base: heap pages 0-7 in one stored chunk; top: its own 2 and 5, the rest the
  // parent's: three pieces of base's chunk (0-1, 3-4, 6-7), each read many times.
  const uint64_t base = write_file(dir.at("base"), realistic_image(), {{kHeap, a}});
  write_file(dir.at("top"), with_parent(dir.at("base"), base, 1, {{kHeap, 2}, {kHeap + 3 * kPageSize, 2}, {kHeap + 6 * kPageSize, 2}}),
             {{kHeap + 2 * kPageSize, page_of(own, 0)}, {kHeap + 5 * kPageSize, page_of(own, 1)}});
  auto check = [&] {
    int fd = open_image(dir.at("top"));
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    ImageReader top(fd);
    follow_chain(top, dir.at("top"));
    for (int round = 0; round < 3; ++round)
      for (uint64_t i : {0, 1, 3, 4, 6, 7, 2, 5}) {
        const auto want = i == 2 ? page_of(own, 0) : i == 5 ? page_of(own, 1) : page_of(a, i);
        CHECK(page_at(top, kHeap + i * kPageSize) == want);
      }
  };
  check();
  // One byte of base's stored chunk changed: every piece of it is refused, each time it is read.
  uint64_t at = 0;
  {
    int fd = open_image(dir.at("base"));
    ImageReader r(fd);
    at = r.image().chunks.at(0).offset + 100;
    ::close(fd);
  }
  int fd = ::open(dir.at("base").c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  uint8_t byte = 0;
  REQUIRE(::pread(fd, &byte, 1, off_t(at)) == 1);
  byte ^= 0x40;
  REQUIRE(::pwrite(fd, &byte, 1, off_t(at)) == 1);
  ::close(fd);
  int tfd = open_image(dir.at("top"));
  ImageReader top(tfd);
  follow_chain(top, dir.at("top"));
  for (int round = 0; round < 2; ++round)
    for (uint64_t i : {0, 3, 6})
      CHECK_THROWS_WITH(page_at(top, kHeap + i * kPageSize), has("below it in its chain is corrupt"));
  CHECK(page_at(top, kHeap + 2 * kPageSize) == page_of(own, 0));  // its own pages are still fine
  ::close(tfd);
}

TEST_CASE("format: a chain over held images (a migration's rounds) looks parents up by checksum, never by path") {
  ChainDir dir;
  const std::vector<uint8_t> a = compressible_pages(4, 21);
  const uint64_t base = write_file(dir.at("base"), realistic_image(), {{kHeap, a}});
  const uint64_t other = write_file(dir.at("other"), realistic_image(), {{kHeap, compressible_pages(4, 22)}});
  int base_fd = open_image(dir.at("base")), other_fd = open_image(dir.at("other"));
  auto follow = [&](const std::string& parent_path, const HeldImages& held) {
    write_file(dir.at("top"), with_parent(parent_path, base, 1, {{kHeap, 4}}), {});
    int fd = open_image(dir.at("top"));
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    ImageReader top(fd);
    std::vector<ChainLink> chain = follow_chain(top, "the final image", &held);
    CHECK(page_at(top, kHeap + kPageSize) == page_of(a, 1));
    return chain;
  };
  // Named by a path that exists nowhere here: found among the held images.
  std::vector<ChainLink> chain = follow("/sender/round-0.ckpt", {{"round 1", other_fd, other}, {"round 0", base_fd, base}});
  REQUIRE(chain.size() == 2);
  CHECK(chain[1].path == "round 0");
  CHECK(chain[1].checksum == base);
  // The file at the path the image names is the very parent, but it was not received: refused.
  CHECK_THROWS_WITH(follow(dir.at("base"), {{"round 0", other_fd, other}}), has("is not among the images received before it"));
  CHECK_THROWS_WITH(follow(dir.at("base"), {}), has("is not among the images received before it"));
  // Raw and checked whole when received (page_data_checked): its pieces are read alone, and read alike.
  for (bool checked : {false, true}) {
    const uint64_t raw = write_file(dir.at("other"), realistic_image(), {{kHeap, a}}, {ChunkEncoding::Raw, 0});
    int raw_fd = open_image(dir.at("other"));
    const std::vector<uint8_t> mine = compressible_pages(1, 23);
    write_file(dir.at("top"), with_parent("/sender/round-0.ckpt", raw, 1, {{kHeap, 1}, {kHeap + 2 * kPageSize, 2}}),
               {{kHeap + kPageSize, mine}});
    int fd = open_image(dir.at("top"));
    ImageReader top(fd);
    HeldImages held{{"round 0", raw_fd, raw, checked}};
    follow_chain(top, "the final image", &held);
    CHECK(page_at(top, kHeap) == page_of(a, 0));
    CHECK(page_at(top, kHeap + kPageSize) == mine);
    CHECK(page_at(top, kHeap + 2 * kPageSize) == page_of(a, 2));
    CHECK(page_at(top, kHeap + 3 * kPageSize) == page_of(a, 3));
    std::vector<uint8_t> all(4 * kPageSize);
    ZstdDctx d;
    std::vector<uint8_t> scratch;
    for (const PageChunk& c : top.image().chunks)
      if (c.vaddr >= kHeap && c.vaddr < kHeap + 4 * kPageSize) top.read_chunk(c, all.data() + (c.vaddr - kHeap), d.p, scratch);
    CHECK(std::memcmp(all.data(), a.data(), kPageSize) == 0);
    CHECK(std::memcmp(all.data() + 2 * kPageSize, a.data() + 2 * kPageSize, 2 * kPageSize) == 0);
    ::close(fd);
    ::close(raw_fd);
  }
  // A held image whose descriptor is not an image at all.
  int junk = memfd_create("junk", MFD_CLOEXEC);
  REQUIRE(::write(junk, "not an image", 12) == 12);
  CHECK_THROWS_WITH(follow(dir.at("base"), {{"round 0", junk, base}}), has("(round 0) is not a valid image"));
  ::close(junk);
  ::close(base_fd);
  ::close(other_fd);
}
