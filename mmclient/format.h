// How mmclient prints responses: tables and summaries for people, JSON for scripts.
// Pure functions of the response, so the output is testable without a server.
#ifndef MATALIGN_MMCLIENT_FORMAT_H_
#define MATALIGN_MMCLIENT_FORMAT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "proto/matalign/v1/matalign.pb.h"

namespace matalign::mmclient {

// `text` cut to at most `max_chars` code points, ending in "..." when cut; line breaks
// and tabs become spaces. Invalid UTF-8 bytes count as one character each.
std::string Truncate(absl::string_view text, size_t max_chars);

// The number of UTF-8 code points in `text` (its width in a terminal, near enough).
size_t DisplayWidth(absl::string_view text);

struct HitsTableOptions {
  // Characters of the synthesis text printed under each hit; 0 = none. Default: 100.
  size_t max_text = 100;
  // Widest cell of the id, route, precursors and source columns. Default: 28.
  size_t max_cell = 28;
  // Properties shown per hit (in name order). Default: 3.
  int max_properties = 3;
};

// A table of search or recommendation hits, best first: a header line, then per hit
// rank, score (3 decimals), id, route, precursors, the first properties, source (the DOI
// when known), and the truncated synthesis text on an indented line of its own.
// Ends with a newline. No hits: "no hits\n".
std::string FormatHitsTable(const google::protobuf::RepeatedPtrField<v1::Hit>& hits,
                            const HitsTableOptions& options = {});

// "model <version>, dim <n>" and the first `max_values` values of the vector (all of
// them if max_values is 0).
std::string FormatEmbedding(const v1::EmbedResponse& response, size_t max_values = 8);

// ModelInfo as aligned "name  value" lines.
std::string FormatModelInfo(const v1::ModelInfoResponse& info);

// Predicted properties, one "name  value" line each in name order, after the model line.
std::string FormatPrediction(const v1::PredictPropertiesResponse& response);

// The predicted class and every class probability, most probable first.
std::string FormatClassification(const v1::ClassifyDefectResponse& response);

// A stored record: id, key, embedded modalities, class, source, composition, properties,
// labels, synthesis, structure and images (sizes; the structure's text too when present,
// i.e. fetched with include_raw).
std::string FormatRecord(const v1::GetResponse& response);

// `message` as JSON (proto3 JSON mapping; field names as in the .proto, every field
// printed, indented) followed by a newline.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace matalign::mmclient

#endif  // MATALIGN_MMCLIENT_FORMAT_H_
