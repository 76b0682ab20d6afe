// crm generate: a deterministic sample multi-channel history (see
// tools/generator/README.md) as JSON lines or length-delimited protobuf.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/base/clock.h"
#include "engine/base/exit_codes.h"
#include "engine/base/time_util.h"
#include "tools/crm/command.h"
#include "tools/generator/generator.h"
#include "tools/generator/json_writer.h"

namespace crm::cli {
namespace {

struct GenerateFlags {
  int64_t customers = 1000;
  int months = 12;
  uint64_t seed = 1;
  std::string start = "2024-01-01";
  std::string currency = "USD";
  int account_managers = 36;
  std::string format = "jsonl";
  std::string out;  // empty: stdout
};

constexpr char kFooter[] = R"txt(Output:
  jsonl   one crm.v1.Envelope per line in protobuf's JSON mapping (what
          `crm validate` and `crm ingest` read).
  binary  each Envelope as a varint length followed by its protobuf bytes
          (google::protobuf::util::ParseDelimitedFromZeroCopyStream reads it).
Events come in non-decreasing occurred_at order, all within
[start, start + months). The same flags always give byte-identical output.
Progress and a summary go to stderr when it is a terminal, unless -q/--quiet
(a common flag: `crm generate -q ...`).

Examples:
  crm generate --customers 1000 --months 12 --seed 7 > sample.jsonl
  crm generate --customers 100000 --months 24 --seed 1 --out big.jsonl
  crm generate --customers 50 --months 3 --start 2025-07-01 --currency EUR

Exit codes: 0 ok, 2 bad flags, 3 cannot write the output.)txt";

// Buffered output to a FILE*; remembers the first write error.
class Output {
 public:
  explicit Output(std::FILE* f) : f_(f) { buf_.reserve(kFlushAt + 4096); }
  std::string* buffer() { return &buf_; }
  void MaybeFlush() {
    if (buf_.size() >= kFlushAt) Flush();
  }
  void Flush() {
    if (!buf_.empty() && errno_ == 0 &&
        std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) {
      errno_ = errno != 0 ? errno : EIO;
    }
    buf_.clear();
  }
  // 0 or the errno of the first failure.
  int Close(bool close_file) {
    Flush();
    if (std::fflush(f_) != 0 && errno_ == 0) errno_ = errno;
    if (close_file && std::fclose(f_) != 0 && errno_ == 0) errno_ = errno;
    return errno_;
  }

 private:
  static constexpr size_t kFlushAt = 1 << 20;
  std::FILE* f_;
  std::string buf_;
  int errno_ = 0;
};

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

int Run(const GlobalFlags& g, const GenerateFlags& f) {
  generator::GeneratorOptions opts;
  opts.customers = f.customers;
  opts.months = f.months;
  opts.seed = f.seed;
  opts.currency = f.currency;
  opts.account_managers = f.account_managers;
  absl::CivilDay day;
  if (!absl::ParseCivilTime(f.start, &day)) {
    std::fprintf(stderr,
                 "crm generate: --start: expected a date YYYY-MM-DD, got "
                 "\"%s\"\n",
                 f.start.c_str());
    return kExitUsage;
  }
  opts.start = absl::FromCivil(day, absl::UTCTimeZone());
  auto gen = generator::Generator::Create(opts);
  if (!gen.ok()) {
    std::fprintf(stderr, "crm generate: %s\n",
                 std::string(gen.status().message()).c_str());
    return kExitUsage;
  }
  const bool binary = f.format == "binary";

  std::FILE* file = stdout;
  if (!f.out.empty()) {
    file = std::fopen(f.out.c_str(), binary ? "wb" : "w");
    if (file == nullptr) {
      std::fprintf(stderr, "crm generate: cannot open %s for writing: %s\n",
                   f.out.c_str(), std::strerror(errno));
      return kExitUnavailable;
    }
  }
  Output out(file);
  const bool progress = !g.quiet && isatty(STDERR_FILENO) == 1;
  SystemClock clock;  // progress output only; the events never see it
  const absl::Time began = clock.Now();
  absl::Time last_report = began;

  crm::v1::Envelope event;
  std::string bytes;
  int64_t n = 0;
  while ((*gen)->Next(&event)) {
    if (binary) {
      bytes.clear();
      event.SerializeToString(&bytes);
      AppendVarint(bytes.size(), out.buffer());
      out.buffer()->append(bytes);
    } else {
      generator::AppendEnvelopeJson(event, out.buffer());
      out.buffer()->push_back('\n');
    }
    out.MaybeFlush();
    if (progress && (++n & 0xffff) == 0) {
      const absl::Time now = clock.Now();
      if (now - last_report > absl::Milliseconds(500)) {
        last_report = now;
        std::fprintf(
            stderr, "\rcrm generate: %lld events, %s  ",
            static_cast<long long>((*gen)->stats().events),
            absl::FormatTime("%Y-%m-%d", FromProto(event.occurred_at()),
                             absl::UTCTimeZone())
                .c_str());
      }
    }
  }
  const int err = out.Close(!f.out.empty());
  if (err != 0) {
    std::fprintf(stderr, "crm generate: writing %s: %s\n",
                 f.out.empty() ? "stdout" : f.out.c_str(), std::strerror(err));
    return kExitUnavailable;
  }
  if (progress) {
    const double secs = absl::ToDoubleSeconds(clock.Now() - began);
    const auto& st = (*gen)->stats();
    std::fprintf(stderr,
                 "\rcrm generate: %lld events for %lld customers in %.2f s "
                 "(%.0f events/s)\n",
                 static_cast<long long>(st.events),
                 static_cast<long long>(st.customers_registered), secs,
                 secs > 0 ? st.events / secs : 0.0);
  }
  return kExitOk;
}

}  // namespace

void RegisterGenerate(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* sub = app.add_subcommand(
      "generate",
      "Sample multi-channel history as JSON lines (deterministic per seed)");
  sub->add_option("--customers", flags->customers,
                  "Number of customers (ids C0000001, ...), 1..99999999")
      ->capture_default_str();
  sub->add_option("--months", flags->months,
                  "Length of the history in calendar months, 1..600")
      ->capture_default_str();
  sub->add_option("--seed", flags->seed,
                  "Seed; the same flags always give the same bytes")
      ->capture_default_str();
  sub->add_option("--start", flags->start,
                  "First day of the history, YYYY-MM-DD (UTC)")
      ->capture_default_str();
  sub->add_option("--currency", flags->currency,
                  "ISO 4217 code of every amount")
      ->capture_default_str();
  sub->add_option("--account-managers", flags->account_managers,
                  "Number of account managers (am-001 ...), 1..999")
      ->capture_default_str();
  sub->add_option("--format", flags->format, "Output format")
      ->check(CLI::IsMember({"jsonl", "binary"}))
      ->capture_default_str();
  sub->add_option("-o,--out", flags->out, "Write to FILE instead of stdout");
  sub->footer(kFooter);
  sub->callback([&ctx, flags] { ctx.exit_code = Run(ctx.global, *flags); });
}

}  // namespace crm::cli
