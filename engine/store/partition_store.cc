#include "engine/store/partition_store.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crm/v1/runtime.pb.h"
#include "engine/base/status_macros.h"
#include "engine/store/memtable.h"
#include "engine/store/store_log.h"
#include "engine/store/view_index.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "rocksdb/cache.h"
#include "rocksdb/comparator.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/sst_file_writer.h"
#include "rocksdb/table.h"
#include "rocksdb/table_properties.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"

namespace crm::store {
namespace {

constexpr char kNextOffsetKey[] = "next_offset";
constexpr char kPartitionKey[] = "partition";
constexpr char kFormatKey[] = "format";
constexpr char kFormatVersion[] = "1";
// Present (value "1") once the index column family holds every customer
// and the latest state mark is kept. ("_v2": a store marked by the first
// index layout, which also indexed the state as_of, is backfilled again.)
constexpr char kIndexReadyKey[] = "index_ready_v2";
// LatestStateMark: 8-byte big-endian as_of seconds, 4-byte big-endian
// nanos, then the customer id.
constexpr char kLatestStateKey[] = "latest_state";
// The last scheduled population boundary done, Unix seconds (fixed64 BE of
// the two's complement).
constexpr char kScheduledPassKey[] = "scheduled_pass";

std::string EncodeFixed64BE(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

absl::StatusOr<uint64_t> DecodeFixed64BE(absl::string_view s,
                                         absl::string_view what) {
  if (s.size() != 8) {
    return absl::DataLossError(
        absl::StrCat(what, ": expected 8 bytes, found ", s.size()));
  }
  uint64_t v = 0;
  for (unsigned char c : s) v = (v << 8) | c;
  return v;
}

std::string EncodeLatestState(const LatestStateMark& m) {
  std::string out = EncodeFixed64BE(static_cast<uint64_t>(m.as_of_seconds));
  const uint32_t n = static_cast<uint32_t>(m.as_of_nanos);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  return out + m.customer_id;
}

absl::StatusOr<LatestStateMark> DecodeLatestState(absl::string_view v,
                                                  absl::string_view dir) {
  if (v.size() < 12) {
    return absl::DataLossError(
        absl::StrCat(dir, ": latest state mark of ", v.size(), " bytes"));
  }
  LatestStateMark m;
  CRM_ASSIGN_OR_RETURN(uint64_t secs, DecodeFixed64BE(v.substr(0, 8), dir));
  m.as_of_seconds = static_cast<int64_t>(secs);
  uint32_t n = 0;
  for (size_t i = 8; i < 12; ++i)
    n = (n << 8) | static_cast<unsigned char>(v[i]);
  m.as_of_nanos = static_cast<int32_t>(n);
  m.customer_id = std::string(v.substr(12));
  return m;
}

rocksdb::ColumnFamilyOptions CfOptions(const StoreResources& r,
                                       bool with_bloom) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = r.block_cache();
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (with_bloom) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Many lookups are misses (a new customer): a bloom filter over the
    // memtable answers those without a skiplist search. Not when the
    // records are ingested as table files (a replay's scratch store):
    // then its memtables hold no customer, and each filter would only be
    // memory to zero (0.05 of the write buffer, 3.2 MB a memtable).
    const StoreOptions& o = r.options();
    if (!(o.disable_wal && o.ingest_min_customers > 0)) {
      cf.memtable_whole_key_filtering = true;
      cf.memtable_prefix_bloom_size_ratio = 0.05;
    }
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Its keys compared inline as bytewise internal keys (memtable.h): only
  // under the default comparator, which every column family here has.
  if (cf.comparator == rocksdb::BytewiseComparator()) {
    cf.memtable_factory = NewFingerSkipListFactory();
  }
  cf.compression = rocksdb::kLZ4Compression;
  cf.bottommost_compression = rocksdb::kZSTD;
  return cf;
}

// The column families of the store at `dir`: only the default one when
// there is no store there yet (no CURRENT file). A store that exists but
// whose manifest cannot be read is an error naming the store, not a new
// store (opening it would fail later with a less telling message).
absl::StatusOr<std::vector<std::string>> ListColumnFamilies(
    const rocksdb::DBOptions& db_options, const std::string& dir) {
  std::vector<std::string> names;
  const rocksdb::Status s =
      rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
  if (s.ok()) return names;
  std::error_code ec;
  if (!std::filesystem::exists(dir + "/CURRENT", ec) && !ec) {
    return std::vector<std::string>{rocksdb::kDefaultColumnFamilyName};
  }
  return FromRocksDb(s, absl::StrCat("list column families of store ", dir));
}

absl::string_view View(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

// The bytes of OutboxPage{records}, written without building the message:
// per record the field's tag, its length, the record.
std::string EncodeOutboxPage(const std::vector<std::string>& records) {
  constexpr uint32_t kTag = (v1::OutboxPage::kRecordsFieldNumber << 3) | 2;
  size_t size = 0;
  for (const std::string& r : records) {
    size += google::protobuf::io::CodedOutputStream::VarintSize32(kTag) +
            google::protobuf::io::CodedOutputStream::VarintSize64(r.size()) +
            r.size();
  }
  std::string out(size, '\0');
  google::protobuf::io::ArrayOutputStream array(out.data(),
                                                static_cast<int>(out.size()));
  google::protobuf::io::CodedOutputStream coded(&array);
  for (const std::string& r : records) {
    coded.WriteVarint32(kTag);
    coded.WriteVarint64(r.size());
    coded.WriteRaw(r.data(), static_cast<int>(r.size()));
  }
  return out;
}

// One key of the outbox column family: a page, or (stores written before
// pages) a single record.
struct OutboxEntry {
  uint64_t first = 0;
  std::vector<std::string> records;
};

// The first sequence of the outbox entry at `it` (its key).
absl::StatusOr<uint64_t> OutboxEntryFirst(rocksdb::Iterator* it,
                                          const std::string& dir) {
  return DecodeFixed64BE(View(it->key()), absl::StrCat(dir, " outbox"));
}

absl::StatusOr<OutboxEntry> ParseOutboxEntry(rocksdb::Iterator* it,
                                             const std::string& dir) {
  OutboxEntry e;
  CRM_ASSIGN_OR_RETURN(e.first, OutboxEntryFirst(it, dir));
  v1::OutboxPage page;
  const rocksdb::Slice v = it->value();
  if (!page.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
    return absl::DataLossError(absl::StrCat(
        dir, ": outbox entry ", e.first, " is not a valid crm.v1.OutboxPage"));
  }
  if (page.records_size() == 0 && !v.empty()) {
    e.records.push_back(v.ToString());  // a single record, unpaged
  } else {
    e.records.assign(std::make_move_iterator(page.mutable_records()->begin()),
                     std::make_move_iterator(page.mutable_records()->end()));
  }
  return e;
}

// How many records the outbox entry at `it`, whose first sequence is
// `first`, holds: from the page's framing (tag and length of each record),
// without copying them out.
absl::StatusOr<uint64_t> CountOutboxEntry(rocksdb::Iterator* it, uint64_t first,
                                          const std::string& dir) {
  constexpr uint32_t kTag = (v1::OutboxPage::kRecordsFieldNumber << 3) | 2;
  const rocksdb::Slice v = it->value();
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(v.data()), static_cast<int>(v.size()));
  auto invalid = [&] {
    return absl::DataLossError(absl::StrCat(
        dir, ": outbox entry ", first, " is not a valid crm.v1.OutboxPage"));
  };
  uint64_t n = 0;
  while (in.CurrentPosition() != static_cast<int>(v.size())) {
    const uint32_t tag = in.ReadTag();
    if (tag != kTag) {
      if (n == 0 && tag != 0) return 1;  // a single record, unpaged
      return invalid();
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || !in.Skip(static_cast<int>(length))) {
      return invalid();  // a length past the end
    }
    ++n;
  }
  return n;
}

}  // namespace

absl::Status FromRocksDb(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::UnavailableError(msg);
  }
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

StoreResources::StoreResources(const StoreOptions& options)
    : options_(options),
      block_cache_(rocksdb::NewLRUCache(options.block_cache_bytes)),
      write_buffers_(std::make_shared<rocksdb::WriteBufferManager>(
          options.write_buffer_budget_bytes, block_cache_)) {}

StoreResources::~StoreResources() = default;

absl::StatusOr<std::unique_ptr<PartitionStore>> PartitionStore::Open(
    const StoreResources& resources, const std::string& dir,
    int32_t partition) {
  return OpenImpl(resources, dir, partition, /*read_only=*/false);
}

absl::StatusOr<std::unique_ptr<PartitionStore>> PartitionStore::OpenReadOnly(
    const StoreResources& resources, const std::string& dir) {
  return OpenImpl(resources, dir, /*partition=*/-1, /*read_only=*/true);
}

absl::StatusOr<std::unique_ptr<PartitionStore>> PartitionStore::OpenImpl(
    const StoreResources& resources, const std::string& dir, int32_t partition,
    bool read_only) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = !read_only;
  db_options.create_missing_column_families = !read_only;
  db_options.write_buffer_manager = resources.write_buffers();
  if (resources.options().env != nullptr) {
    db_options.env = resources.options().env;
  }
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;
  db_options.info_log_level = rocksdb::WARN_LEVEL;
  if (!read_only) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);  // Open reports failures
    db_options.info_log = StoreLogger::Open(dir, db_options.info_log_level);
  }
  // One writer per store; the memtable (memtable.h) takes inserts one at a
  // time.
  db_options.allow_concurrent_memtable_write = false;

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, CfOptions(resources, false)},
      {"customers", CfOptions(resources, true)},
      {"outbox", CfOptions(resources, false)},
  };
  // The index column family: always when writing (created if missing);
  // read-only only when the store has it.
  // The same for the history column family.
  bool with_index = !read_only;
  bool with_history = !read_only;
  if (read_only) {
    CRM_ASSIGN_OR_RETURN(const std::vector<std::string> names,
                         ListColumnFamilies(db_options, dir));
    auto has = [&](const char* cf) {
      return std::find(names.begin(), names.end(), cf) != names.end();
    };
    with_index = has("index");
    with_history = has("history");
  }
  if (with_index) cfs.push_back({"index", CfOptions(resources, false)});
  if (with_history) cfs.push_back({"history", CfOptions(resources, false)});
  auto store = std::unique_ptr<PartitionStore>(new PartitionStore());
  store->dir_ = dir;
  store->sync_commits_ = resources.options().sync_commits;
  store->disable_wal_ = resources.options().disable_wal;
  store->ingest_min_customers_ = resources.options().ingest_min_customers;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s;
  if (read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_options, dir, cfs, &store->handles_,
                                     &db);
    CRM_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("open store ", dir)));
    store->db_.reset(db);
  } else {
    // The column families missing (all but the default one of a new store)
    // are created in one call after the open: DB::Open creates them one
    // by one, writing and parsing the options file again for each (11% of
    // the instructions of a small replay's 32 new stores went to options
    // files; creating the families together saved 8%).
    CRM_ASSIGN_OR_RETURN(const std::vector<std::string> names,
                         ListColumnFamilies(db_options, dir));
    std::vector<rocksdb::ColumnFamilyDescriptor> present, missing;
    std::vector<size_t> present_at, missing_at;
    for (size_t i = 0; i < cfs.size(); ++i) {
      const bool has =
          std::find(names.begin(), names.end(), cfs[i].name) != names.end();
      (has ? present : missing).push_back(cfs[i]);
      (has ? present_at : missing_at).push_back(i);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> opened, created;
    s = rocksdb::DB::Open(db_options, dir, present, &opened, &db);
    CRM_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("open store ", dir)));
    store->db_.reset(db);
    store->handles_.assign(cfs.size(), nullptr);
    for (size_t k = 0; k < opened.size(); ++k) {
      store->handles_[present_at[k]] = opened[k];
    }
    if (!missing.empty()) {
      s = db->CreateColumnFamilies(missing, &created);
      for (size_t k = 0; k < created.size(); ++k) {
        store->handles_[missing_at[k]] = created[k];
      }
      if (!s.ok()) {
        store->handles_.erase(std::remove(store->handles_.begin(),
                                          store->handles_.end(), nullptr),
                              store->handles_.end());
        return FromRocksDb(s, absl::StrCat("create column families in ", dir));
      }
    }
  }
  store->meta_ = store->handles_[0];
  store->customers_ = store->handles_[1];
  store->outbox_ = store->handles_[2];
  if (with_index) store->index_ = store->handles_[3];
  if (with_history) store->history_ = store->handles_.back();

  // Identity: a store belongs to exactly one partition.
  std::string value;
  s = db->Get(rocksdb::ReadOptions(), store->meta_, kPartitionKey, &value);
  if (s.IsNotFound()) {
    if (read_only) {
      return absl::NotFoundError(
          absl::StrCat(dir, ": not a partition store (no partition key)"));
    }
    rocksdb::WriteBatch init;
    init.Put(store->meta_, kPartitionKey, std::to_string(partition));
    init.Put(store->meta_, kFormatKey, kFormatVersion);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    CRM_RETURN_IF_ERROR(FromRocksDb(db->Write(wo, &init), dir));
    store->partition_ = partition;
  } else {
    CRM_RETURN_IF_ERROR(FromRocksDb(s, dir));
    int32_t stored = -1;
    try {
      stored = std::stoi(value);
    } catch (...) {
      return absl::DataLossError(
          absl::StrCat(dir, ": unreadable partition key '", value, "'"));
    }
    if (!read_only && stored != partition) {
      return absl::DataLossError(
          absl::StrCat(dir, " holds partition ", stored, ", not ", partition));
    }
    store->partition_ = stored;
  }

  s = db->Get(rocksdb::ReadOptions(), store->meta_, kNextOffsetKey, &value);
  if (!s.IsNotFound()) {
    CRM_RETURN_IF_ERROR(FromRocksDb(s, dir));
    CRM_ASSIGN_OR_RETURN(uint64_t next,
                         DecodeFixed64BE(value, absl::StrCat(dir, " offset")));
    store->next_offset_ = static_cast<int64_t>(next);
  }

  s = db->Get(rocksdb::ReadOptions(), store->meta_, kScheduledPassKey, &value);
  if (!s.IsNotFound()) {
    CRM_RETURN_IF_ERROR(FromRocksDb(s, dir));
    CRM_ASSIGN_OR_RETURN(
        uint64_t secs,
        DecodeFixed64BE(value, absl::StrCat(dir, " scheduled pass")));
    store->scheduled_pass_seconds_ = static_cast<int64_t>(secs);
  }

  // Outbox sequence continues after the last record kept.
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions(), store->outbox_));
  it->SeekToLast();
  if (it->Valid()) {
    CRM_ASSIGN_OR_RETURN(const uint64_t first, OutboxEntryFirst(it.get(), dir));
    CRM_ASSIGN_OR_RETURN(const uint64_t count,
                         CountOutboxEntry(it.get(), first, dir));
    store->next_outbox_seq_ = first + count;
  }
  CRM_RETURN_IF_ERROR(FromRocksDb(it->status(), dir));
  it.reset();

  if (store->index_ != nullptr) {
    s = db->Get(rocksdb::ReadOptions(), store->meta_, kIndexReadyKey, &value);
    if (s.ok()) {
      store->index_ready_ = true;
      s = db->Get(rocksdb::ReadOptions(), store->meta_, kLatestStateKey,
                  &value);
      if (s.ok()) {
        CRM_ASSIGN_OR_RETURN(store->latest_state_,
                             DecodeLatestState(value, dir));
      } else if (!s.IsNotFound()) {
        return FromRocksDb(s, dir);
      }
    } else if (!s.IsNotFound()) {
      return FromRocksDb(s, dir);
    } else if (!read_only) {
      CRM_RETURN_IF_ERROR(store->BackfillIndex());
    }
  }
  return store;
}

absl::Status PartitionStore::BackfillIndex() {
  // Rewrites every record with its index keys and puts them, in batches.
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), customers_));
  v1::StoredCustomer rec;
  CommitBatch staged;
  rocksdb::WriteBatch wb;
  size_t in_batch = 0;
  // Anything an earlier layout left in the index goes first.
  wb.DeleteRange(index_, "", "\xff");
  auto write = [&]() -> absl::Status {
    for (const std::string& k : staged.index_deletes) wb.Delete(index_, k);
    for (const std::string& k : staged.index_puts) wb.Put(index_, k, "");
    staged.index_deletes.clear();
    staged.index_puts.clear();
    CRM_RETURN_IF_ERROR(FromRocksDb(db_->Write(rocksdb::WriteOptions(), &wb),
                                    absl::StrCat("index backfill ", dir_)));
    wb.Clear();
    in_batch = 0;
    return absl::OkStatus();
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!rec.ParseFromArray(it->value().data(),
                            static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat(dir_, ": stored record of customer ", View(it->key()),
                       " is not a valid crm.v1.StoredCustomer"));
    }
    rec.clear_index_keys();  // keys of an older layout are not trusted
    StageIndexUpdate(&rec, &staged);
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream out(&bytes);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(true);
      rec.SerializeToCodedStream(&coded);
    }
    wb.Put(customers_, it->key(), bytes);
    if (++in_batch == 10000) CRM_RETURN_IF_ERROR(write());
  }
  CRM_RETURN_IF_ERROR(FromRocksDb(it->status(), dir_));
  if (!staged.latest_state.customer_id.empty()) {
    wb.Put(meta_, kLatestStateKey, EncodeLatestState(staged.latest_state));
  }
  wb.Put(meta_, kIndexReadyKey, "1");
  const LatestStateMark latest = staged.latest_state;
  CRM_RETURN_IF_ERROR(write());
  index_ready_ = true;
  latest_state_ = latest;
  return absl::OkStatus();
}

absl::Status PartitionStore::ForEachIndexKey(
    absl::string_view prefix,
    const std::function<bool(absl::string_view)>& fn) const {
  if (!index_ready_) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir_, ": no complete index"));
  }
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), index_));
  const rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    if (!fn(View(it->key()))) break;
  }
  return FromRocksDb(it->status(), absl::StrCat("index scan ", dir_));
}

PartitionStore::~PartitionStore() {
  if (db_ == nullptr) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

absl::StatusOr<std::optional<std::string>> PartitionStore::GetCustomer(
    absl::string_view customer_id) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), customers_,
               rocksdb::Slice(customer_id.data(), customer_id.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  CRM_RETURN_IF_ERROR(FromRocksDb(s, absl::StrCat("get ", customer_id)));
  return value;
}

absl::StatusOr<std::vector<std::optional<std::string>>>
PartitionStore::MultiGetCustomers(absl::Span<const std::string> ids) const {
  std::vector<rocksdb::Slice> keys(ids.begin(), ids.end());
  std::vector<rocksdb::PinnableSlice> values(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  db_->MultiGet(rocksdb::ReadOptions(), customers_, keys.size(), keys.data(),
                values.data(), statuses.data());
  std::vector<std::optional<std::string>> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    CRM_RETURN_IF_ERROR(FromRocksDb(statuses[i], absl::StrCat("get ", ids[i])));
    out[i] = values[i].ToString();
  }
  return out;
}

namespace {

// Block size of the table files a commit ingests.
constexpr size_t kIngestBlockBytes = 64 << 10;

// A WriteBatch entry's bytes besides its key and value, at most: the type,
// the column family and the two lengths, as varints.
constexpr size_t kPutOverhead = 1 + 5 + 5 + 5;

const std::string& KeyOf(const CommitBatch::Put& p) { return p.key; }
const std::string& KeyOf(const std::string& k) { return k; }

// Pointers to `items` (puts or bare keys) in key order. The memtable's
// skiplist insert starts from where the previous one ended, so ascending
// keys cost a short walk each instead of a search from the top (the order
// of puts to distinct keys within one WriteBatch does not change what it
// writes). Items staged in order already (a partition task stages its
// customers by id, and so their history entries come in key order too)
// are only checked.
template <typename T>
std::vector<const T*> InKeyOrder(const std::vector<T>& items) {
  std::vector<const T*> out;
  out.reserve(items.size());
  for (const T& item : items) out.push_back(&item);
  auto less = [](const T* a, const T* b) { return KeyOf(*a) < KeyOf(*b); };
  if (!std::is_sorted(out.begin(), out.end(), less)) {
    std::sort(out.begin(), out.end(), less);
  }
  return out;
}

}  // namespace

TableStream::File::File() = default;

TableStream::File::~File() {
  if (path.empty()) return;
  writer.reset();
  std::error_code ec;
  std::filesystem::remove(path, ec);  // gone already when ingested
}

TableStream::~TableStream() = default;

absl::Status TableStream::Put(File* file, rocksdb::ColumnFamilyHandle* cf,
                              absl::string_view name,
                              const CommitBatch::Put& put) {
  if (file->writer == nullptr) {
    CRM_RETURN_IF_ERROR(store_->OpenTableFile(cf, name, file));
  }
  return FromRocksDb(file->writer->Put(put.key, put.value),
                     absl::StrCat("write ", file->path));
}

absl::Status TableStream::Take(CommitBatch* batch) {
  if (failed_) {
    return absl::FailedPreconditionError(
        absl::StrCat(store_->dir_, ": a table stream that failed"));
  }
  absl::Status s;
  for (const CommitBatch::Put& put : batch->customers) {
    if (s = Put(&customers_, store_->customers_, "customers", put); !s.ok()) {
      break;
    }
  }
  if (s.ok() && !batch->history_puts.empty() && store_->history_ == nullptr) {
    s = absl::FailedPreconditionError(absl::StrCat(
        store_->dir_,
        ": history entries to stream to a store without the history "
        "column family"));
  }
  for (const CommitBatch::Put& put : batch->history_puts) {
    if (!s.ok()) break;
    s = Put(&history_, store_->history_, "history", put);
  }
  failed_ = !s.ok();
  batch->customers.clear();
  batch->history_puts.clear();
  return s;
}

std::unique_ptr<TableStream> PartitionStore::NewTableStream() {
  return std::unique_ptr<TableStream>(new TableStream(this));
}

absl::Status PartitionStore::OpenTableFile(rocksdb::ColumnFamilyHandle* cf,
                                           absl::string_view name,
                                           TableStream::File* file) {
  rocksdb::Options o = db_->GetOptions(cf);
  // The file goes to the last level it fits; written with the flush's
  // compression, not the bottommost one's (slower).
  o.bottommost_compression = o.compression;
  // Blocks of 64 KB rather than 4 KB: a sixteenth of the per-block work
  // (each compressed block sets up a fresh LZ4 stream, 16 KB to zero)
  // for a file that holds a whole partition's records, and LZ4 finds
  // more to reuse (against 16 KB blocks: 0.9% fewer instructions in a
  // replay, 6.6% fewer bytes). Reads take a block at a time.
  if (const auto* table =
          o.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>()) {
    rocksdb::BlockBasedTableOptions bigger = *table;
    bigger.block_size = kIngestBlockBytes;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(bigger));
  }
  file->writer = std::make_unique<rocksdb::SstFileWriter>(
      rocksdb::EnvOptions(), o, cf, /*invalidate_page_cache=*/false);
  file->path =
      absl::StrCat(dir_, "/ingest-", ingest_files_++, "-", name, ".sst");
  return FromRocksDb(file->writer->Open(file->path),
                     absl::StrCat("write ", file->path));
}

absl::Status PartitionStore::IngestRecords(const CommitBatch& batch,
                                           TableStream* stream) {
  std::vector<rocksdb::IngestExternalFileArg> args;
  // Written here, or the stream's: removed with it unless moved in.
  std::unique_ptr<TableStream> own;
  if (stream == nullptr) stream = (own = NewTableStream()).get();
  // `puts` (ascending keys) into `file` of `cf`, then the file finished
  // and to be ingested.
  auto write = [&](TableStream::File* file, rocksdb::ColumnFamilyHandle* cf,
                   absl::string_view name, const auto& puts,
                   const auto& put_one) -> absl::Status {
    if (file->writer == nullptr && !puts.empty()) {
      CRM_RETURN_IF_ERROR(OpenTableFile(cf, name, file));
    }
    const std::string what = absl::StrCat("write ", file->path);
    for (const auto& put : puts) {
      CRM_RETURN_IF_ERROR(FromRocksDb(put_one(*file->writer, put), what));
    }
    if (file->writer == nullptr) return absl::OkStatus();
    CRM_RETURN_IF_ERROR(FromRocksDb(file->writer->Finish(), what));
    rocksdb::IngestExternalFileArg& arg = args.emplace_back();
    arg.column_family = cf;
    arg.external_files = {file->path};
    arg.options.move_files = true;
    // The sequence number goes to the manifest, not into the file.
    arg.options.write_global_seqno = false;
    return absl::OkStatus();
  };
  auto put_record = [](rocksdb::SstFileWriter& w, const CommitBatch::Put* p) {
    return w.Put(p->key, p->value);
  };
  std::vector<const std::string*> index_keys;
  if (index_ != nullptr) {
    index_keys = InKeyOrder(batch.index_puts);
    index_keys.erase(std::unique(index_keys.begin(), index_keys.end(),
                                 [](const std::string* a,
                                    const std::string* b) { return *a == *b; }),
                     index_keys.end());
  }
  absl::Status s = stream->failed_ ? absl::FailedPreconditionError(absl::StrCat(
                                         dir_, ": a table stream that failed"))
                                   : absl::OkStatus();
  if (s.ok()) {
    s = write(&stream->customers_, customers_, "customers",
              InKeyOrder(batch.customers), put_record);
  }
  if (s.ok() &&
      (!batch.history_puts.empty() || stream->history_.writer != nullptr)) {
    s = write(&stream->history_, history_, "history",
              InKeyOrder(batch.history_puts), put_record);
  }
  TableStream::File index_file;
  if (s.ok()) {
    s = write(&index_file, index_, "index", index_keys,
              [](rocksdb::SstFileWriter& w, const std::string* k) {
                return w.Put(*k, rocksdb::Slice());
              });
  }
  if (s.ok() && !args.empty()) {
    s = FromRocksDb(db_->IngestExternalFiles(args),
                    absl::StrCat("ingest into ", dir_));
    if (s.ok()) ++ingested_commits_;
  }
  // The stream is spent either way; its files and index_file are removed
  // with them unless moved in.
  stream->failed_ = true;
  return s;
}

absl::Status PartitionStore::Commit(const CommitBatch& batch) {
  return Commit(batch, nullptr);
}

absl::Status PartitionStore::Commit(const CommitBatch& batch,
                                    TableStream* stream) {
  if (stream != nullptr &&
      (!batch.customers.empty() || !batch.history_puts.empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir_, ": a commit with a table stream and records beside it"));
  }
  if (!batch.history_puts.empty() && history_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir_,
                     ": history entries to commit to a store without "
                     "the history column family"));
  }
  const bool ingest =
      stream != nullptr ||
      (IngestsCommitOf(batch.customers.size()) && batch.index_deletes.empty());
  if (ingest) CRM_RETURN_IF_ERROR(IngestRecords(batch, stream));
  // Sized up front: a commit of thousands of records would otherwise grow
  // the batch by doubling, copying it again each time.
  size_t reserve = 64;
  if (!ingest) {
    for (const auto* puts : {&batch.customers, &batch.history_puts}) {
      for (const CommitBatch::Put& put : *puts) {
        reserve += put.key.size() + put.value.size() + kPutOverhead;
      }
    }
    for (const auto* keys : {&batch.index_deletes, &batch.index_puts}) {
      for (const std::string& k : *keys) reserve += k.size() + kPutOverhead;
    }
  }
  if (ingest) {  // a stream's commit: its index deletes are written here
    for (const std::string& k : batch.index_deletes) {
      reserve += k.size() + kPutOverhead;
    }
  }
  for (const std::string& r : batch.outbox) reserve += r.size() + 11;
  rocksdb::WriteBatch wb(reserve);
  if (!ingest) {
    for (const CommitBatch::Put* put : InKeyOrder(batch.customers)) {
      wb.Put(customers_, put->key, put->value);
    }
    for (const CommitBatch::Put* put : InKeyOrder(batch.history_puts)) {
      wb.Put(history_, put->key, put->value);
    }
    if (index_ != nullptr) {
      // In key order too (deletes and puts are of different keys).
      for (const std::string* k : InKeyOrder(batch.index_deletes)) {
        wb.Delete(index_, *k);
      }
      for (const std::string* k : InKeyOrder(batch.index_puts)) {
        wb.Put(index_, *k, "");
      }
    }
  } else if (index_ != nullptr) {
    // The keys a stream's commit deletes are not among those it put (the
    // old keys of re-staged customers), so after the ingested ones.
    for (const std::string* k : InKeyOrder(batch.index_deletes)) {
      wb.Delete(index_, *k);
    }
  }
  const bool later = !batch.latest_state.customer_id.empty() &&
                     batch.latest_state.After(latest_state_);
  if (later) {
    wb.Put(meta_, kLatestStateKey, EncodeLatestState(batch.latest_state));
  }
  uint64_t seq = next_outbox_seq_;
  if (!batch.outbox.empty()) {
    wb.Put(outbox_, EncodeFixed64BE(seq), EncodeOutboxPage(batch.outbox));
    seq += batch.outbox.size();
  }
  wb.Put(meta_, kNextOffsetKey,
         EncodeFixed64BE(static_cast<uint64_t>(batch.next_offset)));
  if (batch.scheduled_pass_seconds.has_value()) {
    wb.Put(
        meta_, kScheduledPassKey,
        EncodeFixed64BE(static_cast<uint64_t>(*batch.scheduled_pass_seconds)));
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync_commits_ && !disable_wal_;
  wo.disableWAL = disable_wal_;
  CRM_RETURN_IF_ERROR(FromRocksDb(
      db_->Write(wo, &wb), absl::StrCat("commit partition ", partition_)));
  next_outbox_seq_ = seq;
  next_offset_ = batch.next_offset;
  if (later) latest_state_ = batch.latest_state;
  if (batch.scheduled_pass_seconds.has_value()) {
    scheduled_pass_seconds_ = batch.scheduled_pass_seconds;
  }
  return absl::OkStatus();
}

absl::Status PartitionStore::ForEachCustomer(
    const std::function<absl::Status(absl::string_view, absl::string_view)>& fn)
    const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), customers_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    CRM_RETURN_IF_ERROR(fn(View(it->key()), View(it->value())));
  }
  return FromRocksDb(it->status(), absl::StrCat("scan ", dir_));
}

CustomerCursor::CustomerCursor(std::unique_ptr<rocksdb::Iterator> it)
    : it_(std::move(it)) {
  it_->SeekToFirst();
}
CustomerCursor::~CustomerCursor() = default;
bool CustomerCursor::Valid() const { return it_->Valid(); }
void CustomerCursor::Next() { it_->Next(); }
absl::string_view CustomerCursor::key() const { return View(it_->key()); }
absl::string_view CustomerCursor::value() const { return View(it_->value()); }
absl::Status CustomerCursor::status() const {
  return FromRocksDb(it_->status(), "customer scan");
}

std::unique_ptr<CustomerCursor> PartitionStore::NewCustomerCursor() const {
  return std::make_unique<CustomerCursor>(std::unique_ptr<rocksdb::Iterator>(
      db_->NewIterator(rocksdb::ReadOptions(), customers_)));
}

std::unique_ptr<rocksdb::Iterator> PartitionStore::NewHistoryIterator() const {
  if (history_ == nullptr) return nullptr;
  return std::unique_ptr<rocksdb::Iterator>(
      db_->NewIterator(rocksdb::ReadOptions(), history_));
}

absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>>
PartitionStore::ReadOutbox(uint64_t from, size_t max) const {
  std::vector<std::pair<uint64_t, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), outbox_));
  // The page holding `from` starts at or before it.
  it->SeekForPrev(EncodeFixed64BE(from));
  if (!it->Valid()) it->Seek(EncodeFixed64BE(from));
  for (; it->Valid() && out.size() < max; it->Next()) {
    CRM_ASSIGN_OR_RETURN(OutboxEntry page, ParseOutboxEntry(it.get(), dir_));
    for (size_t i = 0; i < page.records.size() && out.size() < max; ++i) {
      if (page.first + i < from) continue;
      out.emplace_back(page.first + i, std::move(page.records[i]));
    }
  }
  CRM_RETURN_IF_ERROR(FromRocksDb(it->status(), "outbox scan"));
  return out;
}

absl::Status PartitionStore::TrimOutbox(uint64_t upto) {
  // Pages entirely below `upto` go; the one holding `upto` stays whole.
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), outbox_));
  it->SeekForPrev(EncodeFixed64BE(upto));
  if (!it->Valid()) return FromRocksDb(it->status(), "outbox trim");
  CRM_ASSIGN_OR_RETURN(const uint64_t first, OutboxEntryFirst(it.get(), dir_));
  CRM_ASSIGN_OR_RETURN(const uint64_t count,
                       CountOutboxEntry(it.get(), first, dir_));
  const uint64_t end = first + count;
  const uint64_t keep_from = end <= upto ? end : first;
  it.reset();
  if (keep_from == 0) return absl::OkStatus();
  rocksdb::WriteOptions wo;
  return FromRocksDb(db_->DeleteRange(wo, outbox_, EncodeFixed64BE(0),
                                      EncodeFixed64BE(keep_from)),
                     "outbox trim");
}

absl::StatusOr<uint64_t> PartitionStore::CountCustomers() const {
  // With nothing in the memtables and every record in one table file
  // without deletions (a replay's store, written by one ingested commit),
  // the file's entry count is the count: its keys are distinct, and
  // reading it whole back (decompressing every block) would cost as much
  // as writing it. Otherwise keys may repeat across files: a scan.
  uint64_t in_memory = 0, immutable = 0;
  if (db_->GetIntProperty(customers_, "rocksdb.num-entries-active-mem-table",
                          &in_memory) &&
      db_->GetIntProperty(customers_, "rocksdb.num-entries-imm-mem-tables",
                          &immutable) &&
      in_memory == 0 && immutable == 0) {
    rocksdb::TablePropertiesCollection tables;
    if (db_->GetPropertiesOfAllTables(customers_, &tables).ok()) {
      if (tables.empty()) return 0;
      if (tables.size() == 1) {
        const rocksdb::TableProperties& t = *tables.begin()->second;
        if (t.num_deletions == 0 && t.num_range_deletions == 0 &&
            t.num_merge_operands == 0) {
          return t.num_entries;
        }
      }
    }
  }
  return ScanCountCustomers();
}

absl::StatusOr<uint64_t> PartitionStore::ScanCountCustomers() const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, customers_));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  CRM_RETURN_IF_ERROR(FromRocksDb(it->status(), absl::StrCat("count ", dir_)));
  return n;
}

absl::Status PartitionStore::FlushMemtables() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return FromRocksDb(db_->Flush(fo, handles_), absl::StrCat("flush ", dir_));
}

absl::Status PartitionStore::Checkpoint(
    const std::string& checkpoint_dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  CRM_RETURN_IF_ERROR(
      FromRocksDb(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  return FromRocksDb(cp->CreateCheckpoint(checkpoint_dir),
                     absl::StrCat("checkpoint to ", checkpoint_dir));
}

}  // namespace crm::store
