#pragma once

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace crm::cli {

// Flags that mean the same in every subcommand (DESIGN.md, "Command-line
// surface"). Parsed by the top-level app; subcommands read them.
struct GlobalFlags {
  std::string data_dir = "./crm-data";  // embedded log and view store
  std::string brokers;                  // empty: embedded log
  std::string topic = "crm.events";
  std::vector<std::string> kafka_props;  // -X key=value, passed to librdkafka
  std::string rules;                     // textproto rules file
  bool json = false;                     // machine-readable output
  bool quiet = false;                    // no progress output
};

// What a subcommand needs from main(): the common flags, and where to put
// its exit code (see engine/base/exit_codes.h).
struct CommandContext {
  GlobalFlags global;
  int exit_code = 0;
};

// Each Register* adds one subcommand (with its flags, help text and a
// callback that runs it) to `app`. `ctx` outlives the app's parse.
void RegisterGenerate(CLI::App& app, CommandContext& ctx);
void RegisterValidate(CLI::App& app, CommandContext& ctx);
void RegisterIngest(CLI::App& app, CommandContext& ctx);
void RegisterRun(CLI::App& app, CommandContext& ctx);
void RegisterStatus(CLI::App& app, CommandContext& ctx);
void RegisterCheckpoint(CLI::App& app, CommandContext& ctx);
void RegisterDevbroker(CLI::App& app, CommandContext& ctx);
void RegisterExport(CLI::App& app, CommandContext& ctx);
void RegisterImport(CLI::App& app, CommandContext& ctx);
void RegisterRegrade(CLI::App& app, CommandContext& ctx);
void RegisterStats(CLI::App& app, CommandContext& ctx);
void RegisterTop(CLI::App& app, CommandContext& ctx);
void RegisterGet(CLI::App& app, CommandContext& ctx);
void RegisterList(CLI::App& app, CommandContext& ctx);
void RegisterDump(CLI::App& app, CommandContext& ctx);
void RegisterReplay(CLI::App& app, CommandContext& ctx);
void RegisterDiff(CLI::App& app, CommandContext& ctx);
void RegisterBacktest(CLI::App& app, CommandContext& ctx);

// Adds a subcommand that exists in the command table but is not built yet:
// it explains that and exits with kExitNotImplemented.
void RegisterPlanned(CLI::App& app, CommandContext& ctx,
                     const std::string& name, const std::string& description);

}  // namespace crm::cli
