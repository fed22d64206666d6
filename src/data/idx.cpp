#include "regrad/data/idx.h"

#include <zlib.h>

#include <filesystem>
#include <optional>
#include <stdexcept>

#include "regrad/tensor/factory.h"

namespace rg::data {

const char* const kFashionMnistClasses[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static std::runtime_error idx_error(const std::string& name, const std::string& what) {
  return std::runtime_error(name + ": not a valid IDX file: " + what);
}

IdxArray parse_idx(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) throw idx_error(name, "file is empty");
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0)
    throw idx_error(name, "bad magic (expected two zero bytes, a type byte and a dimension count)");
  if (static_cast<unsigned char>(bytes[2]) != 0x08)
    throw idx_error(name, "unsupported element type 0x" + std::to_string(static_cast<unsigned char>(bytes[2])) +
                              " (only unsigned bytes, 0x08)");
  const int ndim = static_cast<unsigned char>(bytes[3]);
  if (ndim == 0 || ndim > 4) throw idx_error(name, "bad dimension count " + std::to_string(ndim));
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndim);
  if (bytes.size() < header) throw idx_error(name, "truncated header");
  IdxArray a;
  for (int d = 0; d < ndim; ++d) {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(bytes[4 + 4 * d + k]);
    a.dims.push_back(v);
  }
  const std::optional<std::size_t> size = byte_size(Shape(a.dims), 1);
  if (!size) throw idx_error(name, "dims " + to_string(Shape(a.dims)) + " are too large");
  const std::size_t count = *size;
  const std::size_t have = bytes.size() - header;
  if (have != count)
    throw idx_error(name, "dims " + to_string(Shape(a.dims)) + " need " + std::to_string(count) +
                              " bytes of data, found " + std::to_string(have) +
                              (have < count ? " (truncated)" : " (trailing bytes)"));
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return a;
}

std::string read_gz_or_plain(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open for reading");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string what = err < 0 ? msg : "";
  gzclose(f);
  if (n < 0 || err < 0) throw std::runtime_error(path + ": corrupt gzip data (" + what + ")");
  return out;
}

IdxArray read_idx(const std::string& path) { return parse_idx(read_gz_or_plain(path), path); }

// An images file (N, H, W) and its labels file (N), each label a class 0-9.
static ImageDataset load_labelled_images(const std::string& ipath, const std::string& lpath) {
  const IdxArray images = read_idx(ipath), labels = read_idx(lpath);
  if (images.dims.size() != 3)
    throw idx_error(ipath, "expected 3 dims (N, H, W), got " + to_string(Shape(images.dims)));
  if (labels.dims.size() != 1) throw idx_error(lpath, "expected 1 dim (N), got " + to_string(Shape(labels.dims)));
  if (images.dims[0] != labels.dims[0])
    throw std::runtime_error(ipath + " holds " + std::to_string(images.dims[0]) + " images but " + lpath + " holds " +
                             std::to_string(labels.dims[0]) + " labels");
  const int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  ImageDataset ds{Tensor::empty({n, 1, h, w}), Tensor::empty({n}, DType::Int64)};
  float* px = ds.images.data<float>();
  for (std::size_t i = 0; i < images.data.size(); ++i) px[i] = static_cast<float>(images.data[i]) / 255.0f;
  int64_t* py = ds.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (labels.data[i] > 9)
      throw idx_error(lpath, "label " + std::to_string(labels.data[i]) + " at " + std::to_string(i) + " is not in 0-9");
    py[i] = labels.data[i];
  }
  return ds;
}

ImageDataset load_fashion_mnist(const std::string& dir, bool train) {
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  return load_labelled_images(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz");
}

ImageDataset load_mnist_digits(const std::string& dir, bool train) {
  const std::string prefix = dir + "/" + (train ? "train" : "test");
  const std::string ipath = prefix + "-images-idx3-ubyte.gz";
  // kMnistDir is relative: say where it is looked for, not only that it is missing.
  if (!std::filesystem::exists(ipath))
    throw std::runtime_error(ipath +
                             ": no such file (the digits are in the repository's data/mnist; run from the "
                             "repository root or pass its path)");
  return load_labelled_images(ipath, prefix + "-labels-idx1-ubyte.gz");
}

}  // namespace rg::data
