// image_edit IN OUT FIELD=VALUE...: rewrites a valid image with some fields
// changed and every checksum recomputed, so that tests can feed `restore`
// images that are well-formed but say something this machine must refuse
// (another kernel's vdso, CPU features it lacks, another owner...).
// Fields: vdso_hash, uid, gid, xfeatures, xsave_size, cwd, syscall_gadget;
// file_path=PATH (the first file VMA maps PATH instead, with PATH's size and
// mtime, so only the file itself differs); add_anon=START:SIZE (a PROT_NONE
// reservation, no pages); add_saved=START:SIZE (read-write anonymous memory,
// every page saved, as zeros); compress=zstd (write zstd chunks, not raw);
// epoll_file=FD (every epoll entry watches the open file of fd FD instead);
// epoll_twice=1 (the first epoll entry appears twice); dup_fd=N (the first
// open file also has fd N); lock=write|read (the first regular file gets
// a POSIX lock of that type on bytes 0-9).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "format/ImageReader.h"
#include "format/ImageWriter.h"
#include "format/Limits.h"

using namespace ckpt::format;

// START:SIZE, both in any base stoull accepts.
static Vma parse_area(const std::string& value, uint32_t prot) {
  size_t colon = value.find(':');
  if (colon == std::string::npos) throw std::runtime_error("expected START:SIZE, got " + value);
  Vma v;
  v.start = std::stoull(value.substr(0, colon), nullptr, 0);
  v.end = v.start + std::stoull(value.substr(colon + 1), nullptr, 0);
  v.prot = prot;
  return v;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: image_edit IN OUT FIELD=VALUE...\n");
    return 2;
  }
  try {
    int in = ::open(argv[1], O_RDONLY);
    if (in < 0) throw std::runtime_error(std::string("cannot open ") + argv[1]);
    ImageReader reader(in);
    Image img = reader.image();
    Compression out_compression{ChunkEncoding::Raw, 0};
    std::vector<Vma> saved_areas;  // add_saved: pages written as zeros
    for (int i = 3; i < argc; ++i) {
      std::string arg = argv[i];
      size_t eq = arg.find('=');
      if (eq == std::string::npos) throw std::runtime_error("expected FIELD=VALUE, got " + arg);
      std::string field = arg.substr(0, eq), value = arg.substr(eq + 1);
      bool text = field == "cwd" || field == "file_path" || field == "compress" || field == "lock" ||
                  field.rfind("add_", 0) == 0;
      auto first_epoll = [&]() -> FdEntry& {
        for (FdEntry& f : img.files.fds)
          if (f.kind == FdKind::Epoll && !f.targets.empty()) return f;
        throw std::runtime_error("the image has no epoll entry");
      };
      uint64_t n = text ? 0 : std::stoull(value, nullptr, 0);
      if (field == "vdso_hash") img.mm.vdso_hash = n;
      else if (field == "uid") img.process.uid = img.process.euid = uint32_t(n);
      else if (field == "gid") img.process.gid = img.process.egid = uint32_t(n);
      else if (field == "xfeatures") img.threads.at(0).xfeatures = n;
      else if (field == "xsave_size") img.threads.at(0).xsave.resize(n);
      else if (field == "cwd") img.task.cwd = value;
      else if (field == "syscall_gadget") img.mm.syscall_gadget = n;
      else if (field == "compress") out_compression = Compression{ChunkEncoding::Zstd, 1};
      else if (field == "file_path") {
        auto v = std::find_if(img.vmas.begin(), img.vmas.end(), [](const Vma& v) { return vma_kind_has_file(v.kind); });
        if (v == img.vmas.end()) throw std::runtime_error("the image maps no file");
        struct stat st;
        if (stat(value.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + value);
        v->file.path = value;
        v->file.size = uint64_t(st.st_size);
        v->file.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      } else if (field == "add_anon" || field == "add_saved") {
        Vma v = parse_area(value, field == "add_anon" ? 0 : PROT_READ | PROT_WRITE);
        if (field == "add_saved") saved_areas.push_back(v);
        img.vmas.insert(std::upper_bound(img.vmas.begin(), img.vmas.end(), v,
                                         [](const Vma& a, const Vma& b) { return a.start < b.start; }),
                        v);
      }
      else if (field == "epoll_file") {
        for (FdEntry& f : img.files.fds)
          for (EpollTarget& t : f.targets) t.file = int32_t(n);
      } else if (field == "epoll_twice") {
        FdEntry& ep = first_epoll();
        ep.targets.push_back(ep.targets.front());
      } else if (field == "dup_fd") {
        img.files.fds.at(0).dups.push_back({int32_t(n), 0});
      } else if (field == "lock") {
        auto f = std::find_if(img.files.fds.begin(), img.files.fds.end(),
                              [](const FdEntry& e) { return e.kind == FdKind::RegularFile; });
        if (f == img.files.fds.end()) throw std::runtime_error("the image has no regular file open");
        f->locks.push_back({LockKind::Posix, value == "write" ? 1u : 0u, 0, 10});
      }
      else throw std::runtime_error("unknown field " + field);
    }
    int out = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) throw std::runtime_error(std::string("cannot create ") + argv[2]);
    ImageWriter writer(out, out_compression);
    writer.write_metadata(img);
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::vector<uint8_t> pages, scratch;
    // Chunks go out in address order, the added areas' pages among them.
    const std::vector<uint8_t> zeros(kMaxChunkPages * kPageSize, 0);
    std::sort(saved_areas.begin(), saved_areas.end(), [](const Vma& a, const Vma& b) { return a.start < b.start; });
    size_t next_area = 0;
    auto add_areas_before = [&](uint64_t limit) {
      for (; next_area < saved_areas.size() && saved_areas[next_area].start < limit; ++next_area)
        for (uint64_t a = saved_areas[next_area].start; a < saved_areas[next_area].end; a += zeros.size())
          writer.add_pages(a, zeros.data(), std::min<uint64_t>(zeros.size(), saved_areas[next_area].end - a) / kPageSize);
    };
    for (const PageChunk& c : img.chunks) {
      add_areas_before(c.vaddr);
      pages.resize(c.size());
      reader.read_chunk(c, pages.data(), dctx.get(), scratch);
      writer.add_pages(c.vaddr, pages.data(), c.npages);
    }
    add_areas_before(UINT64_MAX);
    writer.finish();
    ::close(out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "image_edit: %s\n", e.what());
    return 1;
  }
  return 0;
}
