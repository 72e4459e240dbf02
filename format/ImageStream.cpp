// Receiving an image stream into a memfd (see ImageStream.h).
#include "format/ImageStream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "format/Checksum.h"
#include "format/Image.h"

namespace ckpt::format {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) { throw std::runtime_error(what + ": " + why); }

void write_all(int fd, const void* p, size_t n, uint64_t at, const std::string& what) {
  auto c = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, c, n, off_t(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail(what, std::string("cannot keep the image in memory: ") + std::strerror(errno));
    c += w, n -= size_t(w), at += uint64_t(w);
  }
}

// read() until `n` bytes or the end; returns how many came.
size_t read_full(int fd, void* p, size_t n, const std::string& what) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::read(fd, static_cast<uint8_t*>(p) + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) {  // a non-blocking pipe or socket: wait for more
      pollfd w{fd, POLLIN, 0};
      ::poll(&w, 1, -1);
      continue;
    }
    if (r < 0) fail(what, std::string("cannot read the image: ") + std::strerror(errno));
    if (r == 0) break;
    done += size_t(r);
  }
  return done;
}

}  // namespace

int receive_image(int in, const std::string& what) {
  struct stat st;
  if (fstat(in, &st) != 0) fail(what, std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISREG(st.st_mode) && lseek(in, 0, SEEK_CUR) == 0) {
    uint8_t magic[8] = {};
    if (::pread(in, magic, 8, 0) == 8 && std::memcmp(magic, kMagic.data(), 8) == 0) {
      int fd = fcntl(in, F_DUPFD_CLOEXEC, 3);
      if (fd < 0) fail(what, std::string("cannot duplicate: ") + std::strerror(errno));
      return fd;
    }
  }
  int mem = memfd_create("ckpt-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) fail(what, std::string("cannot create a memfd for the image: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { if (fd >= 0) ::close(fd); }
  } guard{mem};

  // The whole stream goes to the memfd; the end record is found at its end.
  // From a pipe, splice moves the pages without a copy through user space.
  uint64_t total = 0;
  bool done = false;
  while (S_ISFIFO(st.st_mode) && !done) {
    loff_t at = loff_t(total);
    ssize_t n = splice(in, nullptr, mem, &at, 1u << 20, SPLICE_F_MOVE);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd w{in, POLLIN, 0};
      ::poll(&w, 1, -1);
      continue;
    }
    if (n < 0 && total == 0 && (errno == EINVAL || errno == ENOSYS)) break;  // read() below, then
    if (n < 0) fail(what, std::string("cannot read the image: ") + std::strerror(errno));
    if (n == 0) done = true;
    total += uint64_t(n);
  }
  std::vector<uint8_t> buf(done ? 0 : 1u << 20);
  while (!done) {
    size_t n = read_full(in, buf.data(), buf.size(), what);
    if (n == 0) break;
    write_all(mem, buf.data(), n, total, what);
    total += n;
  }
  if (total < sizeof(FileHeader))
    fail(what, "the stream ended after " + std::to_string(total) + " bytes, before an image header");
  uint8_t magic[8];
  if (::pread(mem, magic, 8, 0) != 8) fail(what, std::string("cannot read back the image: ") + std::strerror(errno));
  if (std::memcmp(magic, kStreamMagic.data(), 8) == 0) {
    if (total < sizeof(FileHeader) + sizeof(StreamEnd))
      fail(what, "the stream ended early (" + std::to_string(total) + " bytes, no end record): nothing was restored");
    StreamEnd end;
    if (::pread(mem, &end, sizeof end, off_t(total - sizeof end)) != ssize_t(sizeof end))
      fail(what, std::string("cannot read back the image: ") + std::strerror(errno));
    const uint64_t size = total - sizeof end;
    if (std::memcmp(end.magic, kStreamEndMagic.data(), 8) != 0 || end.checksum != checksum(&end, offsetof(StreamEnd, checksum)))
      fail(what, "the stream ended early or is damaged: its last " + std::to_string(sizeof end) +
                     " bytes are not a valid end record (" + std::to_string(total) + " bytes received)");
    if (end.header.file_size != size)
      fail(what, "the stream carried " + std::to_string(size) + " bytes of image but its end record says " +
                     std::to_string(end.header.file_size));
    if (end.page_data_offset < sizeof(FileHeader) || end.page_data_offset % 8 ||
        end.page_data_offset > size - sizeof(SectionHeader))
      fail(what, "the stream's end record places the page data header at " + std::to_string(end.page_data_offset) +
                     ", outside the image");
    if (ftruncate(mem, off_t(size)) != 0) fail(what, std::string("cannot trim the image: ") + std::strerror(errno));
    write_all(mem, &end.page_data, sizeof end.page_data, end.page_data_offset, what);
    write_all(mem, &end.header, sizeof end.header, 0, what);
  } else if (std::memcmp(magic, kMagic.data(), 8) != 0) {
    fail(what, "not an image nor an image stream (wrong magic at offset 0)");
  }
  // Nobody changes it from here on, not even this process by mistake.
  fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  int ro = ::open(("/proc/self/fd/" + std::to_string(mem)).c_str(), O_RDONLY | O_CLOEXEC);
  if (ro < 0) fail(what, std::string("cannot reopen the received image: ") + std::strerror(errno));
  return ro;
}

}  // namespace ckpt::format
