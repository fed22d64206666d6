#include "regrad/train/checkpoint.h"

#include <zlib.h>

#include <cstring>

#include "regrad/tensor/file_io.h"

namespace rg::train {

namespace {

constexpr char kMagic[8] = {'R', 'G', 'C', 'K', 'P', 'T', 0, 1};
constexpr uint32_t kVersion = 1;

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

struct Reader {
  const std::string& bytes;
  const std::string& name;
  std::size_t pos = 0;
  void need(std::size_t n) const {
    if (pos + n > bytes.size()) throw std::runtime_error(name + ": checkpoint is truncated");
  }
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
};

uint8_t dtype_code(DType dt) { return dt == DType::Float32 ? 0 : dt == DType::Float64 ? 1 : 2; }

}  // namespace

void save_checkpoint(const std::string& path, const NamedTensors& tensors) {
  std::string out(kMagic, sizeof kMagic);
  put<uint32_t>(out, kVersion);
  put<uint32_t>(out, static_cast<uint32_t>(tensors.size()));
  for (const auto& [name, t] : tensors) {
    put<uint32_t>(out, static_cast<uint32_t>(name.size()));
    out += name;
    put<uint8_t>(out, dtype_code(t.dtype()));
    put<uint8_t>(out, static_cast<uint8_t>(t.dim()));
    for (int64_t d : t.shape()) put<int64_t>(out, d);
    out.append(static_cast<const char*>(t.raw_data()), static_cast<std::size_t>(t.numel()) * element_size(t.dtype()));
  }
  put<uint32_t>(
      out, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size()))));

  write_file_atomic(path, out);
}

NamedTensors parse_checkpoint(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) throw std::runtime_error(name + ": checkpoint is empty");
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw std::runtime_error(name + ": not a regrad checkpoint (bad magic)");
  if (bytes.size() < sizeof kMagic + 12) throw std::runtime_error(name + ": checkpoint is truncated");
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  const uint32_t actual = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size() - 4)));
  Reader r{bytes, name, sizeof kMagic};
  const uint32_t version = r.get<uint32_t>();
  if (version != kVersion)
    throw std::runtime_error(name + ": unsupported checkpoint version " + std::to_string(version));
  if (stored != actual) throw std::runtime_error(name + ": checksum mismatch (the file is corrupt or truncated)");
  const uint32_t count = r.get<uint32_t>();
  NamedTensors out;
  for (uint32_t k = 0; k < count; ++k) {
    const uint32_t len = r.get<uint32_t>();
    r.need(len);
    std::string tname = bytes.substr(r.pos, len);
    r.pos += len;
    const uint8_t code = r.get<uint8_t>(), ndim = r.get<uint8_t>();
    if (code > 2)
      throw std::runtime_error(name + ": tensor '" + tname + "' has unknown dtype code " + std::to_string(code));
    Shape shape;
    for (uint8_t d = 0; d < ndim; ++d) {
      shape.push_back(r.get<int64_t>());
      if (shape.back() < 0) throw std::runtime_error(name + ": tensor '" + tname + "' has a negative size");
    }
    const DType dt = code == 0 ? DType::Float32 : code == 1 ? DType::Float64 : DType::Int64;
    const std::optional<std::size_t> size = byte_size(shape, element_size(dt));
    if (!size)
      throw std::runtime_error(name + ": tensor '" + tname + "' has shape " + to_string(shape) + ", too large");
    const std::size_t nbytes = *size;
    r.need(nbytes);
    Tensor t = Tensor::empty(shape, dt);
    std::memcpy(t.raw_data(), bytes.data() + r.pos, nbytes);
    r.pos += nbytes;
    out.emplace_back(std::move(tname), t);
  }
  if (r.pos != bytes.size() - 4) throw std::runtime_error(name + ": trailing bytes after the last tensor");
  return out;
}

NamedTensors load_checkpoint(const std::string& path) { return parse_checkpoint(read_file(path), path); }

}  // namespace rg::train
