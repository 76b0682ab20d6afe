#include "tools/crm/command.h"

namespace crm::cli {

// Placeholder until the devbroker command lands.
void RegisterDevbroker(CLI::App& app, CommandContext& ctx) {
  RegisterPlanned(app, ctx, "devbroker", "Local Kafka-protocol broker (librdkafka mock cluster)");
}

}  // namespace crm::cli
