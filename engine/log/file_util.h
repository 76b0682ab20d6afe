#pragma once

// Thin POSIX file helpers for the embedded log and the archive. Every errno
// becomes an absl::Status here and nowhere else (FromErrno). Stateless and
// thread-safe; a File is owned by one object but its const methods (pread,
// fdatasync) may be called from several threads.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::log::internal {

// Maps an errno from `op` on `path` to a status: ENOENT -> kNotFound,
// EACCES/EPERM/EROFS -> kPermissionDenied, ENOSPC/EDQUOT -> kResourceExhausted,
// anything else (EIO, ...) -> kUnavailable. The message reads
// "<op> <path>: <strerror>".
absl::Status FromErrno(int err, absl::string_view op, absl::string_view path);

// An open file descriptor, closed on destruction. Move-only.
class File {
 public:
  File() = default;
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Opens `path` with open(2) `flags` (O_CLOEXEC is added).
  static absl::StatusOr<File> Open(const std::string& path, int flags,
                                   mode_t mode = 0644);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Writes all of `data` at the current position, retrying short writes.
  absl::Status WriteAll(absl::string_view data) const;
  // Reads up to `n` bytes at `offset`; fewer only at end of file.
  absl::StatusOr<size_t> PRead(void* buf, size_t n, uint64_t offset) const;
  absl::Status DataSync() const;  // fdatasync(2)
  absl::Status Truncate(uint64_t size) const;
  absl::StatusOr<uint64_t> Size() const;
  absl::Status Close();

 private:
  int fd_ = -1;
  std::string path_;
};

// fsync(2) of a directory, so that created or renamed entries are durable.
absl::Status SyncDir(const std::string& dir);
// mkdir -p; fsyncs each parent whose entry it created.
absl::Status MakeDirs(const std::string& dir);
// Names of the entries in `dir` (no "." or "..").
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir);
// Replaces `path` atomically and durably with `contents` (write to
// path.tmp, fdatasync, rename, fsync the directory).
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);
bool PathExists(const std::string& path);
std::string DirName(const std::string& path);

}  // namespace crm::log::internal
