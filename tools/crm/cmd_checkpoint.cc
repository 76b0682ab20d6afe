// crm checkpoint / crm restore: copy partition stores out (RocksDB
// Checkpoint: hard links where possible) and back in, so a partition can
// move to another worker or data directory without a full replay: the
// restored store resumes from its own offset and `crm run` replays only the
// log's tail.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/exit_codes.h"
#include "engine/store/partition_store.h"
#include "engine/task/worker.h"
#include "tools/crm/command.h"
#include "tools/crm/wiring.h"

namespace crm::cli {
namespace {

namespace fs = std::filesystem;

struct CheckpointFlags {
  std::string to;
  std::vector<int32_t> partitions;
};

struct RestoreFlags {
  std::string from;
  bool force = false;
};

// The partition numbers with a store under `dir` (p-NNNN folders).
std::vector<int32_t> StoredPartitions(const std::string& dir) {
  std::set<int32_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.size() == 6 && name.rfind("p-", 0) == 0) {
      out.insert(std::stoi(name.substr(2)));
    }
  }
  return {out.begin(), out.end()};
}

int RunCheckpoint(const CheckpointFlags& flags, const GlobalFlags& g) {
  const std::string store_dir = StoreDir(g);
  std::vector<int32_t> parts =
      flags.partitions.empty() ? StoredPartitions(store_dir) : flags.partitions;
  if (parts.empty()) {
    return ReportError("checkpoint",
                       absl::NotFoundError(
                           absl::StrCat("no partition stores in ", store_dir)));
  }
  if (fs::exists(flags.to)) {
    return ReportError(
        "checkpoint",
        absl::AlreadyExistsError(
            absl::StrCat(flags.to, " exists; checkpoints go to a new folder")));
  }
  fs::create_directories(flags.to);
  store::StoreResources resources{store::StoreOptions{}};
  for (int32_t p : parts) {
    auto s = store::PartitionStore::Open(
        resources, task::PartitionStoreDir(store_dir, p), p);
    if (!s.ok()) {
      if (s.status().code() == absl::StatusCode::kUnavailable) {
        return ReportError(
            "checkpoint",
            absl::UnavailableError(absl::StrCat(
                s.status().message(),
                " (is `crm run` holding it? stop the worker first)")));
      }
      return ReportError("checkpoint", s.status());
    }
    const std::string out = task::PartitionStoreDir(flags.to, p);
    absl::Status st = (*s)->Checkpoint(out);
    if (!st.ok()) return ReportError("checkpoint", st);
    std::fprintf(stderr, "checkpoint: partition %d at offset %lld -> %s\n", p,
                 static_cast<long long>((*s)->next_offset()), out.c_str());
  }
  return kExitOk;
}

int RunRestore(const RestoreFlags& flags, const GlobalFlags& g) {
  const std::vector<int32_t> parts = StoredPartitions(flags.from);
  if (parts.empty()) {
    return ReportError(
        "restore", absl::NotFoundError(absl::StrCat(
                       "no partition checkpoints (p-NNNN) in ", flags.from)));
  }
  const std::string store_dir = StoreDir(g);
  store::StoreResources resources{store::StoreOptions{}};
  for (int32_t p : parts) {
    const std::string src = task::PartitionStoreDir(flags.from, p);
    // Check the checkpoint is a store of that partition before copying.
    {
      auto s = store::PartitionStore::OpenReadOnly(resources, src);
      if (!s.ok()) return ReportError("restore", s.status());
      if ((*s)->partition() != p) {
        return ReportError("restore",
                           absl::DataLossError(absl::StrCat(
                               src, " holds partition ", (*s)->partition())));
      }
    }
    const std::string dst = task::PartitionStoreDir(store_dir, p);
    if (fs::exists(dst)) {
      if (!flags.force) {
        return ReportError(
            "restore",
            absl::AlreadyExistsError(absl::StrCat(
                dst, " exists; --force replaces it (stop the worker first)")));
      }
      fs::remove_all(dst);
    }
    fs::create_directories(store_dir);
    std::error_code ec;
    fs::copy(src, dst, fs::copy_options::recursive, ec);
    if (ec) {
      return ReportError("restore",
                         absl::UnavailableError(absl::StrCat(
                             "copy ", src, " -> ", dst, ": ", ec.message())));
    }
    std::fprintf(stderr, "restore: partition %d from %s\n", p, src.c_str());
  }
  std::fprintf(stderr,
               "restore: %zu partitions; `crm run` replays only the log tail "
               "after each restored offset\n",
               parts.size());
  return kExitOk;
}

}  // namespace

void RegisterCheckpoint(CLI::App& app, CommandContext& ctx) {
  auto cflags = std::make_shared<CheckpointFlags>();
  CLI::App* cp = app.add_subcommand(
      "checkpoint", "Copy partition stores to a folder (RocksDB Checkpoint)");
  cp->footer(
      "Writes a consistent copy of each partition store (views, offset, "
      "outbox) to TO/p-NNNN, with hard links where the file system allows. "
      "The worker must not be running on these partitions. `crm restore` "
      "puts a checkpoint back, here or in another data directory.");
  cp->add_option("--to", cflags->to, "New folder for the checkpoint")
      ->required();
  cp->add_option("--partition", cflags->partitions,
                 "Only these partitions (repeatable; default all)");
  cp->callback(
      [cflags, &ctx] { ctx.exit_code = RunCheckpoint(*cflags, ctx.global); });

  auto rflags = std::make_shared<RestoreFlags>();
  CLI::App* rs = app.add_subcommand(
      "restore", "Install a checkpoint as this data directory's stores");
  rs->footer(
      "Copies FROM/p-NNNN into DATA_DIR/store/TOPIC/p-NNNN. The next `crm "
      "run` resumes each restored partition from the checkpoint's offset "
      "and replays only the rest of the log.");
  rs->add_option("--from", rflags->from, "Checkpoint folder")->required();
  rs->add_flag("--force", rflags->force, "Replace existing stores");
  rs->callback(
      [rflags, &ctx] { ctx.exit_code = RunRestore(*rflags, ctx.global); });
}

}  // namespace crm::cli
