#include <stb_image.h>
#include <stb_image_write.h>

#include <filesystem>
#include <fstream>

#include "../test_util.h"

using namespace rg;
using rg::test::contains;
namespace fs = std::filesystem;

static std::string cifar_record(unsigned char label, unsigned char fill) {
  std::string r(1, static_cast<char>(label));
  r.append(3072, static_cast<char>(fill));
  return r;
}

TEST_CASE("CIFAR-10 batches: records, planes, and bad files named") {
  const data::ImageDataset d = data::parse_cifar_batch(cifar_record(3, 255) + cifar_record(9, 0), "batch.bin");
  CHECK(d.images.shape() == Shape{2, 3, 32, 32});
  rg::test::check_values(d.labels, {3, 9}, 0);
  CHECK(d.images.at({0, 2, 31, 31}) == 1.0);
  CHECK(d.images.at({1, 0, 0, 0}) == 0.0);
  auto err = [](const std::string& bytes) {
    try {
      data::parse_cifar_batch(bytes, "batch.bin");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(contains(err(""), "batch.bin: not a CIFAR-10 batch: file is empty"));
  CHECK(contains(err(cifar_record(1, 7).substr(0, 3000)), "truncated"));
  CHECK(contains(err(cifar_record(10, 7)), "label 10"));
  const std::string dir = rg::test::tmp_path("cifar");
  fs::create_directories(dir);
  std::ofstream(dir + "/test_batch.bin", std::ios::binary) << cifar_record(4, 128);
  CHECK(data::load_cifar10(dir, false).labels.at({0}) == 4);
  CHECK_THROWS_WITH_AS(data::load_cifar10(dir, true), doctest::Contains("data_batch_1.bin: cannot open"),
                       std::runtime_error);
  fs::remove_all(dir);
}

static void write_png(const std::string& path, int w, int h, unsigned char value) {
  std::vector<unsigned char> px(static_cast<std::size_t>(w * h * 3), value);
  REQUIRE(stbi_write_png(path.c_str(), w, h, 3, px.data(), w * 3));
}

TEST_CASE("image folders: classes sorted, images resized, empty classes and corrupt files reported") {
  const std::string root = rg::test::tmp_path("folder");
  fs::remove_all(root);
  fs::create_directories(root + "/cat");
  fs::create_directories(root + "/ant");
  write_png(root + "/cat/a.png", 10, 6, 200);
  write_png(root + "/cat/b.png", 4, 4, 100);
  write_png(root + "/ant/x.png", 8, 8, 50);
  std::ofstream(root + "/ant/notes.txt") << "not an image, ignored";
  const data::ImageFolder f = data::load_image_folder(root, 16);
  CHECK(f.classes == std::vector<std::string>{"ant", "cat"});
  CHECK(f.data.images.shape() == Shape{3, 3, 16, 16});
  rg::test::check_values(f.data.labels, {0, 1, 1}, 0);
  CHECK(std::abs(f.data.images.at({0, 1, 8, 8}) - 50 / 255.0) < 1e-6);
  CHECK(data::load_image_folder(root, 8, 1).data.images.shape() == Shape{3, 1, 8, 8});

  fs::create_directories(root + "/empty");
  CHECK_THROWS_WITH_AS(data::load_image_folder(root, 16), doctest::Contains("empty: class folder holds no images"),
                       std::runtime_error);
  fs::remove_all(root + "/empty");
  std::ofstream(root + "/cat/c.png") << "garbage bytes, not a PNG";
  CHECK_THROWS_WITH_AS(data::load_image_folder(root, 16), doctest::Contains("cat/c.png: not a PNG, JPEG or BMP image"),
                       std::runtime_error);
  fs::remove_all(root);
}

TEST_CASE("decode_image: formats other than PNG/JPEG/BMP are refused before stb_image sees them") {
  // "P5P" made stb_image's PNM parser assert (abort the process); found by make fuzz.
  CHECK_THROWS_WITH_AS(data::decode_image("P5P", "x.pgm", 8, 3),
                       doctest::Contains("x.pgm: not a PNG, JPEG or BMP image"), std::runtime_error);
  CHECK_THROWS_WITH_AS(data::decode_image(std::string("\x89PNG\r\n\x1a\n", 8) + "junk", "t.png", 8, 3),
                       doctest::Contains("t.png: cannot decode image"), std::runtime_error);
  // A 2x2 PNG with shuffled bytes: stb_image failed without setting a reason, and the null reason
  // crashed the error message (found by make fuzz). Its shuffled chunk length is now caught first.
  const unsigned char shuffled[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
      0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00, 0xd4, 0x73, 0x9a, 0x11, 0x49,
      0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xc0, 0xf0, 0x1f, 0x8c, 0x80, 0x18, 0x00, 0x1d, 0xf0, 0x03,
      0xfd, 0xd3, 0xd0, 0x7d, 0x26, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  CHECK_THROWS_WITH_AS(
      data::decode_image(std::string(reinterpret_cast<const char*>(shuffled), sizeof shuffled), "s.png", 8, 3),
      doctest::Contains("s.png: PNG chunk 'IDAT' at byte 33 declares 3564345873 bytes, but only 33 follow"),
      std::runtime_error);
  // A second IDAT chunk declaring 0x454E0011 bytes in an 82-byte file: stb_image reserved 2 GB for
  // it before reading (found by make fuzz). The chunk walk names it instead.
  std::string long_chunk(reinterpret_cast<const char*>(shuffled), 0x21);
  long_chunk += std::string("\x00\x00\x00\x11IDAT", 8) + std::string(17, '\x01') + std::string("\x00\x42\x4d\x49", 4);
  long_chunk += std::string("\x45\x4e\x00\x11IDAT", 8) + std::string(8, '\x02');
  CHECK_THROWS_WITH_AS(data::decode_image(long_chunk, "l.png", 8, 3),
                       doctest::Contains("l.png: PNG chunk 'IDAT' at byte 62 declares 1162739729 bytes, but only 8"),
                       std::runtime_error);
  // A header that claims 16384 × 8192 pixels (2^27) is refused before anything is allocated.
  std::string huge = long_chunk.substr(0, 0x21 + 8 + 17 + 4) + std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  huge.replace(16, 8, std::string("\x00\x00\x40\x00\x00\x00\x20\x00", 8));  // IHDR width, height
  CHECK_THROWS_WITH_AS(data::decode_image(huge, "h.png", 8, 3),
                       doctest::Contains("h.png: image of 16384x8192 pixels, more than the 2^26"), std::runtime_error);
}

TEST_CASE("PNG grids decode back to the right size and pixels") {
  const Tensor imgs = ones({3, 1, 4, 5}) * 0.5;
  const std::string path = rg::test::tmp_path("grid.png");
  data::write_png_grid(path, imgs, 2, 3);
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &c, 0);
  REQUIRE(px);
  CHECK(w == 2 * (5 * 3 + 2) + 2);
  CHECK(h == 2 * (4 * 3 + 2) + 2);
  CHECK(c == 1);
  CHECK(px[2 * w + 2] == 128);  // first pixel of the first image
  CHECK(px[0] == 255);          // the gap is white
  stbi_image_free(px);
  fs::remove(path);
  CHECK_THROWS_AS(data::write_png_grid(path, ones({2, 2, 4, 4}), 2), std::invalid_argument);  // 2 channels
}
