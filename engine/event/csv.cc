#include "engine/event/csv.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crm/v1/events.pb.h"
#include "engine/event/json_util.h"
#include "google/protobuf/descriptor.h"

namespace crm::event {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;

absl::StatusOr<std::vector<std::string>> SplitCsvRecord(
    absl::string_view record) {
  std::vector<std::string> fields;
  std::string field;
  size_t i = 0;
  const size_t n = record.size();
  while (true) {
    const size_t column = fields.size() + 1;
    field.clear();
    if (i < n && record[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        const char c = record[i++];
        if (c == '"') {
          if (i < n && record[i] == '"') {
            field.push_back('"');
            ++i;
          } else {
            closed = true;
            break;
          }
        } else {
          field.push_back(c);
        }
      }
      if (!closed) {
        return absl::InvalidArgumentError(
            absl::StrCat("column ", column, ": unterminated quoted field"));
      }
      if (i < n && record[i] != ',') {
        return absl::InvalidArgumentError(absl::StrCat(
            "column ", column, ": expected ',' after a closing quote, got '",
            absl::CHexEscape(record.substr(i, 1)), "'"));
      }
    } else {
      while (i < n && record[i] != ',') {
        if (record[i] == '"') {
          return absl::InvalidArgumentError(absl::StrCat(
              "column ", column,
              ": quote inside an unquoted field (quote the whole field and "
              "double the quote)"));
        }
        field.push_back(record[i++]);
      }
    }
    fields.push_back(field);
    if (i >= n) break;
    ++i;  // the ','
  }
  return fields;
}

bool CsvRecordIsOpen(absl::string_view text) {
  // A quote opens a quoted field only at the start of a field; inside one,
  // "" is a quote and a lone '"' closes it.
  bool field_start = true;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          ++i;
        } else {
          quoted = false;
        }
      }
      continue;
    }
    if (c == '"' && field_start) {
      quoted = true;
    }
    field_start = c == ',' || c == '\n';
  }
  return quoted;
}

struct CsvSchema::Node {
  const FieldDescriptor* field = nullptr;  // null for the root
  int column = -1;                         // leaves only
  std::vector<std::unique_ptr<Node>> children;

  Node* Child(const FieldDescriptor* f) {
    for (auto& c : children) {
      if (c->field == f) return c.get();
    }
    children.push_back(std::make_unique<Node>());
    children.back()->field = f;
    return children.back().get();
  }
};

CsvSchema::CsvSchema(std::unique_ptr<Node> root, std::vector<std::string> paths)
    : root_(std::move(root)), paths_(std::move(paths)) {}
CsvSchema::CsvSchema(CsvSchema&&) noexcept = default;
CsvSchema& CsvSchema::operator=(CsvSchema&&) noexcept = default;
CsvSchema::~CsvSchema() = default;

size_t CsvSchema::columns() const { return paths_.size(); }
const std::string& CsvSchema::path(size_t i) const { return paths_[i]; }

int CsvSchema::ColumnOf(absl::string_view path) const {
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (paths_[i] == path) return static_cast<int>(i);
  }
  return -1;
}

namespace {

bool IsTimestamp(const Descriptor* d) {
  return d->full_name() == "google.protobuf.Timestamp";
}

const FieldDescriptor* FindField(const Descriptor* d, absl::string_view name) {
  const std::string key(name);
  const FieldDescriptor* f = d->FindFieldByName(key);
  if (f != nullptr) return f;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == key) return d->field(i);
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<CsvSchema> CsvSchema::FromHeader(
    const std::vector<std::string>& header) {
  auto root = std::make_unique<Node>();
  std::vector<std::string> paths;
  for (size_t col = 0; col < header.size(); ++col) {
    const std::string where = absl::StrCat(
        "column ", col + 1, " (\"", absl::CHexEscape(header[col]), "\"): ");
    if (header[col].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", col + 1,
                       ": empty header, expected a field path such as "
                       "order_placed.order_id"));
    }
    const Descriptor* d = crm::v1::Envelope::descriptor();
    Node* node = root.get();
    std::string path;
    std::vector<absl::string_view> parts = absl::StrSplit(header[col], '.');
    for (size_t p = 0; p < parts.size(); ++p) {
      if (d == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "\"", path, "\" is not a message; no field \"",
                         parts[p], "\" inside it"));
      }
      if (IsTimestamp(d)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "\"", path,
                         "\" is a Timestamp; give it as one RFC 3339 column"));
      }
      const FieldDescriptor* f = FindField(d, parts[p]);
      if (f == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "unknown field \"", parts[p], "\" in ", d->full_name()));
      }
      if (!path.empty()) path += ".";
      path += f->name();
      if (f->is_repeated()) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "\"", path, "\" is a repeated field; CSV cannot hold it"));
      }
      if (node->column >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "conflicts with column ", node->column + 1));
      }
      node = node->Child(f);
      d = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? f->message_type()
                                                            : nullptr;
    }
    if (d != nullptr && !IsTimestamp(d)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "\"", path, "\" is a message (", d->full_name(),
                       "); name one of its fields"));
    }
    if (node->column >= 0 || !node->children.empty()) {
      const int other = node->column >= 0 ? node->column : -1;
      if (other >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "same field as column ", other + 1, " (", path, ")"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat(where, "conflicts with another column"));
    }
    node->column = static_cast<int>(col);
    paths.push_back(path);
  }
  return CsvSchema(std::move(root), std::move(paths));
}

struct CsvRowWriter {
  static bool Append(const CsvSchema::Node& node,
                     const std::vector<std::string>& cells, std::string* out) {
    if (node.column >= 0) {
      const std::string& cell = cells[node.column];
      if (cell.empty()) return false;
      if (node.field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL &&
          (cell == "true" || cell == "false")) {
        out->append(cell);
      } else {
        AppendJsonString(cell, out);
      }
      return true;
    }
    const size_t start = out->size();
    out->push_back('{');
    bool any = false;
    for (const auto& child : node.children) {
      const size_t mark = out->size();
      if (any) out->push_back(',');
      AppendJsonString(child->field->name(), out);
      out->push_back(':');
      if (Append(*child, cells, out)) {
        any = true;
      } else {
        out->resize(mark);
      }
    }
    if (!any && node.field != nullptr) {
      out->resize(start);
      return false;
    }
    out->push_back('}');
    return true;
  }
};

absl::StatusOr<std::string> CsvSchema::RowToJson(
    const std::vector<std::string>& cells) const {
  if (cells.size() != paths_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", paths_.size(),
                     " fields as in the header, got ", cells.size()));
  }
  std::string out;
  CsvRowWriter::Append(*root_, cells, &out);
  return out;
}

}  // namespace crm::event
