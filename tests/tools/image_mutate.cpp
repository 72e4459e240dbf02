// image_mutate IN OUTDIR COUNT SEED: writes COUNT mutants of the valid image
// IN as OUTDIR/0.ckpt, 1.ckpt, ... and prints one line per mutant:
// "N<TAB>what was changed". Unlike a blind byte flip, which nearly always
// stops at the first checksum, every mutant has all its checksums right
// again (RepairChecksums.h), so each one reaches the decoders, the semantic
// rules of format/Validate.cpp and the restorer's machine checks. Mutants
// cycle through four kinds:
//   field    a decoded field of the image (a VMA's bounds, protection,
//            kind or file; a register; the mm fields; a signal action; a
//            resource limit; an added fd, thread or LDT entry...) set to a
//            boundary value, and the image encoded again by ImageWriter;
//   section  a value of width 1, 2, 4 or 8 written at a random place of a
//            metadata section's payload (lengths, counts, enums, strings);
//   index    a field of a page index record (address, page count,
//            encoding, offset, stored size);
//   chunk    a byte of a chunk's stored bytes (compressed or raw).
// Deterministic for a given IN, COUNT and SEED. Paths it puts in the image
// (fd files) are under OUTDIR, so a mutant restored for real touches
// nothing else. Used by tests/e2e/check_corruption_sweep.sh.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "format/ImageReader.h"
#include "format/ImageWriter.h"
#include "format/Limits.h"
#include "tests/tools/RepairChecksums.h"

using namespace ckpt;
using namespace ckpt::format;

namespace {

using Rng = std::mt19937_64;

std::vector<uint8_t> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> b;
  uint8_t buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) b.insert(b.end(), buf, buf + n);
  ::close(fd);
  return b;
}

void write_file(const std::string& path, const std::vector<uint8_t>& b) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, b.data(), b.size()) != ssize_t(b.size())) throw std::runtime_error("cannot write " + path);
  ::close(fd);
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#llx", (unsigned long long)v);
  return b;
}

// A boundary value near `was`, or one of the values validation must think about.
uint64_t interesting(Rng& rng, uint64_t was) {
  const uint64_t page = kPageSize;
  const uint64_t pick[] = {0,
                           1,
                           page - 1,
                           page,
                           was + page,
                           was - page,
                           was + 1,
                           was * 2,
                           was / 2,
                           kUserSpaceEnd - page,
                           kUserSpaceEnd,
                           kUserSpaceEnd + page,
                           uint64_t(1) << 47,
                           0x7fffffff,
                           0x80000000,
                           0xffffffff,
                           ~uint64_t(0),
                           ~uint64_t(0) - page + 1,
                           rng()};
  return pick[rng() % (sizeof pick / sizeof pick[0])];
}

template <class T>
T& any_of(std::vector<T>& v, Rng& rng) {
  return v.at(rng() % v.size());
}

// One decoded field changed; returns what.
std::string mutate_field(Image& img, Rng& rng, const std::string& outdir) {
  auto set = [&](auto& field, const std::string& name) {
    using T = std::remove_reference_t<decltype(field)>;
    const T before = field;
    uint64_t was = uint64_t(field);
    for (int tries = 0; tries < 16 && field == before; ++tries) field = static_cast<T>(interesting(rng, was));
    return name + " " + hex(was) + " -> " + hex(uint64_t(field));
  };
  for (;;) {
    switch (rng() % 24) {
      case 0: {
        size_t k = rng() % img.vmas.size();
        return set(img.vmas[k].start, "vma " + std::to_string(k) + " start");
      }
      case 1: {
        size_t k = rng() % img.vmas.size();
        return set(img.vmas[k].end, "vma " + std::to_string(k) + " end");
      }
      case 2: {
        size_t k = rng() % img.vmas.size();
        Vma& v = img.vmas[k];
        v.prot = uint32_t(rng() % 16);
        return "vma " + std::to_string(k) + " prot " + std::to_string(v.prot);
      }
      case 3: {
        size_t k = rng() % img.vmas.size();
        Vma& v = img.vmas[k];
        v.kind = VmaKind(rng() % 16);
        return "vma " + std::to_string(k) + " kind " + std::to_string(uint32_t(v.kind));
      }
      case 4: {
        size_t k = rng() % img.vmas.size();
        Vma& v = img.vmas[k];
        v.flags ^= uint32_t(1) << (rng() % 32);
        return "vma " + std::to_string(k) + " flags " + hex(v.flags);
      }
      case 5: {
        size_t k = rng() % img.vmas.size();
        return set(img.vmas[k].pgoff, "vma " + std::to_string(k) + " pgoff");
      }
      case 6: {
        size_t k = rng() % img.vmas.size();
        Vma& v = img.vmas[k];
        const char* paths[] = {"", "relative/path", "/dev/zero", "/proc/self/mem", "/nonexistent", "/etc/passwd", "/"};
        v.file.path = paths[rng() % 7];
        return "vma " + std::to_string(k) + " file path '" + v.file.path + "'";
      }
      case 7: {
        size_t k = rng() % img.vmas.size();
        return set(img.vmas[k].file.size, "vma " + std::to_string(k) + " file size");
      }
      case 8: {
        ThreadState& t = img.threads.at(0);
        size_t r = rng() % t.gpr.size();
        return set(t.gpr[r], "thread 0 register " + std::to_string(r));
      }
      case 9: {
        uint64_t* f[] = {&img.mm.start_code, &img.mm.end_code, &img.mm.start_data, &img.mm.end_data,
                         &img.mm.start_brk,  &img.mm.brk,      &img.mm.start_stack, &img.mm.arg_start,
                         &img.mm.arg_end,    &img.mm.env_start, &img.mm.env_end,   &img.mm.vdso_size,
                         &img.mm.syscall_gadget, &img.mm.sigreturn_gadget};
        size_t k = rng() % (sizeof f / sizeof f[0]);
        return set(*f[k], "mm field " + std::to_string(k));
      }
      case 10: {
        if (img.mm.auxv.empty()) continue;
        size_t at = rng() % img.mm.auxv.size();
        img.mm.auxv[at] ^= uint8_t(1 + rng() % 255);
        return "auxv byte " + std::to_string(at);
      }
      case 11: {
        ThreadState& t = img.threads.at(0);
        switch (rng() % 4) {
          case 0: return set(t.rseq.address, "thread 0 rseq address");
          case 1: return set(t.rseq.length, "thread 0 rseq length");
          case 2: return set(t.cached_tid_address, "thread 0 cached tid address");
          default: return set(t.robust_list, "thread 0 robust list");
        }
      }
      case 12: {
        ThreadState& t = img.threads.at(0);
        if (rng() % 2) return set(t.xfeatures, "thread 0 xfeatures");
        if (t.xsave.empty()) continue;
        size_t at = rng() % t.xsave.size();
        t.xsave[at] ^= uint8_t(1 + rng() % 255);
        return "thread 0 xsave byte " + std::to_string(at);
      }
      case 13: {
        ThreadState& t = img.threads.at(0);
        switch (rng() % 3) {
          case 0: return set(t.altstack_sp, "thread 0 altstack sp");
          case 1: return set(t.altstack_size, "thread 0 altstack size");
          default: return set(t.tid, "thread 0 tid");
        }
      }
      case 14: {
        ThreadState copy = img.threads.at(0);
        copy.tid = int32_t(rng() % 2 ? copy.tid : copy.tid + 1);
        img.threads.push_back(copy);
        return "thread added with tid " + std::to_string(copy.tid);
      }
      case 15: {
        ThreadState& t = img.threads.at(0);
        SigInfo s{};
        std::memset(&s, 0, sizeof s);
        reinterpret_cast<int32_t*>(&s)[0] = int32_t(interesting(rng, 9));  // si_signo first
        t.pending.push_back(s);
        return "thread 0 pending signal " + std::to_string(reinterpret_cast<int32_t*>(&s)[0]);
      }
      case 16: {
        size_t k = rng() % img.task.sigactions.size();
        SigAction& a = img.task.sigactions[k];
        switch (rng() % 3) {
          case 0: return set(a.handler, "sigaction " + std::to_string(k + 1) + " handler");
          case 1: return set(a.flags, "sigaction " + std::to_string(k + 1) + " flags");
          default: return set(a.mask, "sigaction " + std::to_string(k + 1) + " mask");
        }
      }
      case 17: {
        size_t k = rng() % img.task.rlimits.size();
        return rng() % 2 ? set(img.task.rlimits[k].cur, "rlimit " + std::to_string(k) + " cur")
                         : set(img.task.rlimits[k].max, "rlimit " + std::to_string(k) + " max");
      }
      case 18: {
        switch (rng() % 5) {
          case 0: return set(img.task.personality, "personality");
          case 1: return set(img.task.umask, "umask");
          case 2: return set(img.task.pdeath_signal, "pdeath signal");
          case 3: return set(img.task.dumpable, "dumpable");
          default: {
            img.task.cwd = rng() % 2 ? "relative" : outdir + "/missing";
            return "cwd '" + img.task.cwd + "'";
          }
        }
      }
      case 19: {
        img.task.ldt.push_back(rng());
        return "LDT entry added";
      }
      case 20: {
        size_t k = rng() % img.task.itimers.size();
        return set(img.task.itimers[k].value_sec, "itimer " + std::to_string(k) + " value");
      }
      case 21: {
        FdEntry f;
        f.fd = int32_t(interesting(rng, 3) % 4096);
        f.kind = FdKind(rng() % 16);
        f.flags = uint32_t(rng() % 4);
        f.file.path = outdir + "/fd-file";
        f.object = rng() % 4;
        f.pipe_size = uint32_t(interesting(rng, 65536));
        if (rng() % 2) f.contents.assign(rng() % 5000, 0x61);
        img.files.fds.push_back(f);
        return "fd " + std::to_string(f.fd) + " added, kind " + std::to_string(uint32_t(f.kind));
      }
      case 22: {
        switch (rng() % 3) {
          case 0: return set(img.process.pid, "pid");
          case 1: return set(img.process.uid, "uid");
          default: {
            img.process.comm.assign(rng() % 40, char(1 + rng() % 126));
            return "comm of " + std::to_string(img.process.comm.size()) + " bytes";
          }
        }
      }
      default: {
        if (img.vmas.size() < 2) continue;
        size_t k = rng() % img.vmas.size();
        img.vmas.insert(img.vmas.begin() + long(k), img.vmas[k]);
        return "vma " + std::to_string(k) + " duplicated";
      }
    }
  }
}

// The image again with the decoded fields of `img`, the same page contents.
std::vector<uint8_t> encode(const ImageReader& reader, const Image& img, const std::string& tmp) {
  int out = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) throw std::runtime_error("cannot create " + tmp);
  {
    bool zstd = !img.chunks.empty() && img.chunks[0].encoding == ChunkEncoding::Zstd;
    ImageWriter writer(out, zstd ? Compression{ChunkEncoding::Zstd, 1} : Compression{ChunkEncoding::Raw, 0});
    writer.write_metadata(img);
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::vector<uint8_t> pages, scratch;
    for (const PageChunk& c : reader.image().chunks) {
      pages.resize(c.size());
      reader.read_chunk(c, pages.data(), dctx.get(), scratch);
      writer.add_pages(c.vaddr, pages.data(), c.npages);
    }
    writer.finish();
  }
  ::close(out);
  std::vector<uint8_t> b = read_file(tmp);
  unlink(tmp.c_str());
  return b;
}

struct Section {
  uint32_t type;
  uint64_t payload, length;
};

std::vector<Section> sections_of(const std::vector<uint8_t>& b) {
  FileHeader h;
  std::memcpy(&h, b.data(), sizeof h);
  TrailerHeader th;
  std::memcpy(&th, b.data() + h.trailer_offset, sizeof th);
  std::vector<Section> out;
  for (uint32_t i = 0; i < th.count; ++i) {
    TrailerEntry e;
    std::memcpy(&e, b.data() + h.trailer_offset + sizeof th + i * sizeof e, sizeof e);
    out.push_back({e.type, e.offset + sizeof(SectionHeader), e.length});
  }
  return out;
}

void put(std::vector<uint8_t>& b, uint64_t at, uint64_t value, unsigned width) {
  for (unsigned i = 0; i < width && at + i < b.size(); ++i) b[at + i] = uint8_t(value >> (8 * i));
}

uint64_t get(const std::vector<uint8_t>& b, uint64_t at, unsigned width) {
  uint64_t v = 0;
  for (unsigned i = 0; i < width && at + i < b.size(); ++i) v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: image_mutate IN OUTDIR COUNT SEED\n");
    return 2;
  }
  try {
    const std::string in = argv[1], outdir = argv[2];
    const unsigned count = unsigned(std::stoul(argv[3]));
    const uint64_t seed = std::stoull(argv[4]);
    int fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + in);
    ImageReader reader(fd);
    const std::vector<uint8_t> original = read_file(in);
    const std::vector<Section> sections = sections_of(original);
    std::vector<Section> metadata;
    const Section* index = nullptr;
    for (const Section& s : sections) {
      if (s.type == uint32_t(SectionType::PageIndex)) index = &s;
      else if (s.type != uint32_t(SectionType::PageData) && s.length) metadata.push_back(s);
    }
    const std::vector<PageChunk>& chunks = reader.image().chunks;
    for (unsigned n = 0; n < count; ++n) {
      Rng rng(seed * 1000003 + n);
      std::vector<uint8_t> b;
      std::string what;
      switch (n % 4) {
        case 0: {
          Image img = reader.image();
          what = "field: " + mutate_field(img, rng, outdir);
          try {
            b = encode(reader, img, outdir + "/encoding.tmp");
          } catch (const std::exception& e) {
            what += " (not encodable: " + std::string(e.what()) + "; section mutant instead)";
            b.clear();
          }
          if (!b.empty()) break;
          [[fallthrough]];
        }
        case 1: {
          b = original;
          const Section& s = metadata.at(rng() % metadata.size());
          const unsigned widths[] = {1, 2, 4, 8};
          unsigned w = widths[rng() % 4];
          uint64_t at = s.payload + rng() % s.length;
          uint64_t was = get(b, at, w);
          for (int tries = 0; tries < 16 && get(b, at, w) == was; ++tries) put(b, at, interesting(rng, was), w);
          what += "section " + std::to_string(s.type) + ": " + std::to_string(w) + " bytes at payload offset " +
                  std::to_string(at - s.payload) + " " + hex(was) + " -> " + hex(get(b, at, w));
          break;
        }
        case 2: {
          b = original;
          if (!index || chunks.empty()) throw std::runtime_error("the image has no chunks");
          size_t k = rng() % chunks.size();
          uint64_t rec = index->payload + 4 + 40 * k;
          const struct {
            unsigned off, width;
            const char* name;
          } fields[] = {{0, 8, "vaddr"}, {8, 4, "npages"}, {12, 4, "encoding"}, {16, 8, "offset"}, {24, 8, "stored size"}};
          const auto& f = fields[rng() % 5];
          uint64_t was = get(b, rec + f.off, f.width);
          for (int tries = 0; tries < 16 && get(b, rec + f.off, f.width) == was; ++tries)
            put(b, rec + f.off, interesting(rng, was), f.width);
          what = "index: chunk " + std::to_string(k) + " " + f.name + " " + hex(was) + " -> " +
                 hex(get(b, rec + f.off, f.width));
          break;
        }
        default: {
          b = original;
          if (chunks.empty()) throw std::runtime_error("the image has no chunks");
          const PageChunk& c = chunks[rng() % chunks.size()];
          uint64_t at = c.offset + rng() % c.stored_size;
          b[at] ^= uint8_t(1 + rng() % 255);
          what = "chunk: byte " + std::to_string(at - c.offset) + " of the chunk at " + hex(c.vaddr) +
                 (c.encoding == ChunkEncoding::Zstd ? " (zstd)" : " (raw)");
          break;
        }
      }
      tests::repair_checksums(b);
      write_file(outdir + "/" + std::to_string(n) + ".ckpt", b);
      std::printf("%u\t%s\n", n, what.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "image_mutate: %s\n", e.what());
    return 1;
  }
  return 0;
}
