// libFuzzer target: every byte string, given to `restore` as an image, must
// end in a FormatError or a RestoreError (one line, exit 1), never a crash,
// a hang, a leak or undefined behaviour.
//
// Exercised: format::ImageReader (header, trailer, sections, every decoder
// and the limits of format/Limits.h), format::validate_image (run by the
// reader), reading and decompressing every page chunk and the page_data
// checksum (what `restore --check` and staging do), and the side-effect-free
// part of the restorer's phase 1: the XSAVE checks of check_cpu, check_task
// (stat/access of the saved cwd only), check_memory and check_files (stat of
// the paths of saved fds, no --inherit-fd). Not exercised:
// check_machine as a whole, because it opens every file the image names (a
// fuzzed path may be a device) and compares the restorer's own vdso;
// prepare_files, which creates files and objects; plan/stage/launch, which
// change the address space.
//
// Each input runs twice: as it is (so the checksum checks themselves are
// fuzzed), and with every checksum and the header's file size recomputed
// (repair_checksums), because a random mutation almost never keeps a
// checksum right and would otherwise stop at the first one, leaving the
// decoders, the semantic rules and zstd decoding unexplored.
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include "format/Checksum.h"
#include "tests/tools/RepairChecksums.h"
#include "format/FormatError.h"
#include "format/ImageReader.h"
#include "format/Layout.h"
#include "format/Limits.h"
#include "restorer/Descriptors.h"
#include "restorer/MachineCheck.h"
#include "restorer/RestoreError.h"
#include "restorer/TaskRestore.h"
#include "x86/Cpu.h"
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
    reader.verify_page_data();
    // What staging does with each chunk, into a buffer of exactly its size.
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::vector<uint8_t> pages, scratch;
    for (const format::PageChunk& c : image.chunks) {
      pages.resize(c.size());
      reader.read_chunk(c, pages.data(), dctx.get(), scratch);
    }
  } catch (const format::FormatError&) {
  } catch (const std::system_error&) {  // I/O errors: none on a memfd, but the reader may say so
  }
  // Anything else escaping (std::out_of_range, std::bad_alloc, ...) is a bug:
  // libFuzzer reports the uncaught exception as a crash.
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run_one(data, size);
  std::vector<uint8_t> repaired(data, data + size);
  tests::repair_checksums(repaired);
  run_one(repaired.data(), repaired.size());
  return 0;
}
