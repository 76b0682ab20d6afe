#include "engine/store/store_log.h"

#include <cstdarg>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crm::store {

std::shared_ptr<StoreLogger> StoreLogger::Open(const std::string& dir,
                                               rocksdb::InfoLogLevel level,
                                               uint64_t max_bytes) {
  const std::string path = dir + "/LOG";
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size >= max_bytes) {
    std::filesystem::rename(path, path + ".old", ec);  // best effort
  }
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) return nullptr;
  return std::shared_ptr<StoreLogger>(
      new StoreLogger(path, file, level, max_bytes));
}

StoreLogger::StoreLogger(std::string path, std::FILE* file,
                         rocksdb::InfoLogLevel level, uint64_t max_bytes)
    : rocksdb::Logger(level),
      path_(std::move(path)),
      max_bytes_(max_bytes),
      file_(file) {}

StoreLogger::~StoreLogger() {
  if (file_ != nullptr) std::fclose(file_);
}

void StoreLogger::Logv(const char* format, va_list ap) {
  // The time of the line is the machine's, for the operator reading the
  // log; nothing in a view depends on it.
  const std::string when = absl::FormatTime("%Y/%m/%d-%H:%M:%E6S ", absl::Now(),
                                            absl::UTCTimeZone());
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) return;
  std::fputs(when.c_str(), file_);
  std::vfprintf(file_, format, ap);
  std::fputc('\n', file_);
  std::fflush(file_);  // errors ignored: the log is best effort
  // Appending, the position is the file's size.
  const long size = std::ftell(file_);
  if (size >= 0 && static_cast<uint64_t>(size) >= max_bytes_) RotateLocked();
}

void StoreLogger::RotateLocked() {
  std::fclose(file_);
  std::error_code ec;
  std::filesystem::rename(path_, path_ + ".old", ec);
  // A new LOG; if LOG could not be renamed, it is started again rather
  // than let grow.
  file_ = std::fopen(path_.c_str(), "w");
}

}  // namespace crm::store
