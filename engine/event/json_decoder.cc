#include "engine/event/json_decoder.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace crm::event {
namespace {

namespace od = simdjson::ondemand;
using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::EnumValueDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::OneofDescriptor;
using ::google::protobuf::Reflection;

// What the decoder knows about one message type.
struct TypeInfo {
  // Field by proto name and by json_name; keys point into the descriptors.
  absl::flat_hash_map<absl::string_view, const FieldDescriptor*> by_name;
  bool is_timestamp = false;
  // A well-known type other than Timestamp (needs special JSON rules).
  bool unsupported = false;
  const FieldDescriptor* seconds = nullptr;  // Timestamp only
  const FieldDescriptor* nanos = nullptr;    // Timestamp only
};

// The integer kinds of the JSON mapping.
enum class IntKind { kInt32, kInt64, kUInt32, kUInt64 };

absl::string_view Av(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

bool IsSigned(IntKind k) {
  return k == IntKind::kInt32 || k == IntKind::kInt64;
}

// A parsed integer: signed values in `s`, unsigned ones in `u`.
struct Int {
  bool negative_or_signed = true;  // value is in `s`
  int64_t s = 0;
  uint64_t u = 0;
};

bool InRange(const Int& v, IntKind k) {
  if (v.negative_or_signed) {
    switch (k) {
      case IntKind::kInt32:
        return v.s >= std::numeric_limits<int32_t>::min() &&
               v.s <= std::numeric_limits<int32_t>::max();
      case IntKind::kInt64:
        return true;
      case IntKind::kUInt32:
        return v.s >= 0 && v.s <= std::numeric_limits<uint32_t>::max();
      case IntKind::kUInt64:
        return v.s >= 0;
    }
  }
  return k == IntKind::kUInt64;
}

// protobuf 3.21's string-to-integer rules (DataPiece::StringToNumber with
// safe_strto*): no white space, optional sign ('-' only for signed kinds),
// decimal digits, no overflow.
bool ParseIntString(absl::string_view s, IntKind kind, Int* out) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  if (negative && !IsSigned(kind)) return false;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
  }
  if (negative) {
    if (value >
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) {
      return false;
    }
    out->negative_or_signed = true;
    out->s =
        value == static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1
            ? std::numeric_limits<int64_t>::min()
            : -static_cast<int64_t>(value);
  } else if (value <=
             static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    out->negative_or_signed = true;
    out->s = static_cast<int64_t>(value);
  } else {
    out->negative_or_signed = false;
    out->u = value;
  }
  return InRange(*out, kind);
}

// A double that is an exact integer in range of `kind` (protobuf accepts
// 1e2 or 7.0 for integer fields).
bool DoubleToInt(double d, IntKind kind, Int* out) {
  if (!std::isfinite(d) || std::trunc(d) != d) return false;
  switch (kind) {
    case IntKind::kInt32:
      if (d < -2147483648.0 || d > 2147483647.0) return false;
      break;
    case IntKind::kInt64:
      if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
        return false;
      }
      break;
    case IntKind::kUInt32:
      if (d < 0 || d > 4294967295.0) return false;
      break;
    case IntKind::kUInt64:
      if (d < 0 || d >= 18446744073709551616.0) return false;
      if (d >= 9223372036854775808.0) {
        out->negative_or_signed = false;
        out->u = static_cast<uint64_t>(d);
        return true;
      }
      break;
  }
  out->negative_or_signed = true;
  out->s = static_cast<int64_t>(d);
  return true;
}

// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto digits = [&] {
    const size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < n && s[i] == '-') ++i;
  if (i < n && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n;
}

// --- RFC 3339 timestamps, as protobuf 3.21's internal ParseTime reads them.

// Up to `width` digits (at least one) in [min, max].
const char* ParseTimeInt(const char* p, const char* end, int width, int min,
                         int max, int* out) {
  if (p >= end || !absl::ascii_isdigit(*p)) return nullptr;
  int value = 0;
  for (int i = 0; i < width && p < end && absl::ascii_isdigit(*p); ++i, ++p) {
    value = value * 10 + (*p - '0');
  }
  if (value < min || value > max) return nullptr;
  *out = value;
  return p;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ParseRfc3339(absl::string_view text, int64_t* seconds, int32_t* nanos) {
  // protobuf reads a C string: an embedded NUL ends it.
  text = text.substr(0, text.find('\0'));
  const char* p = text.data();
  const char* end = p + text.size();
  int year, month, day, hour, minute, second;
  auto expect = [&](char c) {
    if (p < end && *p == c) {
      ++p;
      return true;
    }
    return false;
  };
  if (!(p = ParseTimeInt(p, end, 4, 1, 9999, &year)) || !expect('-')) {
    return false;
  }
  if (!(p = ParseTimeInt(p, end, 2, 1, 12, &month)) || !expect('-')) {
    return false;
  }
  if (!(p = ParseTimeInt(p, end, 2, 1, 31, &day)) || !expect('T')) {
    return false;
  }
  if (!(p = ParseTimeInt(p, end, 2, 0, 23, &hour)) || !expect(':')) {
    return false;
  }
  if (!(p = ParseTimeInt(p, end, 2, 0, 59, &minute)) || !expect(':')) {
    return false;
  }
  if (!(p = ParseTimeInt(p, end, 2, 0, 59, &second))) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  const int month_days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day > month_days) return false;
  int64_t secs = DaysFromCivil(year, month, day) * 86400 + hour * 3600 +
                 minute * 60 + second;
  int32_t ns = 0;
  if (p < end && *p == '.') {
    ++p;
    if (p >= end || !absl::ascii_isdigit(*p)) return false;
    int len = 0;
    while (p < end && absl::ascii_isdigit(*p)) {
      if (len < 9) ns = ns * 10 + (*p - '0');
      ++len;
      ++p;
    }
    for (; len < 9; ++len) ns *= 10;
  }
  if (p >= end) return false;
  const char zone = *p++;
  if (zone == '+' || zone == '-') {
    int oh, om;
    if (!(p = ParseTimeInt(p, end, 2, 0, 23, &oh)) || !expect(':')) {
      return false;
    }
    if (!(p = ParseTimeInt(p, end, 2, 0, 59, &om))) return false;
    const int64_t offset = (oh * 60 + om) * 60;
    secs += zone == '+' ? -offset : offset;
  } else if (zone != 'Z') {
    return false;
  }
  if (p != end) return false;
  *seconds = secs;
  *nanos = ns;
  return true;
}

bool IsWellKnownWithSpecialJson(const Descriptor* d) {
  const std::string& n = d->full_name();
  return n.rfind("google.protobuf.", 0) == 0 &&
         n != "google.protobuf.Timestamp" && n != "google.protobuf.Empty";
}

}  // namespace

class FastJsonDecoder::Impl {
 public:
  explicit Impl(const Descriptor* type) : type_(type) { Index(type); }

  absl::Status Decode(absl::string_view json, Message* message) {
    message->Clear();
    path_.clear();
    buffer_.assign(json.data(), json.size());
    buffer_.append(simdjson::SIMDJSON_PADDING, '\0');
    od::document doc;
    if (auto err = parser_.iterate(buffer_.data(), json.size(), buffer_.size())
                       .get(doc)) {
      return Syntax(err);
    }
    od::json_type type;
    if (auto err = doc.type().get(type)) return Syntax(err);
    if (type != od::json_type::object) {
      // simdjson guesses a scalar's type from its first byte; read it to
      // tell "null" from "nonsense".
      simdjson::error_code err = simdjson::SUCCESS;
      switch (type) {
        case od::json_type::null: {
          bool is_null = false;
          err = doc.is_null().get(is_null);
          if (!err && !is_null) err = simdjson::N_ATOM_ERROR;
          break;
        }
        case od::json_type::boolean: {
          bool b;
          err = doc.get_bool().get(b);
          break;
        }
        case od::json_type::number: {
          double d;
          err = doc.get_double().get(d);
          break;
        }
        default:
          break;
      }
      if (err) return Syntax(err);
      return absl::InvalidArgumentError(
          absl::StrCat("expected a JSON object (", type_->full_name(),
                       "), got ", TypeName(type)));
    }
    od::object object;
    if (auto err = doc.get_object().get(object)) return Syntax(err);
    absl::Status status = ParseObject(object, message, *types_.at(type_));
    if (!status.ok()) return status;
    const char* location = nullptr;
    if (doc.current_location().get(location) == simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid JSON: unexpected content after the object, at "
                       "byte ",
                       location - buffer_.data() + 1));
    }
    return absl::OkStatus();
  }

 private:
  void Index(const Descriptor* d) {
    if (types_.contains(d)) return;
    auto info = std::make_unique<TypeInfo>();
    TypeInfo* raw = info.get();
    types_.emplace(d, std::move(info));
    raw->is_timestamp = d->full_name() == "google.protobuf.Timestamp";
    raw->unsupported = IsWellKnownWithSpecialJson(d) && !raw->is_timestamp;
    if (raw->is_timestamp) {
      raw->seconds = d->FindFieldByName("seconds");
      raw->nanos = d->FindFieldByName("nanos");
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      raw->by_name.emplace(f->name(), f);
      raw->by_name.emplace(f->json_name(), f);
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        Index(f->message_type());
      }
    }
  }

  static const char* TypeName(od::json_type t) {
    switch (t) {
      case od::json_type::array:
        return "an array";
      case od::json_type::object:
        return "an object";
      case od::json_type::number:
        return "a number";
      case od::json_type::string:
        return "a string";
      case od::json_type::boolean:
        return "a boolean";
      case od::json_type::null:
        return "null";
    }
    return "a value";
  }

  absl::Status Error(absl::string_view reason) const {
    if (path_.empty()) return absl::InvalidArgumentError(reason);
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", reason));
  }

  absl::Status Syntax(simdjson::error_code err) const {
    if (err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) {
      // simdjson reports trailing content after the root object this way too.
      return Error(
          "invalid JSON: an object or array is not closed, or the object is "
          "followed by other content");
    }
    return Error(absl::StrCat("invalid JSON: ", simdjson::error_message(err)));
  }

  // The token of a scalar as written (trailing white space trimmed). Call
  // before consuming the value.
  static std::string_view RawToken(od::value& v) {
    std::string_view raw = v.raw_json_token();
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' ||
                            raw.back() == '\n' || raw.back() == '\r')) {
      raw.remove_suffix(1);
    }
    return raw;
  }

  // A token for messages, cut when long.
  static std::string Cut(std::string_view raw) {
    constexpr size_t kShown = 60;
    if (raw.size() > kShown)
      return absl::StrCat(Av(raw.substr(0, kShown)), "...");
    return std::string(raw);
  }

  // The value as written, for messages: scalars verbatim (cut when long),
  // containers by kind.
  static std::string Shown(od::value& v, od::json_type t) {
    if (t == od::json_type::object || t == od::json_type::array) {
      return TypeName(t);
    }
    return Cut(RawToken(v));
  }

  void Push(absl::string_view name) {
    if (!path_.empty()) path_.push_back('.');
    path_.append(name.data(), name.size());
  }

  absl::Status ParseObject(od::object& object, Message* message,
                           const TypeInfo& info) {
    const Reflection* reflection = message->GetReflection();
    for (auto member : object) {
      od::field field;
      if (auto err = std::move(member).get(field)) return Syntax(err);
      std::string_view key;
      if (auto err = field.unescaped_key().get(key)) return Syntax(err);
      const size_t mark = path_.size();
      auto it = info.by_name.find(absl::string_view(key.data(), key.size()));
      if (it == info.by_name.end()) {
        Push(Av(key));
        return Error(absl::StrCat("unknown field (not in ",
                                  message->GetDescriptor()->full_name(), ")"));
      }
      const FieldDescriptor* f = it->second;
      Push(f->name());
      od::value value = field.value();
      od::json_type type;
      if (auto err = value.type().get(type)) return Syntax(err);
      if (type == od::json_type::null) {
        bool is_null = false;
        if (auto err = value.is_null().get(is_null)) return Syntax(err);
        path_.resize(mark);
        continue;
      }
      absl::Status status;
      if (f->is_map()) {
        return absl::UnimplementedError(
            absl::StrCat(path_, ": map fields are not supported"));
      }
      if (f->is_repeated()) {
        status = ParseRepeated(value, type, message, f);
      } else {
        // protobuf rejects a second member of a oneof, and a second value
        // of a proto3 optional field (a synthetic oneof).
        if (const OneofDescriptor* oneof = f->containing_oneof()) {
          if (reflection->HasOneof(*message, oneof)) {
            const FieldDescriptor* set =
                reflection->GetOneofFieldDescriptor(*message, oneof);
            if (set == f) return Error("given more than once");
            return Error(absl::StrCat("conflicts with ", set->name(),
                                      ": only one field of oneof ",
                                      oneof->name(), " may be set"));
          }
        }
        if (type == od::json_type::array) {
          return Error(
              absl::StrCat("expected ", Expected(f), ", got an array"));
        }
        status = ParseValue(value, type, message, f, /*add=*/false);
      }
      if (!status.ok()) return status;
      path_.resize(mark);
    }
    return absl::OkStatus();
  }

  absl::Status ParseRepeated(od::value& value, od::json_type type,
                             Message* message, const FieldDescriptor* f) {
    if (type != od::json_type::array) {
      // protobuf takes a single value for a repeated field.
      return ParseValue(value, type, message, f, /*add=*/true);
    }
    const size_t mark = path_.size();
    int index = 0;
    absl::Status status = ParseList(value, message, f, mark, &index);
    if (!status.ok()) return status;
    path_.resize(mark);
    return absl::OkStatus();
  }

  // The elements of a list; nulls are skipped and nested lists flattened,
  // as protobuf does.
  absl::Status ParseList(od::value& value, Message* message,
                         const FieldDescriptor* f, size_t mark, int* index) {
    od::array array;
    if (auto err = value.get_array().get(array)) return Syntax(err);
    for (auto element : array) {
      od::value v;
      if (auto err = std::move(element).get(v)) return Syntax(err);
      od::json_type t;
      if (auto err = v.type().get(t)) return Syntax(err);
      if (t == od::json_type::array) {
        absl::Status status = ParseList(v, message, f, mark, index);
        if (!status.ok()) return status;
        continue;
      }
      path_.resize(mark);
      absl::StrAppend(&path_, "[", (*index)++, "]");
      if (t == od::json_type::null) {
        bool is_null = false;
        if (auto err = v.is_null().get(is_null)) return Syntax(err);
        continue;
      }
      absl::Status status = ParseValue(v, t, message, f, /*add=*/true);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  static std::string Expected(const FieldDescriptor* f) {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return "an integer (int32)";
      case FieldDescriptor::CPPTYPE_INT64:
        return "an integer (int64)";
      case FieldDescriptor::CPPTYPE_UINT32:
        return "an integer (uint32)";
      case FieldDescriptor::CPPTYPE_UINT64:
        return "an integer (uint64)";
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return "a number";
      case FieldDescriptor::CPPTYPE_BOOL:
        return "true or false";
      case FieldDescriptor::CPPTYPE_ENUM:
        return absl::StrCat("a ", f->enum_type()->name(), " name or number");
      case FieldDescriptor::CPPTYPE_STRING:
        return f->type() == FieldDescriptor::TYPE_BYTES ? "a base64 string"
                                                        : "a string";
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (f->message_type()->full_name() == "google.protobuf.Timestamp") {
          return "an RFC 3339 timestamp such as \"2026-03-01T09:30:00Z\"";
        }
        return absl::StrCat("an object (", f->message_type()->full_name(), ")");
    }
    return "a value";
  }

  absl::Status ParseInt(od::value& v, od::json_type t, IntKind kind,
                        const FieldDescriptor* f, Int* out) {
    if (t == od::json_type::number) {
      const std::string_view raw = RawToken(v);
      od::number n;
      if (auto err = v.get_number().get(n)) {
        // Integers beyond 64 bits: protobuf reads them as doubles.
        double d;
        if (!IsJsonNumber(raw) || !absl::SimpleAtod(Av(raw), &d)) {
          return Syntax(err);
        }
        if (!DoubleToInt(d, kind, out)) {
          return Error(
              absl::StrCat("expected ", Expected(f), ", got ", Cut(raw)));
        }
        return absl::OkStatus();
      }
      bool ok = false;
      switch (n.get_number_type()) {
        case od::number_type::signed_integer:
          out->negative_or_signed = true;
          out->s = n.get_int64();
          ok = InRange(*out, kind);
          break;
        case od::number_type::unsigned_integer:
          out->negative_or_signed = false;
          out->u = n.get_uint64();
          ok = InRange(*out, kind);
          break;
        case od::number_type::floating_point_number:
          ok = DoubleToInt(n.get_double(), kind, out);
          break;
      }
      if (!ok)
        return Error(
            absl::StrCat("expected ", Expected(f), ", got ", Cut(raw)));
      return absl::OkStatus();
    }
    if (t == od::json_type::string) {
      const std::string_view raw = RawToken(v);
      std::string_view s;
      if (auto err = v.get_string().get(s)) return Syntax(err);
      if (!ParseIntString(absl::string_view(s.data(), s.size()), kind, out)) {
        return Error(
            absl::StrCat("expected ", Expected(f), ", got ", Cut(raw)));
      }
      return absl::OkStatus();
    }
    return Error(absl::StrCat("expected ", Expected(f), ", got ", Shown(v, t)));
  }

  absl::Status ParseValue(od::value& v, od::json_type t, Message* m,
                          const FieldDescriptor* f, bool add) {
    const Reflection* r = m->GetReflection();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        const IntKind kind =
            f->cpp_type() == FieldDescriptor::CPPTYPE_INT32   ? IntKind::kInt32
            : f->cpp_type() == FieldDescriptor::CPPTYPE_INT64 ? IntKind::kInt64
            : f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                ? IntKind::kUInt32
                : IntKind::kUInt64;
        Int value;
        absl::Status status = ParseInt(v, t, kind, f, &value);
        if (!status.ok()) return status;
        switch (kind) {
          case IntKind::kInt32:
            add ? r->AddInt32(m, f, static_cast<int32_t>(value.s))
                : r->SetInt32(m, f, static_cast<int32_t>(value.s));
            break;
          case IntKind::kInt64:
            add ? r->AddInt64(m, f, value.s) : r->SetInt64(m, f, value.s);
            break;
          case IntKind::kUInt32:
            add ? r->AddUInt32(m, f, static_cast<uint32_t>(value.s))
                : r->SetUInt32(m, f, static_cast<uint32_t>(value.s));
            break;
          case IntKind::kUInt64: {
            const uint64_t u = value.negative_or_signed
                                   ? static_cast<uint64_t>(value.s)
                                   : value.u;
            add ? r->AddUInt64(m, f, u) : r->SetUInt64(m, f, u);
            break;
          }
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM:
        return ParseEnum(v, t, m, f, add);
      case FieldDescriptor::CPPTYPE_STRING: {
        if (t != od::json_type::string) {
          return Error(
              absl::StrCat("expected ", Expected(f), ", got ", Shown(v, t)));
        }
        std::string_view s;
        if (auto err = v.get_string().get(s)) return Syntax(err);
        std::string value(s);
        if (f->type() == FieldDescriptor::TYPE_BYTES) {
          std::string decoded;
          if (!absl::Base64Unescape(value, &decoded) &&
              !absl::WebSafeBase64Unescape(value, &decoded)) {
            return Error(absl::StrCat("expected ", Expected(f), ", got \"",
                                      absl::CHexEscape(value), "\""));
          }
          value = std::move(decoded);
        }
        add ? r->AddString(m, f, std::move(value))
            : r->SetString(m, f, std::move(value));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool b = false;
        if (t == od::json_type::boolean) {
          if (auto err = v.get_bool().get(b)) return Syntax(err);
        } else if (t == od::json_type::string) {
          const std::string_view raw = RawToken(v);
          std::string_view s;
          if (auto err = v.get_string().get(s)) return Syntax(err);
          if (s == "true") {
            b = true;
          } else if (s != "false") {
            return Error(
                absl::StrCat("expected ", Expected(f), ", got ", Cut(raw)));
          }
        } else {
          return Error(
              absl::StrCat("expected ", Expected(f), ", got ", Shown(v, t)));
        }
        add ? r->AddBool(m, f, b) : r->SetBool(m, f, b);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double d = 0;
        const std::string_view raw = RawToken(v);
        if (t == od::json_type::number) {
          if (auto err = v.get_double().get(d)) return Syntax(err);
        } else if (t == od::json_type::string) {
          std::string_view s;
          if (auto err = v.get_string().get(s)) return Syntax(err);
          if (s == "NaN") {
            d = std::numeric_limits<double>::quiet_NaN();
          } else if (s == "Infinity") {
            d = std::numeric_limits<double>::infinity();
          } else if (s == "-Infinity") {
            d = -std::numeric_limits<double>::infinity();
          } else if (!absl::SimpleAtod(absl::string_view(s.data(), s.size()),
                                       &d)) {
            return Error(
                absl::StrCat("expected ", Expected(f), ", got ", Cut(raw)));
          }
        } else {
          return Error(
              absl::StrCat("expected ", Expected(f), ", got ", Cut(raw)));
        }
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
          if (std::isfinite(d) &&
              std::fabs(d) > std::numeric_limits<float>::max()) {
            return Error(
                absl::StrCat("expected a float in range, got ", Cut(raw)));
          }
          add ? r->AddFloat(m, f, static_cast<float>(d))
              : r->SetFloat(m, f, static_cast<float>(d));
        } else {
          add ? r->AddDouble(m, f, d) : r->SetDouble(m, f, d);
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        const TypeInfo& info = *types_.at(f->message_type());
        if (info.unsupported) {
          return absl::UnimplementedError(
              absl::StrCat(path_, ": ", f->message_type()->full_name(),
                           " is not supported by the fast JSON decoder"));
        }
        if (info.is_timestamp && t == od::json_type::string) {
          const std::string_view raw = RawToken(v);
          std::string_view s;
          if (auto err = v.get_string().get(s)) return Syntax(err);
          int64_t seconds;
          int32_t nanos;
          if (!ParseRfc3339(absl::string_view(s.data(), s.size()), &seconds,
                            &nanos)) {
            return Error(
                absl::StrCat("expected ", Expected(f), ", got ", Cut(raw)));
          }
          Message* ts = add ? r->AddMessage(m, f) : r->MutableMessage(m, f);
          const Reflection* tr = ts->GetReflection();
          tr->SetInt64(ts, info.seconds, seconds);
          tr->SetInt32(ts, info.nanos, nanos);
          return absl::OkStatus();
        }
        if (t != od::json_type::object) {
          return Error(
              absl::StrCat("expected ", Expected(f), ", got ", Shown(v, t)));
        }
        od::object object;
        if (auto err = v.get_object().get(object)) return Syntax(err);
        Message* sub = add ? r->AddMessage(m, f) : r->MutableMessage(m, f);
        return ParseObject(object, sub, info);
      }
    }
    return Error("unsupported field type");
  }

  absl::Status ParseEnum(od::value& v, od::json_type t, Message* m,
                         const FieldDescriptor* f, bool add) {
    const EnumDescriptor* e = f->enum_type();
    int number = 0;
    if (t == od::json_type::string) {
      const std::string_view raw = RawToken(v);
      std::string_view s;
      if (auto err = v.get_string().get(s)) return Syntax(err);
      const EnumValueDescriptor* value = e->FindValueByName(std::string(s));
      if (value == nullptr) {
        // A number in a string must name a known value.
        Int n;
        if (ParseIntString(absl::string_view(s.data(), s.size()),
                           IntKind::kInt32, &n)) {
          value = e->FindValueByNumber(static_cast<int>(n.s));
        }
      }
      if (value == nullptr) {
        return Error(
            absl::StrCat("expected ", Expected(f), ", got ", Cut(raw)));
      }
      number = value->number();
    } else if (t == od::json_type::number) {
      Int n;
      absl::Status status = ParseInt(v, t, IntKind::kInt32, f, &n);
      if (!status.ok()) return status;
      number = static_cast<int>(n.s);
    } else {
      return Error(
          absl::StrCat("expected ", Expected(f), ", got ", Shown(v, t)));
    }
    const Reflection* r = m->GetReflection();
    add ? r->AddEnumValue(m, f, number) : r->SetEnumValue(m, f, number);
    return absl::OkStatus();
  }

  const Descriptor* type_;
  absl::flat_hash_map<const Descriptor*, std::unique_ptr<TypeInfo>> types_;
  od::parser parser_;
  std::string buffer_;  // the input plus simdjson's padding
  std::string path_;    // proto path of the field being parsed
};

FastJsonDecoder::FastJsonDecoder(const Descriptor* type)
    : impl_(std::make_unique<Impl>(type)) {}
FastJsonDecoder::~FastJsonDecoder() = default;

absl::Status FastJsonDecoder::Decode(absl::string_view json, Message* message) {
  return impl_->Decode(json, message);
}

}  // namespace crm::event
