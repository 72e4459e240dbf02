// Established TCP connections brought back with TCP_REPAIR (docs/architecture.md,
// "TCP connections"). Each record of the tcp section becomes one socket,
// created once in the launcher whatever the number of fds (or, later,
// processes) holding it: in repair mode, with both queues' sequence numbers,
// bound to the saved local address and "connected" to the saved peer (no
// SYN is sent in repair mode), the negotiated options, timestamp clock,
// window and both queues' contents. It stays in repair mode, so that a
// restore failing before its point of no return closes it silently; the
// trampoline switches repair mode off (FdFixup kFixupTcpRepairOff) once
// every fd has its number, which sends one window probe and makes the
// connection live, then sets SO_REUSEADDR, which leaving repair mode clears.
#pragma once

#include "format/Image.h"

namespace ckpt::restorer {

// Phase 1 (and restore --check): for every connection, a socket in repair
// mode is bound and connected as the restore will do and closed again
// (silently: repair mode): refuses, naming the connection, without
// CAP_NET_ADMIN in this network namespace, when the local address is not
// on this machine, and when the connection still exists (the original
// process still holds it). Throws RestoreError.
void check_tcp_connections(const format::Image& image);

// The tcp section's record of a TcpConnection fd (validation made sure it exists).
const format::TcpConnection& tcp_record(const format::Image& image, const format::FdEntry& f);

// Creates connection f.object of the tcp section for fd entry `f`, in repair
// mode, everything set but leaving it and the data never sent at dump.
// Returns the socket. Throws RestoreError.
int make_tcp_connection(const format::Image& image, const format::FdEntry& f);

// Queues the data never sent at dump as new data (repair mode off for the
// moment, so the kernel sends it as the peer's window allows). Called once
// every connection of the image exists: the peer may be one of them, and
// data sent to a port nobody holds yet would be answered with a reset.
void send_unsent(const format::TcpConnection& c, int fd);

// The SO_REUSEADDR value the trampoline sets after repair mode.
int tcp_reuseaddr(const format::Image& image, const format::FdEntry& f);
// Whether the connection was corked (TCP_CORK): the trampoline pushes the
// queued data of one that was not.
bool tcp_corked(const format::Image& image, const format::FdEntry& f);

}  // namespace ckpt::restorer
