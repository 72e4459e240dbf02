// Post-copy migration, the sending side (see MigratePages.h): the skeleton,
// then a page service on the connection until the destination needs
// nothing more.
#include "dumper/MigratePages.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "dumper/Tracee.h"
#include "format/Checksum.h"
#include "format/ImageReader.h"
#include "format/LazyWire.h"
#include "format/Printable.h"
#include "x86/FaultPoint.h"

namespace ckpt::dumper {

namespace {

using Clock = std::chrono::steady_clock;

void send_all(int fd, const void* p, size_t n, const std::string& dest) {
  auto c = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw DumpError("migrate --lazy to " + dest + ": cannot send: " + std::strerror(errno) +
                                "; nothing was started there, the process goes on running here, untouched");
    c += w, n -= size_t(w);
  }
}

void pread_all(int fd, void* p, size_t n, uint64_t at) {
  auto c = static_cast<uint8_t*>(p);
  while (n > 0) {
    ssize_t r = ::pread(fd, c, n, off_t(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw DumpError(std::string("migrate --lazy: cannot read back the image in memory: ") + std::strerror(errno));
    c += r, n -= size_t(r), at += uint64_t(r);
  }
}

struct Chunk {
  uint64_t offset, size;
};

class PageService {
 public:
  PageService(int conn, int image, pid_t pid, const std::string& dest, LazyMigrationReport& report)
      : conn_(conn), image_(image), pid_(pid), dest_(dest), report_(report) {
    if (const char* n = std::getenv("CKPT_TEST_CORRUPT_LAZY_CHUNK")) corrupt_nth_ = std::strtoull(n, nullptr, 10);
  }
  void run();

 private:
  void send_skeleton();
  // One line from the destination; false once it said DONE.
  bool on_line(const std::string& line);
  void queue_next();
  [[noreturn]] void broken(const std::string& why);
  size_t find(uint64_t offset) const {
    auto it = std::lower_bound(chunks_.begin(), chunks_.end(), offset,
                               [](const Chunk& c, uint64_t o) { return c.offset < o; });
    return it != chunks_.end() && it->offset == offset ? size_t(it - chunks_.begin()) : chunks_.size();
  }

  int conn_, image_;
  pid_t pid_;
  std::string dest_;
  LazyMigrationReport& report_;
  std::vector<Chunk> chunks_;  // sorted by offset
  std::vector<bool> sent_;
  std::deque<size_t> asked_;
  size_t cursor_ = 0;  // background pushing, in offset order
  size_t unsent_ = 0;
  bool running_there_ = false;  // "OK" came: past the destination's point of no return
  std::vector<uint8_t> out_;
  size_t out_at_ = 0;
  Clock::time_point ok_at_;
  uint64_t sent_count_ = 0, corrupt_nth_ = 0;
};

void PageService::send_skeleton() {
  format::ImageReader reader(image_);
  if (reader.member_count() > 1)
    throw DumpError("migrate --lazy moves one process, and pid " + std::to_string(pid_) + " has " +
                    std::to_string(reader.member_count() - 1) +
                    " descendant(s) (restore --lazy restores no tree): migrate without --lazy, or --single; the "
                    "processes go on running here, untouched");
  for (const format::PageChunk& c : reader.image().chunks)
    if (!c.inherited()) chunks_.push_back({c.offset, c.stored_size});
  std::sort(chunks_.begin(), chunks_.end(), [](const Chunk& a, const Chunk& b) { return a.offset < b.offset; });
  sent_.assign(chunks_.size(), false);
  unsent_ = chunks_.size();
  const format::SectionInfo& pd = reader.page_data();
  format::LazyHead head{};
  std::memcpy(head.magic, format::kLazyMagic.data(), 8);
  head.file_size = reader.file_size();
  head.hole_start = pd.payload();
  head.hole_end = pd.payload() + pd.length;
  head.chunks = chunks_.size();
  head.checksum = format::checksum(&head, offsetof(format::LazyHead, checksum));
  send_all(conn_, &head, sizeof head, dest_);
  std::vector<uint8_t> buf(1u << 20);
  auto send_range = [&](uint64_t from, uint64_t to) {
    for (uint64_t at = from; at < to;) {
      size_t n = size_t(std::min<uint64_t>(buf.size(), to - at));
      pread_all(image_, buf.data(), n, at);
      send_all(conn_, buf.data(), n, dest_);
      at += n;
    }
  };
  send_range(0, head.hole_start);
  send_range(head.hole_end, head.file_size);
  report_.skeleton_bytes = head.file_size - (head.hole_end - head.hole_start);
}

// Past the destination's point of no return, the connection is gone: the
// process there may still run on the pages it has, or may have been killed
// by its page server; nothing here can tell which. Resuming could make it
// run twice, killing could lose it: it stays stopped, whole.
void PageService::broken(const std::string& why) {
  // The SIGSTOP queued at "OK" is pending: the dump's unwinding detaches, and it stops.
  throw DumpError("migrate --lazy to " + dest_ + ": " + why +
                  " after the process started there; it cannot get its missing pages and its page server kills it "
                  "at the next one. The process " + std::to_string(pid_) +
                  " is left STOPPED here with all its state: `kill -CONT " + std::to_string(pid_) +
                  "` resumes it once the copy there is known to be gone, `kill -KILL " + std::to_string(pid_) +
                  "` ends it");
}

bool PageService::on_line(const std::string& line) {
  if (line.size() > 2 && line[0] == 'R' && line[1] == ' ') {
    char* end = nullptr;
    unsigned long long off = std::strtoull(line.c_str() + 2, &end, 10);
    size_t i = *end == 0 ? find(off) : chunks_.size();
    if (i == chunks_.size()) {
      std::string why = "the destination asked for a chunk at offset " + line.substr(2) + ", which the image has not";
      if (running_there_) broken(why);
      throw DumpError("migrate --lazy to " + dest_ + ": " + why + "; the process goes on running here, untouched");
    }
    if (!sent_[i]) asked_.push_back(i);
    return true;
  }
  if (line == "OK" && !running_there_) {
    running_there_ = true;
    ok_at_ = Clock::now();
    // From now on the process runs there: it must never run here too, not
    // even if this ckpt dies (a dead tracer's tracee resumes). A pending
    // SIGSTOP turns any release into a stop; the kill at the end overrides it.
    ::kill(pid_, SIGSTOP);
    x86::fault_point("migrate --lazy: the process runs there");
    // Every chunk was asked for before "OK" (nothing lazy there: the areas
    // were all staged), and "OK" comes only once they were all received.
    return unsent_ != 0;
  }
  if (line == "DONE" && running_there_) return false;
  if (line == "FAIL") {
    if (!running_there_)
      throw DumpError("migrate --lazy: the destination failed before its point of no return (its own output says "
                      "why); the process goes on running here, untouched");
    // Killed there before the word was sent: resuming here runs it once.
    // SIGCONT drops the pending SIGSTOP (and reaches the program only if it
    // handles SIGCONT: the kernel discards it otherwise).
    ::kill(pid_, SIGCONT);
    throw DumpError("migrate --lazy: the destination's page server killed the process there (a chunk failed its "
                    "check; its own output says why); the process goes on running here from the state it was "
                    "frozen in");
  }
  std::string why = "the destination sent '" + line.substr(0, 40) + "', which is not a request";
  if (running_there_) broken(why);
  throw DumpError("migrate --lazy to " + dest_ + ": " + why + "; the process goes on running here, untouched");
}

// The next chunk to send: one asked for first, else (past "OK") the next in order.
void PageService::queue_next() {
  size_t i = chunks_.size();
  while (!asked_.empty() && i == chunks_.size()) {
    if (!sent_[asked_.front()]) {
      i = asked_.front();
      ++(running_there_ ? report_.chunks_on_demand : report_.chunks_before_start);
    }
    asked_.pop_front();
  }
  if (i == chunks_.size() && running_there_) {
    while (cursor_ < chunks_.size() && sent_[cursor_]) ++cursor_;
    if (cursor_ < chunks_.size()) {
      i = cursor_;
      ++report_.chunks_pushed;
    }
  }
  if (i == chunks_.size()) return;
  const Chunk& c = chunks_[i];
  format::ChunkHead head{};
  std::memcpy(head.magic, format::kChunkMagic.data(), 8);
  head.offset = c.offset;
  head.size = c.size;
  out_.resize(sizeof head + c.size);
  std::memcpy(out_.data(), &head, sizeof head);
  pread_all(image_, out_.data() + sizeof head, c.size, c.offset);
  // For tests only: the Nth chunk sent is damaged on its way (the destination must notice).
  if (++sent_count_ == corrupt_nth_ && c.size) out_.back() ^= 0x5a;
  out_at_ = 0;
  sent_[i] = true;
  --unsent_;
}

void PageService::run() {
  int on = 1;
  setsockopt(conn_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(conn_, IPPROTO_TCP, TCP_KEEPIDLE, &format::kLazyKeepIdle, sizeof(int));
  setsockopt(conn_, IPPROTO_TCP, TCP_KEEPINTVL, &format::kLazyKeepInterval, sizeof(int));
  setsockopt(conn_, IPPROTO_TCP, TCP_KEEPCNT, &format::kLazyKeepCount, sizeof(int));
  send_skeleton();
  fcntl(conn_, F_SETFL, fcntl(conn_, F_GETFL) | O_NONBLOCK);
  std::string in;
  for (;;) {
    if (out_at_ == out_.size()) {
      out_.clear(), out_at_ = 0;
      queue_next();
    }
    const bool sending = out_at_ < out_.size();
    pollfd p{conn_, short(POLLIN | (sending ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      throw DumpError(std::string("migrate --lazy: poll: ") + std::strerror(errno));
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t n = ::recv(conn_, buf, sizeof buf, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        std::string why = n == 0 ? "the destination closed the connection" : std::string("the connection broke (") + std::strerror(errno) + ")";
        if (running_there_) broken(why);
        throw DumpError("migrate --lazy: " + why + " before its point of no return (its own output says why); the "
                        "process goes on running here, untouched");
      }
      in.append(buf, size_t(n));
      for (size_t nl; (nl = in.find('\n')) != std::string::npos; in.erase(0, nl + 1))
        if (!on_line(in.substr(0, nl))) {
          report_.served_after_ok_seconds = std::chrono::duration<double>(Clock::now() - ok_at_).count();
          return;
        }
      if (in.size() > format::kLazyLineMax) {
        std::string why = "the destination sent a line longer than " + std::to_string(format::kLazyLineMax) + " bytes";
        if (running_there_) broken(why);
        throw DumpError("migrate --lazy to " + dest_ + ": " + why + "; the process goes on running here, untouched");
      }
    }
    if (sending && (p.revents & POLLOUT)) {
      ssize_t w = ::send(conn_, out_.data() + out_at_, out_.size() - out_at_, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) out_at_ += size_t(w);
      else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        std::string why = std::string("the connection broke (") + std::strerror(errno) + ")";
        if (running_there_) broken(why);
        throw DumpError("migrate --lazy: " + why + " before the destination's point of no return; the process goes "
                        "on running here, untouched");
      }
    }
  }
}

}  // namespace

LazyMigrationReport migrate_lazily(DumpOptions dump_options, int connection, const std::string& destination) {
  LazyMigrationReport report;
  dump_options.output = "--listen=" + destination.substr(destination.rfind(':') + 1);
  dump_options.connection = -1;
  dump_options.kill = true;
  dump_options.deliver = [&](int image_fd) {
    PageService(connection, image_fd, dump_options.pid, destination, report).run();
  };
  report.dump = dump(dump_options);
  // The freeze ends with the kill, right after "DONE"; the process ran there from "OK".
  report.downtime_seconds = std::max(0.0, report.dump.frozen_seconds - report.served_after_ok_seconds);
  return report;
}

int print_lazy_summary(pid_t pid, const std::string& destination, const LazyMigrationReport& r) {
  std::fprintf(stderr,
               "ckpt: migrated pid %d to %s (post-copy): downtime %.0f ms (frozen here until it ran there), all "
               "memory there after %.0f ms in all; %llu pages in %llu chunks: %llu staged before it ran, %llu asked "
               "for on first touch, %llu pushed; %llu bytes of state before it ran; process killed here\n",
               int(pid), format::printable(destination).c_str(), r.downtime_seconds * 1000, r.dump.seconds * 1000,
               (unsigned long long)r.dump.pages_saved,
               (unsigned long long)(r.chunks_before_start + r.chunks_on_demand + r.chunks_pushed),
               (unsigned long long)r.chunks_before_start, (unsigned long long)r.chunks_on_demand,
               (unsigned long long)r.chunks_pushed, (unsigned long long)r.skeleton_bytes);
  return 0;
}

}  // namespace ckpt::dumper
