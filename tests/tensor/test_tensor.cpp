#include <omp.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;

TEST_CASE("factories fill the values they name") {
  check_values(zeros({2, 3}), {0, 0, 0, 0, 0, 0});
  check_values(ones({2}, DType::Float64), {1, 1});
  check_values(full({3}, 2.5), {2.5, 2.5, 2.5});
  check_values(arange(5), {0, 1, 2, 3, 4});
  check_values(arange(1.0, 2.0, 0.25), {1.0, 1.25, 1.5, 1.75});
  CHECK(arange(5).dtype() == DType::Int64);
  const Tensor t = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at({1, 2}) == 6);
  CHECK(t.at({-1, 0}) == 4);
  CHECK(scalar_tensor(3.5).item() == 3.5);
  CHECK(scalar_tensor(3.5).dim() == 0);
  CHECK_THROWS_AS(t.item(), std::invalid_argument);
  CHECK_THROWS_AS(t.at({2, 0}), std::out_of_range);
  CHECK_THROWS_AS(tensor({1, 2, 3}, {2, 2}), std::invalid_argument);
}

TEST_CASE("element access writes through and reshape shares storage") {
  Tensor t = zeros({2, 3});
  Tensor v = t.reshape({3, 2});
  v.set({2, 1}, 9.0);
  CHECK(t.at({1, 2}) == 9.0);  // the same element, seen through two shapes
  CHECK_THROWS_AS(t.data<double>(), std::invalid_argument);
}

TEST_CASE("the buffer cache hands a freed buffer to the next tensor of its size, and frees it when off") {
  set_buffer_cache(true);
  const std::size_t before = cached_buffer_bytes();
  const void* first;
  {
    Tensor a = Tensor::empty({1000});  // 4,000 bytes, 4,032 rounded to the 64-byte alignment
    first = a.data<float>();
  }
  CHECK(cached_buffer_bytes() == before + 4032);
  {
    Tensor b = Tensor::empty({1000});
    CHECK(b.data<float>() == first);  // the same buffer again
    CHECK(reinterpret_cast<std::uintptr_t>(b.data<float>()) % 64 == 0);
    CHECK(cached_buffer_bytes() == before);
  }
  set_buffer_cache(false);
  CHECK(cached_buffer_bytes() == 0);
  {
    Tensor d = Tensor::empty({1000});  // off: freed, not kept
  }
  CHECK(cached_buffer_bytes() == 0);
}

TEST_CASE("random draws are reproducible and independent of the thread count") {
  Generator g1(42), g2(42), g3(43);
  const Tensor a = randn({1000}, g1), b = randn({1000}, g2), c = randn({1000}, g3);
  CHECK(cmp("same seed", a, b).exact);
  CHECK_FALSE(cmp("other seed", a, c).approximate);
  // A second draw continues the stream rather than repeating it.
  CHECK_FALSE(cmp("next draw", randn({1000}, g1), a).approximate);

  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Generator s1(7);
  const Tensor one = randn({200000}, s1);
  omp_set_num_threads(2);
  Generator s2(7);
  const Tensor two = randn({200000}, s2);
  omp_set_num_threads(threads);
  CHECK(cmp("threads", one, two).exact);
}

// Random123's published known-answer vectors (kat_vectors, "philox4x32 10" lines): counter
// words 0..3, key words 0..1, expected output words 0..3.
TEST_CASE("Philox4x32-10 gives Random123's known answers") {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const auto word_pair = [](uint32_t lo, uint32_t hi) { return static_cast<uint64_t>(hi) << 32 | lo; };
    uint32_t out[4];
    Philox4x32::block(word_pair(k.key[0], k.key[1]), word_pair(k.ctr[2], k.ctr[3]), word_pair(k.ctr[0], k.ctr[1]), out);
    for (int i = 0; i < 4; ++i) CHECK(out[i] == k.out[i]);
  }
}

TEST_CASE("random draws have the right distribution") {
  Generator gen(1);
  const int64_t n = 400000;
  const Tensor z = randn({n}, gen, DType::Float64);
  // Mean within 5 standard errors of 0, variance within 5 standard errors of 1 (se ≈ √(2/n)).
  CHECK(std::abs(mean(z).item()) < 5.0 / std::sqrt(double(n)));
  CHECK(std::abs(var(z).item() - 1.0) < 5.0 * std::sqrt(2.0 / double(n)));
  const Tensor u = rand({n}, gen, DType::Float64);
  CHECK(max(u).item() < 1.0);
  CHECK(-max(-u).item() >= 0.0);
  CHECK(std::abs(mean(u).item() - 0.5) < 5.0 * std::sqrt(1.0 / 12.0 / double(n)));
  const Tensor m = bernoulli({n}, 0.3, gen);
  CHECK(std::abs(mean(m).item() - 0.3) < 5.0 * std::sqrt(0.21 / double(n)));
  const Tensor r = randint(3, 7, {n}, gen);
  double lo = 1e9, hi = -1e9;
  for (double v : r.tolist()) lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(lo == 3);
  CHECK(hi == 6);
  CHECK_THROWS_AS(bernoulli({3}, 1.5, gen), std::invalid_argument);
}

TEST_CASE("dtype conversion and clone") {
  const Tensor a = tensor({1.5, -2.25}, DType::Float64);
  const Tensor f = a.to(DType::Float32);
  CHECK(f.dtype() == DType::Float32);
  check_values(f, {1.5, -2.25});
  check_values(tensor({2.7, -1.2}).to(DType::Int64), {2, -1});  // truncation, as a C++ cast
  Tensor c = a.clone();
  c.set({0}, 0.0);
  CHECK(a.at({0}) == 1.5);
}

TEST_CASE("printing looks like PyTorch") {
  CHECK(to_string(tensor({1, 2, 3, 4}, {2, 2})) == "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]])");
  CHECK(to_string(tensor_i64({3, 1})) == "tensor([3, 1], dtype=int64)");
  Tensor x = ones({2});
  x.requires_grad_();
  CHECK(to_string(x) == "tensor([1.0000, 1.0000], requires_grad=True)");
  CHECK(contains(to_string(x * 2.0), "grad_fn=<mul_scalar>"));
  CHECK(contains(to_string(zeros({2000})), "..."));
}

TEST_CASE("in-place ops refuse tensors that need grad unless grad mode is off") {
  Tensor w = ones({3});
  w.requires_grad_();
  CHECK_THROWS_AS(w.fill_(0), std::invalid_argument);
  {
    NoGradGuard guard;
    w.add_(full({3}, 2.0), -0.5);  // an optimizer step: w ← w − 0.5·2
  }
  check_values(w, {0, 0, 0});
}

// ---- .npy ----

static std::string temp_path(const char* name) { return rg::test::tmp_path(name); }

TEST_CASE(".npy round trip keeps dtype, shape and values") {
  Generator gen(3);
  for (const Tensor& t : {randn({3, 4}, gen), randn({2, 3, 5}, gen, DType::Float64), tensor_i64({5, -2, 7}),
                          scalar_tensor(2.5, DType::Float64), zeros({0, 3})}) {
    const std::string path = temp_path("roundtrip.npy");
    save_npy(path, t);
    const Tensor back = load_npy(path);
    CHECK(back.dtype() == t.dtype());
    CHECK(back.shape() == t.shape());
    CHECK(cmp("npy", back, t).exact);
    std::remove(path.c_str());
  }
}

TEST_CASE(".npy header is NumPy's, byte for byte") {
  const std::string path = temp_path("header.npy");
  save_npy(path, zeros({2, 3}));
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // np.save(np.zeros((2,3), np.float32)): 128-byte header (64-aligned), then 24 data bytes.
  CHECK(bytes.size() == 128 + 24);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(bytes.substr(10, dict.size()) == dict);
  CHECK(bytes[127] == '\n');
  save_npy(path, zeros({3}));
  std::ifstream in2(path, std::ios::binary);
  std::string b2((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
  CHECK(contains(b2, "'shape': (3,)"));
  std::remove(path.c_str());
}

static std::string npy_error(const std::string& bytes) {
  try {
    parse_npy(bytes, "bad.npy");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

static std::string npy_bytes(const std::string& dict, std::size_t data_bytes, char major = 1) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += major;
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + std::string(data_bytes, '\0');
}

TEST_CASE("malformed .npy files give a clear error naming the file") {
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(parse_npy(npy_bytes(good, 24), "ok.npy").shape() == Shape{2, 3});
  CHECK(contains(npy_error(""), "bad.npy: not a valid .npy file: file is empty"));
  CHECK(contains(npy_error("PK\x03\x04 zip archive"), "bad magic"));
  CHECK(contains(npy_error(npy_bytes(good, 20)), "truncated"));
  CHECK(contains(npy_error(npy_bytes(good, 28)), "trailing bytes"));
  CHECK(contains(npy_error(npy_bytes(good, 24).substr(0, 40)), "truncated header"));
  CHECK(contains(npy_error(npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", 16)),
                 "unsupported dtype '>f8'"));
  CHECK(contains(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32)), "Fortran"));
  CHECK(contains(npy_error(npy_bytes("{'descr': '<f8', 'shape': (2,), }", 16)), "lacks 'fortran_order'"));
  CHECK(contains(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, x), }", 16)), "bad shape"));
  CHECK(contains(npy_error(npy_bytes(good, 24, 9)), "unsupported format version 9"));
  // Shapes whose element or byte count overflows int64 (found by make fuzz: undefined behaviour
  // in numel before).
  CHECK(
      contains(npy_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0)),
               "is too large"));
  CHECK(contains(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }", 0)),
                 "is too large"));
  try {
    load_npy("/nonexistent/x.npy");
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), "/nonexistent/x.npy: cannot open"));
  }
}

TEST_CASE(".npy widens int32, uint8 and bool to int64") {
  std::string b =
      npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", 0) + std::string("\x01\x02\xff", 3);
  const Tensor u1 = parse_npy(b, "u1.npy");
  CHECK(u1.dtype() == DType::Int64);
  check_values(u1, {1, 2, 255});
  std::string i4 =
      npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", 0) + std::string("\xfe\xff\xff\xff", 4);
  const Tensor i32 = parse_npy(i4, "i4.npy");
  CHECK(i32.dtype() == DType::Int64);
  check_values(i32, {-2});
  std::string b1 =
      npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 0) + std::string("\x01\x00\x01", 3);
  const Tensor bools = parse_npy(b1, "b1.npy");
  CHECK(bools.dtype() == DType::Int64);
  check_values(bools, {1, 0, 1});
}

TEST_CASE("shapes past int64 are an error, not an overflow") {
  CHECK(numel({0, int64_t{1} << 31, int64_t{1} << 31}) == 0);
  // Zero elements, but the strides of the other sizes would overflow: refused too.
  CHECK_THROWS_AS(numel({0, int64_t{1} << 40, int64_t{1} << 40}), std::invalid_argument);
  CHECK(numel({int64_t{1} << 31, int64_t{1} << 31}) == int64_t{1} << 62);
  CHECK_THROWS_WITH_AS(numel({int64_t{1} << 40, int64_t{1} << 40}),
                       doctest::Contains("more elements than fit in int64"), std::invalid_argument);
  CHECK(!byte_size({int64_t{1} << 61}, 8).has_value());
  CHECK(byte_size({int64_t{1} << 59}, 8) == std::optional<std::size_t>(std::size_t{1} << 62));
  CHECK_THROWS_WITH_AS(Tensor::empty({int64_t{1} << 62}, DType::Float32), doctest::Contains("more bytes than fit"),
                       std::invalid_argument);
}
