// `ckpt inspect` and `ckpt verify`: read an image and print it, or check
// every byte of it, without touching any process.
#pragma once

#include <iosfwd>
#include <string>

namespace ckpt::dumper {

// Human-readable summary, or JSON when `json` is set. Throws on a bad image.
void inspect_image(const std::string& path, bool json, std::ostream& out);
// Every checksum, every chunk decoded. Throws on the first problem.
void verify_image(const std::string& path, std::ostream& out);

}  // namespace ckpt::dumper
