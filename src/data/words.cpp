#include "regrad/data/words.h"

#include <fstream>
#include <stdexcept>

#include "regrad/tensor/factory.h"

namespace rg::data {

std::vector<std::string> load_words(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open the word list (Debian package wamerican)");
  std::vector<std::string> words;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    bool ok = !line.empty();
    for (char c : line) ok = ok && c >= 'a' && c <= 'z';
    if (ok) words.push_back(line);
  }
  if (words.empty()) throw std::runtime_error(path + ": no lower-case a-z words in the file");
  return words;
}

int64_t char_index(char c) {
  if (c == '.') return 0;
  if (c < 'a' || c > 'z') throw std::invalid_argument(std::string("char_index: '") + c + "' is not '.' or a-z");
  return c - 'a' + 1;
}

char index_char(int64_t i) {
  if (i < 0 || i >= kVocab) throw std::invalid_argument("index_char: " + std::to_string(i) + " is not in [0, 27)");
  return i == 0 ? '.' : static_cast<char>('a' + i - 1);
}

CharDataset char_contexts(const std::vector<std::string>& words, int64_t block_size) {
  if (block_size <= 0) throw std::invalid_argument("char_contexts: block_size must be positive");
  std::vector<int64_t> xs, ys;
  for (const std::string& w : words) {
    std::vector<int64_t> context(block_size, 0);
    for (std::size_t k = 0; k <= w.size(); ++k) {
      const int64_t ix = k < w.size() ? char_index(w[k]) : 0;
      xs.insert(xs.end(), context.begin(), context.end());
      ys.push_back(ix);
      context.erase(context.begin());
      context.push_back(ix);
    }
  }
  const int64_t n = static_cast<int64_t>(ys.size());
  return {tensor_i64(xs, {n, block_size}), tensor_i64(ys, {n})};
}

Tensor position_targets(const Tensor& X, const Tensor& Y) {
  if (X.dim() != 2 || Y.dim() != 1 || X.size(0) != Y.size(0) || X.dtype() != DType::Int64 || Y.dtype() != DType::Int64)
    throw std::invalid_argument(
        "position_targets: expected int64 contexts (n, block_size) and next characters (n), got " +
        to_string(X.dtype()) + " " + to_string(X.shape()) + " and " + to_string(Y.dtype()) + " " +
        to_string(Y.shape()));
  const int64_t n = X.size(0), T = X.size(1);
  const std::vector<double> x = X.tolist(), y = Y.tolist();
  std::vector<int64_t> out(static_cast<std::size_t>(n * T));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t + 1 < T; ++t) {
      const auto next = static_cast<int64_t>(x[i * T + t + 1]);
      out[i * T + t] = next == 0 ? kIgnoreIndex : next;  // a 0 inside a context is leading padding
    }
    out[i * T + T - 1] = static_cast<int64_t>(y[i]);
  }
  return tensor_i64(out, {n, T});
}

WordSplits split_words(std::vector<std::string> words, int64_t block_size, uint64_t seed) {
  Generator gen(seed);
  shuffle(words, gen);
  const std::size_t n1 = words.size() * 8 / 10, n2 = words.size() * 9 / 10;
  auto part = [&](std::size_t a, std::size_t b) {
    return char_contexts(std::vector<std::string>(words.begin() + a, words.begin() + b), block_size);
  };
  return {part(0, n1), part(n1, n2), part(n2, words.size())};
}

}  // namespace rg::data
