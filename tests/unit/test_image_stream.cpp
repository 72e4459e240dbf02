// The stream encoding (format/ImageStream.h) and the migration token
// (format/Handshake.h): a stream received is byte for byte the file the
// same writer makes; every way a stream can be cut, damaged or lie in its
// end record is refused in one line; the token's rules.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "format/Checksum.h"
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

// The writer's output for one small image with pages (two chunks: random, zeros).
std::vector<uint8_t> write_with(bool stream) {
  Image image;
  image.process.pid = 42;
  std::vector<uint8_t> pages(3 * kPageSize);
  for (size_t i = 0; i < pages.size(); ++i) pages[i] = uint8_t(i * 131 + i / 7);
  auto run = [&](int fd) {
    ImageWriter w(fd, Compression{ChunkEncoding::Zstd, 3});
    w.write_metadata(image);
    w.add_pages(0x400000, pages.data(), 3);
    w.finish();
    w.end_stream();
  };
  if (!stream) {
    int fd = memfd_create("file", MFD_CLOEXEC);
    run(fd);
    auto b = read_all(fd);
    ::close(fd);
    return b;
  }
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  std::vector<uint8_t> got;
  std::thread reader([&] {
    uint8_t buf[65536];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) got.insert(got.end(), buf, buf + n);
  });
  run(p[1]);
  ::close(p[1]);
  reader.join();
  ::close(p[0]);
  return got;
}

// Feeds `bytes` to receive_image through a pipe; returns the received image.
std::vector<uint8_t> receive(const std::vector<uint8_t>& bytes) {
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  std::thread writer([&] {
    for (size_t done = 0; done < bytes.size();) {
      ssize_t n = ::write(p[1], bytes.data() + done, bytes.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    ::close(p[1]);
  });
  int fd = -1;
  std::string error;
  try {
    fd = receive_image(p[0], "test stream");
  } catch (...) {
    writer.join();
    ::close(p[0]);
    throw;
  }
  writer.join();
  ::close(p[0]);
  auto out = read_all(fd);
  ::close(fd);
  return out;
}

std::string refusal(const std::vector<uint8_t>& bytes) {
  try {
    receive(bytes);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(accepted)";
}

// Rewrites the stream's end record with `edit` applied, checksum made good again.
template <class F>
std::vector<uint8_t> with_end(std::vector<uint8_t> s, F edit) {
  StreamEnd end;
  std::memcpy(&end, s.data() + s.size() - sizeof end, sizeof end);
  edit(end);
  end.checksum = checksum(&end, offsetof(StreamEnd, checksum));
  std::memcpy(s.data() + s.size() - sizeof end, &end, sizeof end);
  return s;
}

}  // namespace

TEST_CASE("stream: a received stream is byte for byte the file") {
  auto file = write_with(false), stream = write_with(true);
  REQUIRE(stream.size() == file.size() + sizeof(StreamEnd));
  CHECK(std::memcmp(stream.data(), kStreamMagic.data(), 8) == 0);
  CHECK(std::memcmp(file.data(), kMagic.data(), 8) == 0);
  CHECK(receive(stream) == file);
}

TEST_CASE("stream: a plain image through a pipe is taken as it is") {
  auto file = write_with(false);
  CHECK(receive(file) == file);
}

TEST_CASE("stream: a regular file holding an image is used in place") {
  auto file = write_with(false);
  int fd = memfd_create("in", MFD_CLOEXEC);
  REQUIRE(::write(fd, file.data(), file.size()) == ssize_t(file.size()));
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  int got = receive_image(fd, "file");
  struct stat a, b;
  REQUIRE(fstat(fd, &a) == 0);
  REQUIRE(fstat(got, &b) == 0);
  CHECK(a.st_ino == b.st_ino);  // the same file, no copy
  ::close(got);
  ::close(fd);
}

TEST_CASE("stream: cut anywhere, it is refused") {
  auto s = write_with(true);
  CHECK(refusal({}).find("ended after 0 bytes, before an image header") != std::string::npos);
  CHECK(refusal(std::vector<uint8_t>(s.begin(), s.begin() + 63)).find("before an image header") != std::string::npos);
  CHECK(refusal(std::vector<uint8_t>(s.begin(), s.begin() + 100)).find("ended early (100 bytes, no end record)") !=
        std::string::npos);
  for (size_t cut : {size_t(200), s.size() / 2, s.size() - sizeof(StreamEnd), s.size() - 1}) {
    CAPTURE(cut);
    CHECK(refusal(std::vector<uint8_t>(s.begin(), s.begin() + long(cut))).find("not a valid end record") !=
          std::string::npos);
  }
}

TEST_CASE("stream: an end record that lies is refused") {
  auto s = write_with(true);
  CHECK(refusal(with_end(s, [](StreamEnd& e) { e.header.file_size += 8; })).find("end record says") != std::string::npos);
  CHECK(refusal(with_end(s, [](StreamEnd& e) { e.page_data_offset = 4; })).find("outside the image") != std::string::npos);
  CHECK(refusal(with_end(s, [](StreamEnd& e) { e.page_data_offset = 1ull << 40; })).find("outside the image") !=
        std::string::npos);
  CHECK(refusal(with_end(s, [](StreamEnd& e) { e.page_data_offset = 65; })).find("outside the image") != std::string::npos);
  auto bad = s;
  bad[bad.size() - 30] ^= 1;  // inside the record, checksum not fixed
  CHECK(refusal(bad).find("not a valid end record") != std::string::npos);
  bad = s;
  bad[0] = 'X';
  CHECK(refusal(bad).find("wrong magic") != std::string::npos);
}

TEST_CASE("token: from a file or the environment, with its rules") {
  char dir[] = "/tmp/ckpt-token-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string file = std::string(dir) + "/token";
  auto put = [&](const std::string& text, mode_t mode) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, text.data(), text.size()) == ssize_t(text.size()));
    REQUIRE(fchmod(fd, mode) == 0);
    ::close(fd);
  };
  auto refused = [](const std::string& f) {
    try {
      load_token(f);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  put("0123456789abcdef\n", 0600);
  CHECK(load_token(file) == "0123456789abcdef");  // one final newline dropped
  put("0123456789abcde\n", 0600);
  CHECK(refused(file).find("is 15 bytes; at least 16") != std::string::npos);
  put(std::string(5000, 'x'), 0600);
  CHECK(refused(file).find("longer than 4096") != std::string::npos);
  put("0123456789abcdef", 0644);
  CHECK(refused(file).find("may be read by others (mode 644)") != std::string::npos);
  CHECK(refused(dir).find("not a regular file") != std::string::npos);
  CHECK(refused(file + ".missing").find("cannot open the token file") != std::string::npos);
  ::unlink(file.c_str());
  ::rmdir(dir);

  ::setenv(kTokenEnv, "from-the-environment", 1);
  CHECK(load_token("") == "from-the-environment");
  ::unsetenv(kTokenEnv);
  CHECK(refused("").find("a token is needed") != std::string::npos);

  CHECK(same_token("abcdefgh", "abcdefgh"));
  CHECK_FALSE(same_token("abcdefgh", "abcdefgX"));
  CHECK_FALSE(same_token("abcdefgh", "abcdefg"));
}
