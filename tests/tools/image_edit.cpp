// image_edit IN OUT FIELD=VALUE...: rewrites a valid image with some fields
// changed and every checksum recomputed, so that tests can feed `restore`
// images that are well-formed but say something this machine must refuse
// (another kernel's vdso, CPU features it lacks, another owner...).
// Fields: vdso_hash, uid, gid, xfeatures, xsave_size, cwd, syscall_gadget.
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "format/ImageReader.h"
#include "format/ImageWriter.h"

using namespace ckpt::format;

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
    for (int i = 3; i < argc; ++i) {
      std::string arg = argv[i];
      size_t eq = arg.find('=');
      if (eq == std::string::npos) throw std::runtime_error("expected FIELD=VALUE, got " + arg);
      std::string field = arg.substr(0, eq), value = arg.substr(eq + 1);
      uint64_t n = field == "cwd" ? 0 : std::stoull(value, nullptr, 0);
      if (field == "vdso_hash") img.mm.vdso_hash = n;
      else if (field == "uid") img.process.uid = img.process.euid = uint32_t(n);
      else if (field == "gid") img.process.gid = img.process.egid = uint32_t(n);
      else if (field == "xfeatures") img.threads.at(0).xfeatures = n;
      else if (field == "xsave_size") img.threads.at(0).xsave.resize(n);
      else if (field == "cwd") img.task.cwd = value;
      else if (field == "syscall_gadget") img.mm.syscall_gadget = n;
      else throw std::runtime_error("unknown field " + field);
    }
    int out = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) throw std::runtime_error(std::string("cannot create ") + argv[2]);
    ImageWriter writer(out, Compression{ChunkEncoding::Raw, 0});
    writer.write_metadata(img);
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::vector<uint8_t> pages, scratch;
    for (const PageChunk& c : img.chunks) {
      pages.resize(c.size());
      reader.read_chunk(c, pages.data(), dctx.get(), scratch);
      writer.add_pages(c.vaddr, pages.data(), c.npages);
    }
    writer.finish();
    ::close(out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "image_edit: %s\n", e.what());
    return 1;
  }
  return 0;
}
