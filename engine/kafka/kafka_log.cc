#include "engine/kafka/kafka_log.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "engine/base/status_macros.h"
#include "engine/kafka/kafka_status.h"

namespace crm::kafka {
namespace {

using crm::log::LogRecord;
using crm::log::PartitionReader;
using crm::log::RecordRef;

// Milliseconds for a librdkafka timeout argument; infinite -> -1.
int ToTimeoutMs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return -1;
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t ms =
      absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1)));
  return static_cast<int>(
      std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

// Owns an rd_kafka_conf_t until it is handed to rd_kafka_new().
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

absl::Status Set(rd_kafka_conf_t* conf, const std::string& key,
                 const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr,
                        sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("Kafka property '", key, "=", value, "': ", errstr));
  }
  return absl::OkStatus();
}

// Properties a caller may not change because the engine's guarantees rest on
// them: OK from Append means acks=all by an idempotent producer.
absl::Status CheckPinned(absl::string_view key, absl::string_view value) {
  const std::string v = absl::AsciiStrToLower(value);
  if ((key == "acks" || key == "request.required.acks") && v != "all" &&
      v != "-1") {
    return absl::InvalidArgumentError(
        absl::StrCat("Kafka property '", key, "=", value,
                     "' is not allowed: the event log requires acks=all"));
  }
  if (key == "enable.idempotence" && v != "true") {
    return absl::InvalidArgumentError(absl::StrCat(
        "Kafka property '", key, "=", value,
        "' is not allowed: the event log requires an idempotent producer"));
  }
  if (key == "transactional.id") {
    return absl::InvalidArgumentError(absl::StrCat(
        "Kafka property '", key, "=", value,
        "' is not allowed: the event log does not use Kafka transactions"));
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const KafkaOptions& o) {
  if (o.topic.empty())
    return absl::InvalidArgumentError("Kafka topic is empty");
  bool bootstrap_in_properties = false;
  for (const std::string& p : o.properties) {
    if (absl::StartsWith(p, "bootstrap.servers=") ||
        absl::StartsWith(p, "metadata.broker.list=")) {
      bootstrap_in_properties = true;
    }
  }
  if (o.brokers.empty() && !bootstrap_in_properties) {
    return absl::InvalidArgumentError(
        "no Kafka brokers given (--brokers HOST:PORT or -X "
        "bootstrap.servers=HOST:PORT)");
  }
  if (o.delivery_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("delivery_timeout must be > 0");
  }
  if (o.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("request_timeout must be > 0");
  }
  return absl::OkStatus();
}

// Settings shared by producer and readers; the caller's properties are
// applied after these, so they win.
absl::StatusOr<ConfPtr> BaseConf(const KafkaOptions& o) {
  ConfPtr conf(rd_kafka_conf_new());
  if (!o.brokers.empty()) {
    CRM_RETURN_IF_ERROR(Set(conf.get(), "bootstrap.servers", o.brokers));
  }
  // Append waits for acknowledgements, so small requests must not wait for
  // Nagle's algorithm (the Java client sets TCP_NODELAY too).
  CRM_RETURN_IF_ERROR(Set(conf.get(), "socket.nagle.disable", "true"));
  return conf;
}

absl::StatusOr<rd_kafka_t*> NewHandle(rd_kafka_type_t type, ConfPtr conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot create Kafka ",
        type == RD_KAFKA_PRODUCER ? "producer" : "consumer", ": ", errstr));
  }
  conf.release();  // now owned by rk
  return rk;
}

}  // namespace

absl::Status ApplyProperties(rd_kafka_conf_t* conf,
                             absl::Span<const std::string> properties) {
  for (const std::string& p : properties) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property '", p, "': expected key=value"));
    }
    const std::string key = p.substr(0, eq);
    const std::string value = p.substr(eq + 1);
    CRM_RETURN_IF_ERROR(CheckPinned(key, value));
    CRM_RETURN_IF_ERROR(Set(conf, key, value));
  }
  return absl::OkStatus();
}

namespace internal {

// The records of one Append call, counted down by delivery reports. The
// producer's delivery callback finds it through each message's opaque, so a
// report costs two atomic operations and no lock or allocation.
struct Batch {
  explicit Batch(int64_t records) : remaining(records + 1) {}
  // Records without a delivery report yet, plus one held by Append itself
  // until it has enqueued everything.
  std::atomic<int64_t> remaining;
  std::atomic<int64_t> failed{0};
  // First failure seen (0: none).
  std::atomic<int> first_error{0};
  absl::Notification done;
};

// One librdkafka producer handle and its topic handle. Delivery reports are
// served by the Append calls that poll it. Shared by concurrent Appends
// through a shared_ptr; destroyed when the last user lets go.
class Producer {
 public:
  static absl::StatusOr<std::shared_ptr<Producer>> Create(
      const KafkaOptions& o) {
    CRM_ASSIGN_OR_RETURN(ConfPtr conf, BaseConf(o));
    rd_kafka_conf_t* c = conf.get();
    CRM_RETURN_IF_ERROR(Set(c, "enable.idempotence", "true"));
    CRM_RETURN_IF_ERROR(Set(c, "acks", "all"));
    // Records carry an explicit partition; the partitioner is set so that
    // anything this handle partitions itself agrees with other clients.
    CRM_RETURN_IF_ERROR(Set(c, "partitioner", "murmur2_random"));
    CRM_RETURN_IF_ERROR(Set(c, "allow.auto.create.topics", "false"));
    CRM_RETURN_IF_ERROR(Set(c, "message.timeout.ms",
                            std::to_string(ToTimeoutMs(o.delivery_timeout))));
    CRM_RETURN_IF_ERROR(Set(
        c, "linger.ms", std::to_string(absl::ToDoubleMilliseconds(o.linger))));
    CRM_RETURN_IF_ERROR(
        Set(c, "batch.num.messages", std::to_string(o.max_batch_records)));
    CRM_RETURN_IF_ERROR(Set(c, "queue.buffering.max.messages",
                            std::to_string(o.max_queued_records)));
    CRM_RETURN_IF_ERROR(ApplyProperties(c, o.properties));
    rd_kafka_conf_set_dr_msg_cb(c, &Producer::OnDelivery);

    CRM_ASSIGN_OR_RETURN(rd_kafka_t * rk,
                         NewHandle(RD_KAFKA_PRODUCER, std::move(conf)));
    return std::shared_ptr<Producer>(new Producer(rk));
  }

  // Creates the topic handle. Separate from Create() because a topic handle
  // makes librdkafka ask for the topic's metadata, which brokers that
  // auto-create topics (the mock cluster always does) answer by creating
  // it; Open() first checks that the topic exists.
  absl::Status OpenTopic(const std::string& topic) {
    rkt_ = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    if (rkt_ == nullptr) {
      return FromKafka(rd_kafka_last_error(),
                       absl::StrCat("topic '", topic, "'"));
    }
    return absl::OkStatus();
  }

  ~Producer() {
    // No Append holds this producer any more, so nothing is outstanding but
    // librdkafka's own housekeeping; flush briefly and destroy.
    rd_kafka_flush(rk_, 1000);
    if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
    rd_kafka_destroy(rk_);
  }

  rd_kafka_t* rk() const { return rk_; }
  rd_kafka_topic_t* rkt() const { return rkt_; }

 private:
  explicit Producer(rd_kafka_t* rk) : rk_(rk) {}

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* batch = static_cast<Batch*>(m->_private);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      batch->failed.fetch_add(1, std::memory_order_relaxed);
      int expected = 0;
      batch->first_error.compare_exchange_strong(expected, m->err,
                                                 std::memory_order_relaxed);
    }
    if (batch->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      batch->done.Notify();
    }
  }

  rd_kafka_t* const rk_;
  rd_kafka_topic_t* rkt_ = nullptr;  // set once by OpenTopic, before use
};

// Reads one partition through its own consumer handle: the partition is
// started at an exact offset on a private queue (librdkafka's simple
// consumer: no group, no commits). Owned and used by one thread.
class KafkaPartitionReader final : public PartitionReader {
 public:
  static absl::StatusOr<std::unique_ptr<PartitionReader>> Open(
      const KafkaOptions& o, int32_t partition, int64_t offset) {
    CRM_ASSIGN_OR_RETURN(ConfPtr conf, BaseConf(o));
    rd_kafka_conf_t* c = conf.get();
    CRM_RETURN_IF_ERROR(ApplyProperties(c, o.properties));
    // Never jump silently over records the brokers no longer have.
    CRM_RETURN_IF_ERROR(Set(c, "auto.offset.reset", "error"));
    CRM_RETURN_IF_ERROR(Set(c, "enable.partition.eof", "false"));
    CRM_ASSIGN_OR_RETURN(rd_kafka_t * rk,
                         NewHandle(RD_KAFKA_CONSUMER, std::move(conf)));
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);
    if (rkt == nullptr) {
      absl::Status s = FromKafka(rd_kafka_last_error(),
                                 absl::StrCat("topic '", o.topic, "'"));
      rd_kafka_destroy(rk);
      return s;
    }
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    if (rd_kafka_consume_start_queue(rkt, partition, offset, queue) == -1) {
      absl::Status s = FromKafka(rd_kafka_last_error(),
                                 absl::StrCat("start reading ", o.topic, "/",
                                              partition, " at ", offset));
      rd_kafka_queue_destroy(queue);
      rd_kafka_topic_destroy(rkt);
      rd_kafka_destroy(rk);
      return s;
    }
    return std::unique_ptr<PartitionReader>(
        new KafkaPartitionReader(o.topic, rk, rkt, queue, partition, offset));
  }

  ~KafkaPartitionReader() override {
    rd_kafka_consume_stop(rkt_, partition_);
    rd_kafka_queue_destroy(queue_);
    rd_kafka_topic_destroy(rkt_);
    rd_kafka_destroy(rk_);
  }

  absl::StatusOr<size_t> Poll(std::vector<LogRecord>* out, size_t max_records,
                              absl::Duration timeout) override {
    if (!pending_error_.ok()) {
      absl::Status s = pending_error_;
      pending_error_ = absl::OkStatus();
      return s;
    }
    // Serve the handle's own events (errors, logs) so they do not pile up:
    // records come from the partition queue, not from rd_kafka_poll.
    rd_kafka_poll(rk_, 0);
    if (max_records == 0) return 0;
    if (buf_.size() < kMaxFetch) buf_.resize(kMaxFetch);
    size_t added = 0;
    // librdkafka's batch call waits until the batch is full or the timeout
    // passes, so wait for one record only, then take what is already there.
    const absl::Time deadline = absl::Now() + timeout;
    while (added == 0 && pending_error_.ok()) {
      const absl::Duration left = deadline - absl::Now();
      if (Fetch(out, 1, left <= absl::ZeroDuration() ? 0 : ToTimeoutMs(left),
                &added) == 0 &&
          left <= absl::ZeroDuration()) {
        break;
      }
    }
    while (added < max_records && pending_error_.ok()) {
      const size_t want = std::min(max_records - added, kMaxFetch);
      if (Fetch(out, want, 0, &added) < want) break;  // local queue drained
    }
    if (added == 0 && !pending_error_.ok()) {
      absl::Status s = pending_error_;
      pending_error_ = absl::OkStatus();
      return s;
    }
    return added;
  }

  int64_t position() const override { return position_; }

 private:
  static constexpr size_t kMaxFetch = 1024;

  KafkaPartitionReader(std::string topic, rd_kafka_t* rk, rd_kafka_topic_t* rkt,
                       rd_kafka_queue_t* queue, int32_t partition,
                       int64_t offset)
      : topic_(std::move(topic)),
        rk_(rk),
        rkt_(rkt),
        queue_(queue),
        partition_(partition),
        position_(offset) {}

  // Takes up to `want` messages from the queue (waiting up to `wait_ms` for
  // them) into `out`; returns how many messages librdkafka handed over.
  size_t Fetch(std::vector<LogRecord>* out, size_t want, int wait_ms,
               size_t* added) {
    const ssize_t n =
        rd_kafka_consume_batch_queue(queue_, wait_ms, buf_.data(), want);
    if (n < 0) {
      pending_error_ = FromKafka(rd_kafka_last_error(), Where());
      return 0;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (pending_error_.ok()) Take(buf_[i], out, added);
      rd_kafka_message_destroy(buf_[i]);
    }
    return static_cast<size_t>(n);
  }

  std::string Where() const {
    return absl::StrCat("read ", topic_, "/", partition_, " at offset ",
                        position_);
  }

  void Take(const rd_kafka_message_t* m, std::vector<LogRecord>* out,
            size_t* added) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string detail = Where();
      if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
          m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        absl::StrAppend(&detail,
                        " (the brokers no longer keep it, or it is past the "
                        "end)");
      }
      if (m->len > 0) {
        absl::StrAppend(
            &detail, ": ",
            absl::string_view(static_cast<const char*>(m->payload), m->len));
      }
      pending_error_ = FromKafka(m->err, detail);
      return;
    }
    // librdkafka never hands back an offset before the one asked for; skip
    // defensively rather than return a record twice.
    if (m->offset < position_) return;
    LogRecord& r = out->emplace_back();
    r.partition = partition_;
    r.offset = m->offset;
    r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
    if (m->key != nullptr) {
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
    }
    if (m->payload != nullptr) {
      r.value.assign(static_cast<const char*>(m->payload), m->len);
    }
    position_ = m->offset + 1;
    ++*added;
  }

  const std::string topic_;
  rd_kafka_t* const rk_;
  rd_kafka_topic_t* const rkt_;
  rd_kafka_queue_t* const queue_;
  const int32_t partition_;
  int64_t position_;
  absl::Status pending_error_;
  std::vector<rd_kafka_message_t*> buf_;
};

}  // namespace internal

namespace {

// Creates `o.topic` with the admin API. OK if it already exists.
absl::Status CreateTopic(rd_kafka_t* rk, const KafkaOptions& o) {
  const std::string what = absl::StrCat("create topic '", o.topic, "' with ",
                                        o.create_partitions, " partitions");
  char errstr[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
      o.topic.c_str(), o.create_partitions, o.create_replication_factor, errstr,
      sizeof(errstr));
  if (topic == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", errstr));
  }
  rd_kafka_AdminOptions_t* opts =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(
      opts, ToTimeoutMs(o.request_timeout), errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_operation_timeout(
      opts, ToTimeoutMs(o.request_timeout), errstr, sizeof(errstr));
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &topic, 1, opts, q);
  rd_kafka_event_t* ev =
      rd_kafka_queue_poll(q, ToTimeoutMs(o.request_timeout) + 1000);
  absl::Status status;
  if (ev == nullptr) {
    status = FromKafka(RD_KAFKA_RESP_ERR__TIMED_OUT, what);
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status =
        FromKafka(rd_kafka_event_error(ev),
                  absl::StrCat(what, ": ", rd_kafka_event_error_string(ev)));
  } else {
    const rd_kafka_CreateTopics_result_t* res =
        rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
          err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* msg = rd_kafka_topic_result_error_string(results[i]);
        status =
            FromKafka(err, absl::StrCat(what, msg ? ": " : "", msg ? msg : ""));
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(topic);
  return status;
}

// Partition count of the topic from metadata; 0 when the topic is missing.
// Asks for all topics: a request naming the topic would make brokers with
// auto.create.topics.enable (and the mock cluster) create it.
absl::StatusOr<int32_t> TopicPartitions(rd_kafka_t* rk, const KafkaOptions& o) {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 1, nullptr, &md, ToTimeoutMs(o.request_timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(err, absl::StrCat("metadata of topic '", o.topic,
                                       "' from brokers ", o.brokers));
  }
  int32_t partitions = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (o.topic == md->topics[i].topic) {
      topic_err = md->topics[i].err;
      partitions = md->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return 0;
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(topic_err, absl::StrCat("metadata of topic '", o.topic,
                                             "' from brokers ", o.brokers));
  }
  return partitions;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaLog>> KafkaLog::Open(
    const KafkaOptions& options) {
  CRM_RETURN_IF_ERROR(CheckOptions(options));
  CRM_ASSIGN_OR_RETURN(std::shared_ptr<internal::Producer> producer,
                       internal::Producer::Create(options));
  CRM_ASSIGN_OR_RETURN(int32_t partitions,
                       TopicPartitions(producer->rk(), options));
  if (partitions == 0 && options.create_partitions > 0) {
    CRM_RETURN_IF_ERROR(CreateTopic(producer->rk(), options));
    // Metadata follows creation after a moment; wait for it.
    const absl::Time deadline = absl::Now() + options.request_timeout;
    while (partitions == 0 && absl::Now() < deadline) {
      CRM_ASSIGN_OR_RETURN(partitions,
                           TopicPartitions(producer->rk(), options));
      if (partitions == 0) absl::SleepFor(absl::Milliseconds(100));
    }
  }
  if (partitions == 0) {
    return absl::NotFoundError(absl::StrCat(
        "Kafka topic '", options.topic, "' does not exist on brokers ",
        options.brokers.empty() ? "(from -X bootstrap.servers)"
                                : options.brokers,
        "; create it (or run `crm devbroker`, which creates it)"));
  }
  CRM_RETURN_IF_ERROR(producer->OpenTopic(options.topic));
  return std::unique_ptr<KafkaLog>(
      new KafkaLog(options, partitions, std::move(producer)));
}

KafkaLog::KafkaLog(KafkaOptions options, int32_t partitions,
                   std::shared_ptr<internal::Producer> producer)
    : options_(std::move(options)),
      partitions_(partitions),
      producer_(std::move(producer)) {}

KafkaLog::~KafkaLog() = default;

std::shared_ptr<internal::Producer> KafkaLog::producer() const {
  absl::MutexLock lock(&mu_);
  return producer_;
}

void KafkaLog::ReplaceProducer(
    const std::shared_ptr<internal::Producer>& failed) {
  auto fresh = internal::Producer::Create(options_);
  // On failure keep the failed one; the next Append reports it again.
  if (!fresh.ok() || !(*fresh)->OpenTopic(options_.topic).ok()) return;
  absl::MutexLock lock(&mu_);
  if (producer_ == failed) producer_ = *std::move(fresh);
}

absl::Status KafkaLog::Append(absl::Span<const RecordRef> records) {
  if (records.empty()) return absl::OkStatus();
  const std::shared_ptr<internal::Producer> p = producer();
  const int64_t n = static_cast<int64_t>(records.size());
  internal::Batch batch(n);
  int64_t enqueued = 0;
  rd_kafka_resp_err_t enqueue_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  // Delivery reports are served by the appending threads themselves (no
  // poller thread: on a busy machine its wake-ups cost more than they save).
  // Any thread's rd_kafka_poll may run any batch's callbacks; they only touch
  // that batch's atomics.
  rd_kafka_t* const rk = p->rk();
  for (const RecordRef& r : records) {
    const int32_t partition = crm::log::PartitionFor(r.key, partitions_);
    // No copy: the value stays valid until its delivery report, because
    // Append returns only after the last one.
    while (rd_kafka_produce(p->rkt(), partition, 0,
                            const_cast<char*>(r.value.data()), r.value.size(),
                            r.key.data(), r.key.size(), &batch) == -1) {
      enqueue_err = rd_kafka_last_error();
      if (enqueue_err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      enqueue_err = RD_KAFKA_RESP_ERR_NO_ERROR;
      rd_kafka_poll(rk, 1);  // local queue full: serve reports, then retry
    }
    if (enqueue_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      break;  // later records with the same key must not overtake this one
    }
    if ((++enqueued & 1023) == 0) rd_kafka_poll(rk, 0);
  }
  const int64_t not_sent = n - enqueued;
  if (batch.remaining.fetch_sub(not_sent + 1, std::memory_order_acq_rel) !=
      not_sent + 1) {
    // Another appender may serve our last report while we sit in poll; the
    // short poll timeout bounds how late we notice.
    while (!batch.done.HasBeenNotified()) rd_kafka_poll(rk, 1);
  }
  const int64_t failed = batch.failed.load(std::memory_order_relaxed);
  if (failed == 0 && not_sent == 0) return absl::OkStatus();

  std::string what =
      absl::StrCat("append to Kafka topic '", options_.topic,
                   "': ", failed + not_sent, " of ", n, " records failed");
  rd_kafka_resp_err_t cause = static_cast<rd_kafka_resp_err_t>(
      batch.first_error.load(std::memory_order_relaxed));
  if (failed > 0) {
    absl::StrAppend(&what, " (", failed,
                    " not acknowledged: ", rd_kafka_err2str(cause), ")");
  }
  if (not_sent > 0) {
    absl::StrAppend(&what, " (", not_sent,
                    " not sent: ", rd_kafka_err2str(enqueue_err), ")");
    if (failed == 0) cause = enqueue_err;
  }
  char fatal[512];
  const rd_kafka_resp_err_t fatal_err =
      rd_kafka_fatal_error(p->rk(), fatal, sizeof(fatal));
  if (fatal_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    absl::StrAppend(&what, "; producer fatal error ",
                    rd_kafka_err2name(fatal_err), ": ", fatal,
                    " (a new producer replaces it; retry the batch)");
    ReplaceProducer(p);
  }
  return FromKafka(cause, what);
}

absl::Status KafkaLog::CheckPartition(int32_t partition) const {
  if (partition < 0 || partition >= partitions_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition ", partition, " of Kafka topic '", options_.topic,
        "' does not exist (it has ", partitions_, ")"));
  }
  return absl::OkStatus();
}

absl::Status KafkaLog::Watermarks(int32_t partition, int64_t* low,
                                  int64_t* high) {
  CRM_RETURN_IF_ERROR(CheckPartition(partition));
  const std::shared_ptr<internal::Producer> p = producer();
  rd_kafka_poll(p->rk(), 0);  // serve queued events between Appends
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      p->rk(), options_.topic.c_str(), partition, low, high,
      ToTimeoutMs(options_.request_timeout));
  return FromKafka(err,
                   absl::StrCat("offsets of ", options_.topic, "/", partition));
}

absl::StatusOr<int64_t> KafkaLog::EndOffset(int32_t partition) {
  int64_t low = 0, high = 0;
  CRM_RETURN_IF_ERROR(Watermarks(partition, &low, &high));
  return high;
}

absl::StatusOr<int64_t> KafkaLog::BeginOffset(int32_t partition) {
  int64_t low = 0, high = 0;
  CRM_RETURN_IF_ERROR(Watermarks(partition, &low, &high));
  return low;
}

absl::StatusOr<std::unique_ptr<crm::log::PartitionReader>> KafkaLog::OpenReader(
    int32_t partition, int64_t offset) {
  int64_t low = 0, high = 0;
  CRM_RETURN_IF_ERROR(Watermarks(partition, &low, &high));
  if (offset < low || offset > high) {
    return absl::OutOfRangeError(
        absl::StrCat("offset ", offset, " of ", options_.topic, "/", partition,
                     " is outside the kept log [", low, ", ", high, "]"));
  }
  return internal::KafkaPartitionReader::Open(options_, partition, offset);
}

}  // namespace crm::kafka
