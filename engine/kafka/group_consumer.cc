#include "engine/kafka/group_consumer.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "engine/kafka/kafka_status.h"

namespace crm::kafka {
namespace {

constexpr size_t kMaxFetch = 1024;

int ToMs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return -1;
  if (d <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1))),
      std::numeric_limits<int>::max()));
}

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

// Partition count of `topic` from a metadata request for all topics (naming
// the topic would make auto-creating brokers create it); 0 if missing.
absl::StatusOr<int32_t> TopicPartitions(rd_kafka_t* rk, const KafkaOptions& o) {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 1, nullptr, &md, ToMs(o.request_timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(err, absl::StrCat("metadata of topic '", o.topic,
                                       "' from brokers ", o.brokers));
  }
  int32_t partitions = 0;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (o.topic == md->topics[i].topic &&
        md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      partitions = md->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  return partitions;
}

std::vector<int32_t> PartitionsOf(const rd_kafka_topic_partition_list_t* l) {
  std::vector<int32_t> out;
  for (int i = 0; i < l->cnt; ++i) out.push_back(l->elems[i].partition);
  return out;
}

}  // namespace

GroupConsumer::GroupConsumer(GroupOptions options, int32_t partitions)
    : options_(std::move(options)),
      partitions_(partitions),
      cooperative_(options_.assignor == "cooperative-sticky"),
      assigned_(partitions, false) {}

absl::StatusOr<std::unique_ptr<GroupConsumer>> GroupConsumer::Open(
    const GroupOptions& options) {
  const KafkaOptions& k = options.kafka;
  if (options.group_id.empty()) {
    return absl::InvalidArgumentError("consumer group id is empty");
  }
  if (k.topic.empty()) return absl::InvalidArgumentError("topic is empty");
  if (options.heartbeat_interval >= options.session_timeout) {
    return absl::InvalidArgumentError(
        "heartbeat interval must be below the session timeout");
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto build = [&]() -> absl::Status {
    if (!k.brokers.empty()) {
      CRM_RETURN_IF_ERROR(Set(conf, "bootstrap.servers", k.brokers));
    }
    CRM_RETURN_IF_ERROR(Set(conf, "socket.nagle.disable", "true"));
    CRM_RETURN_IF_ERROR(Set(conf, "group.id", options.group_id));
    CRM_RETURN_IF_ERROR(
        Set(conf, "partition.assignment.strategy", options.assignor));
    CRM_RETURN_IF_ERROR(Set(conf, "session.timeout.ms",
                            std::to_string(ToMs(options.session_timeout))));
    CRM_RETURN_IF_ERROR(Set(conf, "heartbeat.interval.ms",
                            std::to_string(ToMs(options.heartbeat_interval))));
    CRM_RETURN_IF_ERROR(ApplyProperties(conf, k.properties));
    // Pinned after the caller's properties: the engine chooses every start
    // offset itself, and a commit is only a lag report.
    CRM_RETURN_IF_ERROR(Set(conf, "enable.auto.commit", "false"));
    CRM_RETURN_IF_ERROR(Set(conf, "enable.auto.offset.store", "false"));
    CRM_RETURN_IF_ERROR(Set(conf, "auto.offset.reset", "error"));
    CRM_RETURN_IF_ERROR(Set(conf, "enable.partition.eof", "false"));
    return absl::OkStatus();
  };
  if (absl::Status s = build(); !s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  // The opaque is set once the object exists (below), before any poll.
  rd_kafka_conf_set_rebalance_cb(conf, &GroupConsumer::OnRebalance);
  // Commits are lag reports; one refused during a rebalance is simply
  // superseded by the next. The callback keeps librdkafka from logging each.
  rd_kafka_conf_set_offset_commit_cb(
      conf, [](rd_kafka_t*, rd_kafka_resp_err_t,
               rd_kafka_topic_partition_list_t*, void*) {});
  auto* self_slot = new GroupConsumer*(nullptr);
  rd_kafka_conf_set_opaque(conf, self_slot);
  char errstr[512];
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    delete self_slot;
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create Kafka consumer: ", errstr));
  }
  auto partitions = TopicPartitions(rk, k);
  if (!partitions.ok() || *partitions == 0) {
    rd_kafka_destroy(rk);
    delete self_slot;
    if (!partitions.ok()) return partitions.status();
    return absl::NotFoundError(absl::StrCat(
        "Kafka topic '", k.topic, "' does not exist on brokers ", k.brokers));
  }
  std::unique_ptr<GroupConsumer> c(new GroupConsumer(options, *partitions));
  *self_slot = c.get();
  c->rk_ = rk;
  c->self_slot_ = self_slot;
  rd_kafka_poll_set_consumer(rk);
  c->queue_ = rd_kafka_queue_get_consumer(rk);
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, k.topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromKafka(err, absl::StrCat("subscribe to ", k.topic));
  }
  return c;
}

GroupConsumer::~GroupConsumer() {
  if (!closed_) Close(nullptr).IgnoreError();
  rd_kafka_destroy(rk_);
  delete self_slot_;
}

void GroupConsumer::OnRebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* parts,
                                void* opaque) {
  GroupConsumer* self = *static_cast<GroupConsumer**>(opaque);
  self->Rebalance(err, parts);
}

void GroupConsumer::Rebalance(rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* parts) {
  rebalanced_ = true;
  // The negotiated protocol, not the configured one, says how to answer.
  const bool cooperative =
      std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0;
  const std::vector<int32_t> ps = PartitionsOf(parts);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    absl::StatusOr<std::vector<int64_t>> offsets = std::vector<int64_t>{};
    if (listener_ != nullptr && !ps.empty()) {
      offsets = listener_->OnAssigned(ps);
    }
    if (!offsets.ok() || (!ps.empty() && offsets->size() != ps.size())) {
      if (error_.ok()) {
        error_ = offsets.ok() ? absl::InternalError("assignment: offsets")
                              : offsets.status();
      }
      return;  // not taken: the caller stops and leaves the group
    }
    for (int i = 0; i < parts->cnt; ++i) {
      // Start exactly where the local store says; never the committed one.
      parts->elems[i].offset = ps.empty() || listener_ == nullptr
                                   ? RD_KAFKA_OFFSET_BEGINNING
                                   : (*offsets)[i];
      Assigned(parts->elems[i].partition, true);
    }
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts);
      if (e != nullptr) {
        if (error_.ok()) {
          error_ = FromKafka(rd_kafka_error_code(e), "incremental assign");
        }
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk_, parts);
    }
    return;
  }
  // Revoke (or an error, which librdkafka treats as revoking everything).
  const bool lost = rd_kafka_assignment_lost(rk_) == 1 ||
                    err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS;
  if (listener_ != nullptr && !ps.empty()) {
    absl::Status s = listener_->OnRevoked(ps, lost);
    if (!s.ok() && error_.ok()) error_ = s;
  }
  for (int32_t p : ps) Assigned(p, false);
  if (out_ != nullptr) {
    // Records of revoked partitions fetched in this poll are not ours now.
    out_->erase(std::remove_if(out_->begin() + out_start_, out_->end(),
                               [&](const crm::log::LogRecord& r) {
                                 return !IsAssigned(r.partition);
                               }),
                out_->end());
  }
  if (cooperative) {
    rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, parts);
    if (e != nullptr) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk_, nullptr);
  }
}

void GroupConsumer::Take(rd_kafka_message_t* m,
                         std::vector<crm::log::LogRecord>* out, size_t* added) {
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      if (error_.ok()) {
        error_ = FromKafka(m->err,
                           absl::StrCat("read ", options_.kafka.topic, "/",
                                        m->partition, " at offset ", m->offset,
                                        " (the brokers no longer keep it)"));
      }
    } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
      char reason[512];
      rd_kafka_fatal_error(rk_, reason, sizeof(reason));
      if (error_.ok()) {
        error_ = absl::AbortedError(
            absl::StrCat("Kafka consumer fatal error: ", reason));
      }
    }
    // Anything else (brokers down, transport errors) is reported by
    // librdkafka while it reconnects on its own: not an error here.
    return;
  }
  if (!IsAssigned(m->partition)) return;
  crm::log::LogRecord& r = out->emplace_back();
  r.partition = m->partition;
  r.offset = m->offset;
  r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
  if (m->key != nullptr) {
    r.key.assign(static_cast<const char*>(m->key), m->key_len);
  }
  if (m->payload != nullptr) {
    r.value.assign(static_cast<const char*>(m->payload), m->len);
  }
  ++*added;
}

absl::StatusOr<size_t> GroupConsumer::Poll(
    Listener* listener, std::vector<crm::log::LogRecord>* out,
    size_t max_records, absl::Duration timeout) {
  if (closed_) return absl::FailedPreconditionError("consumer is closed");
  listener_ = listener;
  rebalanced_ = false;
  error_ = absl::OkStatus();
  out_ = out;
  out_start_ = out->size();
  if (buf_.size() < kMaxFetch) buf_.resize(kMaxFetch);
  auto fetch = [&](size_t want, int wait_ms) -> size_t {
    const ssize_t n =
        rd_kafka_consume_batch_queue(queue_, wait_ms, buf_.data(), want);
    if (n < 0) {
      if (error_.ok()) error_ = FromKafka(rd_kafka_last_error(), "poll group");
      return 0;
    }
    size_t added = 0;
    for (ssize_t i = 0; i < n; ++i) {
      Take(buf_[i], out, &added);
      rd_kafka_message_destroy(buf_[i]);
    }
    return static_cast<size_t>(n);
  };
  const absl::Time deadline = absl::Now() + timeout;
  // The batch call waits until the batch is full, so wait for one message
  // (or a rebalance), then take what is already fetched.
  while (out->size() == out_start_ && error_.ok() && !rebalanced_) {
    const absl::Duration left = deadline - absl::Now();
    fetch(1, ToMs(left));
    if (left <= absl::ZeroDuration()) break;
  }
  while (max_records > 0 && out->size() - out_start_ < max_records &&
         error_.ok() && !rebalanced_) {
    const size_t want =
        std::min(max_records - (out->size() - out_start_), kMaxFetch);
    if (fetch(want, 0) < want) break;
  }
  const size_t added = out->size() - out_start_;
  listener_ = nullptr;
  out_ = nullptr;
  if (!error_.ok()) return error_;
  return added;
}

void GroupConsumer::CommitAsync(int32_t partition, int64_t next_offset) {
  if (closed_ || !IsAssigned(partition)) return;
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, options_.kafka.topic.c_str(), partition)
      ->offset = next_offset;
  rd_kafka_commit(rk_, l, /*async=*/1);
  rd_kafka_topic_partition_list_destroy(l);
}

absl::Status GroupConsumer::Close(Listener* listener) {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  listener_ = listener;
  error_ = absl::OkStatus();
  // librdkafka: the consumer queue reference goes before consumer_close,
  // which serves the final revoke itself.
  rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_);
  listener_ = nullptr;
  if (!error_.ok()) return error_;
  return FromKafka(err, absl::StrCat("leave group ", options_.group_id));
}

std::vector<int32_t> GroupConsumer::assignment() const {
  std::vector<int32_t> out;
  for (int32_t p = 0; p < partitions_; ++p) {
    if (assigned_[p]) out.push_back(p);
  }
  return out;
}

}  // namespace crm::kafka
