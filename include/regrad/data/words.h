// The English word list (Debian's wamerican, /usr/share/dict/words) as a character-level dataset,
// as in makemore: 27 symbols, '.' (index 0) marks the start and the end of a word.
#pragma once
#include <string>
#include <vector>

#include "regrad/data/shuffle.h"
#include "regrad/tensor/random.h"
#include "regrad/tensor/tensor.h"

namespace rg::data {

inline constexpr const char* kDefaultWordsPath = "/usr/share/dict/words";
inline constexpr int64_t kVocab = 27;  // '.', 'a' … 'z'

// The lines made only of the letters a–z (proper nouns, possessives and accented words are
// skipped), in file order. Throws std::runtime_error naming the file when it cannot be read or
// holds no such word.
std::vector<std::string> load_words(const std::string& path = kDefaultWordsPath);

int64_t char_index(char c);  // '.' → 0, 'a' → 1 … 'z' → 26
char index_char(int64_t i);

// Every (context, next character) pair of the words: X int64 (n, block_size) of the preceding
// block_size characters ('.'-padded), Y int64 (n) the character that follows ('.' after the last).
struct CharDataset {
  Tensor X, Y;
};
CharDataset char_contexts(const std::vector<std::string>& words, int64_t block_size);

// The class index that cross_entropy skips (PyTorch's default ignore_index).
inline constexpr int64_t kIgnoreIndex = -100;

// Per-position next-character targets (n, block_size) for contexts X (n, block_size) and their next
// characters Y (n), as a causal Transformer trained on every position sees them (makemore, GPT-2):
// position t predicts X[t+1], the last position predicts Y. A target that is still the leading
// '.' padding (the word has not begun; no real character to predict) is kIgnoreIndex. Contexts
// hold '.' only as leading padding, so that is every 0 among X[1:].
Tensor position_targets(const Tensor& X, const Tensor& Y);

// makemore's split: the words shuffled with Generator(seed), then 80 % / 10 % / 10 % by words
// into train / validation / test, each turned into (context → next character) pairs.
struct WordSplits {
  CharDataset train, val, test;
};
WordSplits split_words(std::vector<std::string> words, int64_t block_size, uint64_t seed);

}  // namespace rg::data
