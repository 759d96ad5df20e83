// Building the API's inputs from files: a manifest record (corpus::Record, paths relative
// to the manifest's directory) becomes a v1::Record with the structure text and image
// bytes loaded; single structure and image files become StructureInput / ImageInput.
#ifndef MATALIGN_CLIENT_RECORDS_H_
#define MATALIGN_CLIENT_RECORDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "corpus/record.h"
#include "proto/matalign/v1/matalign.pb.h"

namespace matalign::client {

// Reads the structure file at `path` into a StructureInput: content = the file's text,
// format = `format` (empty: the server detects it from the name, then the content, with
// materials::DetectFormat), name = the file's base name. Errors: those of ReadFile (NotFound "<path>: no such file", ...).
absl::StatusOr<v1::StructureInput> ReadStructureInput(const std::string& path,
                                                      absl::string_view format = "");

// Reads the image file at `path` into an ImageInput of `kind` ("sem" | "xrd"; anything
// else is InvalidArgument), name = the file's base name. Errors: those of ReadFile.
absl::StatusOr<v1::ImageInput> ReadImageInput(const std::string& path, absl::string_view kind);

// Converts `record`, read from a manifest in directory `manifest_dir` ("" = the current
// directory), into the API's Record: id, class, source, composition, properties, labels
// and the synthesis are copied (the split is not part of the API); a structure path is
// read into StructureInput.content (inline text is used as it is) and every image path
// into ImageInput.data. Errors keep the code of the failed read and name the record and
// the file: "record 'syn-1': image 2 (sem): data/img/a.png: no such file".
absl::StatusOr<v1::Record> ToProtoRecord(const corpus::Record& record,
                                         const std::string& manifest_dir);

}  // namespace matalign::client

#endif  // MATALIGN_CLIENT_RECORDS_H_
