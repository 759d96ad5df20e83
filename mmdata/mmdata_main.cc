// mmdata: readers and corpus tools for MatAlign. Turns flags into options and calls the
// mmdata library; all logic lives there.
#include <cstdio>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "mmdata/inspect.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "mmdata: error: %s\n", std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ||
                 status.code() == absl::StatusCode::kNotFound
             ? 1
             : 3;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace matalign;
  CLI::App app{"mmdata: MatAlign data tools (structure, text, image and XRD readers)"};
  app.require_subcommand(1);

  // inspect
  mmdata::InspectOptions inspect;
  std::string inspect_path, format = "auto", species;
  bool json = false;
  CLI::App* cmd_inspect = app.add_subcommand(
      "inspect", "Summarize a structure file (CIF, POSCAR/CONTCAR, XYZ, perov5 CSV)");
  cmd_inspect->add_option("file", inspect_path, "Structure file")->required();
  cmd_inspect->add_flag("--json", json, "Print one JSON object per structure");
  cmd_inspect->add_option("--format", format, "cif | poscar | xyz | auto")->capture_default_str();
  cmd_inspect->add_option("--block", inspect.read.cif_block, "CIF data block (default: first)");
  cmd_inspect->add_option("--species", species, "POSCAR species for VASP 4 files, e.g. Fe,O");
  cmd_inspect->add_option("--row", inspect.row, "perov5 CSV: 1-based row (default: all)");
  cmd_inspect->add_option("--cutoff", inspect.graph.cutoff, "Neighbour cutoff, Angstrom")
      ->capture_default_str();
  cmd_inspect->add_option("--max-neighbors", inspect.graph.max_neighbors,
                          "Neighbours kept per atom")
      ->capture_default_str();
  cmd_inspect->add_option("--max-atoms", inspect.read.limits.max_atoms, "Atom limit")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (cmd_inspect->parsed()) {
    auto fmt = materials::ParseFormatName(format);
    if (!fmt.ok()) return Fail(fmt.status());
    inspect.read.format = *fmt;
    if (!species.empty()) inspect.read.poscar_species = absl::StrSplit(species, ',');
    auto summaries = mmdata::InspectFile(inspect_path, inspect);
    if (!summaries.ok()) return Fail(summaries.status());
    for (const auto& s : *summaries) {
      if (json) {
        std::cout << s.dump() << "\n";
      } else {
        std::cout << mmdata::FormatInspection(s) << (summaries->size() > 1 ? "\n" : "");
      }
    }
    return 0;
  }
  return 0;
}
