// The frames of a migration's connection after ACCEPT (format/Handshake.h):
// a frame's tag and a round's length are checked before anything else is
// read, and a round is read to exactly its length, no byte further; every
// bad input is refused in one line.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "format/Handshake.h"
#include "format/ImageStream.h"
#include "format/ImageWriter.h"

using namespace ckpt::format;

namespace {

std::vector<uint8_t> read_all(int fd) {
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  for (ssize_t n; (n = ::pread(fd, buf, sizeof buf, off_t(out.size()))) > 0;) out.insert(out.end(), buf, buf + n);
  return out;
}

// One small image with pages, in file layout.
std::vector<uint8_t> small_image() {
  Image image;
  image.process.pid = 7;
  std::vector<uint8_t> pages(2 * kPageSize);
  for (size_t i = 0; i < pages.size(); ++i) pages[i] = uint8_t(i * 17 + i / 5);
  int fd = memfd_create("file", MFD_CLOEXEC);
  {
    ImageWriter w(fd, Compression{ChunkEncoding::Zstd, 3});
    w.write_metadata(image);
    w.add_pages(0x400000, pages.data(), 2);
    w.finish();
    w.end_stream();
  }
  auto b = read_all(fd);
  ::close(fd);
  return b;
}

// Sends `bytes` through a socket pair, then closes the sending end; returns
// what receive_round(length) gives, and in *after what was left unread.
std::vector<uint8_t> round_through(const std::vector<uint8_t>& bytes, uint64_t length, std::string* after = nullptr) {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  std::thread sender([&] {
    for (size_t done = 0; done < bytes.size();) {
      ssize_t n = ::send(sv[0], bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;
      done += size_t(n);
    }
    ::close(sv[0]);
  });
  int fd = -1;
  try {
    fd = receive_round(sv[1], length, "round 3");
  } catch (...) {
    sender.join();
    ::close(sv[1]);
    throw;
  }
  sender.join();
  if (after) {
    char buf[64];
    ssize_t n = ::recv(sv[1], buf, sizeof buf, 0);
    after->assign(buf, n > 0 ? size_t(n) : 0);
  }
  ::close(sv[1]);
  auto out = read_all(fd);
  ::close(fd);
  return out;
}

std::string refusal(const std::vector<uint8_t>& bytes, uint64_t length) {
  try {
    round_through(bytes, length);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("migrate frames: the two tags, and nothing else") {
  CHECK(frame_kind(kRoundMagic.data()) == FrameKind::Round);
  CHECK(frame_kind(kFinalMagic.data()) == FrameKind::Final);
  // A sender of the one-image protocol (the stream at once) or of another kind.
  CHECK_THROWS_WITH_AS(frame_kind(kStreamMagic.data()),
                       doctest::Contains("where a round (CKPTRND1) or the final image (CKPTFIN1) must begin"),
                       std::runtime_error);
  const uint8_t junk[8] = {'C', 'K', 'P', 'T', 'R', 'N', 'D', '2'};
  CHECK_THROWS_WITH(frame_kind(junk), doctest::Contains("sent 'CKPTRND2'"));
  const uint8_t binary[8] = {0, 1, 2, '\n', 0xff, 'a', 'b', 'c'};
  try {
    frame_kind(binary);
    FAIL("accepted a binary tag");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find('\n') == std::string::npos);  // one line, escaped
  }
}

TEST_CASE("migrate frames: a round's length is checked, its header round-trips") {
  auto header = round_header(123456789);
  CHECK(frame_kind(header.data()) == FrameKind::Round);
  CHECK(round_length(header.data() + 8) == 123456789);
  CHECK(round_length(round_header(kMinRoundBytes).data() + 8) == kMinRoundBytes);
  CHECK(round_length(round_header(kMaxRoundBytes).data() + 8) == kMaxRoundBytes);
  for (uint64_t bad : {uint64_t(0), kMinRoundBytes - 1, kMaxRoundBytes + 1, ~uint64_t(0)}) {
    const std::string want = "announced a round of " + std::to_string(bad) + " bytes";
    CHECK_THROWS_WITH(round_length(round_header(bad).data() + 8), doctest::Contains(want.c_str()));
  }
}

TEST_CASE("migrate frames: a round is read to its length, no further") {
  const auto image = small_image();
  std::vector<uint8_t> bytes = image;
  bytes.insert(bytes.end(), kFinalMagic.begin(), kFinalMagic.end());
  std::string after;
  CHECK(round_through(bytes, image.size(), &after) == image);
  CHECK(after == "CKPTFIN1");  // the next frame is left for the next read
}

TEST_CASE("migrate frames: a cut or foreign round is refused") {
  const auto image = small_image();
  std::vector<uint8_t> cut(image.begin(), image.begin() + image.size() / 2);
  CHECK(refusal(cut, image.size()).find("round 3: the connection ended after " + std::to_string(cut.size()) + " of its " +
                                        std::to_string(image.size()) + " bytes") != std::string::npos);
  std::vector<uint8_t> other(image.size(), 'x');
  CHECK(refusal(other, other.size()).find("wrong magic") != std::string::npos);
  // A stream-encoded round that lacks its end record.
  std::vector<uint8_t> stream = image;
  std::memcpy(stream.data(), kStreamMagic.data(), 8);
  CHECK(refusal(stream, stream.size()).find("round 3: the stream ended early or is damaged") != std::string::npos);
}
