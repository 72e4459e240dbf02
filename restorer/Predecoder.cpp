// Decompression before staging (see Predecoder.h).
#include "restorer/Predecoder.h"

#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ckpt::restorer {

Predecoder::Predecoder(const format::ImageReader& reader, const format::Image& image)
    : reader_(reader), image_(image), state_(new std::atomic<int>[image.chunks.size()]), pages_(image.chunks.size()) {
  for (size_t i = 0; i < image.chunks.size(); ++i) state_[i].store(kFree, std::memory_order_relaxed);
  const char* test = std::getenv("CKPT_TEST_PREDECODE");
  wait_all_ = test && std::strcmp(test, "all") == 0;
  thread_ = std::thread([this] { run(); });
}

Predecoder::~Predecoder() { finish(); }

bool Predecoder::useful(const format::Image& image) {
  for (const format::PageChunk& c : image.chunks)
    if (c.encoding == format::ChunkEncoding::Zstd && !c.resolved()) return true;
  return false;
}

void Predecoder::stop() {
  if (wait_all_) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  stop_ = true;
}

void Predecoder::finish() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Predecoder::run() {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return;
  std::vector<uint8_t> scratch;
  // The largest chunks first: the most decompression taken off staging per
  // chunk done (a small image's few big chunks, not its many small ones).
  std::vector<size_t> order;
  for (size_t i = 0; i < image_.chunks.size(); ++i)
    if (image_.chunks[i].encoding == format::ChunkEncoding::Zstd && !image_.chunks[i].resolved()) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return image_.chunks[a].npages > image_.chunks[b].npages; });
  uint64_t held = 0;
  for (size_t i : order) {
    if (stop_) break;
    const format::PageChunk& c = image_.chunks[i];
    if (held + c.size() > kBudget) break;
    int expected = kFree;
    if (!state_[i].compare_exchange_strong(expected, kBusy)) continue;  // staging took it
    std::unique_ptr<uint8_t[]> pages = reader_.read_chunk_ahead(c, dctx.get(), scratch);
    const bool ok = pages != nullptr;  // else staging reads it again and reports the error
    if (ok) {
      pages_[i] = std::move(pages);
      held += c.size();
    }
    state_[i].store(ok ? kReady : kGone, std::memory_order_release);
    state_[i].notify_all();
  }
}

bool Predecoder::take(const format::PageChunk& c, uint8_t* dest) {
  const size_t i = size_t(&c - image_.chunks.data());
  if (i >= image_.chunks.size()) return false;  // not one of this image's chunks
  int s = kFree;
  if (state_[i].compare_exchange_strong(s, kGone)) return false;  // never started: the caller's
  while (s == kBusy) {
    state_[i].wait(kBusy, std::memory_order_acquire);
    s = state_[i].load(std::memory_order_acquire);
  }
  if (s != kReady) return false;
  std::memcpy(dest, pages_[i].get(), c.size());
  pages_[i].reset();
  state_[i].store(kGone, std::memory_order_relaxed);
  ++taken_;
  return true;
}

}  // namespace ckpt::restorer
