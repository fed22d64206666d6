// .npy: magic "\x93NUMPY", version (major, minor), header length (2 bytes in v1, 4 in v2/v3),
// a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, padded with
// spaces to a multiple of 64 bytes and ended by '\n', then the raw little-endian data.
#include "regrad/tensor/npy.h"

#include "regrad/tensor/file_io.h"

#include <cstring>
#include <sstream>
#include <stdexcept>

namespace rg {

static std::runtime_error npy_error(const std::string& name, const std::string& what) {
  return std::runtime_error(name + ": not a valid .npy file: " + what);
}

// Finds 'key': in the header dict and returns the text of its value (up to the next top-level ,).
static std::string dict_value(const std::string& header, const std::string& key, const std::string& name) {
  const std::string pattern = "'" + key + "'";
  std::size_t p = header.find(pattern);
  if (p == std::string::npos) throw npy_error(name, "header lacks '" + key + "'");
  p = header.find(':', p + pattern.size());
  if (p == std::string::npos) throw npy_error(name, "header has no value for '" + key + "'");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  std::size_t e = p;
  if (p < header.size() && header[p] == '(') {
    e = header.find(')', p);
    if (e == std::string::npos) throw npy_error(name, "unterminated shape tuple");
    return header.substr(p, e - p + 1);
  }
  while (e < header.size() && header[e] != ',' && header[e] != '}') ++e;
  return header.substr(p, e - p);
}

static Shape parse_shape(const std::string& tuple, const std::string& name) {
  Shape shape;
  std::string inner = tuple.substr(1, tuple.size() - 2);
  std::stringstream ss(inner);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(' ');
    if (b == std::string::npos) continue;  // trailing comma of a 1-tuple
    const auto e = item.find_last_not_of(' ');
    const std::string num = item.substr(b, e - b + 1);
    char* end = nullptr;
    const long long v = std::strtoll(num.c_str(), &end, 10);
    if (end == num.c_str() || *end != '\0' || v < 0) throw npy_error(name, "bad shape entry '" + num + "'");
    shape.push_back(v);
  }
  return shape;
}

Tensor parse_npy(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) throw npy_error(name, "file is empty");
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    throw npy_error(name, "bad magic (expected \\x93NUMPY)");
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len =
        static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw npy_error(name, "truncated header");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  } else {
    throw npy_error(name, "unsupported format version " + std::to_string(major));
  }
  if (bytes.size() < header_start + header_len) throw npy_error(name, "truncated header");
  const std::string header = bytes.substr(header_start, header_len);
  const std::string descr = dict_value(header, "descr", name);
  const std::string fortran = dict_value(header, "fortran_order", name);
  const std::string shape_text = dict_value(header, "shape", name);
  if (fortran.rfind("True", 0) == 0)
    throw npy_error(name, "Fortran-order arrays are not supported (save a C-order copy)");
  if (shape_text.empty() || shape_text.front() != '(') throw npy_error(name, "shape is not a tuple");
  const Shape shape = parse_shape(shape_text, name);

  struct Kind {
    const char* descr;
    DType dtype;
    std::size_t size;
  };
  static const Kind kinds[] = {{"'<f4'", DType::Float32, 4}, {"'<f8'", DType::Float64, 8}, {"'<i8'", DType::Int64, 8},
                               {"'<i4'", DType::Int64, 4},   {"'|u1'", DType::Int64, 1},   {"'|b1'", DType::Int64, 1}};
  const Kind* kind = nullptr;
  for (const Kind& k : kinds)
    if (descr == k.descr) kind = &k;
  if (!kind) throw npy_error(name, "unsupported dtype " + descr + " (expected <f4, <f8, <i8, <i4, |u1 or |b1)");

  const std::optional<std::size_t> size = byte_size(shape, kind->size);
  if (!size) throw npy_error(name, "shape " + to_string(shape) + " of " + descr + " is too large");
  const std::size_t data_start = header_start + header_len;
  const std::size_t expected = *size, have = bytes.size() - data_start, count = expected / kind->size;
  if (have != expected)
    throw npy_error(name, "data is " + std::to_string(have) + " bytes, shape " + to_string(shape) + " of " + descr +
                              " needs " + std::to_string(expected) +
                              (have < expected ? " (truncated)" : " (trailing bytes)"));
  Tensor t = Tensor::empty(shape, kind->dtype);
  const char* src = bytes.data() + data_start;
  if (kind->size == element_size(kind->dtype)) {
    std::memcpy(t.raw_data(), src, expected);
  } else {
    int64_t* dst = t.data<int64_t>();
    for (std::size_t i = 0; i < count; ++i) {
      if (kind->size == 4) {
        int32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        dst[i] = v;
      } else {
        dst[i] = static_cast<unsigned char>(src[i]);
      }
    }
  }
  return t;
}

Tensor load_npy(const std::string& path) { return parse_npy(read_file(path), path); }

void save_npy(const std::string& path, const Tensor& t) {
  const char* descr = t.dtype() == DType::Float32 ? "<f4" : t.dtype() == DType::Float64 ? "<f8" : "<i8";
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.dim() > 1) shape.resize(shape.size() - 2);
  if (t.dim() == 1) shape.resize(shape.size() - 1);  // "(3,)"
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const unsigned char preamble[10] = {0x93,
                                      'N',
                                      'U',
                                      'M',
                                      'P',
                                      'Y',
                                      1,
                                      0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  std::string bytes(reinterpret_cast<const char*>(preamble), 10);
  bytes += header;
  bytes.append(static_cast<const char*>(t.raw_data()), static_cast<std::size_t>(t.numel()) * element_size(t.dtype()));
  write_file_atomic(path, bytes);
}

}  // namespace rg
