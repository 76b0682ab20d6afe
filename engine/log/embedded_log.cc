#include "engine/log/embedded_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/blocking_counter.h"
#include "engine/base/status_macros.h"
#include "engine/log/crc32c.h"
#include "engine/log/file_util.h"
#include "engine/log/record_format.h"

namespace crm::log {
namespace internal {

struct Counters {
  std::atomic<int64_t> records_appended{0};
  std::atomic<int64_t> write_calls{0};
  std::atomic<int64_t> bytes_written{0};
  std::atomic<int64_t> fsyncs{0};
  std::atomic<int64_t> segments_rolled{0};
};

// One segment file. The file descriptor is shared by the appender (write,
// fdatasync) and readers (pread); the rest is guarded by Partition::mu.
struct Segment {
  int64_t base_offset = 0;
  File file;
  uint64_t size = 0;           // bytes written
  int64_t end_offset = 0;      // offset after the last written record
  uint64_t visible_bytes = 0;  // prefix readers may read
  bool sealed = false;         // a newer segment exists; size is final
  std::vector<std::pair<int64_t, uint64_t>> index;  // (offset, position)
  uint64_t last_indexed_pos = 0;
  bool indexed = true;  // false: opened unverified, index not built yet

  void MaybeIndex(int64_t offset, uint64_t pos, uint32_t interval) {
    if (index.empty() || pos - last_indexed_pos >= interval) {
      index.emplace_back(offset, pos);
      last_indexed_pos = pos;
    }
  }
};

// One partition: its directory, segments and the visible end. Shared by the
// log and its readers.
struct Partition {
  int32_t id = 0;
  std::string dir;

  absl::Mutex mu;
  absl::CondVar visible_cv;  // signalled when visible_end grows
  std::vector<std::shared_ptr<Segment>> segments ABSL_GUARDED_BY(mu);
  int64_t next_offset ABSL_GUARDED_BY(mu) = 0;  // written end
  int64_t visible_end ABSL_GUARDED_BY(mu) = 0;  // readable end
  int64_t synced_end ABSL_GUARDED_BY(mu) = 0;   // known durable end
  absl::Status failed ABSL_GUARDED_BY(mu);
  std::string write_buf ABSL_GUARDED_BY(mu);

  // Writer: DIR/<p>/VISIBLE, where visible_end is published for followers
  // (other processes). Follower: the same file, read.
  File visible_file;
  bool follower = false;
  uint32_t index_interval_bytes = 4096;

  // Publishes visible_end to followers. Best effort: a failed write only
  // delays followers (the file is rewritten on every change).
  void PublishVisible() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (follower || !visible_file.is_open()) return;
    char b[16];
    StoreU64(b, static_cast<uint64_t>(visible_end));
    StoreU64(b + 8, static_cast<uint64_t>(visible_end) ^ kWatermarkCheck);
    (void)!::pwrite(visible_file.fd(), b, sizeof(b), 0);
  }
  static constexpr uint64_t kWatermarkCheck = 0x43524d5649534942;  // CRMVISIB

  std::shared_ptr<Segment> FindSegment(int64_t offset) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it =
        std::upper_bound(segments.begin(), segments.end(), offset,
                         [](int64_t o, const std::shared_ptr<Segment>& s) {
                           return o < s->base_offset;
                         });
    if (it == segments.begin()) return nullptr;
    return *(it - 1);
  }
};

// A few threads that run the fdatasync calls of one Append in parallel.
// Owned by the EmbeddedLog; thread-safe.
class SyncPool {
 public:
  explicit SyncPool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  ~SyncPool() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (auto& t : threads_) t.join();
  }

  // Runs fn(0..n-1), fn(0) on the calling thread, and returns when all
  // have finished.
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
    if (n == 0) return;
    absl::BlockingCounter done(static_cast<int>(n - 1));
    {
      absl::MutexLock lock(&mu_);
      for (size_t i = 1; i < n; ++i) {
        queue_.push_back([&fn, &done, i] {
          fn(i);
          done.DecrementCount();
        });
      }
    }
    fn(0);
    done.Wait();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> task;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](SyncPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
              return p->stop_ || !p->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stopping
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace internal

namespace {

using internal::DecodeRecord;
using internal::DecodeResult;
using internal::File;
using internal::Partition;
using internal::RecordView;
using internal::Segment;

constexpr char kMetaFile[] = "META";
constexpr char kMetaMagic[] = "crm-embedded-log 1";
constexpr char kSegmentSuffix[] = ".log";
constexpr size_t kScanBufferBytes = size_t{4} << 20;
constexpr absl::Duration kFollowerPollInterval = absl::Milliseconds(5);

std::string SegmentName(int64_t base_offset) {
  return absl::StrFormat("%020d%s", base_offset, kSegmentSuffix);
}

absl::Status CorruptAt(const std::string& path, uint64_t pos,
                       absl::string_view why) {
  return absl::DataLossError(absl::StrCat(
      path, ": corrupt record at byte offset ", pos, " (", why, ")"));
}

int64_t NowMs(const Clock* clock) { return absl::ToUnixMillis(clock->Now()); }

// Looks for any well-formed frame (sane length, matching CRC) starting in
// [from, size) of `file`. Returns its position, or -1.
absl::StatusOr<int64_t> FindValidRecordAfter(const File& file, uint64_t from,
                                             uint64_t size) {
  if (from >= size) return -1;
  std::string tail(size - from, '\0');
  CRM_ASSIGN_OR_RETURN(size_t n, file.PRead(tail.data(), tail.size(), from));
  tail.resize(n);
  for (size_t q = 0; q + internal::kRecordOverheadBytes <= n; ++q) {
    const uint32_t body = internal::LoadU32(tail.data() + q);
    if (body < internal::kBodyFixedBytes || body > internal::kMaxBodyBytes ||
        body > n - q - internal::kFrameHeaderBytes) {
      continue;
    }
    RecordView rec;
    if (DecodeRecord(tail.data() + q, n - q, true, &rec) == DecodeResult::kOk) {
      return static_cast<int64_t>(from + q);
    }
  }
  return -1;
}

// Scans a whole segment, checking every frame, offset and partition, and
// builds its sparse index. The newest segment (`is_last`) may end in a torn
// tail, which is truncated; any other damage is kDataLoss.
absl::Status RecoverSegment(const File& file, Segment* seg, int32_t partition,
                            bool is_last, const EmbeddedLogOptions& options,
                            const std::function<void(absl::string_view)>& say) {
  const std::string& path = file.path();
  CRM_ASSIGN_OR_RETURN(const uint64_t file_size, file.Size());
  std::string buf;
  buf.resize(
      std::min<uint64_t>(kScanBufferBytes, std::max<uint64_t>(file_size, 1)));
  uint64_t buf_pos = 0;  // file position of buf[0]
  size_t buf_len = 0;
  size_t at = 0;  // next frame in buf
  int64_t expected = seg->base_offset;
  uint64_t bad_pos = 0;
  DecodeResult bad = DecodeResult::kOk;
  for (;;) {
    const uint64_t pos = buf_pos + at;
    if (pos == file_size) break;
    RecordView rec;
    DecodeResult r = DecodeRecord(buf.data() + at, buf_len - at, true, &rec);
    if (r == DecodeResult::kTruncated && buf_pos + buf_len < file_size) {
      // Refill: keep the partial frame, read more behind it.
      const size_t keep = buf_len - at;
      if (keep >= internal::kFrameHeaderBytes) {
        const size_t need =
            internal::kFrameHeaderBytes + internal::LoadU32(buf.data() + at);
        if (need > buf.size()) buf.resize(need);
      }
      std::memmove(buf.data(), buf.data() + at, keep);
      buf_pos = pos;
      at = 0;
      const size_t want = static_cast<size_t>(
          std::min<uint64_t>(buf.size() - keep, file_size - pos - keep));
      CRM_ASSIGN_OR_RETURN(size_t got,
                           file.PRead(buf.data() + keep, want, pos + keep));
      buf_len = keep + got;
      if (got == 0) {
        bad = DecodeResult::kTruncated;
        bad_pos = pos;
        break;
      }
      continue;
    }
    if (r != DecodeResult::kOk) {
      bad = r;
      bad_pos = pos;
      break;
    }
    if (rec.partition != partition) {
      return CorruptAt(path, pos,
                       absl::StrCat("record of partition ", rec.partition,
                                    " in partition ", partition));
    }
    if (rec.offset != expected) {
      return CorruptAt(
          path, pos,
          absl::StrCat("offset ", rec.offset, ", expected ", expected));
    }
    seg->MaybeIndex(rec.offset, pos, options.index_interval_bytes);
    ++expected;
    at += rec.encoded_size;
  }
  if (bad != DecodeResult::kOk) {
    const char* why = internal::DecodeResultName(bad);
    if (!is_last) {
      return CorruptAt(path, bad_pos,
                       absl::StrCat(why, "; not the newest segment"));
    }
    CRM_ASSIGN_OR_RETURN(int64_t next_valid,
                         FindValidRecordAfter(file, bad_pos + 1, file_size));
    if (next_valid >= 0) {
      return CorruptAt(path, bad_pos,
                       absl::StrCat(why, "; a valid record follows at byte ",
                                    "offset ", next_valid));
    }
    CRM_RETURN_IF_ERROR(file.Truncate(bad_pos));
    CRM_RETURN_IF_ERROR(file.DataSync());
    say(absl::StrCat("crm log: ", path, ": dropped ", file_size - bad_pos,
                     " bytes of torn tail at byte offset ", bad_pos, " (", why,
                     ")"));
  }
  seg->size = bad != DecodeResult::kOk ? bad_pos : file_size;
  seg->end_offset = expected;
  seg->visible_bytes = seg->size;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Segment>> CreateSegment(const std::string& dir,
                                                       int64_t base_offset,
                                                       bool sync_dir) {
  auto seg = std::make_shared<Segment>();
  seg->base_offset = base_offset;
  seg->end_offset = base_offset;
  const std::string path = absl::StrCat(dir, "/", SegmentName(base_offset));
  CRM_ASSIGN_OR_RETURN(seg->file,
                       File::Open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND));
  if (sync_dir) {
    absl::Status s = internal::SyncDir(dir);
    if (!s.ok()) {
      // Leave no half-made segment behind for the retry's O_EXCL.
      ::unlink(path.c_str());
      return s;
    }
  }
  return seg;
}

// Takes the directory's writer lock: an exclusive flock on DIR/LOCK, which
// then holds the owner's pid for the error message of the next opener.
absl::StatusOr<File> LockDir(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/LOCK");
  CRM_ASSIGN_OR_RETURN(File f, File::Open(path, O_RDWR | O_CREAT));
  if (::flock(f.fd(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return internal::FromErrno(errno, "flock", path);
    char pid[32] = {0};
    auto n = f.PRead(pid, sizeof(pid) - 1, 0);
    return absl::FailedPreconditionError(absl::StrCat(
        "embedded log ", dir, " is in use (", path, " is locked by pid ",
        n.ok() ? absl::StripAsciiWhitespace(pid) : "?", ")"));
  }
  const std::string me = absl::StrCat(::getpid(), "\n");
  CRM_RETURN_IF_ERROR(f.Truncate(0));
  if (::pwrite(f.fd(), me.data(), me.size(), 0) !=
      static_cast<ssize_t>(me.size())) {
    return internal::FromErrno(errno, "write", path);
  }
  return f;
}

absl::StatusOr<int32_t> ReadMeta(const std::string& path) {
  CRM_ASSIGN_OR_RETURN(std::string text, internal::ReadSmallFile(path));
  std::vector<absl::string_view> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  int32_t n = 0;
  if (lines.size() != 2 || lines[0] != kMetaMagic ||
      !absl::ConsumePrefix(&lines[1], "partitions ") ||
      !absl::SimpleAtoi(lines[1], &n) || n < 1) {
    return absl::DataLossError(
        absl::StrCat(path, ": not an embedded log metadata file (expected \"",
                     kMetaMagic, "\" and \"partitions N\")"));
  }
  return n;
}

absl::Status OpenPartition(Partition* p, const EmbeddedLogOptions& options,
                           const std::function<void(absl::string_view)>& say)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  CRM_RETURN_IF_ERROR(internal::MakeDirs(p->dir));
  CRM_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       internal::ListDir(p->dir));
  std::vector<int64_t> bases;
  for (absl::string_view name : names) {
    if (name.size() != 20 + 4 || !absl::ConsumeSuffix(&name, kSegmentSuffix))
      continue;
    int64_t base;
    if (absl::SimpleAtoi(name, &base) && base >= 0) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  const bool sync = options.fsync != FsyncPolicy::kNever;
  if (bases.empty()) {
    CRM_ASSIGN_OR_RETURN(auto seg, CreateSegment(p->dir, 0, sync));
    p->segments.push_back(std::move(seg));
  }
  for (size_t i = 0; i < bases.size(); ++i) {
    auto seg = std::make_shared<Segment>();
    seg->base_offset = bases[i];
    const std::string path = absl::StrCat(p->dir, "/", SegmentName(bases[i]));
    CRM_ASSIGN_OR_RETURN(seg->file, File::Open(path, O_RDWR | O_APPEND));
    if (!p->segments.empty() &&
        p->segments.back()->end_offset != seg->base_offset) {
      return absl::DataLossError(absl::StrCat(
          path, ": segment starts at offset ", seg->base_offset,
          " but the previous one ends at ", p->segments.back()->end_offset));
    }
    const bool is_last = i + 1 == bases.size();
    if (!is_last && !options.verify_sealed_segments_on_open) {
      // Trusted for now: the chain of names gives its offsets; the frames
      // are checked when first read (and the index built then).
      CRM_ASSIGN_OR_RETURN(seg->size, seg->file.Size());
      seg->end_offset = bases[i + 1];
      seg->visible_bytes = seg->size;
      seg->indexed = false;
    } else {
      CRM_RETURN_IF_ERROR(
          RecoverSegment(seg->file, seg.get(), p->id, is_last, options, say));
    }
    seg->sealed = !is_last;
    p->segments.push_back(std::move(seg));
  }
  p->next_offset = p->segments.back()->end_offset;
  p->visible_end = p->next_offset;
  p->synced_end = p->next_offset;
  CRM_ASSIGN_OR_RETURN(
      p->visible_file,
      File::Open(absl::StrCat(p->dir, "/VISIBLE"), O_RDWR | O_CREAT));
  p->PublishVisible();
  return absl::OkStatus();
}

// Follower: reads the writer's published visible end, or -1 when the file
// is missing, short or torn (then nothing new is assumed).
int64_t ReadWatermark(const Partition& p) {
  char b[16];
  auto n = p.visible_file.PRead(b, sizeof(b), 0);
  if (!n.ok() || *n != sizeof(b)) return -1;
  const uint64_t v = internal::LoadU64(b);
  if ((v ^ Partition::kWatermarkCheck) != internal::LoadU64(b + 8)) return -1;
  return static_cast<int64_t>(v);
}

// Follower: extends `seg` (from seg->size) frame by frame until its end
// offset reaches `target`. Returns true when reached, false at a clean end
// of file (the rest is in the next segment). Every frame below `target` was
// complete before the writer published `target`, so a damaged or partial
// one is kDataLoss.
absl::StatusOr<bool> FollowSegment(Segment* seg, int32_t partition,
                                   int64_t target, uint32_t index_interval) {
  const std::string& path = seg->file.path();
  std::string buf(size_t{256} << 10, '\0');
  uint64_t buf_pos = seg->size;
  size_t len = 0, at = 0;
  while (seg->end_offset < target) {
    RecordView rec;
    DecodeResult r = DecodeRecord(buf.data() + at, len - at, true, &rec);
    if (r == DecodeResult::kTruncated) {
      const size_t keep = len - at;
      if (keep >= internal::kFrameHeaderBytes) {
        const size_t need =
            internal::kFrameHeaderBytes + internal::LoadU32(buf.data() + at);
        if (need > buf.size()) buf.resize(need);
      }
      std::memmove(buf.data(), buf.data() + at, keep);
      buf_pos += at;
      at = 0;
      CRM_ASSIGN_OR_RETURN(size_t got,
                           seg->file.PRead(buf.data() + keep, buf.size() - keep,
                                           buf_pos + keep));
      len = keep + got;
      if (got > 0) continue;
      if (keep == 0) return false;  // clean end of this segment
      return CorruptAt(path, buf_pos,
                       "truncated record below the writer's end");
    }
    if (r != DecodeResult::kOk) {
      return CorruptAt(path, buf_pos + at, internal::DecodeResultName(r));
    }
    if (rec.partition != partition || rec.offset != seg->end_offset) {
      return CorruptAt(path, buf_pos + at,
                       absl::StrCat("partition ", rec.partition, " offset ",
                                    rec.offset, ", expected partition ",
                                    partition, " offset ", seg->end_offset));
    }
    seg->MaybeIndex(rec.offset, buf_pos + at, index_interval);
    at += rec.encoded_size;
    seg->size = buf_pos + at;
    seg->end_offset = rec.offset + 1;
  }
  return true;
}

// Follower: brings the partition up to the writer's published end,
// opening newer segments as needed.
absl::Status RefreshFollower(Partition* p)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu) {
  const int64_t target = ReadWatermark(*p);
  if (target <= p->visible_end) return absl::OkStatus();
  for (;;) {
    std::shared_ptr<Segment> seg = p->segments.back();
    CRM_ASSIGN_OR_RETURN(bool reached, FollowSegment(seg.get(), p->id, target,
                                                     p->index_interval_bytes));
    seg->visible_bytes = seg->size;
    if (reached) break;
    auto next = std::make_shared<Segment>();
    next->base_offset = seg->end_offset;
    next->end_offset = seg->end_offset;
    const std::string path =
        absl::StrCat(p->dir, "/", SegmentName(seg->end_offset));
    absl::StatusOr<File> f = File::Open(path, O_RDONLY);
    if (!f.ok()) {
      return absl::DataLossError(absl::StrCat(
          seg->file.path(), ": ends at offset ", seg->end_offset,
          " but the writer published ", target, " and ", path, " is missing"));
    }
    next->file = *std::move(f);
    seg->sealed = true;
    p->segments.push_back(std::move(next));
  }
  p->visible_end = target;
  p->next_offset = target;
  p->visible_cv.SignalAll();
  return absl::OkStatus();
}

// Follower: the oldest segment, then RefreshFollower does the rest.
absl::Status OpenFollowerPartition(Partition* p,
                                   const EmbeddedLogOptions& options)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  p->follower = true;
  p->index_interval_bytes = options.index_interval_bytes;
  CRM_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       internal::ListDir(p->dir));
  int64_t oldest = -1;
  for (absl::string_view name : names) {
    if (name.size() != 20 + 4 || !absl::ConsumeSuffix(&name, kSegmentSuffix))
      continue;
    int64_t base;
    if (absl::SimpleAtoi(name, &base) && base >= 0 &&
        (oldest < 0 || base < oldest)) {
      oldest = base;
    }
  }
  if (oldest < 0) {
    return absl::UnavailableError(
        absl::StrCat(p->dir, ": no segment yet; is the writer still opening?"));
  }
  auto seg = std::make_shared<Segment>();
  seg->base_offset = oldest;
  seg->end_offset = oldest;
  CRM_ASSIGN_OR_RETURN(
      seg->file,
      File::Open(absl::StrCat(p->dir, "/", SegmentName(oldest)), O_RDONLY));
  p->segments.push_back(std::move(seg));
  p->next_offset = p->visible_end = p->synced_end = oldest;
  absl::StatusOr<File> vf =
      File::Open(absl::StrCat(p->dir, "/VISIBLE"), O_RDONLY);
  if (vf.ok()) p->visible_file = *std::move(vf);
  return RefreshFollower(p);
}

// Reads one partition of an EmbeddedLog; see PartitionReader.
class EmbeddedPartitionReader final : public PartitionReader {
 public:
  EmbeddedPartitionReader(std::shared_ptr<Partition> part,
                          std::shared_ptr<Segment> seg, uint64_t pos,
                          int64_t pos_offset, int64_t start, size_t buf_bytes)
      : part_(std::move(part)),
        seg_(std::move(seg)),
        expected_(pos_offset),
        start_(start),
        buf_pos_(pos) {
    buf_.resize(std::max<size_t>(buf_bytes, 4096));
  }

  absl::StatusOr<size_t> Poll(std::vector<LogRecord>* out, size_t max_records,
                              absl::Duration timeout) override {
    return PollWith(max_records, timeout, [out](const LogRecordView& v) {
      LogRecord& lr = out->emplace_back();
      lr.partition = v.partition;
      lr.offset = v.offset;
      lr.timestamp_ms = v.timestamp_ms;
      lr.key.assign(v.key.data(), v.key.size());
      lr.value.assign(v.value.data(), v.value.size());
    });
  }

  absl::StatusOr<size_t> PollViews(
      size_t max_records, absl::Duration timeout,
      absl::FunctionRef<void(const LogRecordView&)> fn) override {
    return PollWith(max_records, timeout, fn);
  }

  int64_t position() const override { return std::max(expected_, start_); }

 private:
  template <typename Sink>
  absl::StatusOr<size_t> PollWith(size_t max_records, absl::Duration timeout,
                                  const Sink& sink) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      size_t n = 0;
      absl::Status s = ReadAvailable(max_records, sink, &n);
      // Records decoded before a damaged one are returned first; the next
      // Poll meets the damage again and reports it.
      if (n > 0 || max_records == 0) return n;
      CRM_RETURN_IF_ERROR(s);
      absl::MutexLock lock(&part_->mu);
      if (part_->follower) {
        // The writer is another process: poll its published end.
        for (;;) {
          CRM_RETURN_IF_ERROR(RefreshFollower(part_.get()));
          if (part_->visible_end > position()) break;
          const absl::Duration left = deadline - absl::Now();
          if (left <= absl::ZeroDuration()) return 0;
          part_->visible_cv.WaitWithTimeout(
              &part_->mu, std::min(left, kFollowerPollInterval));
        }
        continue;
      }
      while (part_->visible_end <= position()) {
        if (part_->visible_cv.WaitWithDeadline(&part_->mu, deadline)) break;
      }
      if (part_->visible_end <= position()) return 0;
    }
  }

  // Decodes whatever is visible now, without waiting. Takes the partition
  // lock once, plus once per segment change.
  template <typename Sink>
  absl::Status ReadAvailable(size_t max_records, const Sink& sink,
                             size_t* count) {
    size_t& n = *count;
    uint64_t limit;
    bool sealed;
    {
      absl::MutexLock lock(&part_->mu);
      limit = seg_->visible_bytes;
      sealed = seg_->sealed;
    }
    while (n < max_records) {
      const uint64_t pos = buf_pos_ + at_;
      if (pos >= limit) {
        // Whatever became visible since the snapshot is read by the next
        // call (Poll retries when the visible end moved).
        if (!sealed) return absl::OkStatus();
        absl::MutexLock lock(&part_->mu);
        std::shared_ptr<Segment> next = part_->FindSegment(seg_->end_offset);
        if (next == nullptr || next == seg_) return absl::OkStatus();
        seg_ = std::move(next);
        buf_pos_ = 0;
        at_ = 0;
        len_ = 0;
        limit = seg_->visible_bytes;
        sealed = seg_->sealed;
        continue;
      }
      RecordView rec;
      DecodeResult r = DecodeRecord(buf_.data() + at_, len_ - at_, true, &rec);
      if (r == DecodeResult::kTruncated) {
        if (buf_pos_ + len_ >= limit) {
          // The visible prefix always ends on a frame boundary.
          return CorruptAt(seg_->file.path(), pos, "record runs past the end");
        }
        CRM_RETURN_IF_ERROR(Refill(limit));
        continue;
      }
      if (r != DecodeResult::kOk) {
        return CorruptAt(seg_->file.path(), pos, internal::DecodeResultName(r));
      }
      if (rec.offset != expected_ || rec.partition != part_->id) {
        return CorruptAt(seg_->file.path(), pos,
                         absl::StrCat("partition ", rec.partition, " offset ",
                                      rec.offset, ", expected partition ",
                                      part_->id, " offset ", expected_));
      }
      at_ += rec.encoded_size;
      ++expected_;
      if (rec.offset < start_) continue;
      sink(LogRecordView{rec.partition, rec.offset, rec.timestamp_ms, rec.key,
                         rec.value});
      ++n;
    }
    return absl::OkStatus();
  }

  // Moves the unread bytes to the front and reads up to `limit` behind them.
  absl::Status Refill(uint64_t limit) {
    const size_t keep = len_ - at_;
    if (keep >= internal::kFrameHeaderBytes) {
      const size_t need =
          internal::kFrameHeaderBytes + internal::LoadU32(buf_.data() + at_);
      if (need > buf_.size() && need <= internal::kMaxBodyBytes + 8) {
        buf_.resize(need);
      }
    }
    std::memmove(buf_.data(), buf_.data() + at_, keep);
    buf_pos_ += at_;
    at_ = 0;
    const uint64_t from = buf_pos_ + keep;
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(buf_.size() - keep, limit - from));
    CRM_ASSIGN_OR_RETURN(size_t got,
                         seg_->file.PRead(buf_.data() + keep, want, from));
    len_ = keep + got;
    if (got < want) {
      return CorruptAt(seg_->file.path(), from + got,
                       "segment shorter than its visible size");
    }
    return absl::OkStatus();
  }

  std::shared_ptr<Partition> part_;
  std::shared_ptr<Segment> seg_;
  int64_t expected_;  // offset of the frame at buf_pos_ + at_
  const int64_t start_;
  std::string buf_;
  uint64_t buf_pos_;  // file position of buf_[0]
  size_t at_ = 0;     // next frame in buf_
  size_t len_ = 0;    // valid bytes in buf_
};

}  // namespace

EmbeddedLog::EmbeddedLog(std::string dir, EmbeddedLogOptions options)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &system_clock_),
      counters_(std::make_unique<internal::Counters>()) {}

absl::StatusOr<std::unique_ptr<EmbeddedLog>> EmbeddedLog::Open(
    const std::string& dir, EmbeddedLogOptions options) {
  if (options.partitions < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("partitions must be >= 0, got ", options.partitions));
  }
  if (options.segment_bytes == 0 || options.index_interval_bytes == 0) {
    return absl::InvalidArgumentError(
        "segment_bytes and index_interval_bytes must be > 0");
  }
  const std::string meta = absl::StrCat(dir, "/", kMetaFile);
  if (options.read_only) {
    CRM_ASSIGN_OR_RETURN(const int32_t partitions, ReadMeta(meta));
    if (options.partitions != 0 && options.partitions != partitions) {
      return absl::FailedPreconditionError(absl::StrCat(
          "embedded log ", dir, " has ", partitions,
          " partitions; it was opened with partitions = ", options.partitions));
    }
    std::unique_ptr<EmbeddedLog> log(new EmbeddedLog(dir, std::move(options)));
    for (int32_t i = 0; i < partitions; ++i) {
      auto p = std::make_shared<Partition>();
      p->id = i;
      p->dir = absl::StrCat(dir, "/", i);
      CRM_RETURN_IF_ERROR(OpenFollowerPartition(p.get(), log->options_));
      log->parts_.push_back(std::move(p));
    }
    return log;
  }
  if (!internal::PathExists(meta) && !options.create_if_missing) {
    return absl::NotFoundError(
        absl::StrCat("no embedded log in ", dir, " (", meta, " missing)"));
  }
  CRM_RETURN_IF_ERROR(internal::MakeDirs(dir));
  CRM_ASSIGN_OR_RETURN(File lock, LockDir(dir));
  int32_t partitions;
  if (internal::PathExists(meta)) {
    CRM_ASSIGN_OR_RETURN(partitions, ReadMeta(meta));
    if (options.partitions != 0 && options.partitions != partitions) {
      return absl::FailedPreconditionError(absl::StrCat(
          "embedded log ", dir, " has ", partitions,
          " partitions; it was opened with partitions = ", options.partitions));
    }
  } else {
    partitions = options.partitions != 0
                     ? options.partitions
                     : EmbeddedLogOptions::kDefaultPartitions;
    for (int32_t i = 0; i < partitions; ++i) {
      CRM_RETURN_IF_ERROR(internal::MakeDirs(absl::StrCat(dir, "/", i)));
    }
    // META last: its presence means the partition directories exist.
    CRM_RETURN_IF_ERROR(internal::WriteFileAtomically(
        meta, absl::StrCat(kMetaMagic, "\npartitions ", partitions, "\n")));
  }
  std::unique_ptr<EmbeddedLog> log(new EmbeddedLog(dir, std::move(options)));
  log->lock_file_ = std::make_unique<File>(std::move(lock));
  const auto& opts = log->options_;
  std::function<void(absl::string_view)> say = opts.info_log;
  if (!say) {
    say = [](absl::string_view line) {
      fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
  for (int32_t i = 0; i < partitions; ++i) {
    auto p = std::make_shared<Partition>();
    p->id = i;
    p->dir = absl::StrCat(dir, "/", i);
    CRM_RETURN_IF_ERROR(OpenPartition(p.get(), opts, say));
    log->parts_.push_back(std::move(p));
  }
  const int helpers = std::min(opts.sync_threads, partitions - 1);
  if (opts.fsync == FsyncPolicy::kEveryAppend && helpers > 0) {
    log->sync_pool_ = std::make_unique<internal::SyncPool>(helpers);
  }
  if (opts.fsync == FsyncPolicy::kInterval) {
    log->sync_thread_ = std::thread([raw = log.get()] { raw->SyncLoop(); });
  }
  return log;
}

EmbeddedLog::~EmbeddedLog() { Close().IgnoreError(); }

absl::Status EmbeddedLog::Close() {
  absl::MutexLock lock(&close_mu_);
  if (close_done_) return absl::OkStatus();
  close_done_ = true;
  closed_.store(true);
  if (sync_thread_.joinable()) {
    stop_sync_.Notify();
    sync_thread_.join();
  }
  return Sync();
}

void EmbeddedLog::SyncLoop() {
  while (!stop_sync_.WaitForNotificationWithTimeout(options_.fsync_interval)) {
    for (auto& p : parts_) SyncPartition(p.get()).IgnoreError();
  }
}

absl::Status EmbeddedLog::Sync() {
  if (options_.read_only) return absl::OkStatus();
  absl::Status first;
  for (auto& p : parts_) first.Update(SyncPartition(p.get()));
  return first;
}

absl::Status EmbeddedLog::SyncPartition(Partition* p) {
  // Every segment holding records past the known durable end: under
  // kEveryAppend and kInterval that is only the active one (rolling syncs
  // the sealed segment), under kNever possibly several.
  std::vector<std::shared_ptr<Segment>> to_sync;
  std::shared_ptr<Segment> active;
  int64_t target;
  uint64_t target_bytes;
  {
    absl::MutexLock lock(&p->mu);
    if (!p->failed.ok()) return p->failed;
    if (p->synced_end >= p->next_offset) return absl::OkStatus();
    for (const auto& seg : p->segments) {
      if (seg->end_offset > p->synced_end) to_sync.push_back(seg);
    }
    active = p->segments.back();
    target = p->next_offset;
    target_bytes = active->size;
  }
  absl::Status s;
  for (const auto& seg : to_sync) {
    counters_->fsyncs.fetch_add(1, std::memory_order_relaxed);
    s = seg->file.DataSync();
    if (!s.ok()) break;
  }
  absl::MutexLock lock(&p->mu);
  if (!s.ok()) {
    if (p->failed.ok()) p->failed = s;
    return s;
  }
  p->synced_end = std::max(p->synced_end, target);
  if (target > p->visible_end) {
    // kInterval: records become visible once synced.
    p->visible_end = target;
    active->visible_bytes = std::max(active->visible_bytes, target_bytes);
    p->PublishVisible();
    p->visible_cv.SignalAll();
  }
  return absl::OkStatus();
}

absl::Status EmbeddedLog::Append(absl::Span<const RecordRef> records) {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat("embedded log ", dir_, " is open read-only"));
  }
  if (closed_.load(std::memory_order_relaxed)) {
    return absl::FailedPreconditionError(
        absl::StrCat("embedded log ", dir_, " is closed"));
  }
  if (records.empty()) return absl::OkStatus();
  const int32_t np = partitions();
  for (const RecordRef& r : records) {
    if (internal::kBodyFixedBytes + r.key.size() + r.value.size() >
        internal::kMaxBodyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "record of key ", r.key, " is ", r.key.size() + r.value.size(),
          " bytes; the limit is ", internal::kMaxBodyBytes - 24));
    }
  }
  // Counting sort of record indexes by partition, keeping call order.
  std::vector<int32_t> part_of(records.size());
  std::vector<uint32_t> begin(static_cast<size_t>(np) + 1, 0);
  for (size_t i = 0; i < records.size(); ++i) {
    part_of[i] = PartitionFor(records[i].key, np);
    ++begin[static_cast<size_t>(part_of[i]) + 1];
  }
  for (int32_t p = 0; p < np; ++p) begin[p + 1] += begin[p];
  std::vector<uint32_t> order(records.size());
  {
    std::vector<uint32_t> fill(begin.begin(), begin.end() - 1);
    for (size_t i = 0; i < records.size(); ++i) {
      order[fill[part_of[i]]++] = static_cast<uint32_t>(i);
    }
  }
  const int64_t now_ms = NowMs(clock_);
  const bool sync_each = options_.fsync == FsyncPolicy::kEveryAppend;
  const bool sync_roll = options_.fsync != FsyncPolicy::kNever;

  struct Pending {
    Partition* part;
    std::shared_ptr<Segment> seg;
    int64_t end_offset;
    uint64_t end_bytes;
  };
  std::vector<Pending> pending;
  // On an error the remaining partitions are skipped, but what was already
  // written is still synced (and made visible) below.
  absl::Status first;

  for (int32_t pi = 0; pi < np && first.ok(); ++pi) {
    if (begin[pi] == begin[pi + 1]) continue;
    Partition* p = parts_[pi].get();
    absl::MutexLock lock(&p->mu);
    if (!p->failed.ok()) {
      first = p->failed;
      break;
    }
    std::shared_ptr<Segment> seg = p->segments.back();
    if (seg->size >= options_.segment_bytes) {
      // Roll. The sealed segment is synced first so that a later sync of
      // the new one implies every earlier record is durable.
      if (sync_roll) {
        counters_->fsyncs.fetch_add(1, std::memory_order_relaxed);
        absl::Status s = seg->file.DataSync();
        if (!s.ok()) {
          p->failed = s;
          first = s;
          break;
        }
      }
      auto made = CreateSegment(p->dir, p->next_offset, sync_roll);
      if (!made.ok()) {
        first = made.status();
        break;
      }
      seg->sealed = true;
      seg->visible_bytes = seg->size;
      if (sync_roll) p->synced_end = std::max(p->synced_end, seg->end_offset);
      p->visible_end = std::max(p->visible_end, seg->end_offset);
      p->PublishVisible();
      p->segments.push_back(*made);
      seg = *std::move(made);
      counters_->segments_rolled.fetch_add(1, std::memory_order_relaxed);
    }
    size_t bytes = 0;
    for (uint32_t k = begin[pi]; k < begin[pi + 1]; ++k) {
      const RecordRef& r = records[order[k]];
      bytes += internal::EncodedSize(r.key.size(), r.value.size());
    }
    std::string& buf = p->write_buf;
    buf.resize(bytes);
    size_t at = 0;
    int64_t offset = p->next_offset;
    for (uint32_t k = begin[pi]; k < begin[pi + 1]; ++k) {
      const RecordRef& r = records[order[k]];
      seg->MaybeIndex(offset, seg->size + at, options_.index_interval_bytes);
      at += internal::EncodeRecord(pi, offset, now_ms, r.key, r.value,
                                   buf.data() + at);
      ++offset;
    }
    counters_->write_calls.fetch_add(1, std::memory_order_relaxed);
    absl::Status s = seg->file.WriteAll(buf);
    if (buf.capacity() > (size_t{8} << 20)) std::string().swap(buf);
    if (!s.ok()) {
      // Cut off whatever part of the batch reached the file, so the next
      // batch does not land behind garbage; if that fails, stop.
      absl::Status t = seg->file.Truncate(seg->size);
      while (!seg->index.empty() && seg->index.back().first >= p->next_offset)
        seg->index.pop_back();
      if (!t.ok()) p->failed = s;
      first = s;
      break;
    }
    counters_->bytes_written.fetch_add(static_cast<int64_t>(bytes),
                                       std::memory_order_relaxed);
    counters_->records_appended.fetch_add(offset - p->next_offset,
                                          std::memory_order_relaxed);
    seg->size += bytes;
    seg->end_offset = offset;
    p->next_offset = offset;
    if (sync_each) {
      pending.push_back(Pending{p, seg, offset, seg->size});
    } else if (options_.fsync == FsyncPolicy::kNever) {
      seg->visible_bytes = seg->size;
      p->visible_end = offset;
      p->PublishVisible();
      p->visible_cv.SignalAll();
    }
    // kInterval: SyncPartition makes the records visible once synced, so a
    // consumer never gets ahead of what survives a crash.
  }

  // Sync outside the partition locks so that concurrent appenders overlap
  // their syncs. A sync that started after our write covers it and every
  // earlier write to that file; earlier segments were synced when sealed.
  std::vector<absl::Status> synced(pending.size());
  auto sync_one = [&](size_t i) {
    counters_->fsyncs.fetch_add(1, std::memory_order_relaxed);
    synced[i] = pending[i].seg->file.DataSync();
  };
  if (pending.size() > 1 && sync_pool_ != nullptr) {
    sync_pool_->ParallelFor(pending.size(), sync_one);
  } else {
    for (size_t i = 0; i < pending.size(); ++i) sync_one(i);
  }
  for (size_t i = 0; i < pending.size(); ++i) {
    Pending& w = pending[i];
    absl::MutexLock lock(&w.part->mu);
    if (!synced[i].ok()) {
      // The page cache can no longer be trusted to match the disk.
      if (w.part->failed.ok()) w.part->failed = synced[i];
      first.Update(synced[i]);
      continue;
    }
    w.part->synced_end = std::max(w.part->synced_end, w.end_offset);
    if (w.end_offset > w.part->visible_end) {
      w.part->visible_end = w.end_offset;
      w.seg->visible_bytes = std::max(w.seg->visible_bytes, w.end_bytes);
      w.part->PublishVisible();
      w.part->visible_cv.SignalAll();
    }
  }
  return first;
}

absl::StatusOr<int64_t> EmbeddedLog::EndOffset(int32_t partition) {
  if (partition < 0 || partition >= partitions()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition ", partition, " out of range [0, ", partitions(), ")"));
  }
  Partition* p = parts_[partition].get();
  absl::MutexLock lock(&p->mu);
  if (p->follower) CRM_RETURN_IF_ERROR(RefreshFollower(p));
  return p->visible_end;
}

absl::StatusOr<int64_t> EmbeddedLog::BeginOffset(int32_t partition) {
  if (partition < 0 || partition >= partitions()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition ", partition, " out of range [0, ", partitions(), ")"));
  }
  Partition* p = parts_[partition].get();
  absl::MutexLock lock(&p->mu);
  return p->segments.front()->base_offset;
}

absl::StatusOr<std::unique_ptr<PartitionReader>> EmbeddedLog::OpenReader(
    int32_t partition, int64_t offset) {
  if (partition < 0 || partition >= partitions()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition ", partition, " out of range [0, ", partitions(), ")"));
  }
  const std::shared_ptr<Partition>& p = parts_[partition];
  absl::MutexLock lock(&p->mu);
  if (p->follower) CRM_RETURN_IF_ERROR(RefreshFollower(p.get()));
  const int64_t first = p->segments.front()->base_offset;
  if (offset < first || offset > p->visible_end) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset ", offset, " outside [", first, ", ", p->visible_end,
        "] of partition ", partition, " in ", dir_));
  }
  std::shared_ptr<Segment> seg = p->FindSegment(offset);
  if (!seg->indexed && offset > seg->base_offset) {
    // First seek into a segment opened unverified: check it and build its
    // index now (it is sealed, so nothing else changes it meanwhile).
    Segment scanned;
    scanned.base_offset = seg->base_offset;
    p->mu.Unlock();
    absl::Status s =
        RecoverSegment(seg->file, &scanned, partition,
                       /*is_last=*/false, options_, [](absl::string_view) {});
    p->mu.Lock();
    CRM_RETURN_IF_ERROR(s);
    if (scanned.end_offset != seg->end_offset) {
      return absl::DataLossError(absl::StrCat(
          seg->file.path(), ": holds offsets up to ", scanned.end_offset,
          " but the next segment starts at ", seg->end_offset));
    }
    if (!seg->indexed) {
      seg->index = std::move(scanned.index);
      seg->indexed = true;
    }
  }
  uint64_t pos = 0;
  int64_t pos_offset = seg->base_offset;
  auto it =
      std::upper_bound(seg->index.begin(), seg->index.end(), offset,
                       [](int64_t o, const std::pair<int64_t, uint64_t>& e) {
                         return o < e.first;
                       });
  if (it != seg->index.begin()) {
    --it;
    pos_offset = it->first;
    pos = it->second;
  }
  return std::unique_ptr<PartitionReader>(
      new EmbeddedPartitionReader(p, std::move(seg), pos, pos_offset, offset,
                                  options_.reader_buffer_bytes));
}

EmbeddedLogStats EmbeddedLog::stats() const {
  EmbeddedLogStats s;
  s.records_appended = counters_->records_appended.load();
  s.write_calls = counters_->write_calls.load();
  s.bytes_written = counters_->bytes_written.load();
  s.fsyncs = counters_->fsyncs.load();
  s.segments_rolled = counters_->segments_rolled.load();
  return s;
}

std::vector<std::string> EmbeddedLog::SegmentPaths(int32_t partition) const {
  std::vector<std::string> paths;
  if (partition < 0 || partition >= partitions()) return paths;
  Partition* p = parts_[partition].get();
  absl::MutexLock lock(&p->mu);
  for (const auto& s : p->segments) paths.push_back(s->file.path());
  return paths;
}

std::string EmbeddedLogDir(absl::string_view data_dir,
                           absl::string_view topic) {
  return absl::StrCat(data_dir, "/log/", topic);
}

}  // namespace crm::log
