// Unit tests of the control protocol's bounds and request checks, at their edges: what
// decode_payload() and check_request() accept and what they refuse, and with which words.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "messages.h"
#include "protocol.h"

namespace {

using lx::service::check_request;
using lx::service::decode_payload;
using lx::service::kMaxDepth;
using lx::service::kMaxItems;
using lx::service::kMaxString;
using ::testing::HasSubstr;

// An object holding an array nested so that the whole payload is `depth` deep.
std::string nested(std::size_t depth) {
  return R"({"a":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

// An object holding an array of `n` zeros.
std::string members(std::size_t n) {
  std::string s = R"({"a":[)";
  for (std::size_t i = 0; i < n; ++i) s += i ? ",0" : "0";
  return s + "]}";
}

TEST(Protocol, DepthIsBoundedAtItsEdge) {
  EXPECT_TRUE(decode_payload(nested(kMaxDepth)));
  auto r = decode_payload(nested(kMaxDepth + 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EBADMSG);
  EXPECT_THAT(r.error().message, HasSubstr("nested deeper than 64 levels (kMaxDepth)"));
  // Brackets inside strings, escaped quotes included, are text, not depth.
  EXPECT_TRUE(decode_payload(R"({"a":")" + std::string(1000, '[') + R"(\"[[["})"));
  // 100,000 deep is refused before the parser sees it.
  EXPECT_FALSE(decode_payload(std::string(100000, '[') + std::string(100000, ']')));
}

TEST(Protocol, StringsAreBoundedAtTheirEdge) {
  EXPECT_TRUE(decode_payload(R"({"a":")" + std::string(kMaxString, 'x') + R"("})"));
  auto r = decode_payload(R"({"a":")" + std::string(kMaxString + 1, 'x') + R"("})");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("a string longer than 131072 bytes (kMaxString)"));
  // Keys are strings too; an escape counts as its bytes.
  EXPECT_FALSE(decode_payload(R"({")" + std::string(kMaxString + 1, 'k') + R"(":1})"));
  std::string escapes;
  for (std::size_t i = 0; i < kMaxString / 2 + 1; ++i) escapes += "\\n";
  EXPECT_FALSE(decode_payload(R"({"a":")" + escapes + R"("})"));
}

TEST(Protocol, MembersAreBoundedAtTheirEdge) {
  EXPECT_TRUE(decode_payload(members(kMaxItems)));
  auto r = decode_payload(members(kMaxItems + 1));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("more than 65536 members (kMaxItems)"));
}

TEST(Protocol, NotAnObjectOrNotJsonIsRefused) {
  EXPECT_THAT(decode_payload("[1]").error().message, HasSubstr("not a JSON object"));
  EXPECT_THAT(decode_payload("{\"a\":").error().message, HasSubstr("not JSON"));
  // A long bad token does not make a long error.
  auto r = decode_payload("{\"a\":" + std::string(100000, '1') + "x}");
  ASSERT_FALSE(r);
  EXPECT_LT(r.error().message.size(), 1000u);
}

TEST(Protocol, ARunRequestIsRebuiltFromItsCheckedFields) {
  auto req = nlohmann::json::parse(R"({"v":1,"cmd":"run","argv":["/bin/sh"],"tty":true,"rows":30,"extra":[[[1]]]})");
  auto r = check_request(req, 3);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->contains("extra"));
  EXPECT_EQ((*r)["argv"], nlohmann::json({"/bin/sh"}));
  EXPECT_EQ((*r)["rows"], 30);
  EXPECT_EQ((*r)["cols"], 80);
  EXPECT_EQ((*r)["env"], nlohmann::json::array());
  // What lxhostd forwards checks again the same.
  EXPECT_EQ(*check_request(*r, 3), *r);
}

TEST(Protocol, RequestsOverABoundOrOfTheWrongTypeAreRefusedNamingTheField) {
  struct Case {
    const char* json;
    std::size_t fds;
    const char* expect;
    int code;
  };
  const Case cases[] = {
      {R"({"cmd":"ping"})", 0, "protocol version none is not supported", EPROTO},
      {R"({"v":"1","cmd":"ping"})", 0, "protocol version not a number", EPROTO},
      {R"({"v":1,"cmd":7})", 0, "'cmd' is not a string", EBADMSG},
      {R"({"v":1,"cmd":"nope"})", 0, "unknown command 'nope'", EINVAL},
      {R"({"v":1,"cmd":"ping"})", 1, "'ping' passes at most 0 fds, not 1", EBADMSG},
      {R"({"v":1,"cmd":"run"})", 4, "'run' passes at most 3 fds, not 4", EBADMSG},
      {R"({"v":1,"cmd":"run","argv":[1]})", 0, "'argv' is not an array of strings", EBADMSG},
      {R"({"v":1,"cmd":"run","env":"A=1"})", 0, "'env' is not an array of strings", EBADMSG},
      {R"({"v":1,"cmd":"run","argv":["a\u0000b"]})", 0, "'argv' has a string with a NUL byte", EBADMSG},
      {R"({"v":1,"cmd":"run","tty":1})", 0, "'tty' is not true or false", EBADMSG},
      {R"({"v":1,"cmd":"run","cols":70000})", 0, "'cols' is not an integer from 0 to 65535", EBADMSG},
      {R"({"v":1,"cmd":"run","blocked_signals":[65]})", 0, "'blocked_signals' has an entry that is not a signal", EBADMSG},
      {R"({"v":1,"cmd":"install","distro":"d","path":{}})", 0, "'path' is not a string", EBADMSG},
  };
  for (const auto& c : cases) {
    auto r = check_request(nlohmann::json::parse(c.json), c.fds);
    ASSERT_FALSE(r) << c.json;
    EXPECT_THAT(r.error().message, HasSubstr(c.expect)) << c.json;
    EXPECT_EQ(r.error().code, c.code) << c.json;
  }
}

}  // namespace
