// The files section's open file descriptions (format/Image.h FdEntry): the
// fields for shared descriptions, locks, epoll entries and timerfds
// round-trip through the encoder, and the validation rules refuse what the
// restorer could otherwise only learn from a failing system call.
#include <doctest/doctest.h>

#include <fcntl.h>

#include <string>
#include <vector>

#include "format/FormatError.h"
#include "format/Image.h"
#include "format/Sections.h"
#include "format/Validate.h"

using namespace ckpt::format;

namespace {

FdEntry entry(int32_t fd, FdKind kind, uint32_t flags = O_RDWR) {
  FdEntry f;
  f.fd = fd;
  f.kind = kind;
  f.flags = flags;
  if (kind == FdKind::RegularFile) f.file.path = "/tmp/x";
  return f;
}

// An image that passes every rule, with the given open files.
Image with_files(std::vector<FdEntry> fds) {
  Image img;
  Vma v;
  v.start = 0x10000;
  v.end = 0x11000;
  v.prot = 3;
  v.kind = VmaKind::AnonPrivate;
  img.vmas.push_back(v);
  ThreadState t;
  t.tid = 1;
  t.gpr[RIP] = 0x10000;
  t.gpr[RSP] = 0x10ff0;
  t.robust_list_len = 24;
  t.xsave.resize(576);
  t.altstack_flags = 2;  // SS_DISABLE
  img.process.pid = t.tid;  // the leader comes first
  img.threads.push_back(t);
  img.files.fds = std::move(fds);
  img.scheduling = Scheduling{0, 0, 0, 0, 0, 50000, {1}};
  img.credentials = Credentials{};
  return img;
}

void validate(const Image& img) { validate_image(img, {}); }

void refused(const Image& img, const std::string& why) {
  try {
    validate(img);
    FAIL("accepted, want: " << why);
  } catch (const FormatError& e) {
    CHECK_MESSAGE(std::string(e.what()).find(why) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("files: dups, locks, epoll files and timer fields round-trip") {
  FileTable t;
  FdEntry file = entry(3, FdKind::RegularFile);
  file.dups = {{4, 0}, {40, 1}};
  file.locks = {{LockKind::Posix, 1, 10, 5}, {LockKind::Ofd, 0, 100, 0}, {LockKind::Flock, 1, 0, 0}};
  FdEntry timer = entry(5, FdKind::TimerFd);
  timer.clockid = 0;
  timer.value_ns = 7;
  timer.interval_ns = 1000;
  timer.timer_flags = 3;
  timer.ticks = 42;
  timer.expiry_ns = 123456789;
  FdEntry ep = entry(6, FdKind::Epoll);
  ep.targets = {{30, 1, 0xA, 5}, {31, 1, 0xB, 5}, {0, 4, 0xC, 0}};
  t.fds = {file, timer, ep};
  std::vector<uint8_t> bytes = encode_files(t);
  FileTable back = decode_files(bytes.data(), bytes.size(), 0);
  REQUIRE(back.fds.size() == 3);
  CHECK(back.fds[0].dups.size() == 2);
  CHECK(back.fds[0].dups[1].fd == 40);
  CHECK(back.fds[0].dups[1].cloexec == 1);
  REQUIRE(back.fds[0].locks.size() == 3);
  CHECK(back.fds[0].locks[0].kind == LockKind::Posix);
  CHECK(back.fds[0].locks[0].start == 10);
  CHECK(back.fds[0].locks[0].length == 5);
  CHECK(back.fds[0].locks[1].write == 0);
  CHECK(back.fds[0].locks[2].kind == LockKind::Flock);
  CHECK(back.fds[1].timer_flags == 3);
  CHECK(back.fds[1].ticks == 42);
  CHECK(back.fds[1].expiry_ns == 123456789);
  REQUIRE(back.fds[2].targets.size() == 3);
  CHECK(back.fds[2].targets[1].fd == 31);
  CHECK(back.fds[2].targets[1].file == 5);
  CHECK(back.fds[2].targets[2].file == 0);
  validate(with_files(t.fds));
}

TEST_CASE("files: an unknown lock kind is refused by the decoder") {
  FileTable t;
  FdEntry file = entry(3, FdKind::RegularFile);
  file.locks = {{LockKind(9), 1, 0, 0}};
  t.fds = {file};
  std::vector<uint8_t> bytes = encode_files(t);
  CHECK_THROWS_AS(decode_files(bytes.data(), bytes.size(), 0), FormatError);
}

TEST_CASE("files: fd numbers shared between open files are refused") {
  FdEntry a = entry(3, FdKind::EventFd), b = entry(5, FdKind::EventFd);
  a.dups = {{5, 0}};
  refused(with_files({a, b}), "fd 5 belongs to two open files");
  a.dups = {{3, 0}};
  refused(with_files({a}), "other fd numbers must be above it");
  a.dups = {{7, 0}, {6, 0}};
  refused(with_files({a}), "other fd numbers must be above it");
  a.dups = {{7, 2}};
  refused(with_files({a}), "cloexec of fd 7");
}

TEST_CASE("files: impossible locks are refused") {
  FdEntry f = entry(3, FdKind::RegularFile, O_RDONLY);
  f.locks = {{LockKind::Posix, 1, 0, 10}};
  refused(with_files({f}), "for writing on an fd not open for writing");
  f = entry(3, FdKind::RegularFile, O_WRONLY);
  f.locks = {{LockKind::Ofd, 0, 0, 10}};
  refused(with_files({f}), "for reading on an fd not open for reading");
  f = entry(3, FdKind::RegularFile);
  f.locks = {{LockKind::Posix, 1, -1, 10}};
  refused(with_files({f}), "range out of bounds");
  f.locks = {{LockKind::Posix, 1, INT64_MAX, 10}};
  refused(with_files({f}), "range out of bounds");
  f.locks = {{LockKind::Flock, 1, 5, 0}};
  refused(with_files({f}), "has a range");
  f.locks = {{LockKind::Flock, 2, 0, 0}};
  refused(with_files({f}), "type is not 0");
  FdEntry p = entry(3, FdKind::Pipe);
  p.locks = {{LockKind::Flock, 1, 0, 0}};
  refused(with_files({p}), "which this version does not lock");
  FdEntry d = entry(3, FdKind::Directory);
  d.file.path = "/tmp";
  d.locks = {{LockKind::Flock, 1, 0, 0}};
  validate(with_files({d}));
  d.locks = {{LockKind::Lease, 0, 0, 0}};
  refused(with_files({d}), "does not lock");
}

TEST_CASE("files: unread pipe data only on an end that reads") {
  FdEntry w = entry(3, FdKind::Pipe, O_WRONLY);
  w.object = 77;
  w.pipe_size = 4096;
  w.contents = {1, 2, 3};
  refused(with_files({w}), "unread data on an end that cannot read");
  w.flags = O_RDONLY;
  validate(with_files({w}));
}

TEST_CASE("files: impossible timers are refused") {
  FdEntry t = entry(3, FdKind::TimerFd);
  t.timer_flags = 4;
  refused(with_files({t}), "unknown timerfd flags");
  t.timer_flags = 2;  // the kernel keeps TFD_TIMER_CANCEL_ON_SET alone (it then does nothing)
  validate(with_files({t}));
  t.timer_flags = 1;
  t.clockid = 3;  // CLOCK_THREAD_CPUTIME_ID
  refused(with_files({t}), "is not one timerfd takes");
  t.clockid = 1;
  t.expiry_ns = -1;
  refused(with_files({t}), "negative timer expiry");
  FdEntry e = entry(3, FdKind::EventFd);
  e.ticks = 1;
  refused(with_files({e}), "timer fields on kind eventfd");
}

TEST_CASE("files: epoll entries the kernel would refuse are refused") {
  FdEntry ep = entry(3, FdKind::Epoll), file = entry(4, FdKind::RegularFile), efd = entry(5, FdKind::EventFd);
  ep.targets = {{9, 1, 0, 4}};
  refused(with_files({ep, file, efd}), "watches a file, which epoll cannot watch");
  ep.targets = {{9, 1, 0, 6}};
  refused(with_files({ep, file, efd}), "which is not in the image");
  ep.targets = {{3, 1, 0, 3}};
  refused(with_files({ep, file, efd}), "watches itself");
  ep.targets = {{9, 1, 0, 5}, {9, 4, 1, 5}};
  refused(with_files({ep, file, efd}), "fd 9 is watched twice for one file");
  ep.targets = {{-1, 1, 0, 5}};
  refused(with_files({ep, file, efd}), "number out of range");
  // One number for two files, a closed number, a nested epoll, stdio: all fine.
  FdEntry inner = entry(6, FdKind::Epoll);
  ep.targets = {{9, 1, 0, 5}, {9, 1, 0, 6}, {1000, 1, 0, 5}, {0, 1, 0, 0}};
  validate(with_files({ep, file, efd, inner}));
  efd.targets = {{9, 1, 0, 5}};
  refused(with_files({ep, file, efd}), "epoll targets on kind eventfd");
}

TEST_CASE("files: stdio dups round-trip and are checked") {
  FileTable t;
  t.fds = {entry(3, FdKind::EventFd)};
  t.stdio_dups = {{5, 0, 1}, {60, 1, 0}};
  std::vector<uint8_t> bytes = encode_files(t);
  FileTable back = decode_files(bytes.data(), bytes.size(), 0);
  REQUIRE(back.stdio_dups.size() == 2);
  CHECK(back.stdio_dups[1].fd == 60);
  CHECK(back.stdio_dups[1].cloexec == 1);
  CHECK(back.stdio_dups[0].of == 1);
  Image img = with_files(t.fds);
  img.files.stdio_dups = t.stdio_dups;
  validate(img);
  img.files.stdio_dups = {{3, 0, 1}};
  refused(img, "fd 3 belongs to two open files");
  img.files.stdio_dups = {{2, 0, 1}};
  refused(img, "must be above 2");
  img.files.stdio_dups = {{9, 0, 3}};
  refused(img, "not a dup of fd 0, 1 or 2");
  img.files.stdio_dups = {{9, 0, 1}, {8, 0, 1}};
  refused(img, "ascending");
}

TEST_CASE("files: SIGIO owners round-trip and are checked") {
  FileTable t;
  FdEntry p = entry(3, FdKind::Pipe, O_RDONLY);
  p.owner = kOwnerThread;
  p.owner_signal = 12;
  t.fds = {p};
  std::vector<uint8_t> bytes = encode_files(t);
  FileTable back = decode_files(bytes.data(), bytes.size(), 0);
  CHECK(back.fds.at(0).owner == kOwnerThread);
  CHECK(back.fds.at(0).owner_signal == 12);
  validate(with_files(t.fds));
  p.owner = 3;
  refused(with_files({p}), "unknown owner kind 3");
  p.owner = kOwnerProcess;
  p.owner_signal = 65;
  refused(with_files({p}), "owner signal out of range");
}
