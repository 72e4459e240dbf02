// Unix socket records: encoding, decoding and rules (see UnixSocket.h).
#include "format/UnixSocket.h"

#include <algorithm>
#include <map>
#include <utility>

#include "format/Codec.h"
#include "format/Limits.h"

namespace ckpt::format {

const char* unix_type_name(uint32_t type) {
  switch (type) {
    case 1: return "stream";
    case 2: return "dgram";
    case 5: return "seqpacket";
  }
  return "unknown";
}

const char* unix_state_name(uint32_t state) {
  switch (state) {
    case kUnixUnconnected: return "unconnected";
    case kUnixConnected: return "connected";
    case kUnixListening: return "listening";
    case kUnixQueued: return "queued";
  }
  return "unknown";
}

std::string unix_name_text(const std::string& name) {
  if (name.empty()) return "(unnamed)";
  if (name[0] == '\0') return "@" + name.substr(1);
  return name;
}

// ino, type, state, name length, peer, listener, shutdown, backlog, queue
// count, message count, 2 buffers, 3 flags, peek_off, 2 timeouts, rcvlowat,
// priority, unlinked, mode, uid, gid, file device and inode.
static constexpr size_t kMinUnixRecord = 8 + 4 + 4 + 4 + 8 + 8 + 4 + 4 + 4 + 4 + 8 + 12 + 4 + 16 + 4 + 4 + 4 + 12 + 16;

std::vector<uint8_t> encode_unix_sockets(const std::vector<UnixSocket>& sockets) {
  ByteWriter w;
  w.u32(uint32_t(sockets.size()));
  for (const UnixSocket& s : sockets) {
    w.u64(s.ino);
    w.u32(s.type);
    w.u32(s.state);
    w.str(s.name);
    w.u64(s.peer);
    w.u64(s.listener);
    w.u32(s.shutdown);
    w.u32(s.backlog);
    w.u32(uint32_t(s.queue.size()));
    for (uint64_t q : s.queue) w.u64(q);
    w.u32(uint32_t(s.messages.size()));
    for (const UnixMessage& m : s.messages) {
      w.blob(m.data);
      w.str(m.sender);
      w.u32(m.creds);
    }
    w.u32(s.sndbuf);
    w.u32(s.rcvbuf);
    w.u32(s.passcred);
    w.u32(s.passsec);
    w.u32(s.passpidfd);
    w.i32(s.peek_off);
    w.i64(s.rcvtimeo_us);
    w.i64(s.sndtimeo_us);
    w.i32(s.rcvlowat);
    w.i32(s.priority);
    w.u32(s.unlinked);
    w.u32(s.file_mode);
    w.u32(s.file_uid);
    w.u32(s.file_gid);
    w.u64(s.file_dev);
    w.u64(s.file_ino);
  }
  return w.bytes();
}

std::vector<UnixSocket> decode_unix_sockets(const uint8_t* p, size_t n, uint64_t base) {
  ByteReader r(p, n, base);
  std::vector<UnixSocket> out(r.count("unix socket count", kMaxUnixSockets, kMinUnixRecord));
  for (UnixSocket& s : out) {
    s.ino = r.u64("unix socket inode");
    uint64_t at = r.offset();
    s.type = r.u32("unix socket type");
    if (!unix_type_is_valid(s.type)) throw FormatError(at, "unknown unix socket type " + std::to_string(s.type));
    at = r.offset();
    s.state = r.u32("unix socket state");
    if (s.state < kUnixUnconnected || s.state > kUnixQueued)
      throw FormatError(at, "unknown unix socket state " + std::to_string(s.state));
    s.name = r.str("unix socket name", kMaxUnixName);
    s.peer = r.u64("unix socket peer");
    s.listener = r.u64("unix socket listener");
    s.shutdown = r.u32("unix socket shutdown");
    s.backlog = r.u32("unix socket backlog");
    s.queue.resize(r.count("unix socket queue length", kMaxUnixQueue, 8));
    for (uint64_t& q : s.queue) q = r.u64("queued connection");
    s.messages.resize(r.count("unix socket message count", kMaxUnixMessages, 12));
    for (UnixMessage& m : s.messages) {
      m.data = r.blob("unix socket message", kMaxBlobBytes);
      m.sender = r.str("unix socket message sender", kMaxUnixName);
      m.creds = r.u32("unix socket message credentials");
    }
    s.sndbuf = r.u32("SO_SNDBUF");
    s.rcvbuf = r.u32("SO_RCVBUF");
    s.passcred = r.u32("SO_PASSCRED");
    s.passsec = r.u32("SO_PASSSEC");
    s.passpidfd = r.u32("SO_PASSPIDFD");
    s.peek_off = r.i32("SO_PEEK_OFF");
    s.rcvtimeo_us = r.i64("SO_RCVTIMEO");
    s.sndtimeo_us = r.i64("SO_SNDTIMEO");
    s.rcvlowat = r.i32("SO_RCVLOWAT");
    s.priority = r.i32("SO_PRIORITY");
    s.unlinked = r.u32("unix socket unlinked flag");
    s.file_mode = r.u32("unix socket file mode");
    s.file_uid = r.u32("unix socket file owner");
    s.file_gid = r.u32("unix socket file group");
    s.file_dev = r.u64("unix socket file device");
    s.file_ino = r.u64("unix socket file inode");
  }
  r.expect_end("unix_sockets section");
  return out;
}

namespace {

bool is_path(const std::string& name) { return !name.empty() && name[0] != '\0'; }

// What bind() accepts and gives back: a path of 1..107 bytes without NUL
// (sun_path keeps room for its terminator), or NUL and up to 107 bytes.
bool name_is_valid(const std::string& name) {
  if (name.empty()) return true;
  if (name.size() > kMaxUnixName) return false;
  if (name[0] == '\0') return true;
  return name.size() < kMaxUnixName && name.find('\0') == std::string::npos;
}

bool connection_oriented(uint32_t type) { return type != 2; }

}  // namespace

void validate_unix_sockets(const std::vector<UnixSocket>& sockets, std::vector<uint64_t> fd_objects,
                           const std::function<void(const std::string&)>& bad) {
  std::sort(fd_objects.begin(), fd_objects.end());
  auto find = [&](uint64_t ino) -> const UnixSocket* {
    auto it = std::lower_bound(sockets.begin(), sockets.end(), ino,
                               [](const UnixSocket& s, uint64_t x) { return s.ino < x; });
    return it != sockets.end() && it->ino == ino ? &*it : nullptr;
  };
  // Who owns each name (binds it at restore): every named socket but those
  // sharing a listener's name. One owner per (name, type): the kernel's rule
  // for abstract names, and a path is one file.
  uint64_t prev = 0;
  for (const UnixSocket& s : sockets) {  // first, so that find() below may binary-search
    if (s.ino <= prev) bad("unix socket " + std::to_string(s.ino) + ": records must have non-zero inodes, sorted and unique");
    prev = s.ino;
  }
  for (uint64_t o : fd_objects) {
    const UnixSocket* s = find(o);
    if (!s) bad("a unix-socket fd names socket " + std::to_string(o) + ", which has no record");
    if (s->state == kUnixQueued) bad("a unix-socket fd names socket " + std::to_string(o) + ", a queued connection");
  }
  // Key: a path alone (one file, whatever the type); an abstract name with its type.
  auto owner_key = [](const std::string& name, uint32_t type) {
    std::string key = name;
    if (!is_path(name)) key.push_back(char(type));
    return key;
  };
  std::vector<std::pair<std::string, uint64_t>> owners;
  for (const UnixSocket& s : sockets) {
    const std::string what = "unix socket " + std::to_string(s.ino);
    auto fail = [&](const std::string& why) { bad(what + ": " + why); };
    if (!name_is_valid(s.name)) fail("invalid name");
    if (s.shutdown & ~(kUnixShutRead | kUnixShutWrite)) fail("unknown shutdown bits");
    if (s.passcred > 1 || s.passsec > 1 || s.passpidfd > 1 || s.unlinked > 1) fail("invalid flag value");
    if (s.peek_off < -1 || s.rcvtimeo_us < 0 || s.sndtimeo_us < 0 || s.rcvlowat < 0) fail("negative option value");
    if (s.sndbuf > uint32_t(INT32_MAX) || s.rcvbuf > uint32_t(INT32_MAX)) fail("buffer size out of range");
    if (s.file_mode & ~0777u) fail("socket file mode has bits beyond 0777");
    if ((s.unlinked || s.file_mode || s.file_ino) && !is_path(s.name)) fail("file attributes on a socket without a path");
    const bool listening = s.state == kUnixListening;
    if (!listening && (s.backlog || !s.queue.empty())) fail("backlog or queue on a socket that is not listening");
    if (listening && (!connection_oriented(s.type) || s.name.empty() || s.peer || s.listener))
      fail("a listener must be a named stream or seqpacket socket without peer");
    if ((s.state == kUnixConnected || s.state == kUnixQueued) != (s.peer != 0))
      fail("a peer exactly when connected or queued");
    if (s.state != kUnixConnected && connection_oriented(s.type) && !s.messages.empty())
      fail("unread data on a " + std::string(unix_type_name(s.type)) + " socket that is not connected");
    uint64_t total = 0;
    for (const UnixMessage& m : s.messages) {
      total += m.data.size();
      if (!name_is_valid(m.sender)) fail("invalid sender name");
      if (!m.sender.empty() && s.type != 2) fail("sender names belong to datagram sockets");
      if (m.data.empty() && s.type == 1) fail("an empty stream message");
      if (m.creds > 1) fail("invalid credentials flag");
    }
    if (total > kMaxBlobBytes) fail("more unread data than a record may hold");
    if (!s.name.empty() && !s.listener) owners.emplace_back(owner_key(s.name, s.type), s.ino);
    if (s.peer) {
      const UnixSocket* p = find(s.peer);
      if (!p) fail("its peer " + std::to_string(s.peer) + " has no record");
      if (p->type != s.type) fail("its peer is of another type");
      if (p == &s) fail("its own peer");
      if (connection_oriented(s.type) && p->peer != s.ino) fail("its peer is connected elsewhere");
      if (s.type == 2 && p->state != kUnixConnected && p->state != kUnixUnconnected) fail("peer in a wrong state");
      // A datagram socket connected one way (the peer is not connected back)
      // is connected by name at restore.
      if (s.type == 2 && p->peer != s.ino && p->name.empty()) fail("connected one way to an unnamed socket");
      // What restore makes by connecting: the client of a queued connection
      // holds nothing yet; an accepted socket's client is a plain socket.
      if (p->state == kUnixQueued && !s.messages.empty()) fail("unread data from a connection not yet accepted");
      if (s.listener && s.state == kUnixConnected && (p->listener || p->state != kUnixConnected))
        fail("an accepted connection's peer must be a connected client");
    }
    if (s.listener) {
      const UnixSocket* l = find(s.listener);
      if (!l || l->state != kUnixListening || l->type != s.type || l->name != s.name)
        fail("its listener is not a listening record of its type and name");
      if (s.state != kUnixQueued && s.state != kUnixConnected) fail("only connections have a listener");
    }
    if (s.state == kUnixQueued) {
      const UnixSocket* l = s.listener ? find(s.listener) : nullptr;
      if (!l || std::find(l->queue.begin(), l->queue.end(), s.ino) == l->queue.end())
        fail("a queued connection must be in its listener's queue");
      if (!s.messages.empty()) fail("unread data on a queued connection");
      if (find(s.peer)->state != kUnixConnected || find(s.peer)->listener)
        fail("a queued connection's peer must be a connected client");
    }
    if (listening) {
      std::vector<uint64_t> q = s.queue;
      std::sort(q.begin(), q.end());
      if (std::adjacent_find(q.begin(), q.end()) != q.end()) fail("a connection queued twice");
      for (uint64_t e : s.queue) {
        const UnixSocket* c = find(e);
        if (!c || c->state != kUnixQueued || c->listener != s.ino) fail("its queue names a socket that is not queued on it");
      }
    }
    // Datagrams: each sender must be there to send again; an unnamed
    // receiver is reachable only from the peer it is connected with.
    if (s.type == 2)
      for (const UnixMessage& m : s.messages) {
        const UnixSocket* p = s.peer ? find(s.peer) : nullptr;
        const bool from_pair = p && p->peer == s.ino && m.sender == p->name;
        if (s.name.empty() && !from_pair) fail("a datagram reaches an unnamed socket only from its connected peer");
        if (p && p->peer == s.ino && m.sender != p->name) fail("a datagram in a connected pair from another sender");
      }
  }
  std::sort(owners.begin(), owners.end());
  for (size_t i = 1; i < owners.size(); ++i)
    if (owners[i].first == owners[i - 1].first)
      bad("unix sockets " + std::to_string(owners[i - 1].second) + " and " + std::to_string(owners[i].second) +
          " bind the same name");
  // Named senders must be datagram sockets of the image that own the name.
  for (const UnixSocket& s : sockets)
    for (const UnixMessage& m : s.messages) {
      if (m.sender.empty()) continue;
      const std::string key = owner_key(m.sender, 2);
      auto it = std::lower_bound(owners.begin(), owners.end(), std::make_pair(key, uint64_t(0)));
      if (it == owners.end() || it->first != key || find(it->second)->type != 2)
        bad("unix socket " + std::to_string(s.ino) + ": a datagram from " + unix_name_text(m.sender) +
            ", which no datagram socket of the image binds");
    }
}

}  // namespace ckpt::format
