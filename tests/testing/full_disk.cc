#include "tests/testing/full_disk.h"

#include <utility>

namespace crm::testing {
namespace {

class FullDiskFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FullDiskFile(std::unique_ptr<rocksdb::FSWritableFile> file,
               FullDiskFileSystem* fs)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    return Write(data, [&](const rocksdb::Slice& part) {
      return target()->Append(part, options, dbg);
    });
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& /*info*/,
                           rocksdb::IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                     uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    return Write(data, [&](const rocksdb::Slice& part) {
      return target()->PositionedAppend(part, offset, options, dbg);
    });
  }
  rocksdb::IOStatus PositionedAppend(
      const rocksdb::Slice& data, uint64_t offset,
      const rocksdb::IOOptions& options,
      const rocksdb::DataVerificationInfo& /*info*/,
      rocksdb::IODebugContext* dbg) override {
    return PositionedAppend(data, offset, options, dbg);
  }

 private:
  template <typename WriteFn>
  rocksdb::IOStatus Write(const rocksdb::Slice& data, WriteFn write) {
    const size_t allowed = fs_->Take(data.size());
    if (allowed > 0) {
      rocksdb::IOStatus s = write(rocksdb::Slice(data.data(), allowed));
      if (!s.ok()) return s;
    }
    if (allowed == data.size()) return rocksdb::IOStatus::OK();
    return rocksdb::IOStatus::NoSpace();
  }

  FullDiskFileSystem* const fs_;
};

// `s`, and on success `file` wrapped into *r. (`file` by reference: it is
// filled by the call that makes `s`, an argument evaluated in any order.)
rocksdb::IOStatus Wrapped(rocksdb::IOStatus s,
                          std::unique_ptr<rocksdb::FSWritableFile>& file,
                          FullDiskFileSystem* fs,
                          std::unique_ptr<rocksdb::FSWritableFile>* r) {
  if (s.ok()) *r = std::make_unique<FullDiskFile>(std::move(file), fs);
  return s;
}

}  // namespace

FullDiskFileSystem::FullDiskFileSystem()
    : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

size_t FullDiskFileSystem::Take(size_t n) {
  int64_t budget = budget_.load();
  size_t allowed = n;
  while (budget >= 0) {
    allowed =
        static_cast<size_t>(std::min<int64_t>(budget, static_cast<int64_t>(n)));
    if (budget_.compare_exchange_weak(budget,
                                      budget - static_cast<int64_t>(allowed))) {
      break;
    }
  }
  appended_ += static_cast<int64_t>(allowed);
  if (allowed < n) ++refused_;
  return allowed;
}

rocksdb::IOStatus FullDiskFileSystem::NewWritableFile(
    const std::string& f, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  return Wrapped(target()->NewWritableFile(f, options, &file, dbg), file, this,
                 r);
}

rocksdb::IOStatus FullDiskFileSystem::ReopenWritableFile(
    const std::string& f, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  return Wrapped(target()->ReopenWritableFile(f, options, &file, dbg), file,
                 this, r);
}

rocksdb::IOStatus FullDiskFileSystem::ReuseWritableFile(
    const std::string& f, const std::string& old,
    const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  return Wrapped(target()->ReuseWritableFile(f, old, options, &file, dbg), file,
                 this, r);
}

std::unique_ptr<rocksdb::Env> EnvOf(
    const std::shared_ptr<FullDiskFileSystem>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

}  // namespace crm::testing
