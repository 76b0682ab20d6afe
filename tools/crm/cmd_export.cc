#include "tools/crm/command.h"

namespace crm::cli {

// Placeholder until the export command lands.
void RegisterExport(CLI::App& app, CommandContext& ctx) {
  RegisterPlanned(app, ctx, "export", "Copy the log into an archive file");
}

}  // namespace crm::cli
