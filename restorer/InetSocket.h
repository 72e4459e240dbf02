// Network sockets that are not live connections, restored (format/
// InetSocket.h): each is created afresh in restore's own network
// namespace, given its options (SocketOptions.h), bound to its saved
// address (a netlink socket to its port id, joining its groups), listening
// with its backlog or connected to its datagram peer; then its queued
// datagrams are sent to it again, each from its saved source address.
// Phase 1 (and `restore --check`) tries each on a scratch socket that is
// closed at once: options, and the bind, so a port taken here is refused
// before anything is created, naming it.
#pragma once

#include <map>

#include "format/Image.h"

namespace ckpt::restorer {

// Phase 1, for every socket of the image at once. Throws RestoreError
// naming the fd and its address.
void check_inet_sockets(const format::Image& image);

// Creates the socket `f` names, ready but for its queued datagrams; returns
// the launcher's descriptor of it. Throws RestoreError.
int make_inet_socket(const format::Image& image, const format::FdEntry& f);

// Once every socket exists (`created`: FdEntry::fd -> launcher fd): sends
// each queued datagram again to its socket, from the restored socket bound
// to its source address if there is one, else from a socket bound to it
// here, and waits until each socket's queue holds them all. Throws RestoreError.
void fill_inet_queues(const format::Image& image, const std::map<int32_t, int>& created);

}  // namespace ckpt::restorer
