// The fixed-size on-disk records that frame an image: the file header at
// offset 0, the header in front of every section, and the trailer entries
// that index the sections. docs/format.md gives the same layout byte by byte.
#pragma once

#include <cstdint>

namespace ckpt::format {

struct FileHeader {         // at offset 0, 64 bytes
  uint8_t magic[8];         // kMagic
  uint32_t version;         // kVersion
  uint32_t machine;         // kMachineX86_64
  uint32_t flags;           // 0; readers refuse unknown bits
  uint32_t header_size;     // sizeof(FileHeader)
  uint64_t trailer_offset;  // absolute offset of the trailer
  uint64_t file_size;       // total bytes, trailer included
  uint32_t page_size;       // kPageSize
  uint32_t reserved0;
  uint64_t reserved1;
  uint64_t checksum;        // xxh3-64 of bytes 0..55
};
static_assert(sizeof(FileHeader) == 64);

struct SectionHeader {  // 32 bytes, 8-aligned, immediately followed by the payload
  uint32_t type;        // SectionType
  uint32_t flags;       // 0
  uint64_t length;      // payload bytes
  uint64_t checksum;    // xxh3-64 of the payload
  uint64_t reserved;
};
static_assert(sizeof(SectionHeader) == 32);

struct TrailerHeader {  // at FileHeader::trailer_offset
  uint8_t magic[8];     // kTrailerMagic
  uint32_t count;       // number of TrailerEntry records that follow
  uint32_t reserved;
};
static_assert(sizeof(TrailerHeader) == 16);

struct TrailerEntry {   // one per section, in file order
  uint32_t type;
  uint32_t flags;
  uint64_t offset;      // absolute offset of the SectionHeader
  uint64_t length;      // payload bytes (= SectionHeader::length)
  uint64_t checksum;    // = SectionHeader::checksum
};
static_assert(sizeof(TrailerEntry) == 32);
// The trailer ends with a u64 xxh3-64 of the TrailerHeader and all entries;
// the file ends right after it.

}  // namespace ckpt::format
