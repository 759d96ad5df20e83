// A std::streambuf that reads a file, transparently
// decompressing it when it is xz-compressed (detected by the xz magic bytes, not by the
// file name). liblzma stays in input_file.cc.
#ifndef MATALIGN_COMMON_INPUT_FILE_H_
#define MATALIGN_COMMON_INPUT_FILE_H_

#include <cstdint>
#include <memory>
#include <streambuf>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace matalign {

// Reads a plain or .xz file sequentially. A read or decompression error ends the stream
// (underflow returns EOF) and is kept in status(); callers check status() after EOF.
// Not thread-safe.
class InputFileBuffer : public std::streambuf {
 public:
  // Opens `path`. Errors: NotFound if missing, InvalidArgument if a directory.
  // `max_bytes` caps the (decompressed) bytes delivered; beyond it the stream ends with
  // InvalidArgument "<path>: more than <max_bytes> bytes after decompression".
  static absl::StatusOr<std::unique_ptr<InputFileBuffer>> Open(const std::string& path,
                                                               std::uint64_t max_bytes);
  ~InputFileBuffer() override;
  InputFileBuffer(const InputFileBuffer&) = delete;
  InputFileBuffer& operator=(const InputFileBuffer&) = delete;

  // OK, or the first error, naming the file.
  const absl::Status& status() const { return status_; }
  // True if the file is xz-compressed.
  bool compressed() const;

  // Reads one line (without the "\n" and a trailing "\r") into *line. Returns false at the
  // end of the stream when nothing was read. A line longer than `max_line_bytes` sets
  // status() to InvalidArgument naming `line_number` and returns false.
  bool ReadLine(std::string* line, std::size_t max_line_bytes, std::size_t line_number);

 protected:
  int_type underflow() override;

 private:
  struct State;
  explicit InputFileBuffer(std::unique_ptr<State> state);
  void Fail(absl::Status status);

  std::unique_ptr<State> state_;
  absl::Status status_;
};

}  // namespace matalign

#endif  // MATALIGN_COMMON_INPUT_FILE_H_
