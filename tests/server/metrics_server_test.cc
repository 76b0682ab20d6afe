#include "engine/server/metrics_server.h"

#include "engine/task/metrics.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace crm::server {
namespace {

TEST(MetricsServerTest, ServesRenderedMetricsAndHealth) {
  std::vector<task::PartitionProgress> progress(2);
  progress[0].partition = 0;
  progress[0].next_offset = 40;
  progress[0].end_offset = 100;
  progress[0].stats.applied = 38;
  progress[0].stats.dead_letters = 2;
  progress[1].partition = 1;
  progress[1].next_offset = 7;
  progress[1].end_offset = 7;
  auto server = MetricsServer::Start(
      "127.0.0.1", 0, [&] { return task::PrometheusText(progress); });
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  const std::string& body = res->body;
  EXPECT_NE(body.find("# TYPE crm_partition_lag gauge\n"), std::string::npos);
  EXPECT_NE(body.find("crm_partition_lag{partition=\"0\"} 60\n"),
            std::string::npos);
  EXPECT_NE(body.find("crm_partition_lag{partition=\"1\"} 0\n"),
            std::string::npos);
  EXPECT_NE(body.find("crm_events_applied_total{partition=\"0\"} 38\n"),
            std::string::npos);
  EXPECT_NE(body.find("crm_dead_letters_total{partition=\"0\"} 2\n"),
            std::string::npos);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->body, "ok\n");
  EXPECT_EQ(client.Get("/nope")->status, 404);
}

TEST(MetricsServerTest, PortInUseIsUnavailable) {
  auto first = MetricsServer::Start("127.0.0.1", 0, [] { return ""; });
  ASSERT_TRUE(first.ok());
  auto second =
      MetricsServer::Start("127.0.0.1", (*first)->port(), [] { return ""; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace crm::server
