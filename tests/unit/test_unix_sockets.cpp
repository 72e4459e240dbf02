// Unix socket records (format/UnixSocket.h): every field round-trips
// through the encoder, and the rules refuse records restore could not
// make (peers, listeners, queues, names, senders).
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "format/FormatError.h"
#include "format/UnixSocket.h"

using namespace ckpt::format;

namespace {

UnixSocket sock(uint64_t ino, uint32_t type, uint32_t state, std::string name = {}, uint64_t peer = 0) {
  UnixSocket s;
  s.ino = ino;
  s.type = type;
  s.state = state;
  s.name = std::move(name);
  s.peer = peer;
  return s;
}

// A pair with data both ways, a listener with one accepted and one queued
// connection, a named datagram socket holding a datagram from a named one.
std::vector<UnixSocket> sample() {
  UnixSocket a = sock(10, 1, kUnixConnected, {}, 11), b = sock(11, 1, kUnixConnected, {}, 10);
  a.messages = {{{'h', 'i'}, {}, 1}};
  b.shutdown = kUnixShutRead;
  b.peek_off = 3;
  UnixSocket l = sock(20, 1, kUnixListening, "/tmp/l.sock");
  l.backlog = 5;
  l.queue = {unix_queued_id(23)};
  l.file_mode = 0640;
  UnixSocket acc = sock(21, 1, kUnixConnected, "/tmp/l.sock", 22), cli = sock(22, 1, kUnixConnected, {}, 21);
  acc.listener = 20;
  UnixSocket c2 = sock(23, 1, kUnixConnected, {}, unix_queued_id(23));
  UnixSocket r = sock(30, 2, kUnixUnconnected, std::string("\0recv", 5)), s = sock(31, 2, kUnixUnconnected, "/tmp/s");
  r.messages = {{{'x'}, "/tmp/s", 0}, {{}, {}, 0}};
  r.rcvtimeo_us = 2500000;
  UnixSocket q = sock(unix_queued_id(23), 1, kUnixQueued, "/tmp/l.sock", 23);
  q.listener = 20;
  return {a, b, l, acc, cli, c2, r, s, q};
}

std::vector<uint64_t> fds_of(const std::vector<UnixSocket>& v) {
  std::vector<uint64_t> out;
  for (const UnixSocket& s : v)
    if (s.state != kUnixQueued) out.push_back(s.ino);
  return out;
}

void check(const std::vector<UnixSocket>& v) {
  validate_unix_sockets(v, fds_of(v), [](const std::string& why) { throw FormatError(0, why); });
}

void refused(std::vector<UnixSocket> v, const std::function<void(std::vector<UnixSocket>&)>& edit,
             const std::string& why) {
  edit(v);
  try {
    check(v);
    FAIL("accepted, want: " << why);
  } catch (const FormatError& e) {
    const std::string got = e.what();
    CHECK_MESSAGE(got.find(why) != std::string::npos, got << " (want: " << why << ")");
  }
}

}  // namespace

TEST_CASE("unix sockets: every field round-trips, and the sample is valid") {
  std::vector<UnixSocket> v = sample();
  check(v);
  std::vector<uint8_t> bytes = encode_unix_sockets(v);
  std::vector<UnixSocket> back = decode_unix_sockets(bytes.data(), bytes.size(), 0);
  REQUIRE(back.size() == v.size());
  CHECK(back[0].messages.at(0).data == std::vector<uint8_t>{'h', 'i'});
  CHECK(back[0].messages[0].creds == 1);
  CHECK(back[1].shutdown == kUnixShutRead);
  CHECK(back[1].peek_off == 3);
  CHECK(back[2].backlog == 5);
  CHECK(back[2].queue == std::vector<uint64_t>{unix_queued_id(23)});
  CHECK(back[2].file_mode == 0640);
  CHECK(back[3].listener == 20);
  CHECK(back[6].name == std::string("\0recv", 5));
  CHECK(back[6].messages.at(0).sender == "/tmp/s");
  CHECK(back[6].messages.at(1).data.empty());
  CHECK(back[6].rcvtimeo_us == 2500000);
  check(back);
}

TEST_CASE("unix sockets: the decoder refuses unknown types and states, and trailing bytes") {
  std::vector<UnixSocket> v = {sock(5, 7, kUnixUnconnected)};
  std::vector<uint8_t> bytes = encode_unix_sockets(v);
  CHECK_THROWS_AS(decode_unix_sockets(bytes.data(), bytes.size(), 0), FormatError);
  v = {sock(5, 1, 9)};
  bytes = encode_unix_sockets(v);
  CHECK_THROWS_AS(decode_unix_sockets(bytes.data(), bytes.size(), 0), FormatError);
  v = {sock(5, 1, kUnixUnconnected)};
  bytes = encode_unix_sockets(v);
  bytes.push_back(0);
  CHECK_THROWS_AS(decode_unix_sockets(bytes.data(), bytes.size(), 0), FormatError);
}

TEST_CASE("unix sockets: the rules refuse what restore could not make") {
  const auto v = sample();
  refused(v, [](auto& x) { x[0].peer = 99; }, "has no record");
  refused(v, [](auto& x) { x[1].peer = 22; }, "connected elsewhere");
  refused(v, [](auto& x) { std::swap(x[0], x[1]); }, "sorted and unique");
  refused(v, [](auto& x) { x[2].queue.push_back(10); }, "not queued on it");
  refused(v, [](auto& x) { x[3].listener = 10; }, "not a listening record");
  refused(v, [](auto& x) { x[7].name = "/tmp/l.sock"; }, "bind the same name");
  refused(v, [](auto& x) { x[6].messages[0].sender = "/tmp/nobody"; }, "no datagram socket of the image binds");
  refused(v, [](auto& x) { x[5].messages = {{{'z'}, {}, 0}}; }, "not yet accepted");
  refused(v, [](auto& x) { x[2].messages = {{{'z'}, {}, 0}}; }, "not connected");
  refused(v, [](auto& x) { x[0].messages[0].creds = 2; }, "invalid credentials flag");
  refused(v, [](auto& x) { x[6].unlinked = 1; }, "without a path");
  refused(v, [](auto& x) { x[2].file_mode = 04755; }, "beyond 0777");
  refused(v, [](auto& x) { x[7].name = std::string(107, 'a') + "/"; }, "invalid name");
  refused(v, [](auto& x) { x[0].peek_off = -2; }, "negative option value");
  refused(v, [](auto& x) { x[3].peer = 23; x[5].peer = 21; }, "connected elsewhere");
}
