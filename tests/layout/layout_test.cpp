// The layout rules of ARCHITECTURE.md, checked over the project's sources (tests excepted):
// no source file over 500 lines, no function over 80, no layer including one above it, no
// syscall number written as a literal in a plugin. And tests of the scanner that checks them.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "layout_scan.h"

namespace lx::layout {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int kMaxFileLines = 500;
constexpr int kMaxFunctionLines = 80;

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The project's C++ sources, relative to the source directory: everything outside tests/ and
// build directories.
std::vector<std::string> sources() {
  std::vector<std::string> out;
  fs::path root(SOURCE_DIR);
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = fs::relative(it->path(), root).string();
    if (it->is_directory() && (rel == "tests" || rel.rfind("build", 0) == 0 || rel[0] == '.')) {
      it.disable_recursion_pending();
      continue;
    }
    auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".cpp" || ext == ".h")) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string top_dir(const std::string& rel) { return rel.substr(0, rel.find('/')); }

int line_count(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(LayoutScan, FindsFunctionsWithTheirLength) {
  auto f = functions("namespace a {\nint f(int x) {\n  if (x) {\n    return 1;\n  }\n  return 0;\n}\n}  // namespace a\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].name, "f");
  EXPECT_EQ(f[0].first_line, 2);
  EXPECT_EQ(f[0].length(), 6);
}

TEST(LayoutScan, LambdasAndLocalBlocksCountInTheirFunction) {
  auto f = functions("void g() {\n  auto l = [](int y) {\n    return y;\n  };\n  l(1);\n}\nvoid h() {}\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].name, "g");
  EXPECT_EQ(f[0].length(), 6);
  EXPECT_EQ(f[1].name, "h");
}

TEST(LayoutScan, FindsMemberFunctionsDefinedInTheirClass) {
  auto f = functions("class C {\n public:\n  int m() const noexcept override {\n    return 1;\n  }\n  enum E { kA, kB };\n};\n"
                     "int C::n() {\n  return 2;\n}\n");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].name, "m");
  EXPECT_EQ(f[0].length(), 3);
  EXPECT_EQ(f[1].name, "C::n");
}

TEST(LayoutScan, BracesInCommentsStringsAndMacrosAreNotCode) {
  auto f = functions("#define X(a) { a }\n// void no() {\nconst char* s = \"{\";\nauto r = R\"x({ ) })x\";\n"
                     "void yes() {\n  char c = '{';\n  /* } */\n}\nint t[] = {1, 2};\n");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].name, "yes");
  EXPECT_EQ(f[0].length(), 4);
}

TEST(LayoutScan, InitializersAreNotFunctions) {
  EXPECT_THAT(functions("constexpr Row kRows[] = {\n  {1, Notify(), &f},\n};\nauto x = make(1, {2});\n"), IsEmpty());
}

TEST(LayoutScan, ReadsIncludes) {
  auto inc = includes("#include <vector>\n#include \"driver/driver.h\"\n  # include <lxhost/plugin.h>\n");
  ASSERT_EQ(inc.size(), 3u);
  EXPECT_EQ(inc[1].path, "driver/driver.h");
  EXPECT_EQ(inc[2].line, 3);
}

TEST(Layout, SourcesAreFound) { EXPECT_GT(sources().size(), 50u); }

TEST(Layout, NoSourceFileIsOverFiveHundredLines) {
  std::vector<std::string> over;
  for (const auto& rel : sources()) {
    int n = line_count(slurp(fs::path(SOURCE_DIR) / rel));
    if (n > kMaxFileLines) over.push_back(rel + ": " + std::to_string(n) + " lines");
  }
  EXPECT_THAT(over, IsEmpty());
}

TEST(Layout, NoFunctionIsOverEightyLines) {
  std::vector<std::string> over;
  for (const auto& rel : sources())
    for (const auto& f : functions(slurp(fs::path(SOURCE_DIR) / rel)))
      if (f.length() > kMaxFunctionLines)
        over.push_back(rel + ":" + std::to_string(f.first_line) + ": " + f.name + " is " +
                       std::to_string(f.length()) + " lines");
  EXPECT_THAT(over, IsEmpty());
}

// What each directory may not include: the layers of ARCHITECTURE.md, lowest first.
TEST(Layout, NoLayerIncludesOneAboveIt) {
  const std::vector<std::pair<std::string, std::regex>> forbidden = {
      {"sdk", std::regex("^(base|fsmeta|config|driver|runtime|store|plugins|service)/")},
      {"base", std::regex("^(fsmeta|config|driver|runtime|store|plugins|service)/")},
      {"fsmeta", std::regex("^(config|driver|runtime|store|plugins|service)/")},
      {"config", std::regex("^(driver|runtime|store|plugins|service)/")},
      {"driver", std::regex("^(config|runtime|store|plugins|service)/")},
      {"store", std::regex("^(driver|runtime|plugins|service)/")},
      {"runtime", std::regex("^(store|plugins|service)/")},
      {"plugins", std::regex("^(config|driver|runtime|store|service)/")},
      {"oci", std::regex("^(plugins|store|service)/")},
  };
  std::vector<std::string> breaches;
  for (const auto& rel : sources())
    for (const auto& [dir, re] : forbidden)
      if (top_dir(rel) == dir)
        for (const auto& inc : includes(slurp(fs::path(SOURCE_DIR) / rel)))
          if (std::regex_search(inc.path, re)) breaches.push_back(rel + ":" + std::to_string(inc.line) + ": " + inc.path);
  EXPECT_THAT(breaches, IsEmpty());
}

TEST(Layout, PluginsNameSyscallsNotNumbers) {
  // A number where a syscall is meant: compared with nr, first in a table row or a spec, a
  // kSys constant, or libc's SYS_/__NR_ macros instead of the SDK's table (sdk::sys::NAME).
  const std::regex literal(R"(\bSYS_[a-z]|\b__NR_[a-z]|\bkSys\w*\s*=\s*[0-9]|(\bnr\(\)|\bnr|\.nr)\s*[!=<>]=?\s*[0-9]{1,3}\b|Row<[^>]*>\s*\{\s*[0-9]|^\s*\{\s*[0-9]{1,3}\s*,\s*(Route::|Allow|Notify|Error|Trace|If)|add\(\{\s*[0-9])");
  std::vector<std::string> breaches;
  for (const auto& rel : sources()) {
    if (top_dir(rel) != "plugins") continue;
    std::istringstream in(strip(slurp(fs::path(SOURCE_DIR) / rel)));
    std::string l;
    for (int n = 1; std::getline(in, l); ++n)
      if (std::regex_search(l, literal)) breaches.push_back(rel + ":" + std::to_string(n) + ": " + l);
  }
  EXPECT_THAT(breaches, IsEmpty());
}

}  // namespace
}  // namespace lx::layout
