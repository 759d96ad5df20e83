#include "common/input_file.h"

#include <lzma.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace matalign {
namespace {

constexpr std::size_t kChunkBytes = 1 << 16;
constexpr unsigned char kXzMagic[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
// xz -9 needs 65 MiB to decompress; anything asking for more is refused.
constexpr std::uint64_t kXzMemoryLimit = 512ull << 20;

const char* LzmaErrorText(lzma_ret ret) {
  switch (ret) {
    case LZMA_MEM_ERROR:
      return "out of memory";
    case LZMA_MEMLIMIT_ERROR:
      return "xz stream needs more than 512 MiB of memory to decompress";
    case LZMA_FORMAT_ERROR:
      return "not in the xz format";
    case LZMA_OPTIONS_ERROR:
      return "unsupported xz options";
    case LZMA_DATA_ERROR:
      return "compressed data is corrupt";
    case LZMA_BUF_ERROR:
      return "compressed data is truncated";
    case LZMA_UNSUPPORTED_CHECK:
      return "unsupported xz integrity check";
    default:
      return "xz decoder error";
  }
}

}  // namespace

struct InputFileBuffer::State {
  std::string path;
  std::FILE* file = nullptr;
  bool xz = false;
  bool decoder_ready = false;
  lzma_stream stream = LZMA_STREAM_INIT;
  bool input_eof = false;
  bool finished = false;
  std::uint64_t max_bytes = 0;
  std::uint64_t delivered = 0;
  std::vector<char> in;           // compressed input (xz) or the first plain chunk
  std::size_t plain_pending = 0;  // plain mode: bytes of `in` not yet handed out
  std::vector<char> out;          // bytes handed out through the get area

  ~State() {
    if (decoder_ready) lzma_end(&stream);
    if (file != nullptr) std::fclose(file);
  }
};

InputFileBuffer::InputFileBuffer(std::unique_ptr<State> state) : state_(std::move(state)) {}
InputFileBuffer::~InputFileBuffer() = default;

bool InputFileBuffer::compressed() const { return state_->xz; }

absl::StatusOr<std::unique_ptr<InputFileBuffer>> InputFileBuffer::Open(const std::string& path,
                                                                       std::uint64_t max_bytes) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (std::filesystem::is_directory(st)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a file"));
  }
  auto state = std::make_unique<State>();
  state->path = path;
  state->max_bytes = max_bytes;
  state->file = std::fopen(path.c_str(), "rb");
  if (state->file == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  state->in.resize(kChunkBytes);
  state->out.resize(kChunkBytes);
  const std::size_t n = std::fread(state->in.data(), 1, state->in.size(), state->file);
  if (n < state->in.size()) {
    if (std::ferror(state->file)) {
      return absl::DataLossError(absl::StrCat(path, ": read failed: ", std::strerror(errno)));
    }
    state->input_eof = true;
  }
  state->xz =
      n >= sizeof(kXzMagic) && std::memcmp(state->in.data(), kXzMagic, sizeof(kXzMagic)) == 0;
  if (state->xz) {
    const lzma_ret ret = lzma_stream_decoder(&state->stream, kXzMemoryLimit, LZMA_CONCATENATED);
    if (ret != LZMA_OK) {
      return absl::InternalError(
          absl::StrCat(path, ": cannot start the xz decoder: ", LzmaErrorText(ret)));
    }
    state->decoder_ready = true;
    state->stream.next_in = reinterpret_cast<const uint8_t*>(state->in.data());
    state->stream.avail_in = n;
  } else {
    state->plain_pending = n;
  }
  return std::unique_ptr<InputFileBuffer>(new InputFileBuffer(std::move(state)));
}

void InputFileBuffer::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
  state_->finished = true;
  setg(nullptr, nullptr, nullptr);
}

InputFileBuffer::int_type InputFileBuffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  State& s = *state_;
  if (s.finished) return traits_type::eof();
  char* data = nullptr;
  std::size_t produced = 0;
  if (!s.xz) {
    if (s.plain_pending > 0) {
      data = s.in.data();
      produced = s.plain_pending;
      s.plain_pending = 0;
    } else if (!s.input_eof) {
      produced = std::fread(s.out.data(), 1, s.out.size(), s.file);
      data = s.out.data();
      if (produced < s.out.size()) {
        if (std::ferror(s.file)) {
          Fail(absl::DataLossError(absl::StrCat(s.path, ": read failed: ", std::strerror(errno))));
          return traits_type::eof();
        }
        s.input_eof = true;
      }
    }
  } else {
    data = s.out.data();
    while (produced == 0) {
      if (s.stream.avail_in == 0 && !s.input_eof) {
        const std::size_t n = std::fread(s.in.data(), 1, s.in.size(), s.file);
        if (n < s.in.size()) {
          if (std::ferror(s.file)) {
            Fail(
                absl::DataLossError(absl::StrCat(s.path, ": read failed: ", std::strerror(errno))));
            return traits_type::eof();
          }
          s.input_eof = true;
        }
        s.stream.next_in = reinterpret_cast<const uint8_t*>(s.in.data());
        s.stream.avail_in = n;
      }
      s.stream.next_out = reinterpret_cast<uint8_t*>(s.out.data());
      s.stream.avail_out = s.out.size();
      const lzma_ret ret = lzma_code(&s.stream, s.input_eof ? LZMA_FINISH : LZMA_RUN);
      produced = s.out.size() - s.stream.avail_out;
      if (ret == LZMA_STREAM_END) {
        s.finished = true;
        break;
      }
      if (ret != LZMA_OK) {
        Fail(absl::InvalidArgumentError(absl::StrCat(s.path, ": xz decompression failed after ",
                                                     s.delivered + produced,
                                                     " bytes: ", LzmaErrorText(ret))));
        return traits_type::eof();
      }
    }
  }
  if (produced == 0) {
    s.finished = true;
    return traits_type::eof();
  }
  s.delivered += produced;
  if (s.delivered > s.max_bytes) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat(s.path, ": more than ", s.max_bytes, " bytes after decompression")));
    return traits_type::eof();
  }
  setg(data, data, data + produced);
  return traits_type::to_int_type(*gptr());
}

bool InputFileBuffer::ReadLine(std::string* line, std::size_t max_line_bytes,
                               std::size_t line_number) {
  line->clear();
  bool any = false;
  while (true) {
    const int_type c = sbumpc();
    if (traits_type::eq_int_type(c, traits_type::eof())) break;
    any = true;
    const char ch = traits_type::to_char_type(c);
    if (ch == '\n') break;
    if (line->size() >= max_line_bytes) {
      Fail(absl::InvalidArgumentError(absl::StrCat(
          state_->path, ":", line_number, ": line is longer than ", max_line_bytes, " bytes")));
      return false;
    }
    line->push_back(ch);
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return any && status_.ok();
}

}  // namespace matalign
