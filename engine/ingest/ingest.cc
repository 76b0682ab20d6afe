#include "engine/ingest/ingest.h"

#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/event/codec.h"

namespace crm::ingest {
namespace {

// Encoded events of one file, kept in memory up to a budget and then in an
// unlinked spool file, so a file of any size is validated completely before
// anything is appended. Owned by one IngestFile call.
class EventBuffer {
 public:
  EventBuffer(size_t memory_budget, std::string spool_dir)
      : memory_budget_(memory_budget), spool_dir_(std::move(spool_dir)) {}
  ~EventBuffer() {
    if (spool_ != nullptr) fclose(spool_);
  }

  absl::Status Add(const v1::Envelope& e) {
    scratch_.clear();
    event::EncodeBinaryTo(e, &scratch_);
    bytes_ += static_cast<int64_t>(scratch_.size());
    ++count_;
    if (spool_ == nullptr &&
        memory_bytes_ + scratch_.size() <= memory_budget_) {
      memory_bytes_ += scratch_.size() + e.customer_id().size();
      keys_.push_back(e.customer_id());
      values_.push_back(scratch_);
      return absl::OkStatus();
    }
    if (spool_ == nullptr) CRM_RETURN_IF_ERROR(OpenSpool());
    const uint32_t lens[2] = {static_cast<uint32_t>(e.customer_id().size()),
                              static_cast<uint32_t>(scratch_.size())};
    if (fwrite(lens, sizeof lens, 1, spool_) != 1 ||
        fwrite(e.customer_id().data(), 1, lens[0], spool_) != lens[0] ||
        fwrite(scratch_.data(), 1, lens[1], spool_) != lens[1]) {
      return absl::UnavailableError(
          absl::StrCat("spool file write failed: ", std::strerror(errno)));
    }
    ++spooled_;
    return absl::OkStatus();
  }

  int64_t count() const { return count_; }
  int64_t bytes() const { return bytes_; }

  // Appends everything, in input order, `batch` records per Append.
  absl::Status AppendTo(log::EventLog& log, size_t batch) {
    std::vector<log::RecordRef> refs;
    refs.reserve(batch);
    for (size_t i = 0; i < keys_.size(); ++i) {
      refs.push_back({keys_[i], values_[i]});
      if (refs.size() == batch) {
        CRM_RETURN_IF_ERROR(log.Append(refs));
        refs.clear();
      }
    }
    if (!refs.empty()) CRM_RETURN_IF_ERROR(log.Append(refs));
    refs.clear();
    if (spool_ == nullptr) return absl::OkStatus();
    if (fflush(spool_) != 0 || fseek(spool_, 0, SEEK_SET) != 0) {
      return absl::UnavailableError(
          absl::StrCat("spool file rewind failed: ", std::strerror(errno)));
    }
    std::vector<std::string> keys(batch), values(batch);
    size_t n = 0;
    for (int64_t i = 0; i < spooled_; ++i) {
      uint32_t lens[2];
      if (fread(lens, sizeof lens, 1, spool_) != 1) return SpoolReadError();
      keys[n].resize(lens[0]);
      values[n].resize(lens[1]);
      if (fread(keys[n].data(), 1, lens[0], spool_) != lens[0] ||
          fread(values[n].data(), 1, lens[1], spool_) != lens[1]) {
        return SpoolReadError();
      }
      refs.push_back({keys[n], values[n]});
      if (++n == batch) {
        CRM_RETURN_IF_ERROR(log.Append(refs));
        refs.clear();
        n = 0;
      }
    }
    if (!refs.empty()) CRM_RETURN_IF_ERROR(log.Append(refs));
    return absl::OkStatus();
  }

 private:
  absl::Status OpenSpool() {
    std::string dir = spool_dir_.empty()
                          ? std::filesystem::temp_directory_path().string()
                          : spool_dir_;
    std::string tmpl = dir + "/crm-ingest-spool-XXXXXX";
    int fd = mkstemp(tmpl.data());
    if (fd < 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot create a spool file in ", dir, ": ", std::strerror(errno)));
    }
    unlink(tmpl.c_str());  // gone with the process, whatever happens
    spool_ = fdopen(fd, "w+b");
    if (spool_ == nullptr) {
      close(fd);
      return absl::UnavailableError("fdopen of the spool file failed");
    }
    return absl::OkStatus();
  }
  static absl::Status SpoolReadError() {
    return absl::DataLossError("spool file read back short");
  }

  const size_t memory_budget_;
  const std::string spool_dir_;
  std::string scratch_;
  std::vector<std::string> keys_;
  std::vector<std::string> values_;
  size_t memory_bytes_ = 0;
  int64_t count_ = 0;
  int64_t bytes_ = 0;
  FILE* spool_ = nullptr;
  int64_t spooled_ = 0;
};

}  // namespace

absl::StatusOr<FileResult> IngestFile(const std::string& path,
                                      log::EventLog& log,
                                      const IngestOptions& options) {
  event::ReaderOptions reader_options = options.reader;
  reader_options.validate = true;
  CRM_ASSIGN_OR_RETURN(auto reader,
                       event::RecordReader::Open(path, reader_options));
  FileResult result;
  result.source = reader->source();
  EventBuffer buffer(options.memory_budget_bytes, options.spool_dir);
  event::Record record;
  while (true) {
    CRM_ASSIGN_OR_RETURN(bool more, reader->Next(&record));
    if (!more) break;
    ++result.records;
    if (!record.status.ok()) {
      result.rejections.push_back(
          {record.source, record.line,
           record.decoded ? record.event.event_id() : std::string(),
           std::string(record.status.message())});
    } else if (result.rejections.empty() || options.skip_invalid) {
      // Once a file is rejected there is no need to keep its events.
      CRM_RETURN_IF_ERROR(buffer.Add(record.event));
    }
    if (options.progress && options.progress_every > 0 &&
        result.records % options.progress_every == 0) {
      options.progress({result.source, result.records, buffer.bytes()});
    }
  }
  if (!result.rejections.empty() && !options.skip_invalid) {
    result.rejected = true;
    return result;
  }
  CRM_RETURN_IF_ERROR(
      buffer.AppendTo(log, std::max<size_t>(1, options.append_batch)));
  result.appended = buffer.count();
  result.bytes = buffer.bytes();
  return result;
}

}  // namespace crm::ingest
