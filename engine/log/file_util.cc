#include "engine/log/file_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace crm::log::internal {

absl::Status FromErrno(int err, absl::string_view op, absl::string_view path) {
  std::string msg = absl::StrCat(op, " ", path, ": ", strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::UnavailableError(msg);
  }
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File::File(File&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

absl::StatusOr<File> File::Open(const std::string& path, int flags,
                                mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return FromErrno(errno, "open", path);
  return File(fd, path);
}

absl::Status File::WriteAll(absl::string_view data) const {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FromErrno(errno, "write", path_);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> File::PRead(void* buf, size_t n, uint64_t offset) const {
  size_t done = 0;
  char* p = static_cast<char*>(buf);
  while (done < n) {
    ssize_t r =
        ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return FromErrno(errno, "read", path_);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

absl::Status File::DataSync() const {
  if (::fdatasync(fd_) != 0) return FromErrno(errno, "fdatasync", path_);
  return absl::OkStatus();
}

absl::Status File::Truncate(uint64_t size) const {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return FromErrno(errno, "ftruncate", path_);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> File::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return FromErrno(errno, "stat", path_);
  return static_cast<uint64_t>(st.st_size);
}

absl::Status File::Close() {
  if (fd_ < 0) return absl::OkStatus();
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return FromErrno(errno, "close", path_);
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  CRM_ASSIGN_OR_RETURN(File f, File::Open(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(f.fd()) != 0) return FromErrno(errno, "fsync", dir);
  return absl::OkStatus();
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty() || PathExists(dir)) return absl::OkStatus();
  const std::string parent = DirName(dir);
  if (parent != dir) CRM_RETURN_IF_ERROR(MakeDirs(parent));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return FromErrno(errno, "mkdir", dir);
  }
  return SyncDir(parent);
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return FromErrno(errno, "opendir", dir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  return names;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  const std::string tmp = path + ".tmp";
  {
    CRM_ASSIGN_OR_RETURN(File f, File::Open(tmp, O_WRONLY | O_CREAT | O_TRUNC));
    CRM_RETURN_IF_ERROR(f.WriteAll(contents));
    CRM_RETURN_IF_ERROR(f.DataSync());
    CRM_RETURN_IF_ERROR(f.Close());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return FromErrno(errno, "rename", tmp);
  }
  return SyncDir(DirName(path));
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  CRM_ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY));
  CRM_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  std::string out(size, '\0');
  CRM_ASSIGN_OR_RETURN(size_t n, f.PRead(out.data(), size, 0));
  out.resize(n);
  return out;
}

}  // namespace crm::log::internal
