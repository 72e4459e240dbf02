// Post-copy migration, the receiving side (see NetworkPages.h).
#include "restorer/NetworkPages.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "format/Checksum.h"
#include "format/FormatError.h"
#include "format/ImageReader.h"
#include "format/Layout.h"
#include "format/Limits.h"
#include "format/LazyWire.h"

namespace ckpt::restorer {

namespace {

// False at EOF (errno 0) or on an error (errno says which).
bool recv_exact(int fd, void* p, size_t n) {
  size_t done = 0;
  errno = 0;
  while (done < n) {
    ssize_t r = ::recv(fd, static_cast<uint8_t*>(p) + done, n - done, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += size_t(r);
  }
  return true;
}

bool send_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t w = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += size_t(w);
  }
  return true;
}

void pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, off_t(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw format::FormatError(at, std::string("cannot keep a chunk from the source: ") + std::strerror(errno));
    p += w, n -= size_t(w), at += uint64_t(w);
  }
}

// The chunks of an image, by offset, and which have arrived: shared by the
// launcher (chunks it stages) and the page server (the rest).
class ChunkReceiver {
 public:
  ChunkReceiver(int connection, int image_rw) : conn_(connection), image_(image_rw) {}
  void expect(const format::Image& image) {
    expected_.clear();
    for (const format::PageChunk& c : image.chunks)
      if (!c.inherited()) expected_[c.offset] = c.stored_size;
  }
  bool arrived(uint64_t offset) const { return arrived_.count(offset) != 0; }
  // Asks for a chunk (once).
  void ask(uint64_t offset) {
    if (arrived(offset) || !asked_.insert(offset).second) return;
    if (!send_all(conn_, "R " + std::to_string(offset) + "\n"))
      throw format::FormatError(offset, std::string("pages from the migration's source: cannot ask for a chunk (") +
                                            std::strerror(errno) + ")");
    ++requests_;
  }
  // Receives one chunk message and keeps its bytes where the image says.
  void receive_one() {
    format::ChunkHead head;
    if (!recv_exact(conn_, &head, sizeof head))
      throw format::FormatError(0, std::string("pages from the migration's source: the connection ended (") +
                                       (errno ? std::strerror(errno) : "EOF") + ") before every page had arrived");
    // (offset 0: the message names no chunk; the image itself is not at fault)
    if (std::memcmp(head.magic, format::kChunkMagic.data(), 8) != 0 || head.reserved != 0)
      throw format::FormatError(0, "pages from the migration's source: not a chunk message");
    auto it = expected_.find(head.offset);
    if (it == expected_.end() || it->second != head.size)
      throw format::FormatError(head.offset, "pages from the migration's source: a chunk of " + std::to_string(head.size) +
                                                 " bytes that the image's page index does not name");
    if (arrived(head.offset))
      throw format::FormatError(head.offset, "pages from the migration's source: the same chunk twice");
    buf_.resize(head.size);
    if (!recv_exact(conn_, buf_.data(), head.size))
      throw format::FormatError(head.offset, "pages from the migration's source: the connection ended in the middle of a chunk");
    pwrite_all(image_, buf_.data(), buf_.size(), head.offset);
    arrived_.insert(head.offset);
  }
  void wait_for(uint64_t offset) {
    while (!arrived(offset)) receive_one();
  }
  uint64_t requests() const { return requests_; }
  size_t count() const { return arrived_.size(); }
  int connection() const { return conn_; }

 private:
  int conn_, image_;
  std::map<uint64_t, uint64_t> expected_;  // offset -> stored size
  std::set<uint64_t> arrived_, asked_;
  std::vector<uint8_t> buf_;
  uint64_t requests_ = 0;
};

// The launcher's: the connection and the writable memfd, once the skeleton is in.
int g_connection = -1;
int g_image_rw = -1;

[[noreturn]] void fail(const std::string& what, const std::string& why) { throw std::runtime_error(what + ": " + why); }

}  // namespace

int receive_skeleton(int connection, const std::string& what, bool fetch_all, const uint8_t* tag) {
  int on = 1;  // a source gone without a word is noticed (the page server blocks in recv)
  setsockopt(connection, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(connection, IPPROTO_TCP, TCP_KEEPIDLE, &format::kLazyKeepIdle, sizeof(int));
  setsockopt(connection, IPPROTO_TCP, TCP_KEEPINTVL, &format::kLazyKeepInterval, sizeof(int));
  setsockopt(connection, IPPROTO_TCP, TCP_KEEPCNT, &format::kLazyKeepCount, sizeof(int));
  format::LazyHead head;
  const size_t skip = tag ? 8 : 0;
  if (tag) std::memcpy(head.magic, tag, 8);
  if (!recv_exact(connection, reinterpret_cast<uint8_t*>(&head) + skip, sizeof head - skip))
    fail(what, "the post-copy stream ended before its header");
  if (std::memcmp(head.magic, format::kLazyMagic.data(), 8) != 0 ||
      head.checksum != format::checksum(&head, offsetof(format::LazyHead, checksum)))
    fail(what, "the post-copy header is damaged (checksum)");
  if (head.file_size < sizeof(format::FileHeader) || head.file_size > format::kMaxLazyImageBytes ||
      head.hole_start < sizeof(format::FileHeader) || head.hole_start > head.hole_end || head.hole_end > head.file_size ||
      head.file_size - (head.hole_end - head.hole_start) > format::kMaxLazySkeletonBytes)
    fail(what, "the post-copy header announces an impossible image (" + std::to_string(head.file_size) +
                   " bytes, page data at " + std::to_string(head.hole_start) + ".." + std::to_string(head.hole_end) + ")");
  int mem = memfd_create("ckpt-image", MFD_CLOEXEC);
  if (mem < 0) fail(what, std::string("cannot create a memfd for the image: ") + std::strerror(errno));
  if (ftruncate(mem, off_t(head.file_size)) != 0) {
    ::close(mem);
    fail(what, std::string("cannot size the image's memfd: ") + std::strerror(errno));
  }
  g_image_rw = mem;  // kept for the chunks (the launcher's and, reopened, the page server's)
  std::vector<uint8_t> buf(1u << 20);
  auto take = [&](uint64_t from, uint64_t to) {
    for (uint64_t at = from; at < to;) {
      size_t n = size_t(std::min<uint64_t>(buf.size(), to - at));
      if (!recv_exact(connection, buf.data(), n))
        fail(what, "the post-copy stream ended early (" + std::to_string(at) + " of " + std::to_string(head.file_size) +
                       " bytes of the image's state): nothing was restored");
      pwrite_all(mem, buf.data(), n, at);
      at += n;
    }
  };
  take(0, head.hole_start);
  take(head.hole_end, head.file_size);
  g_connection = connection;
  int ro = ::open(("/proc/self/fd/" + std::to_string(mem)).c_str(), O_RDONLY | O_CLOEXEC);
  if (ro < 0) fail(what, std::string("cannot reopen the received image: ") + std::strerror(errno));
  if (fetch_all) {
    // Only the page index is needed to ask; the image is read and checked
    // as a whole by the caller afterwards.
    format::ImageReader reader(ro);
    fetch_staged_pages(reader.image(), {});
  }
  return ro;
}

int network_pages_connection() { return g_connection; }

void fetch_staged_pages(const format::Image& image, const std::vector<bool>& lazy) {
  if (g_connection < 0) return;
  ChunkReceiver rx(g_connection, g_image_rw);
  rx.expect(image);
  std::vector<uint64_t> wanted;
  size_t v = 0;
  for (const format::PageChunk& c : image.chunks) {  // sorted by address, as the VMAs are
    if (c.inherited()) continue;
    while (v < image.vmas.size() && image.vmas[v].end <= c.vaddr) ++v;
    if (lazy.empty() || v >= lazy.size() || !lazy[v]) wanted.push_back(c.offset);
  }
  // All the requests first (the sender reads them while it sends), then the chunks.
  std::string lines;
  for (uint64_t off : wanted) lines += "R " + std::to_string(off) + "\n";
  if (!send_all(g_connection, lines))
    throw std::runtime_error(std::string("pages from the migration's source: cannot ask for them: ") + std::strerror(errno));
  for (uint64_t off : wanted) rx.wait_for(off);
}

struct NetworkPages::Impl {
  Impl(int connection, int image_rw) : rx(connection, image_rw) {}
  ChunkReceiver rx;
  bool verbose = false;
  uint64_t waited = 0;  // chunks a fault or the background copying had to wait for
};

NetworkPages::NetworkPages(int connection, int image_fd, const format::Image& image, bool verbose) {
  int rw = ::open(("/proc/self/fd/" + std::to_string(image_fd)).c_str(), O_RDWR | O_CLOEXEC);
  if (rw < 0) throw format::FormatError(0, std::string("cannot reopen the received image for its pages: ") + std::strerror(errno));
  impl_ = new Impl(connection, rw);
  impl_->verbose = verbose;
  impl_->rx.expect(image);
}

void NetworkPages::ensure(const format::PageChunk& c) {
  if (impl_->rx.arrived(c.offset)) return;
  ++impl_->waited;
  impl_->rx.ask(c.offset);
  impl_->rx.wait_for(c.offset);
}

void NetworkPages::finish(bool ok) {
  const int conn = impl_->rx.connection();
  send_all(conn, ok ? "DONE\n" : "FAIL\n");
  if (impl_->verbose)
    std::fprintf(stderr, "restore --lazy: %llu chunks came from the migration's source after the process started; "
                         "%llu of them asked for before they had come\n",
                 (unsigned long long)impl_->rx.count(), (unsigned long long)impl_->rx.requests());
  // The sender ends the connection once it has read the word: read to that
  // end (a close with unread bytes would reset the connection, and a reset
  // can overtake the word). Bounded: the sender may be gone.
  ::shutdown(conn, SHUT_WR);
  char buf[1 << 16];
  for (;;) {
    pollfd p{conn, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) break;
    ssize_t n = ::recv(conn, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
}

}  // namespace ckpt::restorer
