// crm: the one command-line program of crm-engine. This is the only place
// that wires real objects together; each subcommand lives in cmd_<name>.cc.

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "engine/base/exit_codes.h"
#include "tools/crm/command.h"

namespace crm::cli {

void RegisterPlanned(CLI::App& app, CommandContext& ctx,
                     const std::string& name, const std::string& description) {
  CLI::App* sub = app.add_subcommand(name, description + " (not built yet)");
  sub->allow_extras();
  sub->callback([&ctx, name] {
    std::fprintf(stderr,
                 "crm %s: not implemented in this version of crm-engine\n",
                 name.c_str());
    ctx.exit_code = kExitNotImplemented;
  });
}

}  // namespace crm::cli

int main(int argc, char** argv) {
  using namespace crm::cli;
  CommandContext ctx;
  CLI::App app{
      "crm-engine: an event-sourced customer relationship engine.\n"
      "Events enter with `ingest`, are applied by `run`, and are read with "
      "`get`, `list`, `stats`.",
      "crm"};
  app.require_subcommand(1);
  app.fallthrough();  // common flags may also follow the subcommand
  app.set_version_flag("--version", "crm-engine 0.1.0");

  GlobalFlags& g = ctx.global;
  app.add_option("--data-dir", g.data_dir,
                 "Embedded log and view store directory")
      ->capture_default_str();
  app.add_option("--brokers", g.brokers,
                 "Kafka bootstrap servers HOST:PORT[,...]; default: the "
                 "embedded log in --data-dir");
  app.add_option("--topic", g.topic, "Event topic")->capture_default_str();
  app.add_option("-X", g.kafka_props,
                 "librdkafka property key=value (repeatable), e.g. "
                 "-X security.protocol=SSL");
  app.add_option("--rules", g.rules, "Segmentation rules (textproto file)");
  app.add_flag("--json", g.json, "Machine-readable JSON output");
  app.add_flag("-q,--quiet", g.quiet, "No progress output");

  RegisterGenerate(app, ctx);
  RegisterValidate(app, ctx);
  RegisterIngest(app, ctx);
  RegisterRun(app, ctx);
  RegisterDevbroker(app, ctx);
  RegisterExport(app, ctx);
  RegisterImport(app, ctx);
  RegisterGet(app, ctx);
  RegisterList(app, ctx);
  RegisterTop(app, ctx);
  RegisterStats(app, ctx);
  RegisterDump(app, ctx);
  RegisterRegrade(app, ctx);
  RegisterReplay(app, ctx);
  RegisterDiff(app, ctx);
  RegisterBacktest(app, ctx);
  RegisterStatus(app, ctx);
  RegisterCheckpoint(app, ctx);
  RegisterPlanned(app, ctx, "bench", "Benchmarks");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? crm::kExitOk : crm::kExitUsage;
  }
  return ctx.exit_code;
}
