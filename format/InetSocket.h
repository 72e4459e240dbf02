// The record of a network socket that is not a live connection (section 26,
// `inet_sockets`; docs/format.md §5.8): an IPv4 or IPv6 TCP, UDP or ICMP
// "ping" socket that is created, bound, listening or (datagram) connected,
// with its options and its queued datagrams, or a netlink socket with its
// port id and groups. An fd of kind `inet socket` or `netlink socket`
// names one by its id (the socket's inode at dump). Encoding, decoding and
// the rules of validation live here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::format {

std::vector<uint8_t> encode_inet_sockets(const std::vector<InetSocket>& sockets);
std::vector<InetSocket> decode_inet_sockets(const uint8_t* p, size_t n, uint64_t base);

// Every rule of docs/format.md §8 on sockets, and on the fds that name
// them (each socket named by exactly one fd record of the matching kind).
// `bad` throws with the message.
void validate_inet_sockets(const FileTable& files, const std::function<void(const std::string&)>& bad);

// "TCP 127.0.0.1:8080", "UDPv6 [::1]:53", "netlink route port 1234".
std::string inet_socket_text(const InetSocket& s);
// "created", "bound", "listening", "connected".
const char* socket_state_name(SocketState state);
// "127.0.0.1:8080" or "[::1]:53" for a saved sockaddr; "" if it is none.
std::string sockaddr_text(const std::vector<uint8_t>& addr);

}  // namespace ckpt::format
