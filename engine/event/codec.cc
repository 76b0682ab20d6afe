#include "engine/event/codec.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace crm::event {

std::string EncodeBinary(const crm::v1::Envelope& event) {
  std::string out;
  EncodeBinaryTo(event, &out);
  return out;
}

void EncodeBinaryTo(const crm::v1::Envelope& event, std::string* out) {
  // Envelope has no map fields, so plain serialization is deterministic.
  event.SerializeToString(out);
}

absl::StatusOr<crm::v1::Envelope> DecodeBinary(absl::string_view bytes) {
  crm::v1::Envelope event;
  if (!event.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid crm.v1.Envelope: ", bytes.size(),
                     " bytes do not parse as the protobuf binary encoding"));
  }
  return event;
}

absl::StatusOr<std::string> EncodeJson(const crm::v1::Envelope& event) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  const auto status =
      google::protobuf::util::MessageToJsonString(event, &out, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write crm.v1.Envelope as JSON: ",
                     std::string(status.message())));
  }
  return out;
}

absl::Status DecodeJsonTo(absl::string_view json, crm::v1::Envelope* event) {
  event->Clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), event, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid crm.v1.Envelope JSON object: ",
                     std::string(status.message())));
  }
  return absl::OkStatus();
}

absl::StatusOr<crm::v1::Envelope> DecodeJson(absl::string_view json) {
  crm::v1::Envelope event;
  absl::Status status = DecodeJsonTo(json, &event);
  if (!status.ok()) return status;
  return event;
}

}  // namespace crm::event
