// Chains of incremental images (see ImageChain.h).
#include "format/ImageChain.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "format/FormatError.h"
#include "format/Hex.h"
#include "format/Limits.h"
#include "format/ParentLink.h"

namespace ckpt::format {

namespace {

std::string hex16(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash + 1);
}

std::string base_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

struct Opened {
  std::vector<std::shared_ptr<const ImageReader>> readers;  // parent first
  std::vector<ChainLink> links;                             // top first
};

// Opens and checks every parent below `top`; reads no page data.
// A held image's own reader, on a description of its own (the reader may
// depend on the file offset; the holder's descriptor is left as it is).
std::shared_ptr<const ImageReader> open_held(const HeldImage& h, const std::string& who) {
  int fd = ::open(("/proc/self/fd/" + std::to_string(h.fd)).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(who + ": cannot reopen " + h.name + ": " + std::strerror(errno));
  try {
    auto* reader = new ImageReader(fd);
    if (h.page_data_checked) reader->trust_page_data();
    return std::shared_ptr<const ImageReader>(reader, [fd](const ImageReader* r) {
      delete r;
      ::close(fd);
    });
  } catch (const std::exception& e) {
    ::close(fd);
    throw std::runtime_error(who + " (" + h.name + ") is not a valid image: " + e.what());
  }
}

Opened open_parents(const ImageReader& top, const std::string& top_path, const HeldImages* held) {
  Opened o;
  o.links.push_back({top_path, image_checksum(top), 0, 0});
  const ImageReader* cur = &top;
  std::string cur_path = top_path;
  while (cur->image().parent) {
    const ParentLink& link = *cur->image().parent;
    const std::string who = cur_path + " is an incremental image, and its parent " + link.path;
    if (o.readers.size() + 1 >= kMaxChainDepth)
      throw std::runtime_error(who + " makes the chain longer than " + std::to_string(kMaxChainDepth) + " images");
    // Beside the child under the same name (a chain copied to another
    // folder or machine together), else at the path recorded at dump:
    // the first of them that is the very image the child names.
    std::vector<std::string> candidates = {dir_of(cur_path) + base_of(link.path)};
    if (candidates[0] != link.path) candidates.push_back(link.path);
    if (held) candidates.clear();
    std::shared_ptr<const ImageReader> reader;
    std::string found, mismatch;
    if (held) {
      for (const HeldImage& h : *held)
        if (h.checksum == link.checksum) {
          reader = open_held(h, who);
          found = h.name;
          break;
        }
      if (!reader) throw std::runtime_error(who + " is not among the images received before it");
    }
    for (const std::string& path : candidates) {
      if (access(path.c_str(), F_OK) != 0) continue;
      int fd = open_image(path);
      try {
        reader = std::shared_ptr<const ImageReader>(new ImageReader(fd), [fd](const ImageReader* r) {
          delete r;
          ::close(fd);
        });
      } catch (const std::exception& e) {
        ::close(fd);
        throw std::runtime_error(who + (path == link.path ? "" : " (found at " + path + ")") +
                                 " is not a valid image: " + e.what());
      }
      const uint64_t sum = image_checksum(*reader);
      if (sum == link.checksum) {
        found = path;
        break;
      }
      if (mismatch.empty())
        mismatch = who + (path == link.path ? "" : " (found at " + path + ")") +
                   " is not the image it was dumped against (checksum " + hex16(sum) + ", expected " +
                   hex16(link.checksum) + ")";
      reader.reset();
    }
    if (!reader) throw std::runtime_error(mismatch.empty() ? who + " is missing (nor is it beside it)" : mismatch);
    const uint64_t sum = link.checksum;
    if (reader->member_count() > 1)
      throw std::runtime_error(who + " is a process tree; incremental images are of one process");
    const uint32_t below = reader->image().parent ? reader->image().parent->depth : 0;
    if (below + 1 != link.depth)
      throw std::runtime_error(who + " has " + std::to_string(below) + " images below it, not the " +
                               std::to_string(link.depth - 1) + " its child names");
    uint64_t run_pages = 0;
    for (const ParentRun& r : link.runs) run_pages += r.npages;
    o.links.back().parent_pages = run_pages;
    o.links.push_back({found, sum, 0, 0});
    o.readers.push_back(reader);
    cur = reader.get();
    cur_path = found;
  }
  return o;
}

// The parent run `r` of an image, against `below`: the chunks that hold the
// pages of the image under it (sorted, disjoint, all resolved()); `from`
// moves forward with the runs (they are sorted too).
void resolve_run(const ParentRun& r, const std::vector<PageChunk>& below, size_t& from, std::vector<PageChunk>& out) {
  const uint64_t start = r.vaddr, end = r.vaddr + r.npages * kPageSize;
  while (from < below.size() && below[from].vaddr + below[from].size() <= start) ++from;
  for (size_t k = from; k < below.size() && below[k].vaddr < end; ++k) {
    const PageChunk& e = below[k];
    const uint64_t a = std::max(start, e.vaddr), b = std::min(end, e.vaddr + e.size());
    PageChunk piece = e;
    piece.vaddr = a;
    piece.npages = uint32_t((b - a) / kPageSize);
    piece.skip = e.skip + uint32_t((a - e.vaddr) / kPageSize);
    out.push_back(piece);
  }
}

// Every run of `image`'s parent record lies inside a trackable area of its
// parent, so that a page the parent holds no chunk for is zero there too.
void check_runs_against(const Image& image, const Image& parent, const std::string& path) {
  size_t pi = 0;
  for (const ParentRun& r : image.parent->runs) {
    const uint64_t end = r.vaddr + r.npages * kPageSize;
    while (pi < parent.vmas.size() && parent.vmas[pi].end <= r.vaddr) ++pi;
    if (pi == parent.vmas.size() || parent.vmas[pi].start > r.vaddr || parent.vmas[pi].end < end ||
        !vma_is_trackable(parent.vmas[pi]))
      throw std::runtime_error(path + ": its pages at " + hex(r.vaddr) + "-" + hex(end) +
                               " are its parent's, but the parent has no private anonymous area there");
  }
}

}  // namespace

std::vector<ChainLink> describe_chain(const ImageReader& top, const std::string& top_path) {
  return open_parents(top, top_path, nullptr).links;
}

std::vector<ChainLink> follow_chain(ImageReader& top, const std::string& top_path, const HeldImages* held) {
  if (!top.image().parent) {
    std::vector<ChainLink> one{{top_path, image_checksum(top), 0, 0}};
    for (const PageChunk& c : top.image().chunks) one[0].own_pages += c.npages;
    return one;
  }
  Opened o = open_parents(top, top_path, held);
  // From the full image up: each image's pages are its own chunks and its
  // parent runs resolved against the image below.
  std::vector<PageChunk> below;
  for (size_t i = o.readers.size(); i-- > 0;) {
    const Image& img = o.readers[i]->image();
    for (const PageChunk& c : img.chunks) o.links[i + 1].own_pages += c.npages;
    std::vector<PageChunk> own = img.chunks;
    for (PageChunk& c : own) {
      c.source = uint32_t(i + 1);
      c.skip = 0;
      c.stored_npages = c.npages;
    }
    if (img.parent) {
      check_runs_against(img, o.readers[i + 1]->image(), o.links[i + 1].path);
      std::vector<PageChunk> taken;
      size_t from = 0;
      for (const ParentRun& r : img.parent->runs) resolve_run(r, below, from, taken);
      std::vector<PageChunk> merged;
      merged.reserve(own.size() + taken.size());
      std::merge(own.begin(), own.end(), taken.begin(), taken.end(), std::back_inserter(merged),
                 [](const PageChunk& a, const PageChunk& b) { return a.vaddr < b.vaddr; });
      below = std::move(merged);
    } else {
      below = std::move(own);
    }
  }
  const Image& img = top.image();
  for (const PageChunk& c : img.chunks) o.links[0].own_pages += c.npages;
  check_runs_against(img, o.readers[0]->image(), top_path);
  std::vector<PageChunk> taken;
  size_t from = 0;
  for (const ParentRun& r : img.parent->runs) resolve_run(r, below, from, taken);
  std::vector<PageChunk> merged;
  merged.reserve(img.chunks.size() + taken.size());
  std::merge(img.chunks.begin(), img.chunks.end(), taken.begin(), taken.end(), std::back_inserter(merged),
             [](const PageChunk& a, const PageChunk& b) { return a.vaddr < b.vaddr; });
  std::vector<std::string> paths;
  for (size_t i = 1; i < o.links.size(); ++i) paths.push_back(o.links[i].path);
  top.adopt_chain(std::move(merged), std::move(o.readers), std::move(paths));
  return o.links;
}

void verify_chain_page_data(const ImageReader& top) {
  for (size_t i = 0; i < top.ancestors().size(); ++i) {
    try {
      top.ancestors()[i]->verify_page_data();
    } catch (const FormatError& e) {
      throw std::runtime_error("the image " + top.ancestor_paths().at(i) + " below it in its chain is corrupt: " +
                               e.what());
    }
  }
}

}  // namespace ckpt::format
