// Little-endian field encoding of metadata sections: fixed-width integers and
// length-prefixed strings/blobs. ByteReader checks every read against the end
// of its buffer and reports the absolute image offset of what went wrong.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "format/FormatError.h"

namespace ckpt::format {

class ByteWriter {
 public:
  void u32(uint32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  void i32(int32_t v) { put(&v, 4); }
  void i64(int64_t v) { put(&v, 8); }
  void str(const std::string& s) {
    u32(uint32_t(s.size()));
    put(s.data(), s.size());
  }
  void blob(const std::vector<uint8_t>& b) {
    u32(uint32_t(b.size()));
    put(b.data(), b.size());
  }
  void put(const void* p, size_t n) {
    auto c = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), c, c + n);
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;  // x86-64 is little-endian: native order is the format's
};

class ByteReader {
 public:
  // `base` is the absolute image offset of data[0], for error messages.
  ByteReader(const uint8_t* data, size_t size, uint64_t base) : p_(data), size_(size), base_(base) {}

  uint32_t u32(const char* what) { uint32_t v; get(&v, 4, what); return v; }
  uint64_t u64(const char* what) { uint64_t v; get(&v, 8, what); return v; }
  int32_t i32(const char* what) { int32_t v; get(&v, 4, what); return v; }
  int64_t i64(const char* what) { int64_t v; get(&v, 8, what); return v; }
  std::string str(const char* what, uint32_t max_len) {
    uint32_t n = length(what, max_len);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::vector<uint8_t> blob(const char* what, uint32_t max_len) {
    uint32_t n = length(what, max_len);
    std::vector<uint8_t> b(p_ + pos_, p_ + pos_ + n);
    pos_ += n;
    return b;
  }
  // A count of records of at least `min_record` bytes each: bounded by the
  // limit and by what the remaining bytes can possibly hold.
  uint32_t count(const char* what, uint32_t max_count, size_t min_record) {
    uint64_t at = offset();
    uint32_t n = u32(what);
    if (n > max_count)
      throw FormatError(at, std::string(what) + " is " + std::to_string(n) + ", limit " + std::to_string(max_count));
    if (min_record && uint64_t(n) * min_record > remaining())
      throw FormatError(at, std::string(what) + " " + std::to_string(n) + " does not fit in the section");
    return n;
  }
  void expect_end(const char* section) const {
    if (pos_ != size_)
      throw FormatError(offset(), std::to_string(size_ - pos_) + " unexpected trailing bytes in " + section);
  }
  uint64_t offset() const { return base_ + pos_; }
  size_t remaining() const { return size_ - pos_; }

 private:
  uint32_t length(const char* what, uint32_t max_len) {
    uint64_t at = offset();
    uint32_t n = u32(what);
    if (n > max_len)
      throw FormatError(at, std::string(what) + " length " + std::to_string(n) + " exceeds limit " + std::to_string(max_len));
    if (n > remaining()) throw FormatError(at, std::string(what) + " runs past the end of its section");
    return n;
  }
  void get(void* out, size_t n, const char* what) {
    if (n > remaining()) throw FormatError(offset(), std::string("section ends inside ") + what);
    std::memcpy(out, p_ + pos_, n);
    pos_ += n;
  }
  const uint8_t* p_;
  size_t size_;
  uint64_t base_;
  size_t pos_ = 0;
};

}  // namespace ckpt::format
