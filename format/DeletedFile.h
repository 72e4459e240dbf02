// Encoding, decoding and validation of DeletedFile records (format/Image.h)
// and of the fields that refer to them. They are appended to the files
// section (docs/format.md, "Deleted files"); kept here so that the files
// section's own code only calls in.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "format/Codec.h"
#include "format/Image.h"

namespace ckpt::format {

void put_deleted_files(ByteWriter& w, const std::vector<DeletedFile>& files);
std::vector<DeletedFile> get_deleted_files(ByteReader& r);

// The DeletedFile `id` in a sorted table, or nullptr.
const DeletedFile* find_deleted(const std::vector<DeletedFile>& files, uint64_t id);

// Rules for the records and for every fd and VMA that names one; `bad`
// throws with the message. O(n log n).
void validate_deleted_files(const Image& image, const std::function<void(const std::string&)>& bad);

}  // namespace ckpt::format
