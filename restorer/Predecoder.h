// Decompression that starts before staging. Between reading the image and
// staging its memory, `restore` works alone on one core for a while (the
// machine checks, the files, the address plan: about 1 ms, most of a small
// image's restore); a Predecoder decompresses the image's compressed chunks
// on another core meanwhile, the largest first, up to kBudget, into
// buffers of its own. Staging then
// copies those pages into place (as cheap as reading a raw chunk) and
// decompresses the rest itself; a chunk it reaches first is its own (the
// thread never decompresses a chunk twice, nor one staging took). Staging
// stops the thread when it starts to fill (finish()), so it never competes
// with staging's own workers for the cores.
//
// Only for a single process restored eagerly (no --lazy, no --pid-ns: that
// forks, no chain of images): what the caller checks before making one.
// A chunk the thread could not read or check is simply not taken: staging
// reads it again and reports its error as it always does.
//
// Tests only (e2e.check_predecode): CKPT_TEST_PREDECODE=all makes staging
// wait until the thread has done its whole budget, so that the path of
// predecoded chunks is taken whatever the machine's speed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "format/ImageReader.h"

namespace ckpt::restorer {

class Predecoder {
 public:
  // At most kBudget bytes of pages are held at once (staging's peak
  // memory grows by at most that, and only for a compressed image).
  static constexpr uint64_t kBudget = 8u << 20;

  Predecoder(const format::ImageReader& reader, const format::Image& image);
  ~Predecoder();  // finish()
  Predecoder(const Predecoder&) = delete;
  Predecoder& operator=(const Predecoder&) = delete;

  // Staging begins to fill: the thread ends after the chunk it is on.
  void stop();
  // stop(), and wait for the thread (before anything that must be
  // single-threaded, such as entering a time namespace).
  void finish();
  // Whether an image has anything for a Predecoder to do.
  static bool useful(const format::Image& image);
  // `c` (one of the image's chunks): if the thread decompressed and checked
  // it, copies its pages to `dest` (c.size() bytes), frees them, and returns
  // true; waits if the thread is on it. Otherwise claims it so that the
  // thread never starts it, and returns false: the caller reads it.
  bool take(const format::PageChunk& c, uint8_t* dest);
  // How many chunks were taken (for --verbose and tests).
  size_t taken() const { return taken_; }

 private:
  enum State : int { kFree, kBusy, kReady, kGone };
  void run();

  const format::ImageReader& reader_;
  const format::Image& image_;
  std::unique_ptr<std::atomic<int>[]> state_;  // per chunk of image_
  std::vector<std::unique_ptr<uint8_t[]>> pages_;
  std::atomic<bool> stop_{false};
  bool wait_all_ = false;  // tests: stop() lets the thread finish its budget first
  std::atomic<size_t> taken_{0};
  std::thread thread_;
};

}  // namespace ckpt::restorer
