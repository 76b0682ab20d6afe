#include "tools/crm/command.h"

namespace crm::cli {

// Placeholder until the validate command lands.
void RegisterValidate(CLI::App& app, CommandContext& ctx) {
  RegisterPlanned(app, ctx, "validate", "Check records, report every bad one");
}

}  // namespace crm::cli
