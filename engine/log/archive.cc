#include "engine/log/archive.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/log/crc32c.h"
#include "engine/log/file_util.h"
#include "engine/log/record_format.h"

namespace crm::log {
namespace internal {

// Where one partition's records lie in an archive.
struct ArchivePartitionInfo {
  int64_t count = 0;
  int64_t first_offset = 0;
  int64_t end_offset = 0;  // last offset + 1
  uint64_t first_pos = 0;  // position of its first frame
  uint64_t end_pos = 0;    // position after its last frame
  std::vector<std::pair<int64_t, uint64_t>> index;  // (offset, position)
};

}  // namespace internal

namespace {

using internal::ArchivePartitionInfo;
using internal::DecodeRecord;
using internal::DecodeResult;
using internal::File;
using internal::RecordView;

constexpr char kMagic[8] = {'C', 'R', 'M', 'A', 'R', 'C', 'H', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 20;  // magic, version, partitions, crc
constexpr int32_t kEndMarkerPartition = -1;
constexpr uint64_t kIndexIntervalBytes = 64 << 10;
constexpr size_t kReadBufferBytes = size_t{1} << 20;
// Ends the end marker's value when it holds the partition layout, after
// the marker's own position (u64).
constexpr char kLayoutMagic[8] = {'C', 'R', 'M', 'L', 'A', 'Y', 'O', '1'};
constexpr size_t kLayoutTailBytes = 16;

// Adds the frame of `offset` at [pos, end) to its partition's layout:
// where the partition starts and ends, and an index entry every
// kIndexIntervalBytes. The writer and Open's scan both build it so.
void AddToLayout(int64_t offset, uint64_t pos, uint64_t end,
                 ArchivePartitionInfo* pi) {
  if (pi->count == 0) {
    pi->first_offset = offset;
    pi->first_pos = pos;
  }
  if (pi->index.empty() ||
      pos - pi->index.back().second >= kIndexIntervalBytes) {
    pi->index.emplace_back(offset, pos);
  }
  ++pi->count;
  pi->end_offset = offset + 1;
  pi->end_pos = end;
}

void PutU32(uint32_t v, std::string* out) {
  char b[4];
  internal::StoreU32(b, v);
  out->append(b, 4);
}
void PutU64(uint64_t v, std::string* out) {
  char b[8];
  internal::StoreU64(b, v);
  out->append(b, 8);
}

// The end marker's value: per partition its count, offsets, positions and
// index, then the marker's position and kLayoutMagic (engine/log/README.md).
std::string EncodeLayout(const std::vector<ArchivePartitionInfo>& info,
                         uint64_t marker_pos) {
  std::string out;
  PutU32(static_cast<uint32_t>(info.size()), &out);
  for (const ArchivePartitionInfo& pi : info) {
    PutU64(static_cast<uint64_t>(pi.count), &out);
    PutU64(static_cast<uint64_t>(pi.first_offset), &out);
    PutU64(static_cast<uint64_t>(pi.end_offset), &out);
    PutU64(pi.first_pos, &out);
    PutU64(pi.end_pos, &out);
    PutU32(static_cast<uint32_t>(pi.index.size()), &out);
    for (const auto& [offset, pos] : pi.index) {
      PutU64(static_cast<uint64_t>(offset), &out);
      PutU64(pos, &out);
    }
  }
  PutU64(marker_pos, &out);
  out.append(kLayoutMagic, 8);
  return out;
}

// Reads EncodeLayout's fields in order; ok() false once one ran past the
// end.
class LayoutReader {
 public:
  explicit LayoutReader(absl::string_view v) : v_(v) {}
  uint32_t U32() {
    if (!Need(4)) return 0;
    const uint32_t x = internal::LoadU32(v_.data() + at_);
    at_ += 4;
    return x;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    const uint64_t x = internal::LoadU64(v_.data() + at_);
    at_ += 8;
    return x;
  }
  bool ok() const { return ok_; }
  size_t left() const { return v_.size() - at_; }

 private:
  bool Need(size_t n) {
    if (!ok_ || v_.size() - at_ < n) ok_ = false;
    return ok_;
  }
  absl::string_view v_;
  size_t at_ = 0;
  bool ok_ = true;
};

absl::Status CorruptAt(const std::string& path, uint64_t pos,
                       absl::string_view why) {
  return absl::DataLossError(absl::StrCat(
      path, ": corrupt record at byte offset ", pos, " (", why, ")"));
}

// Iterates the frames of [pos, limit) of a file through a large buffer.
// Owned by one thread.
class FrameCursor {
 public:
  FrameCursor(const File* file, uint64_t pos, uint64_t limit,
              size_t buf_bytes = kReadBufferBytes)
      : file_(file), buf_pos_(pos), limit_(limit) {
    buf_.resize(buf_bytes);
  }

  // The next frame, or false at `limit`. kDataLoss for a damaged frame.
  absl::StatusOr<bool> Next(RecordView* rec, uint64_t* rec_pos) {
    for (;;) {
      const uint64_t pos = buf_pos_ + at_;
      if (pos >= limit_) return false;
      DecodeResult r = DecodeRecord(buf_.data() + at_, len_ - at_, true, rec);
      if (r == DecodeResult::kOk) {
        *rec_pos = pos;
        at_ += rec->encoded_size;
        return true;
      }
      if (r != DecodeResult::kTruncated || buf_pos_ + len_ >= limit_) {
        return CorruptAt(file_->path(), pos, internal::DecodeResultName(r));
      }
      CRM_RETURN_IF_ERROR(Refill());
    }
  }

  uint64_t pos() const { return buf_pos_ + at_; }

 private:
  absl::Status Refill() {
    const size_t keep = len_ - at_;
    if (keep >= internal::kFrameHeaderBytes) {
      const size_t need =
          internal::kFrameHeaderBytes + internal::LoadU32(buf_.data() + at_);
      if (need > buf_.size()) buf_.resize(need);
    }
    std::memmove(buf_.data(), buf_.data() + at_, keep);
    buf_pos_ += at_;
    at_ = 0;
    const uint64_t from = buf_pos_ + keep;
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(buf_.size() - keep, limit_ - from));
    CRM_ASSIGN_OR_RETURN(size_t got,
                         file_->PRead(buf_.data() + keep, want, from));
    len_ = keep + got;
    if (got < want) {
      return CorruptAt(file_->path(), from + got, "file shorter than expected");
    }
    return absl::OkStatus();
  }

  const File* file_;
  std::string buf_;
  uint64_t buf_pos_;
  size_t at_ = 0;
  size_t len_ = 0;
  const uint64_t limit_;
};

// Reads one partition of an archive.
class ArchivePartitionReader final : public PartitionReader {
 public:
  ArchivePartitionReader(std::shared_ptr<File> file,
                         std::shared_ptr<const ArchivePartitionInfo> info,
                         int32_t partition, uint64_t pos, int64_t start)
      : file_(std::move(file)),
        info_(std::move(info)),
        partition_(partition),
        cursor_(file_.get(), pos, info_->end_pos),
        position_(start) {}

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

  int64_t position() const override { return position_; }

 private:
  template <typename Sink>
  absl::StatusOr<size_t> PollWith(size_t max_records, absl::Duration timeout,
                                  const Sink& sink) {
    size_t n = 0;
    while (n < max_records) {
      RecordView rec;
      uint64_t pos = 0;
      absl::StatusOr<bool> more = cursor_.Next(&rec, &pos);
      if (!more.ok()) {
        // Return what came before the damage; the next Poll reports it.
        if (n > 0) return n;
        return more.status();
      }
      if (!*more) break;
      if (rec.partition != partition_ || rec.offset < position_) continue;
      sink(LogRecordView{rec.partition, rec.offset, rec.timestamp_ms, rec.key,
                         rec.value});
      position_ = rec.offset + 1;
      ++n;
    }
    if (n == 0 && max_records > 0) {
      position_ = std::max(position_, info_->end_offset);
      if (timeout > absl::ZeroDuration()) absl::SleepFor(timeout);
    }
    return n;
  }

  std::shared_ptr<File> file_;
  std::shared_ptr<const ArchivePartitionInfo> info_;
  const int32_t partition_;
  FrameCursor cursor_;
  int64_t position_;
};

}  // namespace

// ---------------------------------------------------------------------------
// ArchiveWriter

ArchiveWriter::ArchiveWriter(std::string path, int32_t partitions,
                             ArchiveWriterOptions options)
    : path_(std::move(path)),
      tmp_path_(path_ + ".tmp"),
      partitions_(partitions),
      options_(options),
      last_offset_(static_cast<size_t>(partitions), -1),
      info_(static_cast<size_t>(partitions)) {}

ArchiveWriter::~ArchiveWriter() {
  if (!finished_ && file_ != nullptr) {
    file_.reset();
    ::unlink(tmp_path_.c_str());
  }
}

absl::StatusOr<std::unique_ptr<ArchiveWriter>> ArchiveWriter::Create(
    const std::string& path, int32_t partitions, ArchiveWriterOptions options) {
  if (partitions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("an archive needs >= 1 partition, got ", partitions));
  }
  if (!options.overwrite && internal::PathExists(path)) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " exists; not overwriting it"));
  }
  std::unique_ptr<ArchiveWriter> w(
      new ArchiveWriter(path, partitions, options));
  CRM_ASSIGN_OR_RETURN(File f,
                       File::Open(w->tmp_path_, O_WRONLY | O_CREAT | O_TRUNC));
  w->file_ = std::make_unique<File>(std::move(f));
  char header[kHeaderBytes];
  std::memcpy(header, kMagic, 8);
  internal::StoreU32(header + 8, kVersion);
  internal::StoreU32(header + 12, static_cast<uint32_t>(partitions));
  internal::StoreU32(header + 16, Crc32c(header, 16));
  w->buf_.reserve(options.buffer_bytes + 4096);
  w->buf_.append(header, kHeaderBytes);
  w->bytes_ = kHeaderBytes;
  return w;
}

absl::Status ArchiveWriter::Add(int32_t partition, int64_t offset,
                                int64_t timestamp_ms, absl::string_view key,
                                absl::string_view value) {
  if (finished_) {
    return absl::FailedPreconditionError(
        absl::StrCat("archive ", path_, " is already finished"));
  }
  CRM_RETURN_IF_ERROR(failed_);
  if (partition < 0 || partition >= partitions_) {
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition,
                                                   " outside [0, ", partitions_,
                                                   ") of archive ", path_));
  }
  if (offset < 0 || offset <= last_offset_[partition]) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition ", partition, " offset ", offset,
                     " must be >= 0 and above the previous one (",
                     last_offset_[partition], ")"));
  }
  if (internal::kBodyFixedBytes + key.size() + value.size() >
      internal::kMaxBodyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("record at partition ",
                                                   partition, " offset ",
                                                   offset, " is too large"));
  }
  const uint64_t pos = bytes_;
  internal::AppendRecord(partition, offset, timestamp_ms, key, value, &buf_);
  bytes_ += internal::EncodedSize(key.size(), value.size());
  AddToLayout(offset, pos, bytes_, &info_[partition]);
  last_offset_[partition] = offset;
  ++records_;
  if (buf_.size() >= options_.buffer_bytes) return Flush();
  return absl::OkStatus();
}

absl::Status ArchiveWriter::Flush() {
  if (buf_.empty()) return absl::OkStatus();
  absl::Status s = file_->WriteAll(buf_);
  buf_.clear();
  if (!s.ok()) failed_ = s;
  return s;
}

absl::Status ArchiveWriter::Finish() {
  if (finished_) {
    return absl::FailedPreconditionError(
        absl::StrCat("archive ", path_, " is already finished"));
  }
  CRM_RETURN_IF_ERROR(failed_);
  std::string layout = EncodeLayout(info_, bytes_);
  // A layout too large for one frame (an archive of hundreds of GB) is left
  // out: readers scan instead.
  if (internal::kBodyFixedBytes + layout.size() > internal::kMaxBodyBytes) {
    layout.clear();
  }
  internal::AppendRecord(kEndMarkerPartition, records_, 0, "", layout, &buf_);
  bytes_ += internal::EncodedSize(0, layout.size());
  CRM_RETURN_IF_ERROR(Flush());
  CRM_RETURN_IF_ERROR(file_->DataSync());
  CRM_RETURN_IF_ERROR(file_->Close());
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return internal::FromErrno(errno, "rename", tmp_path_);
  }
  finished_ = true;
  return internal::SyncDir(internal::DirName(path_));
}

// ---------------------------------------------------------------------------
// ArchiveReader

ArchiveReader::~ArchiveReader() = default;

bool ArchiveReader::LoadLayout(uint64_t size) {
  if (size < kHeaderBytes + internal::kRecordOverheadBytes + kLayoutTailBytes) {
    return false;
  }
  char tail[kLayoutTailBytes];
  absl::StatusOr<size_t> got =
      file_->PRead(tail, kLayoutTailBytes, size - kLayoutTailBytes);
  if (!got.ok() || *got != kLayoutTailBytes ||
      std::memcmp(tail + 8, kLayoutMagic, 8) != 0) {
    return false;
  }
  const uint64_t marker = internal::LoadU64(tail);
  if (marker < kHeaderBytes || marker >= size ||
      size - marker > internal::kFrameHeaderBytes + internal::kMaxBodyBytes) {
    return false;
  }
  std::string frame(size - marker, '\0');
  got = file_->PRead(frame.data(), frame.size(), marker);
  if (!got.ok() || *got != frame.size()) return false;
  RecordView rec;
  if (DecodeRecord(frame.data(), frame.size(), /*verify_crc=*/true, &rec) !=
          DecodeResult::kOk ||
      rec.encoded_size != frame.size() ||
      rec.partition != kEndMarkerPartition) {
    return false;
  }
  LayoutReader in(rec.value);
  if (in.U32() != static_cast<uint32_t>(partitions_)) return false;
  std::vector<ArchivePartitionInfo> info(static_cast<size_t>(partitions_));
  int64_t total = 0;
  for (ArchivePartitionInfo& pi : info) {
    pi.count = static_cast<int64_t>(in.U64());
    pi.first_offset = static_cast<int64_t>(in.U64());
    pi.end_offset = static_cast<int64_t>(in.U64());
    pi.first_pos = in.U64();
    pi.end_pos = in.U64();
    const uint32_t n = in.U32();
    if (!in.ok() || n > in.left() / 16) return false;
    for (uint32_t i = 0; i < n; ++i) {
      const auto offset = static_cast<int64_t>(in.U64());
      const uint64_t pos = in.U64();
      if (!pi.index.empty() &&
          (offset <= pi.index.back().first || pos <= pi.index.back().second)) {
        return false;
      }
      pi.index.emplace_back(offset, pos);
    }
    // What the scan would have found: a partition's frames inside the
    // data, its index starting at its first frame.
    if (pi.count < 0 ||
        total > std::numeric_limits<int64_t>::max() - pi.count) {
      return false;
    }
    if (pi.count > 0 &&
        (pi.first_offset < 0 || pi.end_offset <= pi.first_offset ||
         pi.first_pos < kHeaderBytes || pi.end_pos <= pi.first_pos ||
         pi.end_pos > marker || pi.index.empty() ||
         pi.index.front() != std::make_pair(pi.first_offset, pi.first_pos) ||
         pi.index.back().second >= pi.end_pos)) {
      return false;
    }
    if (pi.count == 0 && (!pi.index.empty() || pi.first_offset != 0 ||
                          pi.end_offset != 0 || pi.end_pos != 0)) {
      return false;
    }
    total += pi.count;
  }
  if (!in.ok() || in.left() != kLayoutTailBytes || total != rec.offset) {
    return false;
  }
  record_count_ = total;
  data_end_ = marker;
  for (auto& pi : info) {
    parts_.push_back(
        std::make_shared<const ArchivePartitionInfo>(std::move(pi)));
  }
  return true;
}

absl::StatusOr<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(
    const std::string& path, ArchiveOpenOptions options) {
  CRM_ASSIGN_OR_RETURN(File f, File::Open(path, O_RDONLY));
  std::unique_ptr<ArchiveReader> a(new ArchiveReader());
  a->path_ = path;
  a->file_ = std::make_shared<File>(std::move(f));
  CRM_ASSIGN_OR_RETURN(const uint64_t size, a->file_->Size());
  char header[kHeaderBytes];
  CRM_ASSIGN_OR_RETURN(size_t got, a->file_->PRead(header, kHeaderBytes, 0));
  if (got < kHeaderBytes || std::memcmp(header, kMagic, 8) != 0) {
    return absl::DataLossError(absl::StrCat(
        path, ": not a crm archive (no \"CRMARCH1\" header at byte offset 0)"));
  }
  if (internal::LoadU32(header + 16) != Crc32c(header, 16)) {
    return absl::DataLossError(
        absl::StrCat(path, ": corrupt archive header at byte offset 0"));
  }
  const uint32_t version = internal::LoadU32(header + 8);
  const auto partitions = static_cast<int32_t>(internal::LoadU32(header + 12));
  if (version != kVersion || partitions < 1) {
    return absl::DataLossError(
        absl::StrCat(path, ": unsupported archive version ", version,
                     " or partition count ", partitions, " at byte offset 8"));
  }
  a->partitions_ = partitions;
  if (!options.check_frames && a->LoadLayout(size)) return a;
  std::vector<ArchivePartitionInfo> info(static_cast<size_t>(partitions));
  FrameCursor cursor(a->file_.get(), kHeaderBytes, size);
  bool ended = false;
  for (;;) {
    RecordView rec;
    uint64_t pos = 0;
    CRM_ASSIGN_OR_RETURN(bool more, cursor.Next(&rec, &pos));
    if (!more) break;
    if (rec.partition == kEndMarkerPartition) {
      if (rec.offset != a->record_count_ || pos + rec.encoded_size != size) {
        return CorruptAt(
            path, pos,
            absl::StrCat("end marker counts ", rec.offset, " records, read ",
                         a->record_count_, "; file size ", size));
      }
      a->data_end_ = pos;
      ended = true;
      break;
    }
    if (rec.partition < 0 || rec.partition >= partitions) {
      return CorruptAt(path, pos,
                       absl::StrCat("partition ", rec.partition,
                                    " outside [0, ", partitions, ")"));
    }
    ArchivePartitionInfo& pi = info[rec.partition];
    if (pi.count > 0 && rec.offset < pi.end_offset) {
      return CorruptAt(
          path, pos,
          absl::StrCat("partition ", rec.partition, " offset ", rec.offset,
                       " not above ", pi.end_offset - 1));
    }
    AddToLayout(rec.offset, pos, pos + rec.encoded_size, &pi);
    ++a->record_count_;
  }
  if (!ended) {
    return absl::DataLossError(absl::StrCat(
        path, ": archive truncated: no end marker (file ends at byte offset ",
        size, ")"));
  }
  for (auto& pi : info) {
    a->parts_.push_back(
        std::make_shared<const ArchivePartitionInfo>(std::move(pi)));
  }
  return a;
}

absl::Status ArchiveReader::Append(absl::Span<const RecordRef>) {
  return absl::FailedPreconditionError(
      absl::StrCat("archive ", path_, " is read-only"));
}

absl::StatusOr<int64_t> ArchiveReader::EndOffset(int32_t partition) {
  if (partition < 0 || partition >= partitions_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition ", partition, " outside [0, ", partitions_, ")"));
  }
  return parts_[partition]->end_offset;
}

absl::StatusOr<int64_t> ArchiveReader::BeginOffset(int32_t partition) {
  if (partition < 0 || partition >= partitions_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition ", partition, " outside [0, ", partitions_, ")"));
  }
  return parts_[partition]->first_offset;
}

absl::StatusOr<std::unique_ptr<PartitionReader>> ArchiveReader::OpenReader(
    int32_t partition, int64_t offset) {
  if (partition < 0 || partition >= partitions_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition ", partition, " outside [0, ", partitions_, ")"));
  }
  const auto& pi = parts_[partition];
  if (offset < pi->first_offset || offset > pi->end_offset) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset ", offset, " outside [", pi->first_offset, ", ", pi->end_offset,
        "] of partition ", partition, " in ", path_));
  }
  uint64_t pos = pi->count == 0 ? pi->end_pos : pi->first_pos;
  auto it =
      std::upper_bound(pi->index.begin(), pi->index.end(), offset,
                       [](int64_t o, const std::pair<int64_t, uint64_t>& e) {
                         return o < e.first;
                       });
  if (it != pi->index.begin()) pos = (it - 1)->second;
  return std::unique_ptr<PartitionReader>(
      new ArchivePartitionReader(file_, pi, partition, pos, offset));
}

absl::Status ArchiveReader::Scan(
    size_t batch_records,
    const std::function<absl::Status(absl::Span<const LogRecord>)>& fn) const {
  batch_records = std::max<size_t>(batch_records, 1);
  FrameCursor cursor(file_.get(), kHeaderBytes, data_end_);
  std::vector<LogRecord> batch(batch_records);
  size_t n = 0;
  for (;;) {
    RecordView rec;
    uint64_t pos = 0;
    CRM_ASSIGN_OR_RETURN(bool more, cursor.Next(&rec, &pos));
    if (more) {
      LogRecord& lr = batch[n++];
      lr.partition = rec.partition;
      lr.offset = rec.offset;
      lr.timestamp_ms = rec.timestamp_ms;
      lr.key.assign(rec.key.data(), rec.key.size());
      lr.value.assign(rec.value.data(), rec.value.size());
    }
    if (n == batch_records || (!more && n > 0)) {
      CRM_RETURN_IF_ERROR(fn(absl::MakeConstSpan(batch.data(), n)));
      n = 0;
    }
    if (!more) return absl::OkStatus();
  }
}

// ---------------------------------------------------------------------------
// Export and import

absl::StatusOr<ArchiveProgress> ExportToArchive(EventLog& source,
                                                const std::string& path,
                                                const ExportOptions& options) {
  const int32_t np = source.partitions();
  std::vector<int64_t> begin(np), end(np);
  ArchiveProgress progress;
  for (int32_t p = 0; p < np; ++p) {
    CRM_ASSIGN_OR_RETURN(end[p], source.EndOffset(p));
    CRM_ASSIGN_OR_RETURN(begin[p], source.BeginOffset(p));
    progress.total_records += std::max<int64_t>(0, end[p] - begin[p]);
  }
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveWriter> writer,
                       ArchiveWriter::Create(path, np, options.writer));
  const size_t batch_records = std::max<size_t>(options.batch_records, 1);
  for (int32_t p = 0; p < np; ++p) {
    if (begin[p] >= end[p]) continue;
    progress.partition = p;
    CRM_ASSIGN_OR_RETURN(std::unique_ptr<PartitionReader> reader,
                         source.OpenReader(p, begin[p]));
    int empty_polls = 0;
    while (reader->position() < end[p]) {
      absl::Status added;
      CRM_ASSIGN_OR_RETURN(
          size_t n,
          reader->PollViews(
              batch_records, options.poll_timeout, [&](const LogRecordView& r) {
                if (!added.ok() || r.offset >= end[p]) return;
                added =
                    writer->Add(p, r.offset, r.timestamp_ms, r.key, r.value);
                if (added.ok()) ++progress.records;
              }));
      CRM_RETURN_IF_ERROR(added);
      if (n == 0) {
        if (++empty_polls >= options.max_empty_polls) {
          return absl::UnavailableError(
              absl::StrCat("export of partition ", p, " stalled at offset ",
                           reader->position(), " of ", end[p], " after ",
                           empty_polls, " empty polls"));
        }
        continue;
      }
      empty_polls = 0;
      progress.bytes = writer->bytes();
      if (options.progress) options.progress(progress);
    }
  }
  CRM_RETURN_IF_ERROR(writer->Finish());
  progress.bytes = writer->bytes();
  return progress;
}

absl::StatusOr<ArchiveProgress> ImportArchive(const ArchiveReader& archive,
                                              EventLog& dest,
                                              const ImportOptions& options) {
  ArchiveProgress progress;
  progress.total_records = archive.record_count();
  std::vector<RecordRef> refs;
  CRM_RETURN_IF_ERROR(
      archive.Scan(options.batch_records,
                   [&](absl::Span<const LogRecord> batch) -> absl::Status {
                     refs.clear();
                     for (const LogRecord& r : batch)
                       refs.push_back({r.key, r.value});
                     CRM_RETURN_IF_ERROR(dest.Append(refs));
                     progress.records += static_cast<int64_t>(batch.size());
                     if (options.progress) options.progress(progress);
                     return absl::OkStatus();
                   }));
  return progress;
}

absl::StatusOr<ArchiveProgress> ImportArchive(const std::string& path,
                                              EventLog& dest,
                                              const ImportOptions& options) {
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<ArchiveReader> archive,
                       ArchiveReader::Open(path));
  return ImportArchive(*archive, dest, options);
}

}  // namespace crm::log
