#include "gtest/gtest.h"
#include "proto/matalign.grpc.pb.h"
#include "proto/matalign.pb.h"

namespace matalign {
namespace {

TEST(ProtoTest, RecordRoundTripsThroughTheWireFormat) {
  v1::Record record;
  record.set_id("mp-19770");
  record.mutable_structure()->set_format("cif");
  record.set_synthesis_text("Fe2O3 was calcined at 800 \u00b0C for 12 h.");
  (*record.mutable_properties())["band_gap"] = 2.1;
  std::string wire;
  ASSERT_TRUE(record.SerializeToString(&wire));
  v1::Record back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.id(), "mp-19770");
  EXPECT_EQ(back.properties().at("band_gap"), 2.1);
  EXPECT_EQ(back.synthesis_text(), record.synthesis_text());
}

TEST(ProtoTest, ServiceDeclaresEveryRpc) {
  const auto* service = v1::Record::descriptor()->file()->FindServiceByName("MatAlign");
  ASSERT_NE(service, nullptr);
  for (const char* rpc : {"Health", "Embed", "Ingest", "Search", "Recommend", "Predict"}) {
    EXPECT_NE(service->FindMethodByName(rpc), nullptr) << rpc;
  }
}

}  // namespace
}  // namespace matalign
