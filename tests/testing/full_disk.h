#ifndef CRM_TESTS_TESTING_FULL_DISK_H_
#define CRM_TESTS_TESTING_FULL_DISK_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace crm::testing {

// The local file system, with a disk that fills up: RocksDB's file writes
// go through until `budget` bytes have been appended in all, then fail with
// IOStatus::NoSpace ("No space left on device"). The append that crosses
// the budget writes its first bytes and fails, as a real full disk leaves a
// torn write. Files can still be created, renamed and removed. Thread-safe.
class FullDiskFileSystem : public rocksdb::FileSystemWrapper {
 public:
  FullDiskFileSystem();

  // Bytes that may still be appended; negative for no limit (the default).
  void SetBudget(int64_t bytes) { budget_.store(bytes); }
  // Bytes appended since the file system was made (to size a budget).
  int64_t appended() const { return appended_.load(); }
  // Appends refused or cut short.
  int64_t refused() const { return refused_.load(); }

  const char* Name() const override { return "FullDiskFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& f,
                                    const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(
      const std::string& f, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& f, const std::string& old,
      const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override;

  // How many of `n` bytes may be written now (all of them, or fewer when
  // the budget runs out); counts them as written.
  size_t Take(size_t n);

 private:
  std::atomic<int64_t> budget_{-1};
  std::atomic<int64_t> appended_{0};
  std::atomic<int64_t> refused_{0};
};

// An Env writing through `fs` (for StoreOptions::env).
std::unique_ptr<rocksdb::Env> EnvOf(
    const std::shared_ptr<FullDiskFileSystem>& fs);

}  // namespace crm::testing

#endif  // CRM_TESTS_TESTING_FULL_DISK_H_
