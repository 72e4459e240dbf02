// Opening files the target controls (dumper/TargetFile.h): a FIFO, a device
// behind a symbolic link, another file than the expected inode, or a
// missing one is refused without opening it for reading (so without ever
// blocking); the expected file opens read-only and non-blocking, also
// through a /proc/self/fd magic link.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "dumper/TargetFile.h"

using ckpt::dumper::ExpectedFile;
using ckpt::dumper::open_target_file;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/ckpt-unit-target-file.XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    path = t;
  }
  ~TempDir() { (void)!std::system(("rm -rf " + path).c_str()); }
};

struct stat stat_of(const std::string& p) {
  struct stat st {};
  REQUIRE(stat(p.c_str(), &st) == 0);
  return st;
}

}  // namespace

TEST_CASE("the expected regular file opens read-only and non-blocking") {
  TempDir d;
  const std::string f = d.path + "/code";
  int w = ::open(f.c_str(), O_WRONLY | O_CREAT, 0600);
  REQUIRE(w >= 0);
  REQUIRE(write(w, "abc", 3) == 3);
  struct stat st = stat_of(f);
  std::string why;
  bool wrong = true;
  int fd = open_target_file(f, {S_IFREG, st.st_dev, st.st_ino}, &why, &wrong);
  REQUIRE(fd >= 0);
  CHECK_FALSE(wrong);
  CHECK((fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK));
  char buf[4] = {};
  CHECK(pread(fd, buf, 3, 0) == 3);
  CHECK(std::string(buf) == "abc");
  ::close(fd);
  // Through a magic link, as /proc/PID/fd/N is opened.
  fd = open_target_file("/proc/self/fd/" + std::to_string(w), {S_IFREG, st.st_dev, st.st_ino}, &why, &wrong);
  CHECK(fd >= 0);
  CHECK_FALSE(wrong);
  ::close(fd);
  ::close(w);
}

TEST_CASE("a FIFO where a regular file is expected is refused without blocking") {
  TempDir d;
  const std::string f = d.path + "/code";
  REQUIRE(mkfifo(f.c_str(), 0600) == 0);
  std::string why;
  bool wrong = false;
  CHECK(open_target_file(f, {S_IFREG, 0, 0}, &why, &wrong) < 0);  // a plain open would block here
  CHECK(wrong);
  CHECK(why.find("a FIFO") != std::string::npos);
}

TEST_CASE("a symbolic link to a device is refused without opening the device") {
  TempDir d;
  const std::string f = d.path + "/code";
  REQUIRE(symlink("/dev/null", f.c_str()) == 0);
  std::string why;
  bool wrong = false;
  CHECK(open_target_file(f, {S_IFREG, 0, 0}, &why, &wrong) < 0);
  CHECK(wrong);
  CHECK(why.find("character device") != std::string::npos);
}

TEST_CASE("another file at the path is refused; a missing one is not 'wrong'") {
  TempDir d;
  const std::string a = d.path + "/a", b = d.path + "/b";
  ::close(::open(a.c_str(), O_WRONLY | O_CREAT, 0600));
  ::close(::open(b.c_str(), O_WRONLY | O_CREAT, 0600));
  struct stat sa = stat_of(a);
  std::string why;
  bool wrong = false;
  CHECK(open_target_file(b, {S_IFREG, sa.st_dev, sa.st_ino}, &why, &wrong) < 0);
  CHECK(wrong);
  CHECK(why.find("no longer the same file") != std::string::npos);
  wrong = true;
  CHECK(open_target_file(d.path + "/missing", {S_IFREG, 0, 0}, &why, &wrong) < 0);
  CHECK_FALSE(wrong);
  CHECK(why.find("No such file") != std::string::npos);
}
