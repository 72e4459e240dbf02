// The few bytes `ckpt migrate` and `restore --listen` exchange around an
// image stream on their TCP connection, and the token both hold. The
// connection is not encrypted (docs/security.md: tunnel it through ssh -L);
// the token only keeps a stranger from handing `restore --listen` an image.
//
//   sender -> receiver  hello: kHelloMagic, u32 token length, the token
//   receiver -> sender  "ACCEPT\n", or "REFUSED\n" and the connection closes
//                       (a wrong magic, length or token: nothing more is read)
//   sender -> receiver  the image stream (format/ImageStream.h), then EOF
//   receiver -> sender  "OK\n" when the image is checked, staged and about to
//                       be jumped into (nothing left that can fail); then
//                       EOF when its trampoline closes the launcher's files.
//                       "FAIL\n" if the restore ends before the jump.
// The sender kills its process only on exactly "OK\n" followed by EOF.
// Post-copy (ckpt migrate --lazy), appended: after "ACCEPT\n" the sender
// sends format::kLazyMagic in place of the stream (the receiver peeks at
// it), and the rest follows format/LazyWire.h; the hello is unchanged.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace ckpt::format {

inline constexpr std::array<uint8_t, 8> kHelloMagic = {'C', 'K', 'P', 'T', 'M', 'I', 'G', '1'};
inline constexpr size_t kMinTokenBytes = 16;
inline constexpr size_t kMaxTokenBytes = 4096;
inline constexpr const char* kTokenEnv = "CKPT_TOKEN";

// The token: the content of `token_file` (one final newline dropped) if it
// is not empty, else the environment variable CKPT_TOKEN. A file that its
// group or others may read, a token shorter than kMinTokenBytes or longer
// than kMaxTokenBytes, or no token at all: std::runtime_error, one line.
std::string load_token(const std::string& token_file);

// Whether `a` equals `b`, in a time that does not depend on where they differ.
bool same_token(const std::string& a, const std::string& b);

}  // namespace ckpt::format
