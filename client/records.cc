#include "client/records.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace matalign::client {

namespace {

std::string JoinManifestPath(const std::string& manifest_dir, const std::string& path) {
  if (manifest_dir.empty()) return path;
  return (std::filesystem::path(manifest_dir) / path).string();
}

// Prefixes `status`'s message with `context`, keeping its code.
absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

}  // namespace

absl::StatusOr<v1::StructureInput> ReadStructureInput(const std::string& path,
                                                      absl::string_view format) {
  v1::StructureInput input;
  MATALIGN_ASSIGN_OR_RETURN(*input.mutable_content(), ReadFile(path));
  input.set_format(std::string(format));
  input.set_name(Basename(path));
  return input;
}

absl::StatusOr<v1::ImageInput> ReadImageInput(const std::string& path, absl::string_view kind) {
  if (kind != "sem" && kind != "xrd") {
    return absl::InvalidArgumentError(
        absl::StrCat("image kind '", kind, "' is not one of sem, xrd (", path, ")"));
  }
  v1::ImageInput input;
  MATALIGN_ASSIGN_OR_RETURN(*input.mutable_data(), ReadFile(path));
  input.set_kind(std::string(kind));
  input.set_name(Basename(path));
  return input;
}

absl::StatusOr<v1::Record> ToProtoRecord(const corpus::Record& record,
                                         const std::string& manifest_dir) {
  const std::string context = absl::StrCat("record '", record.id, "'");
  v1::Record out;
  out.set_id(record.id);
  out.set_material_class(std::string(corpus::MaterialClassName(record.material_class)));
  out.set_source(record.source);
  for (const auto& [element, amount] : record.composition) {
    (*out.mutable_composition())[element] = amount;
  }
  for (const auto& [name, value] : record.properties) (*out.mutable_properties())[name] = value;
  for (const auto& [name, value] : record.labels) (*out.mutable_labels())[name] = value;

  if (record.structure.has_value()) {
    const corpus::StructureRef& ref = *record.structure;
    v1::StructureInput* structure = out.mutable_structure();
    if (!ref.path.empty()) {
      const std::string path = JoinManifestPath(manifest_dir, ref.path);
      absl::StatusOr<std::string> text = ReadFile(path);
      if (!text.ok()) return WithContext(text.status(), absl::StrCat(context, ": structure"));
      structure->set_content(*std::move(text));
      structure->set_name(ref.path);
    } else {
      structure->set_content(ref.text);
    }
    structure->set_format(ref.format);
  }

  if (record.synthesis.has_value()) {
    const corpus::SynthesisRecipe& recipe = *record.synthesis;
    v1::Synthesis* synthesis = out.mutable_synthesis();
    synthesis->set_text(recipe.text);
    synthesis->set_route(recipe.route);
    for (const std::string& p : recipe.precursors) synthesis->add_precursors(p);
    for (double t : recipe.temperatures_c) synthesis->add_temperatures_c(t);
    for (double t : recipe.times_h) synthesis->add_times_h(t);
    synthesis->set_atmosphere(recipe.atmosphere);
    synthesis->set_doi(recipe.doi);
  }

  for (size_t i = 0; i < record.images.size(); ++i) {
    const corpus::ImageRef& ref = record.images[i];
    const std::string path = JoinManifestPath(manifest_dir, ref.path);
    v1::ImageInput* image = out.add_images();
    absl::StatusOr<std::string> data = ReadFile(path);
    if (!data.ok()) {
      return WithContext(data.status(),
                         absl::StrCat(context, ": image ", i + 1, " (", ref.kind, ")"));
    }
    image->set_data(*std::move(data));
    image->set_kind(ref.kind);
    image->set_name(ref.path);
  }
  return out;
}

}  // namespace matalign::client
