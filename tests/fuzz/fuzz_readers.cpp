// libFuzzer targets for every reader of untrusted bytes (make fuzz). Each parses the input and
// may throw std::runtime_error / std::invalid_argument — the clear error we promise — but must
// never crash, leak or read out of bounds (AddressSanitizer + UBSan are on). The target is chosen
// at compile time with -DREGRAD_FUZZ_<NAME>.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "regrad/data/idx.h"
#include "regrad/data/images.h"
#include "regrad/tensor/npy.h"
#include "regrad/train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
#if defined(REGRAD_FUZZ_IDX)
    rg::data::parse_idx(bytes, "fuzz.idx");
#elif defined(REGRAD_FUZZ_NPY)
    rg::parse_npy(bytes, "fuzz.npy");
#elif defined(REGRAD_FUZZ_CHECKPOINT)
    rg::train::parse_checkpoint(bytes, "fuzz.ckpt");
#elif defined(REGRAD_FUZZ_CIFAR)
    rg::data::parse_cifar_batch(bytes, "fuzz.bin");
#elif defined(REGRAD_FUZZ_IMAGE)
    rg::data::decode_image(bytes, "fuzz.png", 8, 3);
#else
#error "define one REGRAD_FUZZ_<NAME>"
#endif
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
