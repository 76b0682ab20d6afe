#pragma once

#include <filesystem>
#include <string>

namespace crm::testing {

// A fresh directory under the system temp dir, removed with its contents
// when the object goes out of scope. Not thread-safe; one per test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string File(const std::string& name) const;

 private:
  std::filesystem::path path_;
};

// Writes `contents` to `path`, replacing it. Aborts the test on failure.
void WriteFile(const std::string& path, const std::string& contents);
// Reads a whole file; empty string when it does not exist.
std::string ReadFile(const std::string& path);

}  // namespace crm::testing
