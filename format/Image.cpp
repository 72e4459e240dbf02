// Lookups over the image model (see Image.h).
#include "format/Image.h"

namespace ckpt::format {

std::vector<size_t> chunk_vmas(const Image& image) {
  std::vector<size_t> of(image.chunks.size());
  for (size_t ci = 0, vi = 0; ci < image.chunks.size(); ++ci) {
    while (image.vmas[vi].end <= image.chunks[ci].vaddr) ++vi;  // both sorted; validated: it is inside one
    of[ci] = vi;
  }
  return of;
}

std::vector<bool> vmas_with_pages(const Image& image) {
  std::vector<bool> has(image.vmas.size(), false);
  for (size_t vi : chunk_vmas(image)) has[vi] = true;
  return has;
}

}  // namespace ckpt::format
