#include "tools/crm/command.h"

namespace crm::cli {

// Placeholder until the generate command lands.
void RegisterGenerate(CLI::App& app, CommandContext& ctx) {
  RegisterPlanned(app, ctx, "generate", "Sample multi-channel history as JSON lines");
}

}  // namespace crm::cli
