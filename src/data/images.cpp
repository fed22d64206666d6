#include "regrad/data/images.h"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "regrad/ops/shape_ops.h"
#include "regrad/tensor/factory.h"
#include "regrad/tensor/file_io.h"

namespace rg::data {

namespace fs = std::filesystem;

ImageDataset parse_cifar_batch(const std::string& bytes, const std::string& name) {
  constexpr std::size_t kRecord = 1 + 3 * 32 * 32;
  if (bytes.empty()) throw std::runtime_error(name + ": not a CIFAR-10 batch: file is empty");
  if (bytes.size() % kRecord != 0)
    throw std::runtime_error(name + ": not a CIFAR-10 batch: " + std::to_string(bytes.size()) +
                             " bytes is not a whole number of 3073-byte records (truncated?)");
  const int64_t n = static_cast<int64_t>(bytes.size() / kRecord);
  ImageDataset ds{Tensor::empty({n, 3, 32, 32}), Tensor::empty({n}, DType::Int64)};
  float* px = ds.images.data<float>();
  int64_t* py = ds.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const auto* rec = reinterpret_cast<const unsigned char*>(bytes.data()) + i * kRecord;
    if (rec[0] > 9)
      throw std::runtime_error(name + ": not a CIFAR-10 batch: record " + std::to_string(i) + " has label " +
                               std::to_string(rec[0]) + " (expected 0-9)");
    py[i] = rec[0];
    for (std::size_t k = 0; k < kRecord - 1; ++k) px[i * (kRecord - 1) + k] = static_cast<float>(rec[1 + k]) / 255.0f;
  }
  return ds;
}

ImageDataset load_cifar10(const std::string& dir, bool train) {
  std::vector<std::string> files;
  if (train)
    for (int k = 1; k <= 5; ++k) files.push_back(dir + "/data_batch_" + std::to_string(k) + ".bin");
  else files.push_back(dir + "/test_batch.bin");
  std::vector<Tensor> xs, ys;
  for (const std::string& f : files) {
    const ImageDataset part = parse_cifar_batch(read_file(f), f);
    xs.push_back(part.images);
    ys.push_back(part.labels);
  }
  return {cat(xs, 0), cat(ys, 0)};
}

// Every chunk of a PNG must fit in the file. stb_image reserves a chunk's declared length before it
// reads the chunk, so one corrupt length made it ask for 2 GB (found by make fuzz).
static void check_png_chunks(const std::string& bytes, const std::string& name) {
  std::size_t at = 8;  // past the signature
  while (at + 8 <= bytes.size()) {
    const auto byte = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
    const uint32_t length = byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
    const std::string type = bytes.substr(at + 4, 4);
    const std::size_t left = bytes.size() - at - 8;
    if (length > left)
      throw std::runtime_error(name + ": PNG chunk '" + type + "' at byte " + std::to_string(at) + " declares " +
                               std::to_string(length) + " bytes, but only " + std::to_string(left) + " follow");
    if (type == "IEND") return;
    at += 12 + static_cast<std::size_t>(length);
  }
}

// At most 2^26 pixels (8192 × 8192): stb_image allocates the whole image, and its PNG decoder the
// whole raw stream, from the header's sizes before it has read the pixels.
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

Tensor decode_image(const std::string& bytes, const std::string& name, int64_t size, int64_t channels) {
  if (channels != 1 && channels != 3) throw std::invalid_argument("decode_image: channels must be 1 or 3");
  // Only PNG, JPEG and BMP reach stb_image: its other parsers (PNM, PSD, …) assert — abort the
  // process — on some malformed headers (found by make fuzz: the 3 bytes "P5P").
  const bool png = bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0, jpeg = bytes.rfind("\xff\xd8\xff", 0) == 0,
             bmp = bytes.rfind("BM", 0) == 0;
  if (!png && !jpeg && !bmp) throw std::runtime_error(name + ": not a PNG, JPEG or BMP image");
  if (png) check_png_chunks(bytes, name);
  int w = 0, h = 0, c = 0;
  if (stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                            &c) &&
      static_cast<int64_t>(w) * h > kMaxImagePixels)
    throw std::runtime_error(name + ": image of " + std::to_string(w) + "x" + std::to_string(h) +
                             " pixels, more than the 2^26 this reader accepts");
  unsigned char* pixels = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                                                static_cast<int>(bytes.size()), &w, &h, &c, static_cast<int>(channels));
  if (!pixels) {
    // stb_image leaves the reason unset on some corrupt streams (make fuzz: a PNG with shuffled
    // IDAT bytes), and a null reason must not reach std::string.
    const char* why = stbi_failure_reason();
    throw std::runtime_error(name + ": cannot decode image (" + (why ? why : "corrupt data") + ")");
  }
  std::vector<unsigned char> resized(static_cast<std::size_t>(size * size * channels));
  const int ok = stbir_resize_uint8(pixels, w, h, 0, resized.data(), static_cast<int>(size), static_cast<int>(size), 0,
                                    static_cast<int>(channels));
  stbi_image_free(pixels);
  if (!ok) throw std::runtime_error(name + ": cannot resize image");
  Tensor out = Tensor::empty({channels, size, size});
  float* p = out.data<float>();
  for (int64_t y = 0; y < size; ++y)  // interleaved HWC → planar CHW
    for (int64_t x = 0; x < size; ++x)
      for (int64_t k = 0; k < channels; ++k)
        p[(k * size + y) * size + x] = static_cast<float>(resized[(y * size + x) * channels + k]) / 255.0f;
  return out;
}

ImageFolder load_image_folder(const std::string& root, int64_t size, int64_t channels) {
  if (!fs::is_directory(root)) throw std::runtime_error(root + ": not a directory");
  ImageFolder out;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory()) out.classes.push_back(e.path().filename().string());
  std::sort(out.classes.begin(), out.classes.end());
  if (out.classes.empty()) throw std::runtime_error(root + ": no class folders");
  std::vector<Tensor> images;
  std::vector<int64_t> labels;
  for (std::size_t label = 0; label < out.classes.size(); ++label) {
    const fs::path dir = fs::path(root) / out.classes[label];
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp"))
        files.push_back(e.path());
    }
    if (files.empty()) throw std::runtime_error(dir.string() + ": class folder holds no images");
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      images.push_back(
          decode_image(read_file(f.string()), f.string(), size, channels).reshape({1, channels, size, size}));
      labels.push_back(static_cast<int64_t>(label));
    }
  }
  out.data = {cat(images, 0), tensor_i64(labels)};
  return out;
}

void write_png_grid(const std::string& path, const Tensor& images, int64_t cols, int64_t scale) {
  if (images.dim() != 4 || images.dtype() != DType::Float32 || (images.size(1) != 1 && images.size(1) != 3))
    throw std::invalid_argument("write_png_grid: expected float32 images (N, 1 or 3, H, W), got " +
                                to_string(images.shape()));
  if (scale < 1) throw std::invalid_argument("write_png_grid: scale must be >= 1");
  const int64_t N = images.size(0), C = images.size(1), H = images.size(2) * scale, W = images.size(3) * scale, gap = 2;
  cols = std::max<int64_t>(1, std::min(cols, N));
  const int64_t rows = (N + cols - 1) / cols, GW = cols * (W + gap) + gap, GH = rows * (H + gap) + gap;
  std::vector<unsigned char> grid(static_cast<std::size_t>(GW * GH * C), 255);
  const float* p = images.data<float>();
  for (int64_t n = 0; n < N; ++n) {
    const int64_t oy = gap + (n / cols) * (H + gap), ox = gap + (n % cols) * (W + gap);
    for (int64_t k = 0; k < C; ++k)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t sy = y / scale, sx = x / scale, h = H / scale, w = W / scale;
          const float v = std::clamp(p[((n * C + k) * h + sy) * w + sx], 0.0f, 1.0f);
          grid[((oy + y) * GW + ox + x) * C + k] = static_cast<unsigned char>(v * 255.0f + 0.5f);
        }
  }
  std::string bytes;  // encoded in memory, then written crash-safely
  const int ok = stbi_write_png_to_func(
      [](void* ctx, void* data, int size) {
        static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size);
      },
      &bytes, static_cast<int>(GW), static_cast<int>(GH), static_cast<int>(C), grid.data(), static_cast<int>(GW * C));
  if (!ok) throw std::runtime_error(path + ": PNG encoding failed");
  write_file_atomic(path, bytes);
}

}  // namespace rg::data
