#include "server/http_endpoint.h"

#include <httplib.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace matalign::server {
namespace {

constexpr char kLoopback[] = "127.0.0.1";

HttpEndpointOptions LoopbackAnyPort() {
  HttpEndpointOptions options;
  options.host = kLoopback;
  options.port = 0;
  return options;
}

class HttpEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(requests_, registry_.GetCounter("test_requests_total", "Requests.",
                                                         {{"method", "Search"}}));
    ASSERT_OK_AND_ASSIGN(endpoint_, HttpEndpoint::Start(LoopbackAnyPort(), &registry_, [this] {
                           HealthState state;
                           state.serving = serving_.load();
                           if (!state.serving) state.status = "loading";
                           state.details = {{"model_version", "3"}};
                           return state;
                         }));
    ASSERT_GT(endpoint_->port(), 0);
  }

  // A fresh client per call: the default client closes its connection after each request.
  httplib::Result Get(const std::string& path) {
    httplib::Client client(kLoopback, endpoint_->port());
    client.set_connection_timeout(10);
    client.set_read_timeout(10);
    return client.Get(path.c_str());
  }

  MetricsRegistry registry_;
  Counter* requests_ = nullptr;
  std::atomic<bool> serving_{true};
  std::unique_ptr<HttpEndpoint> endpoint_;
};

TEST_F(HttpEndpointTest, MetricsServesTheRegistry) {
  requests_->Increment(41);
  requests_->Increment();
  httplib::Result res = Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res->body, registry_.Render());
  EXPECT_NE(res->body.find("test_requests_total{method=\"Search\"} 42\n"), std::string::npos)
      << res->body;
  // Each scrape renders anew.
  requests_->Increment();
  res = Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("test_requests_total{method=\"Search\"} 43\n"), std::string::npos);
}

TEST_F(HttpEndpointTest, HealthzFollowsTheHealthFunction) {
  httplib::Result res = Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  nlohmann::json body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["model_version"], "3");

  serving_ = false;
  res = Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["status"], "loading");
  EXPECT_EQ(body["model_version"], "3");

  serving_ = true;
  res = Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpEndpointTest, UnknownPathsAndMethodsAre404) {
  for (const char* path : {"/", "/metric", "/metrics/x", "/healthz2", "/nope"}) {
    httplib::Result res = Get(path);
    ASSERT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 404) << path;
  }
  httplib::Client client(kLoopback, endpoint_->port());
  httplib::Result res = client.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(HttpEndpointTest, ConcurrentScrapes) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        requests_->Increment();
        httplib::Result res = Get(i % 2 == 0 ? "/metrics" : "/healthz");
        if (res && res->status == 200) ++ok;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(requests_->Value(), 40);
}

TEST_F(HttpEndpointTest, StopRefusesConnectionsAndIsIdempotent) {
  ASSERT_TRUE(Get("/healthz"));
  endpoint_->Stop();
  httplib::Result res = Get("/healthz");
  EXPECT_FALSE(res);
  EXPECT_EQ(res.error(), httplib::Error::Connection);
  endpoint_->Stop();
  endpoint_.reset();  // the destructor stops again
}

TEST(HttpEndpointStandaloneTest, StopRightAfterStart) {
  // Stop must not be lost when it comes before the listener thread has started accepting.
  MetricsRegistry registry;
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(auto endpoint, HttpEndpoint::Start(LoopbackAnyPort(), &registry, [] {
                           return HealthState{true, "", {}};
                         }));
    endpoint->Stop();
  }
}

TEST(HttpEndpointStandaloneTest, ThrowingHealthFunctionAnswers503) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(auto endpoint,
                       HttpEndpoint::Start(LoopbackAnyPort(), &registry, []() -> HealthState {
                         throw std::runtime_error("store closed");
                       }));
  httplib::Client client(kLoopback, endpoint->port());
  httplib::Result res = client.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(nlohmann::json::parse(res->body)["status"], "health check failed: store closed");
}

TEST(HttpEndpointStandaloneTest, BindFailureNamesTheAddress) {
  MetricsRegistry registry;
  auto healthy = [] { return HealthState{true, "", {}}; };
  ASSERT_OK_AND_ASSIGN(auto first, HttpEndpoint::Start(LoopbackAnyPort(), &registry, healthy));
  HttpEndpointOptions taken = LoopbackAnyPort();
  taken.port = first->port();
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> second =
      HttpEndpoint::Start(taken, &registry, healthy);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(absl::StrCat("127.0.0.1:", first->port())),
            std::string::npos)
      << second.status();
  // The first endpoint is unaffected.
  httplib::Client client(kLoopback, first->port());
  httplib::Result res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpEndpointStandaloneTest, InvalidArgumentsAreRejected) {
  MetricsRegistry registry;
  auto healthy = [] { return HealthState{true, "", {}}; };
  HttpEndpointOptions options = LoopbackAnyPort();
  EXPECT_EQ(HttpEndpoint::Start(options, nullptr, healthy).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpEndpoint::Start(options, &registry, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (int port : {-1, 65536}) {
    options = LoopbackAnyPort();
    options.port = port;
    EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument) << port;
    EXPECT_EQ(HttpEndpoint::Start(options, &registry, healthy).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  options = LoopbackAnyPort();
  options.threads = 0;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = LoopbackAnyPort();
  options.io_timeout = absl::Milliseconds(10);
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = LoopbackAnyPort();
  options.host = "";
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_OK(HttpEndpointOptions().Validate());
}

TEST(HttpEndpointStandaloneTest, NonLocalAddressIsUnavailable) {
  MetricsRegistry registry;
  HttpEndpointOptions options = LoopbackAnyPort();
  options.host = "192.0.2.1";  // TEST-NET-1 (RFC 5737): not an address of this machine
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
      HttpEndpoint::Start(options, &registry, [] {
        return HealthState{true, "", {}};
      });
  ASSERT_FALSE(endpoint.ok());
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(endpoint.status().message().find("192.0.2.1:0"), std::string::npos);
}

}  // namespace
}  // namespace matalign::server
