// Kills a writer process (SIGKILL) in the middle of appending and checks
// that reopening keeps every acknowledged record, in order, and nothing
// else but whole records.

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/log/embedded_log.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace crm::log {
namespace {

// Child: appends batches of `batch` records with values "v<i>" to one
// partition and writes the acknowledged count to `ack_fd` after each OK.
[[noreturn]] void AppendUntilKilled(const std::string& dir, int ack_fd,
                                    int batch) {
  EmbeddedLogOptions opts;
  opts.partitions = 2;
  opts.segment_bytes = 64 << 10;  // rolls while being killed, too
  auto log = EmbeddedLog::Open(dir, opts);
  if (!log.ok()) _exit(2);
  int64_t next = 0;
  std::vector<std::string> values;
  for (;;) {
    values.clear();
    for (int i = 0; i < batch; ++i) {
      values.push_back(absl::StrCat("v", next + i, std::string(100, 'x')));
    }
    std::vector<RecordRef> refs;
    for (const auto& v : values) refs.push_back({"the-one-customer", v});
    if (!(*log)->Append(refs).ok()) _exit(3);
    next += batch;
    if (write(ack_fd, &next, sizeof(next)) != sizeof(next)) _exit(4);
  }
}

TEST(EmbeddedLogCrashTest, KilledWriterLosesNothingAcknowledged) {
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE(round);
    testing::TempDir tmp;
    const std::string dir = tmp.File("log");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      AppendUntilKilled(dir, fds[1], 37 + round * 50);
    }
    close(fds[1]);
    // Let it acknowledge a growing number of batches, then kill it at
    // whatever instant it has reached.
    int64_t acked = 0;
    for (int i = 0; i < 20 + round * 15; ++i) {
      ASSERT_EQ(read(fds[0], &acked, sizeof(acked)),
                static_cast<ssize_t>(sizeof(acked)));
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;
    // Acks written before the kill may still sit in the pipe.
    int64_t more;
    while (read(fds[0], &more, sizeof(more)) == sizeof(more)) acked = more;
    close(fds[0]);

    EmbeddedLogOptions opts;
    opts.partitions = 2;
    opts.info_log = [](absl::string_view) {};
    auto log = EmbeddedLog::Open(dir, opts);
    ASSERT_TRUE(log.ok()) << log.status();
    const int32_t p = PartitionFor("the-one-customer", 2);
    const int64_t end = *(*log)->EndOffset(p);
    EXPECT_GE(end, acked);
    auto reader = (*log)->OpenReader(p, 0);
    ASSERT_TRUE(reader.ok());
    std::vector<LogRecord> got;
    while ((*reader)->position() < end) {
      auto n = (*reader)->Poll(&got, 1000, absl::ZeroDuration());
      ASSERT_TRUE(n.ok()) << n.status();
      ASSERT_GT(*n, 0u);
    }
    ASSERT_EQ(static_cast<int64_t>(got.size()), end);
    for (int64_t i = 0; i < end; ++i) {
      ASSERT_EQ(got[i].offset, i);
      ASSERT_EQ(got[i].value, absl::StrCat("v", i, std::string(100, 'x')));
    }
  }
}

// Child: appends until the file size limit makes write(2) fail midway
// through a batch, then checks the partial batch was cut off and the log
// still appends. Reports the records it got acknowledged through `ack_fd`.
[[noreturn]] void AppendIntoAFileSizeLimit(const std::string& dir, int ack_fd) {
  signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
  EmbeddedLogOptions opts;
  opts.partitions = 1;
  auto log = EmbeddedLog::Open(dir, opts);
  if (!log.ok()) _exit(10);
  const std::string segment = (*log)->SegmentPaths(0)[0];
  struct rlimit limit = {10000, 10000};
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(11);
  const std::string value(100, 'v');
  std::vector<RecordRef> batch(10, RecordRef{"key", value});
  int64_t acked = 0;
  absl::Status s;
  while ((s = (*log)->Append(batch)).ok()) acked += 10;
  if (s.code() != absl::StatusCode::kUnavailable ||
      s.message().rfind("write " + segment + ": ", 0) != 0) {
    _exit(12);
  }
  struct stat st;
  if (stat(segment.c_str(), &st) != 0 ||
      st.st_size != acked * static_cast<int64_t>(32 + 3 + 100)) {
    _exit(13);  // the partial batch must be gone
  }
  if (!(*log)->Append({{"key", "x"}}).ok()) _exit(14);  // still appends
  ++acked;
  if (write(ack_fd, &acked, sizeof(acked)) != sizeof(acked)) _exit(15);
  _exit(0);
}

TEST(EmbeddedLogCrashTest, FailedWriteLeavesOnlyAcknowledgedRecords) {
  testing::TempDir tmp;
  const std::string dir = tmp.File("log");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    AppendIntoAFileSizeLimit(dir, fds[1]);
  }
  close(fds[1]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0);
  int64_t acked = 0;
  ASSERT_EQ(read(fds[0], &acked, sizeof(acked)),
            static_cast<ssize_t>(sizeof(acked)));
  close(fds[0]);
  EXPECT_EQ(acked, 10000 / 1350 * 10 + 1);

  std::vector<std::string> lines;
  EmbeddedLogOptions opts;
  opts.info_log = [&](absl::string_view l) { lines.emplace_back(l); };
  auto log = EmbeddedLog::Open(dir, opts);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(*(*log)->EndOffset(0), acked);
  EXPECT_TRUE(lines.empty());
}

}  // namespace
}  // namespace crm::log
