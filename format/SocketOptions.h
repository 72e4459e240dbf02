// The socket options an image carries for a socket (Internet sockets, and
// any other kind that reuses this record): which options exist (a fixed
// table, so a crafted image can set nothing else), their encoding, their
// validation, and the rule by which dump and restore put them back on a
// socket, shared so that `ckpt dump` can try on a scratch socket exactly
// what `restore` will do. docs/format.md, "Socket options".
//
// The rule (apply_socket_options): in table order, each saved option that a
// fresh socket of the same kind does not already have is set, then every
// saved option is read back and must equal the saved value. The table order
// is the order that makes this exact (IP_TOS before SO_PRIORITY, which it
// changes on TCP sockets; SO_RCVLOWAT before SO_RCVBUF, which it may grow).
// Options a fresh socket already has are never set, so an automatic buffer
// size is not turned into a locked one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "format/Codec.h"

namespace ckpt::format {

// One option's value exactly as getsockopt returned it (strings: without
// their trailing NULs).
struct SocketOption {
  uint32_t level = 0;
  uint32_t name = 0;
  std::vector<uint8_t> value;
  bool operator==(const SocketOption&) const = default;
};

enum class OptionKind : uint8_t {
  Int,     // an int
  Buffer,  // SO_RCVBUF/SO_SNDBUF: the kernel keeps twice what is set; `force` names the CAP_NET_ADMIN variant
  Bytes,   // a fixed-size struct (linger, timeval, in_addr, u64): `size` bytes
  String,  // a name of at most `size` bytes, no NUL (a device, a congestion control)
};

struct SocketOptionSpec {
  uint32_t level;
  uint32_t name;
  const char* label;  // "SO_REUSEADDR"
  OptionKind kind;
  uint8_t size;       // bytes (Int, Buffer: 4; String: the longest)
  uint32_t force;     // Buffer: SO_RCVBUFFORCE/SO_SNDBUFFORCE
};

// Every option an image may hold, in the order they are set.
const std::vector<SocketOptionSpec>& socket_option_table();
const SocketOptionSpec* socket_option_spec(uint32_t level, uint32_t name);  // nullptr: not in the table
// Its place in the table (ascending in a record); SIZE_MAX if absent.
size_t socket_option_rank(uint32_t level, uint32_t name);

// "SO_RCVBUF 212992", "TCP_CONGESTION cubic", "SO_LINGER (8 bytes 01000000...)".
std::string socket_option_text(const SocketOption& o);

void put_socket_options(ByteWriter& w, const std::vector<SocketOption>& options);
std::vector<SocketOption> get_socket_options(ByteReader& r);

// Known options only, in table order without repeats, each of its size.
// `bad` throws with the message.
void validate_socket_options(const std::vector<SocketOption>& options,
                             const std::function<void(const std::string&)>& bad);

// The caller's access to one socket, getsockopt and setsockopt as the
// kernel has them (format/ makes no system call): each returns 0 or an errno.
struct SocketOptionAccess {
  std::function<int(uint32_t level, uint32_t name, void* value, uint32_t* size)> get;
  std::function<int(uint32_t level, uint32_t name, const void* value, uint32_t size)> set;
};

// Reads one option as a record holds it (strings cut at their first NUL).
// Returns 0 or an errno.
int read_socket_option(const SocketOptionAccess& socket, const SocketOptionSpec& spec, std::vector<uint8_t>& value);

// Puts `options` on a socket by the rule above. Returns "" when every
// option reads back as saved, else one line naming the first that does not
// and why.
std::string apply_socket_options(const std::vector<SocketOption>& options, const SocketOptionAccess& socket);

}  // namespace ckpt::format
