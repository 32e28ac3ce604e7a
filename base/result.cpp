// Error construction helpers.
#include "base/result.h"

#include <cstring>

namespace lx {

Error Error::from_errno(std::string call, int code) {
  return Error{code, call + " failed: " + std::strerror(code)};
}

Error Error::msg(std::string message) { return Error{0, std::move(message)}; }

}  // namespace lx
