#include "tools/crm/command.h"

namespace crm::cli {

// Placeholder until the import command lands.
void RegisterImport(CLI::App& app, CommandContext& ctx) {
  RegisterPlanned(app, ctx, "import", "Append an archive file to the log");
}

}  // namespace crm::cli
