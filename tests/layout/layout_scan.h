// The layout rules of ARCHITECTURE.md as code: a small C++ scanner (no compiler needed) that finds
// the function definitions of a source file and their length, and the project's own #includes.
// It strips comments, string and character literals (raw strings too) and preprocessor lines, then
// follows braces: a `{` at namespace or class scope whose header has a parameter list opens a
// function; everything inside it (blocks, lambdas, local classes) counts in that function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lx::layout {

/// One function definition.
struct Function {
  std::string name;  ///< the identifier before its parameter list ("Daemon::run")
  int first_line;    ///< 1-based line where its header starts
  int last_line;     ///< 1-based line of its closing brace
  /// Number of lines from header to closing brace.
  int length() const { return last_line - first_line + 1; }
};

/// One `#include "dir/file.h"` or `#include <dir/file.h>` line.
struct Include {
  int line;          ///< 1-based
  std::string path;  ///< as written, without the quotes or brackets
};

/// The function definitions of C++ source `text`, in order.
std::vector<Function> functions(std::string_view text);
/// The #include lines of `text`.
std::vector<Include> includes(std::string_view text);
/// `text` with comments, literals and preprocessor lines blanked (newlines kept).
std::string strip(std::string_view text);

}  // namespace lx::layout
