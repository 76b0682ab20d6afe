#pragma once

// Text without heap allocation for the projector's hot path: a "why" is
// written into a stack buffer, compared with the stored one and copied only
// when it differs. Header-only, pure.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace crm::projections {

// Appends pieces like absl::StrAppend (same formatting of integers and
// doubles) into an inline buffer; spills into a std::string only when the
// text outgrows it. Not thread-safe; a local variable.
class TextBuffer {
 public:
  TextBuffer() = default;
  TextBuffer(const TextBuffer&) = delete;
  TextBuffer& operator=(const TextBuffer&) = delete;

  TextBuffer& Append(absl::string_view s) {
    if (spill_.empty() && size_ + s.size() <= kInline) {
      if (!s.empty()) std::memcpy(inline_ + size_, s.data(), s.size());
      size_ += s.size();
      return *this;
    }
    if (spill_.empty()) spill_.assign(inline_, size_);
    spill_.append(s.data(), s.size());
    size_ = spill_.size();
    return *this;
  }
  TextBuffer& Append(const char* s) { return Append(absl::string_view(s)); }
  TextBuffer& Append(const std::string& s) {
    return Append(absl::string_view(s));
  }
  // Integers and doubles as absl::StrCat writes them.
  TextBuffer& Append(int64_t v) { return Append(absl::AlphaNum(v).Piece()); }
  TextBuffer& Append(uint64_t v) { return Append(absl::AlphaNum(v).Piece()); }
  TextBuffer& Append(int32_t v) { return Append(absl::AlphaNum(v).Piece()); }
  TextBuffer& Append(uint32_t v) { return Append(absl::AlphaNum(v).Piece()); }
  TextBuffer& Append(double v) { return Append(absl::AlphaNum(v).Piece()); }

  void Clear() {
    size_ = 0;
    spill_.clear();
  }
  absl::string_view view() const {
    return spill_.empty() ? absl::string_view(inline_, size_)
                          : absl::string_view(spill_);
  }
  std::string str() const { return std::string(view()); }

 private:
  static constexpr size_t kInline = 240;
  char inline_[kInline];
  size_t size_ = 0;
  std::string spill_;
};

// Sets *dst to `v` unless it already holds it (keeps the allocation).
inline void AssignIfDifferent(absl::string_view v, std::string* dst) {
  if (absl::string_view(*dst) != v) dst->assign(v.data(), v.size());
}

// Sets a string field to `v` unless `current` (its value) already holds it;
// `mut` returns the field's mutable string and is called only on a
// difference, e.g.
//   SetString(why, g->stars_why(), [g] { return g->mutable_stars_why(); });
template <typename Mutable>
inline void SetString(absl::string_view v, const std::string& current,
                      Mutable mut) {
  if (absl::string_view(current) != v) mut()->assign(v.data(), v.size());
}

}  // namespace crm::projections
