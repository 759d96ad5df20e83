// The v1 API compiles, round-trips through the wire format and declares every RPC the
// service promises (docs: comments in proto/matalign/v1/matalign.proto).
#include "gtest/gtest.h"
#include "proto/matalign/v1/matalign.grpc.pb.h"
#include "proto/matalign/v1/matalign.pb.h"

namespace matalign {
namespace {

TEST(ProtoTest, RecordRoundTripsThroughTheWireFormat) {
  v1::Record record;
  record.set_id("mp-19770");
  record.mutable_structure()->set_format("cif");
  record.mutable_synthesis()->set_text("Fe2O3 was calcined at 800 \u00b0C for 12 h.");
  record.mutable_synthesis()->add_precursors("Fe(NO3)3");
  (*record.mutable_properties())["band_gap_ev"] = 2.1;
  std::string wire;
  ASSERT_TRUE(record.SerializeToString(&wire));
  v1::Record back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.id(), "mp-19770");
  EXPECT_EQ(back.properties().at("band_gap_ev"), 2.1);
  EXPECT_EQ(back.synthesis().text(), record.synthesis().text());
  EXPECT_EQ(back.synthesis().precursors(0), "Fe(NO3)3");
}

TEST(ProtoTest, ServiceDeclaresEveryRpc) {
  const auto* service = v1::Record::descriptor()->file()->FindServiceByName("MatAlign");
  ASSERT_NE(service, nullptr);
  for (const char* rpc :
       {"EmbedStructure", "EmbedText", "EmbedImage", "Ingest", "Get", "Delete", "Recommend",
        "Search", "PredictProperties", "ClassifyDefect", "ModelInfo", "ReloadModel"}) {
    EXPECT_NE(service->FindMethodByName(rpc), nullptr) << rpc;
  }
  const auto* ingest = service->FindMethodByName("Ingest");
  EXPECT_TRUE(ingest->client_streaming());
}

}  // namespace
}  // namespace matalign
