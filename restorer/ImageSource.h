// Where restore's image comes from: a file (IMAGE), standard input
// (IMAGE "-": an image or an image stream, read to its end into a memfd,
// format/ImageStream.h), or one TCP connection from `ckpt migrate`
// (--listen, format/Handshake.h: pre-copy rounds, each a whole image kept
// in a sealed memfd and checked as it comes, then the final image). Whatever the source, the result is a
// descriptor that ImageReader checks as it checks a file, and that lazy
// restore's page server reads from later (the memfd lives as long as it).
//
// After `restore -`, fd 0 is /dev/null (read-write): the stream is used up,
// and the restored process, which keeps restore's fds 0-2, reads EOF there
// as at the end of a pipe rather than holding the sender's pipe or socket.
#pragma once

#include "format/ImageChain.h"
#include "restorer/CommandLine.h"

namespace ckpt::restorer {

// Opens the image `cl` names (cl.image, "-" or cl.listen). Throws
// RestoreError / std::runtime_error / FormatError in one line.
int open_image_source(const CommandLine& cl);

// The pre-copy rounds a migration's connection brought before its final
// image (each checked whole when it came), for that image's chain
// (format::follow_chain); nullptr when there were none.
const format::HeldImages* received_images();

// A migration: tells the sender that this restore has passed every check
// and is about to jump (the sender then kills its process). Call right
// before launch(), or before a tree's go (Tree.cpp). Nothing otherwise. Throws RestoreError if the sender is
// gone: then this restore must not go on (the process may run there).
void confirm_image_source();

}  // namespace ckpt::restorer
