// Post-copy migration, the receiving side (`restore --listen` when `ckpt
// migrate --lazy` connects; the bytes: format/LazyWire.h): the page
// contents come over the migration's connection instead of from an image
// file.
//
// The launcher receives the skeleton (the image without its page data
// payload) into a memfd and reads and checks it as any image; before
// staging it asks for the chunks of every area it stages itself (all but
// the lazy areas), and the restore goes on as a `restore --lazy` whose page
// server (PageServer.h) holds the connection: on a fault it asks for the
// chunk it needs, ahead of the sender's background pushing, and waits for
// it. Every chunk that arrives is written into the memfd at the offset the
// image's own page index gives it (and nowhere else), and used only after
// the usual check of that chunk against its checksum in the index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::restorer {

// --- The launcher ---

// Receives the skeleton from `connection` into a memfd and returns a
// read-only descriptor of it (ImageReader checks it). `fetch_all` (restore
// --check): every chunk is asked for and received first, so the image is
// whole. `tag`: the 8 bytes of kLazyMagic, when the caller has read them
// already (a frame tag among others, format/Handshake.h). Throws std::runtime_error in one line.
int receive_skeleton(int connection, const std::string& what, bool fetch_all, const uint8_t* tag = nullptr);

// The connection of a post-copy migration, or -1 (no such migration).
int network_pages_connection();

// Before staging: asks for and receives every chunk of the image that lies
// outside the lazy areas (`lazy`, per VMA; all chunks when it is empty).
// Nothing without a post-copy migration. Throws std::runtime_error.
void fetch_staged_pages(const format::Image& image, const std::vector<bool>& lazy);

// --- The page server ---

// The page server's end (fd `connection`; the image memfd at `image_fd`,
// reopened here for writing).
class NetworkPages {
 public:
  NetworkPages(int connection, int image_fd, const format::Image& image, bool verbose);
  // Returns once chunk `c`'s stored bytes are in the image (asked for, with
  // priority, unless they are already there). Throws format::FormatError:
  // the connection broke, or the sender sent something the image does not
  // name (the server then kills the restored process, as for a bad chunk).
  void ensure(const format::PageChunk& c);
  // The server ends: says "DONE" (ok: every page is in, or the process
  // ended) or "FAIL" (it killed the restored process), then reads the
  // connection to its end.
  void finish(bool ok);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace ckpt::restorer
