// libFuzzer target: every byte string, given to `restore` as an image, must
// end in a FormatError or a RestoreError (one line, exit 1), never a crash,
// a hang, a leak or undefined behaviour.
//
// Exercised in the fuzzer's own process (no side effects):
// format::ImageReader (header, trailer, sections, every decoder and the
// limits of format/Limits.h), format::validate_image (run by the reader),
// reading and decompressing every page chunk and the page_data checksum
// (what `restore --check` and staging do), and the side-effect-free part of
// the restorer's phase 1: the XSAVE checks of check_cpu, check_task
// (stat/access of the saved cwd only), check_memory and check_files (stat
// of the paths of saved fds, no --inherit-fd).
//
// Exercised in a sandboxed child (Sandbox.h: its own user and mount
// namespaces, every mount read-only and nodev but a private /tmp, nobody on
// the machine when run as root, rlimits, a timeout), for every image that got that far: check_machine as a whole
// (it opens every file the image maps), prepare_files (creates files,
// pipes, memfds) and stage_memory (maps and fills every VMA at its staging
// address), then seal_memfds. Images that would stage more than
// kMaxSandboxPages are left out there. A child that crashes, trips a
// sanitizer or hangs makes this process abort, so libFuzzer keeps the
// input. Not exercised: launch (the point of no return and the trampoline).
//
// Each input runs twice: as it is (so the checksum checks themselves are
// fuzzed), and with every checksum and the header's file size recomputed
// (tests/tools/RepairChecksums.h), because a random mutation almost never
// keeps a checksum right and would otherwise stop at the first one, leaving
// the decoders, the semantic rules and zstd decoding unexplored.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "format/Checksum.h"
#include "tests/tools/RepairChecksums.h"
#include "format/FormatError.h"
#include "format/ImageReader.h"
#include "format/Layout.h"
#include "format/Limits.h"
#include "restorer/AddressPlan.h"
#include "restorer/Descriptors.h"
#include "restorer/MachineCheck.h"
#include "restorer/RestoreError.h"
#include "restorer/Seccomp.h"
#include "restorer/Stager.h"
#include "restorer/TaskRestore.h"
#include "tests/fuzz/Sandbox.h"
#include "x86/Cpu.h"
#include "x86/ProcMaps.h"
#include "x86/SigFrame.h"

using namespace ckpt;

// The reader works on a regular file with pread: a memfd is one, in memory.
static int image_fd() {
  static int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  return fd;
}

static void load(const uint8_t* data, size_t size) {
  int fd = image_fd();
  if (ftruncate(fd, 0) != 0) std::abort();
  for (size_t done = 0; done < size;) {
    ssize_t n = pwrite(fd, data + done, size - done, off_t(done));
    if (n <= 0) std::abort();
    done += size_t(n);
  }
}

// How often the sandboxed part ran, for run_fuzz.sh: written after every
// sandboxed input to the file $CKPT_FUZZ_STATS names (libFuzzer may end the
// process without running exit handlers), and printed at exit.
static uint64_t g_sandboxed = 0, g_staged = 0;

static std::string sandbox_line() {
  char line[160];
  std::snprintf(line, sizeof line, "fuzz_image: sandboxed file preparation and staging: %llu inputs, %llu staged completely\n",
                (unsigned long long)g_sandboxed, (unsigned long long)g_staged);
  return line;
}

static void report_sandbox() { std::fputs(sandbox_line().c_str(), stderr); }

static void record_sandbox() {
  static const char* path = std::getenv("CKPT_FUZZ_STATS");
  if (!path) return;
  std::string line = sandbox_line();
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  (void)!::write(fd, line.data(), line.size());
  ::close(fd);
}

// check_machine, prepare_files, stage_memory, seal_memfds: in a sandboxed
// child (Sandbox.h). Anything but a clean refusal or a complete staging
// aborts this process, keeping the input.
static void stage_sandboxed(const format::ImageReader& reader) {
  const format::Image& image = reader.image();
  uint64_t pages = 0;
  for (const format::PageChunk& c : image.chunks) pages += c.npages;
  if (pages > tests::kMaxSandboxPages) return;
  ++g_sandboxed;
  int r = tests::run_sandboxed(
      [&]() -> int {
        try {
          std::vector<x86::MapsEntry> self = x86::parse_maps(x86::read_proc_file("/proc/self/maps"));
          restorer::MachineFit fit = restorer::check_machine(image, self);
          restorer::check_files(image, {});
          // The launcher's home and vdso scratch sizes come from the
          // trampoline blob, which is not linked here: generous stand-ins.
          restorer::AddressPlan plan = restorer::plan_addresses(image, self, 4u << 20, 1u << 20);
          restorer::PreparedFiles files = restorer::prepare_files(image, {});
          restorer::stage_memory(reader, fit, plan, files);
          restorer::seal_memfds(files);
          return tests::kStaged;
        } catch (const std::exception& e) {
          // Refusals are expected; anything else escaping is a bug (abort).
          if (!dynamic_cast<const format::FormatError*>(&e) && !dynamic_cast<const restorer::RestoreError*>(&e) &&
              !dynamic_cast<const std::system_error*>(&e))
            throw;
          if (std::getenv("CKPT_FUZZ_VERBOSE")) std::fprintf(stderr, "fuzz_image: sandbox: refused: %s\n", e.what());
        }
        return tests::kRefused;
      });
  if (r == tests::kStaged) ++g_staged;
  record_sandbox();
  if (r == tests::kNoSandbox) {
    std::fprintf(stderr, "fuzz_image: the sandbox cannot be set up here; file preparation and staging are not fuzzed\n");
    std::abort();
  }
  if (r != tests::kRefused && r != tests::kStaged) {
    std::fprintf(stderr, "fuzz_image: the sandboxed child failed (%s %d)\n", r < 0 ? "signal" : "exit status", r < 0 ? -r : r);
    std::abort();
  }
}

static void run_one(const uint8_t* data, size_t size) {
  load(data, size);
  try {
    format::ImageReader reader(image_fd());
    const format::Image& image = reader.image();
    for (const format::ThreadState& t : image.threads) {
      (void)x86::xsave_incompatibility(t.xfeatures, uint32_t(t.xsave.size()), x86::xcr0(), x86::xsave_size());
      (void)x86::xsave_area_problem(t.xsave.data(), t.xsave.size(), t.xfeatures);
    }
    try {
      restorer::check_task(image);
    } catch (const restorer::RestoreError&) {
    }
    try {
      restorer::check_memory(image);
    } catch (const restorer::RestoreError&) {
    }
    try {
      restorer::check_files(image, {});
    } catch (const restorer::RestoreError&) {
    }
    try {  // a carried seccomp chain run over the trampoline's last calls: computation only
      restorer::SeccompFinish finish;
      finish.tsync = image.threads.size() > 1;
      finish.unmap_home = true;
      finish.home_start = 0x7ffff0000000;
      finish.home_length = 0x20000;
      finish.first_done_fd = 1000;
      finish.done_fds = int32_t(std::min<size_t>(image.threads.size(), 64));
      restorer::check_seccomp_finish(image, finish);
    } catch (const restorer::RestoreError&) {
    }
    reader.verify_page_data();
    // What staging does with each chunk, into a buffer of exactly its size.
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::vector<uint8_t> pages, scratch;
    for (const format::PageChunk& c : image.chunks) {
      if (c.inherited()) continue;  // no bytes of its own
      pages.resize(c.size());
      reader.read_chunk(c, pages.data(), dctx.get(), scratch);
    }
    stage_sandboxed(reader);
  } catch (const format::FormatError&) {
  } catch (const std::system_error&) {  // I/O errors: none on a memfd, but the reader may say so
  }
  // Anything else escaping (std::out_of_range, std::bad_alloc, ...) is a bug:
  // libFuzzer reports the uncaught exception as a crash.
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::atexit(report_sandbox);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run_one(data, size);
  std::vector<uint8_t> repaired(data, data + size);
  tests::repair_checksums(repaired);
  run_one(repaired.data(), repaired.size());
  return 0;
}
