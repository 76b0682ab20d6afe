#pragma once

#include <string>

namespace crm::testing {

// What a run of the crm program gave back.
struct CrmResult {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs `<crm binary> ARGS` through the shell (so ARGS may redirect) and
// waits for it. `binary` is the test's CRM_BINARY_PATH.
CrmResult RunCrm(const std::string& binary, const std::string& args);

// The usual fixture of the command tests: `crm generate GENERATE_ARGS --out
// INPUT`, then `crm --data-dir DATA_DIR ingest INPUT` and `run
// --exit-at-end`. Returns the first step that failed, else the run's result.
CrmResult ProjectGeneratedHistory(const std::string& binary,
                                  const std::string& generate_args,
                                  const std::string& input,
                                  const std::string& data_dir);

}  // namespace crm::testing
