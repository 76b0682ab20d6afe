#include "tools/crm/command.h"

namespace crm::cli {

// Placeholder until the ingest command lands.
void RegisterIngest(CLI::App& app, CommandContext& ctx) {
  RegisterPlanned(app, ctx, "ingest", "Validate files and append them to the log (all or nothing)");
}

}  // namespace crm::cli
