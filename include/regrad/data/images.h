// Image datasets beyond IDX: CIFAR-10's binary batches, folders of PNG/JPEG files (stb_image),
// and PNG grids of image batches (stb_image_write), e.g. to look at augmentations.
#pragma once
#include <string>
#include <vector>

#include "regrad/data/idx.h"

namespace rg::data {

// CIFAR-10 binary format: records of 1 label byte (0–9) + 3072 pixel bytes (R, G, B planes of 32×32).
// images float32 (N, 3, 32, 32) in [0, 1]. Throws naming the file: empty, truncated record, bad label.
ImageDataset parse_cifar_batch(const std::string& bytes, const std::string& name);
// data_batch_1.bin … data_batch_5.bin (train) or test_batch.bin from `dir`.
ImageDataset load_cifar10(const std::string& dir, bool train);

// root/<class>/<image>.png|jpg|jpeg|bmp, classes in sorted order (label = index), every image
// decoded with stb_image and resized to size×size with `channels` channels (1 or 3). An empty
// class folder or an unreadable image is an error naming it, never skipped.
struct ImageFolder {
  ImageDataset data;
  std::vector<std::string> classes;
};
ImageFolder load_image_folder(const std::string& root, int64_t size, int64_t channels = 3);
// One image's bytes → float32 (channels, size, size) in [0, 1].
Tensor decode_image(const std::string& bytes, const std::string& name, int64_t size, int64_t channels);

// Writes images (N, C, H, W) with values in [0, 1] as one PNG grid, `cols` images per row, each
// pixel drawn as a scale×scale block, with a 2-pixel gap.
void write_png_grid(const std::string& path, const Tensor& images, int64_t cols, int64_t scale = 1);

}  // namespace rg::data
