// Incremental dumps chained in one process (dumper/DirtyPages.h): the API
// a caller such as live migration's pre-copy rounds uses, with the tracker
// and the parent held in memory instead of by a keeper and a file path. A
// forked child fills 64 pages, is dumped with `track`, rewrites one page,
// and is dumped against the first image's ParentRef: the second image
// holds that page alone, and its chain resolves every other page to the
// first image's bytes. Needs ptrace over its own child.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <zstd.h>

#include "dumper/Dumper.h"
#include "format/ImageChain.h"
#include "format/ImageReader.h"

using namespace ckpt;

namespace {

constexpr size_t kPages = 64;

struct Child {
  pid_t pid = -1;
  int to = -1, from = -1;
  uint64_t area = 0;
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (to >= 0) close(to);
    if (from >= 0) close(from);
  }
  // One command byte; the child answers one byte once done.
  void ask(char c) {
    REQUIRE(write(to, &c, 1) == 1);
    char ack;
    REQUIRE(read(from, &ack, 1) == 1);
  }
};

void start(Child& c) {
  int down[2], up[2];
  REQUIRE(pipe(down) == 0);
  REQUIRE(pipe(up) == 0);
  auto* m = static_cast<uint8_t*>(mmap(nullptr, kPages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  REQUIRE(m != MAP_FAILED);
  c.area = reinterpret_cast<uint64_t>(m);
  c.pid = fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    // Only its two pipe ends besides 0-2 (on fds 3 and 4): whatever else the test runner holds is not its.
    int in = fcntl(down[0], F_DUPFD, 100), out = fcntl(up[1], F_DUPFD, 100);
    dup2(in, 3);
    dup2(out, 4);
    syscall(SYS_close_range, 5u, ~0u, 0u);
    for (size_t i = 0; i < kPages; ++i) std::memset(m + i * 4096, int('A' + i % 26), 4096);
    char cmd;
    write(4, "r", 1);
    while (read(3, &cmd, 1) == 1) {
      if (cmd == 'w') std::memset(m + 5 * 4096, 'z', 4096);
      write(4, "k", 1);
    }
    _exit(0);
  }
  munmap(m, kPages * 4096);
  close(down[0]);
  close(up[1]);
  c.to = down[1];
  c.from = up[0];
  char ready;
  REQUIRE(read(c.from, &ready, 1) == 1);
}

std::vector<uint8_t> page_at(const format::ImageReader& r, uint64_t addr) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::vector<uint8_t> scratch;
  for (const format::PageChunk& c : r.image().chunks) {
    if (addr < c.vaddr || addr >= c.vaddr + c.size()) continue;
    std::vector<uint8_t> all(c.size());
    r.read_chunk(c, all.data(), d.get(), scratch);
    return std::vector<uint8_t>(all.begin() + (addr - c.vaddr), all.begin() + (addr - c.vaddr) + 4096);
  }
  return {};
}

}  // namespace

TEST_CASE("dirty pages: a chain dumped in one process, with the tracker and the parent in memory") {
  if (geteuid() != 0) {
    MESSAGE("SKIPPED: needs root (ptrace and userfaultfd of another process)");
    return;
  }
  char dir[] = "/tmp/ckpt-test-dirty-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string base = std::string(dir) + "/base.ckpt", next = std::string(dir) + "/next.ckpt";
  Child c;
  start(c);
  std::shared_ptr<dumper::DirtyTracker> tracker;
  dumper::DumpOptions o;
  o.pid = c.pid;
  o.output = base;
  o.track = true;
  o.in_process = &tracker;
  dumper::DumpReport first = dumper::dump(o);
  REQUIRE(tracker);
  CHECK(tracker->last_checksum() == first.as_parent.checksum);
  c.ask('w');
  dumper::DumpOptions o2;
  o2.pid = c.pid;
  o2.output = next;
  o2.parent_ref = &first.as_parent;  // no file is opened for the parent
  o2.in_process = &tracker;          // no --track: the tracking ends with this dump
  dumper::DumpReport second = dumper::dump(o2);
  CHECK_FALSE(tracker);
  CHECK(second.pages_from_parent >= kPages - 1);
  CHECK(second.as_parent.depth == 1);

  int fd = format::open_image(next);
  format::ImageReader r(fd);
  REQUIRE(r.image().parent);
  CHECK(r.image().parent->path == first.as_parent.path);
  CHECK(r.image().parent->checksum == first.as_parent.checksum);
  // Its own chunks do not hold the unwritten pages of the area.
  for (const format::PageChunk& ch : r.image().chunks)
    CHECK_FALSE((ch.vaddr < c.area + kPages * 4096 && ch.vaddr + ch.size() > c.area + 6 * 4096));
  std::vector<format::ChainLink> chain = format::follow_chain(r, next);
  CHECK(chain.size() == 2);
  for (size_t i = 0; i < kPages; ++i) {
    std::vector<uint8_t> want(4096, uint8_t(i == 5 ? 'z' : 'A' + i % 26));
    CHECK_MESSAGE(page_at(r, c.area + i * 4096) == want, "page ", i);
  }
  close(fd);
  unlink(base.c_str());
  unlink(next.c_str());
  rmdir(dir);
}
