#include <filesystem>
#include <fstream>

#include "../test_util.h"

using namespace rg;

TEST_CASE("report tables render as CSV and Markdown; files are written whole") {
  report::Table t{{"step", "loss"}, {}};
  t.add({"0", report::fmt(3.29583, 3)});
  t.add({"100", "2.5"});
  CHECK(t.csv() == "step,loss\n0,3.296\n100,2.5\n");
  CHECK(t.markdown() == "| step | loss |\n|---|---|\n| 0 | 3.296 |\n| 100 | 2.5 |\n");
  CHECK_THROWS_AS(t.add({"1"}), std::invalid_argument);
  CHECK(report::fmt_g(1.907349e-06) == "1.91e-06");
  const std::string root = rg::test::tmp_path("report"), path = root + "/sub/out.csv";  // write_file creates sub/
  std::filesystem::remove_all(root);
  report::write_file(path, t.csv());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == t.csv());
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(root);
}
