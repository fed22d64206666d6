#include <cstdio>
#include <fstream>

#include "../test_util.h"

using namespace rg;
using rg::test::contains;

static std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = rg::test::tmp_path(name);
  std::ofstream(path) << text;
  return path;
}

TEST_CASE("load_words keeps lower-case a-z lines only") {
  const std::string path = write_temp("words.txt", "apple\nBob\nit's\ncafé\nzebra\r\n\nxy\n");
  const auto words = data::load_words(path);
  CHECK(words == std::vector<std::string>{"apple", "zebra", "xy"});
  std::remove(path.c_str());
}

TEST_CASE("load_words names the file when it is missing or holds no word") {
  try {
    data::load_words("/nonexistent/words");
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), "/nonexistent/words: cannot open"));
  }
  const std::string path = write_temp("nowords.txt", "Alice\nBOB\n123\n");
  try {
    data::load_words(path);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), path + ": no lower-case a-z words"));
  }
  std::remove(path.c_str());
}

TEST_CASE("char_contexts builds makemore's (context, next) pairs") {
  const data::CharDataset d = data::char_contexts({"ab", "c"}, 3);
  // "ab": ... → a, ..a → b, .ab → .;  "c": ... → c, ..c → .
  CHECK(d.X.shape() == Shape{5, 3});
  rg::test::check_values(d.X, {0, 0, 0, 0, 0, 1, 0, 1, 2, 0, 0, 0, 0, 0, 3}, 0);
  rg::test::check_values(d.Y, {1, 2, 0, 3, 0}, 0);
  CHECK(data::index_char(data::char_index('q')) == 'q');
  CHECK_THROWS_AS(data::char_index('A'), std::invalid_argument);
}

TEST_CASE("the real word list: size, and a seeded shuffle that is a permutation") {
  auto words = data::load_words();
  CHECK(words.size() > 50000);
  auto shuffled = words;
  Generator g1(1), g2(1);
  data::shuffle(shuffled, g1);
  auto again = words;
  data::shuffle(again, g2);
  CHECK(shuffled == again);
  CHECK(shuffled != words);
  std::sort(shuffled.begin(), shuffled.end());
  auto sorted = words;
  std::sort(sorted.begin(), sorted.end());
  CHECK(shuffled == sorted);
}
