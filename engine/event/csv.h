#pragma once

// CSV input of events: one event per record, a header row of dotted field
// paths into crm.v1.Envelope, e.g.
//   event_id,customer_id,occurred_at,channel,order_placed.order_id,
//   order_placed.amount.minor_units,order_placed.amount.currency
// Path segments may use proto names (order_id) or JSON names (orderId). A
// row becomes the JSON object protobuf's JSON mapping would read (empty
// cell = field unset), so CSV and JSON inputs follow exactly the same value
// rules (enums by name or number, Timestamps in RFC 3339, ...).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::event {

// Splits one CSV record (RFC 4180: comma separated, fields optionally in
// double quotes, "" for a quote inside quotes, line breaks allowed inside
// quotes) into its fields. `record` has no trailing line break.
// kInvalidArgument naming the 1-based column on a quoting error.
absl::StatusOr<std::vector<std::string>> SplitCsvRecord(
    absl::string_view record);

// True when `text` ends inside a quoted field, i.e. the record continues on
// the next line.
bool CsvRecordIsOpen(absl::string_view text);

// The column layout of a CSV input, from its header row. Immutable after
// construction; thread-safe.
class CsvSchema {
 public:
  // Resolves every header cell to a field path of crm.v1.Envelope.
  // kInvalidArgument "column N (\"header\"): ..." for an empty, unknown,
  // duplicate, repeated or non-leaf path.
  static absl::StatusOr<CsvSchema> FromHeader(
      const std::vector<std::string>& header);

  CsvSchema(CsvSchema&&) noexcept;
  CsvSchema& operator=(CsvSchema&&) noexcept;
  ~CsvSchema();

  size_t columns() const;
  // The proto field path of column `i` (0-based), e.g. "order_placed.order_id".
  const std::string& path(size_t i) const;
  // 0-based column whose path is `path`, or -1.
  int ColumnOf(absl::string_view path) const;

  // The JSON object for one row; `cells.size()` must equal columns()
  // (kInvalidArgument "expected N fields as in the header, got M" if not).
  absl::StatusOr<std::string> RowToJson(
      const std::vector<std::string>& cells) const;

 private:
  friend struct CsvRowWriter;
  struct Node;
  explicit CsvSchema(std::unique_ptr<Node> root,
                     std::vector<std::string> paths);
  std::unique_ptr<Node> root_;
  std::vector<std::string> paths_;
};

}  // namespace crm::event
