// Little-endian wire encodings of the MySQL protocol: fixed-width and length-encoded integers
// and strings. `ByteReader` never reads past its buffer: on overrun it returns zeros/empties and
// turns `ok()` false, so a decoder checks once at the end ("sticky failure").
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace scion::mysql {

class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t position() const { return pos_; }
  bool empty() const { return pos_ >= data_.size(); }
  std::string_view rest() const { return data_.substr(pos_); }
  // Peeks at the next byte (0 when none).
  std::uint8_t peek() const { return pos_ < data_.size() ? static_cast<std::uint8_t>(data_[pos_]) : 0; }

  // Little-endian unsigned integer of `n` bytes (1..8).
  std::uint64_t UintLE(int n) {
    if (!Need(static_cast<std::size_t>(n))) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  // Big-endian unsigned integer of `n` bytes (1..8).
  std::uint64_t UintBE(int n) {
    if (!Need(static_cast<std::size_t>(n))) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<std::uint8_t>(data_[pos_ + i]);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::uint8_t U8() { return static_cast<std::uint8_t>(UintLE(1)); }
  std::uint16_t U16() { return static_cast<std::uint16_t>(UintLE(2)); }
  std::uint32_t U24() { return static_cast<std::uint32_t>(UintLE(3)); }
  std::uint32_t U32() { return static_cast<std::uint32_t>(UintLE(4)); }
  std::uint64_t U64() { return UintLE(8); }

  // Length-encoded integer. Sets `is_null` for the 0xFB marker when given.
  std::uint64_t LenencInt(bool* is_null = nullptr) {
    std::uint8_t first = U8();
    if (is_null) *is_null = false;
    if (first < 0xfb) return first;
    if (first == 0xfb) {
      if (is_null) *is_null = true;
      return 0;
    }
    if (first == 0xfc) return UintLE(2);
    if (first == 0xfd) return UintLE(3);
    if (first == 0xfe) return UintLE(8);
    ok_ = false;  // 0xff is not a valid length
    return 0;
  }

  std::string_view Bytes(std::size_t n) {
    if (!Need(n)) return {};
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::string_view LenencString(bool* is_null = nullptr) {
    std::uint64_t n = LenencInt(is_null);
    if (n > remaining()) {
      ok_ = false;
      return {};
    }
    return Bytes(static_cast<std::size_t>(n));
  }
  // Bytes up to (not including) the next NUL, which is consumed.
  std::string_view NulString() {
    auto end = data_.find('\0', pos_);
    if (end == std::string_view::npos) {
      ok_ = false;
      pos_ = data_.size();
      return {};
    }
    auto out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  std::string_view Rest() {
    auto out = data_.substr(pos_);
    pos_ = data_.size();
    return out;
  }
  void Skip(std::size_t n) { (void)Bytes(n); }

 private:
  bool Need(std::size_t n) {
    if (!ok_ || n > data_.size() - pos_) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class ByteWriter {
 public:
  void UintLE(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void U8(std::uint8_t v) { out_ += static_cast<char>(v); }
  void U16(std::uint16_t v) { UintLE(v, 2); }
  void U32(std::uint32_t v) { UintLE(v, 4); }
  void LenencInt(std::uint64_t v) {
    if (v < 0xfb) {
      U8(static_cast<std::uint8_t>(v));
    } else if (v < (1u << 16)) {
      U8(0xfc);
      UintLE(v, 2);
    } else if (v < (1u << 24)) {
      U8(0xfd);
      UintLE(v, 3);
    } else {
      U8(0xfe);
      UintLE(v, 8);
    }
  }
  void LenencString(std::string_view s) {
    LenencInt(s.size());
    out_.append(s);
  }
  void NulString(std::string_view s) {
    out_.append(s);
    out_ += '\0';
  }
  void Bytes(std::string_view s) { out_.append(s); }
  void Zeros(std::size_t n) { out_.append(n, '\0'); }

  std::string& str() { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace scion::mysql
