// Socket options put back on a socket restore created, by the rule of
// format/SocketOptions.h (set what a fresh socket lacks, in table order,
// then read everything back). Used before the point of no return only:
// on the socket that will be handed over, and by `restore --check` on a
// scratch socket of the same kind.
#pragma once

#include <string>
#include <vector>

#include "format/SocketOptions.h"

namespace ckpt::restorer {

// Throws RestoreError "WHAT: why" when an option cannot be put back exactly.
void put_socket_options(int fd, const std::vector<format::SocketOption>& options, const std::string& what);

}  // namespace ckpt::restorer
