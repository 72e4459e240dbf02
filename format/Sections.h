// Encoding and decoding of each metadata section's payload. Decoders check
// every count and length against format/Limits.h; semantic checks that need
// the whole image (ordering, containment) live in Validate.h.
#pragma once

#include <cstdint>
#include <vector>

#include "format/Image.h"

namespace ckpt::format {

std::vector<uint8_t> encode_process(const ProcessInfo&);
std::vector<uint8_t> encode_mm(const MmInfo&);
std::vector<uint8_t> encode_vmas(const std::vector<Vma>&);
std::vector<uint8_t> encode_threads(const std::vector<ThreadState>&);
std::vector<uint8_t> encode_page_index(const std::vector<PageChunk>&);
std::vector<uint8_t> encode_task(const TaskState&);
std::vector<uint8_t> encode_files(const FileTable&);
std::vector<uint8_t> encode_sysv_shm(const std::vector<SysvSegment>&);
std::vector<uint8_t> encode_tree(const ProcessTree&);

// `base` is the payload's absolute offset in the image, for error messages.
ProcessInfo decode_process(const uint8_t* p, size_t n, uint64_t base);
MmInfo decode_mm(const uint8_t* p, size_t n, uint64_t base);
std::vector<Vma> decode_vmas(const uint8_t* p, size_t n, uint64_t base);
std::vector<ThreadState> decode_threads(const uint8_t* p, size_t n, uint64_t base);
std::vector<PageChunk> decode_page_index(const uint8_t* p, size_t n, uint64_t base);
TaskState decode_task(const uint8_t* p, size_t n, uint64_t base);
FileTable decode_files(const uint8_t* p, size_t n, uint64_t base);
std::vector<SysvSegment> decode_sysv_shm(const uint8_t* p, size_t n, uint64_t base);
ProcessTree decode_tree(const uint8_t* p, size_t n, uint64_t base);

}  // namespace ckpt::format
