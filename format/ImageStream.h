// The stream encoding of an image: what `ckpt dump -o -` writes to a pipe
// or a socket (and `ckpt migrate` to its connection), which cannot seek back
// to fill in the file header and the page data section's header as a file
// writer does. The stream is the image's bytes in file order, except that
// the file header carries kStreamMagic (and no sizes) and the page data
// header no length and checksum; after the image's last byte comes one
// StreamEnd record holding those two headers as they must finally read.
// receive_image() takes a stream (or a plain image arriving through a pipe)
// into a sealed memfd, puts the two headers in place, and hands back a
// descriptor that ImageReader then checks like any image file: nothing is
// trusted because it came through a stream. docs/format.md, "Streams".
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "format/Layout.h"

namespace ckpt::format {

// Bytes 0..7 of a stream (in place of kMagic, which the end record restores).
inline constexpr std::array<uint8_t, 8> kStreamMagic = {0x7f, 'C', 'K', 'P', 'T', 'S', 'T', 'M'};
inline constexpr std::array<uint8_t, 8> kStreamEndMagic = {'C', 'K', 'P', 'T', 'S', 'E', 'N', 'D'};

struct StreamEnd {              // the last 120 bytes of a stream
  uint8_t magic[8];             // kStreamEndMagic
  uint64_t page_data_offset;    // where `page_data` goes (its SectionHeader's offset)
  SectionHeader page_data;      // the page data section's final header
  FileHeader header;            // the final file header (goes at offset 0)
  uint64_t checksum;            // xxh3-64 of bytes 0..111 of this record
};
static_assert(sizeof(StreamEnd) == 120);

// Reads `in` to its end (a pipe, a socket, a file) and returns a read-only,
// close-on-exec descriptor holding the image it carried, in file layout. A
// regular file at offset 0 that starts with kMagic is used as it is (a
// duplicate of `in`, no copy). `what` names the source in messages. Throws
// std::runtime_error in one line: a stream that ends before its end record,
// whose end record is damaged or does not match what came before it, or
// that carries neither magic.
int receive_image(int in, const std::string& what);

}  // namespace ckpt::format
