#include "tests/testing/run_crm.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace crm::testing {

CrmResult RunCrm(const std::string& binary, const std::string& args) {
  const std::string cmd = absl::StrCat(binary, " ", args, " 2>&1");
  CrmResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    r.output.append(buf.data(), n);
  }
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

CrmResult ProjectGeneratedHistory(const std::string& binary,
                                  const std::string& generate_args,
                                  const std::string& input,
                                  const std::string& data_dir) {
  CrmResult r = RunCrm(
      binary, absl::StrCat("generate ", generate_args, " --out ", input));
  if (r.exit_code != 0) return r;
  r = RunCrm(binary,
             absl::StrCat("--data-dir ", data_dir, " -q ingest ", input));
  if (r.exit_code != 0) return r;
  return RunCrm(binary,
                absl::StrCat("--data-dir ", data_dir, " -q run --exit-at-end"));
}

}  // namespace crm::testing
