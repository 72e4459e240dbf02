// The few bytes `ckpt migrate` and `restore --listen` exchange around the
// images on their TCP connection, and the token both hold. The connection
// is not encrypted (docs/security.md: tunnel it through ssh -L); the token
// only keeps a stranger from handing `restore --listen` an image.
//
//   sender -> receiver  hello: kHelloMagic, u32 token length, the token
//   receiver -> sender  "ACCEPT\n", or "REFUSED\n" and the connection closes
//                       (a wrong magic, length or token: nothing more is read)
//   then zero or more pre-copy rounds, each:
//   sender -> receiver  kRoundMagic, u64 length, then `length` bytes: one
//                       whole image (file layout or stream encoding); round
//                       0 a full image, round k an incremental image whose
//                       parent is round k-1 (docs/format.md §5.16)
//   receiver -> sender  "NEXT\n" once that image and its whole chain are
//                       checked (every checksum); "FAIL\n" and EOF if not
//   then the final image:
//   sender -> receiver  kFinalMagic, then the image stream
//                       (format/ImageStream.h) to EOF; incremental on the
//                       last round when there was one
//   receiver -> sender  "OK\n" when the image is checked, staged and about to
//                       be jumped into (nothing left that can fail); then
//                       EOF when its trampoline closes the launcher's files.
//                       "FAIL\n" if the restore ends before the jump.
// The sender kills its process only on exactly "OK\n" followed by EOF.
// Post-copy (ckpt migrate --lazy): after "ACCEPT\n" the sender sends
// format::kLazyMagic as a third frame tag, with no round before it, and the
// rest follows format/LazyWire.h; the hello is unchanged. Any other tag is
// refused.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace ckpt::format {

inline constexpr std::array<uint8_t, 8> kHelloMagic = {'C', 'K', 'P', 'T', 'M', 'I', 'G', '1'};
inline constexpr size_t kMinTokenBytes = 16;
inline constexpr size_t kMaxTokenBytes = 4096;
inline constexpr const char* kTokenEnv = "CKPT_TOKEN";

// The frames after ACCEPT (see above).
inline constexpr std::array<uint8_t, 8> kRoundMagic = {'C', 'K', 'P', 'T', 'R', 'N', 'D', '1'};
inline constexpr std::array<uint8_t, 8> kFinalMagic = {'C', 'K', 'P', 'T', 'F', 'I', 'N', '1'};
inline constexpr uint64_t kMinRoundBytes = 64;         // a file header at least
inline constexpr uint64_t kMaxRoundBytes = 1ull << 40;  // 1 TiB: an image of a larger process is not sent in rounds
// Pre-copy rounds a receiver takes before the final image: the chain of
// rounds and the final stays well within kMaxChainDepth.
inline constexpr uint32_t kMaxRounds = 64;
inline constexpr const char* kNextReply = "NEXT\n";

enum class FrameKind { Round, Final };

// The kind a frame's first 8 bytes name. Anything else: std::runtime_error
// naming the bytes received (printable), one line.
FrameKind frame_kind(const uint8_t tag[8]);
// A round's u64 length (little-endian, the 8 bytes after its tag), checked
// against kMinRoundBytes..kMaxRoundBytes. Throws std::runtime_error.
uint64_t round_length(const uint8_t length[8]);
// The 16 bytes that start a round of `length` bytes.
std::array<uint8_t, 16> round_header(uint64_t length);

// Reads exactly `length` bytes of `conn` into a sealed memfd and returns a
// read-only descriptor of the image they hold (format::receive_image rules:
// file layout or stream encoding). `what` names the source in messages.
// Throws std::runtime_error: the connection ends early, not an image.
int receive_round(int conn, uint64_t length, const std::string& what);

// The token: the content of `token_file` (one final newline dropped) if it
// is not empty, else the environment variable CKPT_TOKEN. A file that its
// group or others may read, a token shorter than kMinTokenBytes or longer
// than kMaxTokenBytes, or no token at all: std::runtime_error, one line.
std::string load_token(const std::string& token_file);

// Whether `a` equals `b`, in a time that does not depend on where they differ.
bool same_token(const std::string& a, const std::string& b);

}  // namespace ckpt::format
