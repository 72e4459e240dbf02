// The bytes of a post-copy migration (`ckpt migrate --lazy` to `restore
// --listen`) after the hello (format/Handshake.h): the sender holds the
// whole image (in memory, dumped from the frozen process) and sends it
// without the page data section's payload (the "skeleton"); the page
// contents follow as chunk messages, asked for by the receiver or pushed by
// the sender in the background. docs/format.md §13, "Post-copy".
//
//   sender -> receiver  LazyHead, then the image's bytes [0, hole_start)
//                       and [hole_end, file_size): everything but the page
//                       data payload, which is [hole_start, hole_end)
//   receiver -> sender  lines: "R OFFSET\n" (send the chunk whose stored
//                       bytes start at OFFSET, before anything else),
//                       "OK\n" (the point of no return: the process runs
//                       here; push the rest), "DONE\n" (nothing more is
//                       needed: every page is in, or the process ended),
//                       "FAIL\n" (the restore ended before its point of no
//                       return, or the page server killed the restored
//                       process after it: it runs nowhere here)
//   sender -> receiver  ChunkHead + `size` stored bytes, for each chunk
//                       asked for, and after "OK\n" for every other chunk,
//                       each chunk at most once
//
// Nothing in these messages is trusted: the skeleton is read and checked
// as any image is, and a chunk's bytes are placed in the image's page data
// only at a chunk the image's own page index names, then checked against
// that index's checksum before they are used.
#pragma once

#include <array>
#include <cstdint>

namespace ckpt::format {

// In place of the image stream's magic: this connection is post-copy.
inline constexpr std::array<uint8_t, 8> kLazyMagic = {'C', 'K', 'P', 'T', 'L', 'A', 'Z', 'Y'};
inline constexpr std::array<uint8_t, 8> kChunkMagic = {'C', 'K', 'P', 'T', 'P', 'A', 'G', 'E'};

struct LazyHead {        // 48 bytes
  uint8_t magic[8];      // kLazyMagic
  uint64_t file_size;    // the image's size (its file header says it too)
  uint64_t hole_start;   // the page data payload: not sent here
  uint64_t hole_end;
  uint64_t chunks;       // how many chunk messages the sender has (member 0's page index)
  uint64_t checksum;     // xxh3 of bytes 0..39
};
static_assert(sizeof(LazyHead) == 48);

struct ChunkHead {      // 32 bytes, then `size` bytes
  uint8_t magic[8];     // kChunkMagic
  uint64_t offset;      // the chunk's `offset` in the page index
  uint64_t size;        // its `stored_size`
  uint64_t reserved;    // 0
};
static_assert(sizeof(ChunkHead) == 32);

// A request line is at most this long ("R " + 20 digits + "\n").
inline constexpr size_t kLazyLineMax = 32;

// Both ends set TCP keepalive on the connection, so that a peer that is
// gone without a word (its machine down, the link cut) is noticed: idle
// seconds before the first probe, seconds between probes, probes.
inline constexpr int kLazyKeepIdle = 10, kLazyKeepInterval = 5, kLazyKeepCount = 6;

}  // namespace ckpt::format
