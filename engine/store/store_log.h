#ifndef CRM_ENGINE_STORE_STORE_LOG_H_
#define CRM_ENGINE_STORE_STORE_LOG_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "rocksdb/env.h"

namespace crm::store {

// A store's RocksDB info log: its LOG file, written with stdio, a write
// that fails (a full disk) dropped. RocksDB's own file logger aborts on
// the next line after a failed write in builds with assertions (Debian's
// librocksdb), which turned a full disk into a crash instead of the error
// the failed write returns. Bounded: when LOG reaches `max_bytes` it
// becomes LOG.old (replacing the one before) and a new LOG is started, at
// open and while logging, so a store keeps at most about twice `max_bytes`
// of log however long it runs. Best effort: a failure to write or rotate
// the log never fails the store.
class StoreLogger : public rocksdb::Logger {
 public:
  static constexpr uint64_t kDefaultMaxBytes = uint64_t{1} << 20;

  // The logger of `dir`, or null when DIR/LOG cannot be opened for
  // appending (RocksDB then uses its own logger).
  static std::shared_ptr<StoreLogger> Open(
      const std::string& dir, rocksdb::InfoLogLevel level,
      uint64_t max_bytes = kDefaultMaxBytes);

  ~StoreLogger() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;

 private:
  StoreLogger(std::string path, std::FILE* file, rocksdb::InfoLogLevel level,
              uint64_t max_bytes);
  void RotateLocked();

  const std::string path_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::FILE* file_;  // null after a failed rotation: nothing more is logged
};

}  // namespace crm::store

#endif  // CRM_ENGINE_STORE_STORE_LOG_H_
