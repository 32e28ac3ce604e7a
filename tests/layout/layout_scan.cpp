// The layout scanner (see layout_scan.h).
#include "layout_scan.h"

#include <cctype>
#include <regex>

namespace lx::layout {
namespace {

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Blanks a raw string R"delim( ... )delim" starting at s[i] == 'R'; returns the index after it.
std::size_t skip_raw(std::string& s, std::size_t i) {
  std::size_t open = s.find('(', i + 2);
  if (open == std::string::npos) return s.size();
  std::string end = ")" + s.substr(i + 2, open - i - 2) + "\"";
  std::size_t close = s.find(end, open);
  close = close == std::string::npos ? s.size() : close + end.size();
  for (std::size_t k = i; k < close; ++k)
    if (s[k] != '\n') s[k] = ' ';
  return close;
}

// Blanks a "..." or '...' literal starting at s[i]; returns the index after it.
std::size_t skip_quoted(std::string& s, std::size_t i) {
  char q = s[i];
  std::size_t k = i + 1;
  while (k < s.size() && s[k] != q && s[k] != '\n') k += s[k] == '\\' ? 2 : 1;
  k = std::min(k + 1, s.size());
  for (std::size_t j = i; j < k; ++j)
    if (s[j] != '\n') s[j] = ' ';
  return k;
}

// Blanks a preprocessor line (with its continuations) starting at s[i] == '#'.
std::size_t skip_directive(std::string& s, std::size_t i) {
  std::size_t k = i;
  while (k < s.size() && !(s[k] == '\n' && s[k - 1] != '\\')) {
    if (s[k] != '\n') s[k] = ' ';
    ++k;
  }
  return k;
}

enum class Scope { kNamespace, kClass, kFunction, kBlock };

// The scope a `{` opens, from the text since the previous `;`, `{` or `}`.
Scope classify(const std::string& header, Scope outer) {
  if (outer == Scope::kFunction || outer == Scope::kBlock) return Scope::kBlock;
  static const std::regex ns(R"(^\s*(inline\s+)?namespace\b|^\s*extern\s*$)");
  static const std::regex cls(R"(^\s*(template\s*<[^{]*>\s*)?(class|struct|union)\b[^(=]*$)");
  static const std::regex en(R"(^\s*enum\b)");
  if (std::regex_search(header, ns)) return Scope::kNamespace;
  if (std::regex_search(header, en)) return Scope::kBlock;
  if (std::regex_search(header, cls)) return Scope::kClass;
  std::size_t paren = header.find('(');
  std::size_t eq = header.find('=');
  if (paren == std::string::npos) return Scope::kBlock;  // an initializer: int a[] = {...}
  if (eq != std::string::npos && eq < paren && header.compare(eq, 2, "==") != 0 &&
      header.find("operator") == std::string::npos)
    return Scope::kBlock;  // a variable initialised by a call: auto x = f(a, {...
  return Scope::kFunction;
}

std::string name_of(const std::string& header) {
  std::size_t paren = header.find('(');
  if (header.find("operator") != std::string::npos) paren = header.find('(', header.find("operator") + 9);
  std::size_t end = paren;
  while (end > 0 && std::isspace(static_cast<unsigned char>(header[end - 1]))) --end;
  std::size_t start = end;
  while (start > 0 && (ident_char(header[start - 1]) || header[start - 1] == ':' || header[start - 1] == '~')) --start;
  std::string n = header.substr(start, end - start);
  return n.empty() ? "(lambda)" : n;
}

bool access_specifier(const std::string& header) {
  static const std::regex re(R"(^\s*(public|protected|private)\s*$)");
  return std::regex_search(header, re);
}

}  // namespace

std::string strip(std::string_view text) {
  std::string s(text);
  std::size_t i = 0;
  bool line_start = true;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\n') {
      line_start = true;
      ++i;
      continue;
    }
    if (line_start && c == '#') {
      i = skip_directive(s, i);
      continue;
    }
    if (!std::isspace(static_cast<unsigned char>(c))) line_start = false;
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
      while (i < s.size() && s[i] != '\n') s[i++] = ' ';
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      std::size_t close = s.find("*/", i + 2);
      close = close == std::string::npos ? s.size() : close + 2;
      for (; i < close; ++i)
        if (s[i] != '\n') s[i] = ' ';
    } else if (c == 'R' && i + 1 < s.size() && s[i + 1] == '"' && (i == 0 || !ident_char(s[i - 1]) ||
                                                                   s[i - 1] == 'u' || s[i - 1] == '8' || s[i - 1] == 'L')) {
      i = skip_raw(s, i);
    } else if (c == '"' || (c == '\'' && !(i > 0 && std::isxdigit(static_cast<unsigned char>(s[i - 1])) &&
                                           i + 1 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1]))))) {
      i = skip_quoted(s, i);  // (a ' between hex digits is a digit separator: 0xffff'ffff)
    } else {
      ++i;
    }
  }
  return s;
}

std::vector<Function> functions(std::string_view text) {
  std::string s = strip(text);
  struct Open {
    Scope scope;
    Function fn;
  };
  std::vector<Open> stack;
  std::vector<Function> out;
  std::size_t header_start = 0;
  int line = 1, header_line = 1;
  bool header_seen = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\n') {
      ++line;
      continue;
    }
    if (!header_seen && !std::isspace(static_cast<unsigned char>(c))) {
      header_seen = true;
      header_line = line;
    }
    Scope outer = stack.empty() ? Scope::kNamespace : stack.back().scope;
    if (c == ':' && outer == Scope::kClass && access_specifier(s.substr(header_start, i - header_start)) &&
        (i + 1 >= s.size() || s[i + 1] != ':')) {
      header_start = i + 1;  // `public:` ends a member's header as `;` does
      header_seen = false;
      continue;
    }
    if (c != '{' && c != '}' && c != ';') continue;
    std::string header = s.substr(header_start, i - header_start);
    if (c == '{') {
      Scope sc = classify(header, outer);
      Open o{sc, {}};
      if (sc == Scope::kFunction) o.fn = Function{name_of(header), header_line, 0};
      stack.push_back(o);
    } else if (c == '}') {
      if (!stack.empty()) {
        Open o = stack.back();
        stack.pop_back();
        if (o.scope == Scope::kFunction) {
          o.fn.last_line = line;
          out.push_back(o.fn);
        }
      }
    }
    header_start = i + 1;
    header_seen = false;
  }
  return out;
}

std::vector<Include> includes(std::string_view text) {
  std::vector<Include> out;
  static const std::regex re(R"re(^\s*#\s*include\s*["<]([^">]+)[">])re");
  std::size_t start = 0;
  int line = 1;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string l(text.substr(start, end - start));
    std::smatch m;
    if (std::regex_search(l, m, re)) out.push_back({line, m[1]});
    start = end + 1;
    ++line;
  }
  return out;
}

}  // namespace lx::layout
