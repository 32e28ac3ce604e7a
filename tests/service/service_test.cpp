// End-to-end tests of lxhostd and `lx`: launches, instances and their life, install state and
// its serialization, and faults (a crashing plugin, garbage on the socket, a foreign uid).
// Every test has its own runtime and data directories (removed afterwards), so its own daemon;
// nothing is written anywhere else. The Distro tests run lx as the unprivileged user.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <grp.h>
#include <pwd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol.h"
#include "run_command.h"
#include "test_backend.h"
#include "tmux_session.h"
#include "unprivileged.h"

namespace {

using lx::test::CommandOptions;
using lx::test::CommandResult;
using lx::test::process_alive;
using lx::test::run_command;
using lx::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

const std::string kLx = LX_BIN;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Waits until `pred` holds, at most `timeout`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

class Service : public ::testing::Test {
 protected:
  void SetUp() override {
    // The socket's path must fit in sockaddr_un: the runtime directory is a short one.
    run_tmp_ = std::make_unique<TempDir>("lxsvc", 0755);
    dir_tmp_ = std::make_unique<TempDir>("lxsvc-data", 0755);
    run_ = run_tmp_->path();
    dir_ = dir_tmp_->path();
    fs::create_directories(dir_ + "/data");
    fs::create_directories(dir_ + "/config");
    env_ = {"XDG_RUNTIME_DIR=" + run_, "XDG_DATA_HOME=" + dir_ + "/data", "XDG_CONFIG_HOME=" + dir_ + "/config"};
  }
  void TearDown() override {
    // The daemon (and every instance with it) is gone before its directories are.
    pid_t d = daemon_pid();
    lx({"shutdown"});
    if (d > 0 && !eventually([&] { return !process_alive(d); }, std::chrono::seconds(30))) kill(d, SIGKILL);
    run_tmp_.reset();
    dir_tmp_.reset();
  }

  // Runs `lx ARGS...` with this test's service directories.
  CommandResult lx(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    args.insert(args.begin(), lx_bin_);
    args.insert(args.begin(), prefix_.begin(), prefix_.end());
    CommandOptions o;
    o.env_add = env_;
    o.timeout = timeout;
    return run_command(args, o);
  }

  // Starts `lx ARGS...` in the background, stdout and stderr to `out`, stdin from /dev/null.
  pid_t lx_bg(std::vector<std::string> args, const std::string& out) {
    args.insert(args.begin(), lx_bin_);
    args.insert(args.begin(), prefix_.begin(), prefix_.end());
    args = lx::test::with_test_backend(args, env_);  // on the variant's backend, as lx() runs
    pid_t pid = fork();
    if (pid == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int n = open("/dev/null", O_RDONLY);
      dup2(n, 0);
      dup2(o, 1);
      dup2(o, 2);
      for (const auto& e : env_) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  }

  pid_t daemon_pid() {
    auto s = lx({"service", "status"});
    auto pos = s.out.find("(pid ");
    return pos == std::string::npos ? 0 : std::atoi(s.out.c_str() + pos + 5);
  }

  std::string socket_path() const { return run_ + "/lxhost/lxhostd.sock"; }
  std::string log() const { return slurp(run_ + "/lxhost/lxhostd.log"); }

  std::unique_ptr<TempDir> run_tmp_, dir_tmp_;
  std::string dir_, run_;
  std::vector<std::string> env_;
  std::vector<std::string> prefix_;  // e.g. setpriv, to run lx as another user
  std::string lx_bin_ = kLx;         // reachable(kLx) when lx runs as another user
};

TEST_F(Service, RunPassesOutputAndExitStatus) {
  auto r = lx({"run", "--", "/bin/sh", "-c", "echo hi; echo err >&2; exit 3"});
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.status, 3);
  r = lx({"run", "--", "/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.status, 128 + SIGTERM);
  r = lx({"run", "--", "/no/such/program"});
  EXPECT_EQ(r.status, 127);
  EXPECT_THAT(r.err, HasSubstr("No such file or directory"));
  // stdin is the client's own.
  CommandOptions o;
  o.env_add = env_;
  o.input = "from stdin\n";
  r = run_command({kLx, "run", "--", "/bin/cat"}, o);
  EXPECT_EQ(r.out, "from stdin\n");
  // The environment and working directory are the client's.
  o.input.clear();
  o.env_add.push_back("LXTEST_VALUE=42");
  r = run_command({kLx, "run", "--cd", "/usr", "--", "/bin/sh", "-c", "echo $LXTEST_VALUE $(pwd)"}, o);
  EXPECT_EQ(r.out, "42 /usr\n");
  // Signal dispositions are the client's (nohup-style ignoring included), not the instance's.
  auto native = run_command({"/bin/grep", "SigIgn", "/proc/self/status"}, o);
  r = run_command({kLx, "run", "--", "/bin/grep", "SigIgn", "/proc/self/status"}, o);
  EXPECT_EQ(r.out, native.out);
  native = run_command({"/bin/sh", "-c", "trap '' HUP INT; exec /bin/grep SigIgn /proc/self/status"}, o);
  EXPECT_NE(native.out, r.out);
  r = run_command({"/bin/sh", "-c", "trap '' HUP INT; exec " + kLx + " run -- /bin/grep SigIgn /proc/self/status"}, o);
  EXPECT_EQ(r.out, native.out);
  r = run_command({kLx, "run", "--", "/bin/sh", "-c", "yes | head -1"}, o);
  EXPECT_EQ(r.out, "y\n");
  EXPECT_EQ(r.status, 0);
}

TEST_F(Service, StartsOnDemandAndOnlyOnePerUser) {
  EXPECT_THAT(lx({"service", "status"}).out, HasSubstr("not running"));
  ASSERT_EQ(lx({"run", "--", "/bin/true"}).status, 0);
  pid_t pid = daemon_pid();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(fs::exists(socket_path()));
  // A second daemon for the same user refuses to start; the first keeps serving.
  CommandOptions o;
  o.env_add = env_;
  auto second = run_command({LXHOSTD_BIN}, o);
  EXPECT_EQ(second.status, 3);
  EXPECT_THAT(second.err, HasSubstr(fmt::format("already running for uid {} (pid {}", getuid(), pid)));
  EXPECT_EQ(lx({"run", "--", "/bin/true"}).status, 0);
  EXPECT_EQ(daemon_pid(), pid);
  EXPECT_EQ(lx({"service", "stop"}).status, 0);
  EXPECT_TRUE(eventually([&] { return !process_alive(pid); }));
  EXPECT_FALSE(fs::exists(socket_path()));
}

TEST_F(Service, TwoClientsShareAnInstanceAndItsDaemonsEndWithTheLast) {
  std::string a_out = dir_ + "/a.out";
  pid_t a = lx_bg({"run", "--", "/bin/sh", "-c", "echo A started; sleep 3; echo A done"}, a_out);
  ASSERT_TRUE(eventually([&] { return slurp(a_out).find("A started") != std::string::npos; }));
  // B leaves a daemon behind (double fork + setsid) and exits.
  auto b = lx({"run", "--", "/bin/sh", "-c", "setsid /bin/sleep 300 </dev/null >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(b.status, 0) << b.err;
  pid_t daemon = lx::test::host_pid(std::atoi(b.out.c_str()), "sleep 300");
  ASSERT_GT(daemon, 0) << b.out;
  EXPECT_TRUE(process_alive(daemon)) << "A is still attached: the instance lives on";
  auto st = lx({"status"});
  EXPECT_THAT(st.out, HasSubstr("host  (instance pid"));
  EXPECT_THAT(st.out, HasSubstr("1 client"));
  EXPECT_THAT(st.out, HasSubstr(fmt::format(" {} ", daemon)));
  EXPECT_THAT(st.out, HasSubstr("sleep 3"));
  // The same, for scripts.
  auto js = nlohmann::json::parse(lx({"status", "--json"}).out);
  ASSERT_EQ(js.size(), 1u) << js.dump();
  EXPECT_EQ(js[0]["name"], "host");
  EXPECT_EQ(js[0]["clients"], 1);
  bool listed = false;
  for (const auto& p : js[0]["processes"]) listed = listed || p["pid"] == daemon;
  EXPECT_TRUE(listed) << js.dump();
  EXPECT_EQ(lx::test::wait_for(a, std::chrono::seconds(20)), 0);
  EXPECT_THAT(slurp(a_out), HasSubstr("A done"));
  // The last client is gone: the instance ends, the daemon with it.
  EXPECT_TRUE(eventually([&] { return !process_alive(daemon); })) << "daemon " << daemon << " survived its instance";
  EXPECT_TRUE(eventually([&] { return lx({"status"}).out.find("no instances") != std::string::npos; }));
}

TEST_F(Service, AClientKilledWithSigkillCountsAsGone) {
  std::string out = dir_ + "/out";
  pid_t c = lx_bg({"run", "--", "/bin/sh", "-c",
                   "setsid /bin/sleep 300 </dev/null >/dev/null 2>&1 & echo daemon=$!; exec /bin/sleep 300"}, out);
  ASSERT_TRUE(eventually([&] { return slurp(out).find("daemon=") != std::string::npos; }));
  pid_t daemon = lx::test::host_pid(std::atoi(slurp(out).c_str() + slurp(out).find("daemon=") + 7), "sleep 300");
  ASSERT_GT(daemon, 0);
  ASSERT_TRUE(process_alive(daemon));
  kill(c, SIGKILL);
  lx::test::wait_for(c);
  EXPECT_TRUE(eventually([&] { return !process_alive(daemon); })) << "daemon " << daemon << " survived";
}

TEST_F(Service, SigtermToTheDaemonEndsEveryInstanceAndItself) {
  std::string out = dir_ + "/run.out";
  pid_t client = lx_bg({"run", "--", "/bin/sh", "-c", "echo up; exec sleep 300"}, out);
  ASSERT_TRUE(eventually([&] { return slurp(out).find("up") != std::string::npos; }));
  pid_t d = daemon_pid();
  ASSERT_GT(d, 0);
  kill(d, SIGTERM);
  EXPECT_EQ(lx::test::wait_for(client, std::chrono::seconds(20)), 128 + SIGTERM) << slurp(out);
  EXPECT_TRUE(eventually([&] { return !process_alive(d); }));
  EXPECT_FALSE(fs::exists(socket_path()));
  EXPECT_THAT(log(), HasSubstr("Terminated: ending every instance and exiting"));
}

TEST_F(Service, LingerKeepsAnInstanceUntilTerminate) {
  auto r = lx({"run", "--set", "instance.linger=forever", "--", "/bin/sh", "-c",
               "setsid /bin/sleep 300 </dev/null >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(r.status, 0) << r.err;
  pid_t daemon = lx::test::host_pid(std::atoi(r.out.c_str()), "sleep 300");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(process_alive(daemon));
  EXPECT_THAT(lx({"status"}).out, HasSubstr("idle"));
  // A running instance keeps its config: other --set values are refused with the way out.
  auto other = lx({"run", "--set", "proc.fake_root=true", "--", "/bin/true"});
  EXPECT_EQ(other.status, 125);
  EXPECT_THAT(other.err, HasSubstr("lx terminate host"));
  EXPECT_EQ(lx({"terminate", "host"}).status, 0);
  EXPECT_FALSE(process_alive(daemon));
  auto again = lx({"terminate", "host"});
  EXPECT_NE(again.status, 0);
  EXPECT_THAT(again.err, HasSubstr("no instance of 'host' is running"));
}

// A guest that reaches the service's socket (the default mounts bind the host's /tmp, where the
// runtime directory may be) would start an instance of its own choosing, unconfined: found by an
// attack. lxhostd serves no guest, whether it connects itself or lx connects on its behalf.
TEST_F(Service, AGuestOfLxIsNotServed) {
  ASSERT_EQ(lx({"run", "--", "/bin/true"}).status, 0);
  for (const char* root : {"fs.default_mounts=true", "fs.root=/."}) {
    auto r = lx({"exec", "--set", root, "--", lx_bin_, "run", "--", "/bin/echo", "served"});
    EXPECT_NE(r.status, 0) << root;
    EXPECT_EQ(r.out, "") << root;
    EXPECT_THAT(r.err, HasSubstr("lxhostd serves no guest of lx")) << root << ": " << r.err;
  }
  EXPECT_THAT(log(), HasSubstr("a guest of lx"));
  EXPECT_EQ(lx({"run", "--", "/bin/echo", "served"}).out, "served\n");
}

TEST_F(Service, ACrashingPluginEndsOneInstanceNotTheService) {
  ASSERT_EQ(lx({"run", "--", "/bin/true"}).status, 0);
  pid_t pid = daemon_pid();
  auto r = lx({"run", "--set", fmt::format("plugins.search_path=[\"{}\"]", CRASHY_PLUGIN_DIR), "--set",
               "families.other.plugin=crashy", "--", "/usr/bin/perl", "-e", "getppid()"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("instance ended before the command did"));
  EXPECT_EQ(daemon_pid(), pid);
  // At once: the crashed instance's end, which its client may see before lxhostd does, is
  // waited for.
  auto next = lx({"run", "--", "/bin/echo", "still serving"});
  EXPECT_EQ(next.status, 0) << next.err;
  EXPECT_EQ(next.out, "still serving\n");
  EXPECT_THAT(log(), HasSubstr("killed by signal 11"));
}

TEST_F(Service, ABadPluginIsRefusedWithItsReason) {
  auto r = lx({"run", "--set", "families.net.plugin=nosuchplugin", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("instance 'host' could not start"));
  EXPECT_THAT(r.err, HasSubstr("plugin 'nosuchplugin' not found"));
  EXPECT_EQ(lx({"run", "--", "/bin/true"}).status, 0);
}

// Sends raw bytes and reads one frame back.
lx::Result<lx::service::Frame> raw_exchange(const std::string& socket, const std::string& bytes) {
  lx::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, socket.c_str());
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return lx::Error::from_errno("connect");
  // The daemon may answer and close before it has read everything: no SIGPIPE, and what it
  // answered is still there to read.
  for (std::size_t sent = 0; sent < bytes.size();) {
    ssize_t n = send(fd.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  shutdown(fd.get(), SHUT_WR);
  return lx::service::recv_frame(fd.get(), 15000);
}

std::string framed(const std::string& payload) {
  std::uint32_t n = static_cast<std::uint32_t>(payload.size());
  std::string h = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
  return h + payload;
}

TEST_F(Service, GarbageOnTheSocketGetsAnErrorAndTheDaemonServesOn) {
  ASSERT_EQ(lx({"run", "--", "/bin/true"}).status, 0);
  pid_t pid = daemon_pid();
  struct Case {
    std::string bytes, expect;
  };
  std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\n\r\n", "over the limit"},
      {framed("{not json"), "not JSON"},
      {framed("[1,2]"), "not a JSON object"},
      {framed(R"({"v":99,"cmd":"ping"})"), "protocol version 99"},
      {framed(R"({"v":1,"cmd":"frobnicate"})"), "unknown command 'frobnicate'"},
      {framed(R"({"v":1,"cmd":"run","argv":"not a list"})"), "malformed request"},
      {std::string("\0\0\0\x10{\"v\":1", 10), "in the middle of a frame"},
  };
  for (const auto& c : cases) {
    auto f = raw_exchange(socket_path(), c.bytes);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_THAT(f->body.value("error", ""), HasSubstr(c.expect)) << f->body.dump();
  }
  auto ok = lx({"run", "--", "/bin/echo", "fine"});
  EXPECT_EQ(ok.out, "fine\n");
  EXPECT_EQ(daemon_pid(), pid);
}

// The instances' pids, by name, from `lx status --json`.
std::map<std::string, pid_t> instance_pids(const std::string& status_json) {
  std::map<std::string, pid_t> out;
  for (const auto& i : nlohmann::json::parse(status_json)) out[i["name"]] = i["pid"].get<pid_t>();
  return out;
}

// A JSON array nested `depth` deep.
std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST_F(Service, FramesOverABoundGetAnErrorNamingItAndEverythingServesOn) {
  // A lingering instance, so that its survival shows.
  auto first = lx({"run", "--set", "instance.linger=forever", "--", "/bin/true"});
  ASSERT_EQ(first.status, 0) << first.err;
  pid_t pid = daemon_pid();
  auto instances = instance_pids(lx({"status", "--json"}).out);
  ASSERT_EQ(instances.size(), 1u);
  struct Case {
    std::string bytes, expect;
  };
  std::string many_args = R"({"v":1,"cmd":"run","argv":[)";
  for (int i = 0; i <= 70000; ++i) many_args += i ? ",\"\"" : "\"\"";
  many_args += "]}";
  std::vector<Case> cases = {
      // A 1 GiB length prefix: refused on the prefix, the rest is never read.
      {std::string("\x40\0\0\0", 4) + std::string(1 << 20, 'x'), "length 1073741824 is over the limit of 4194304 bytes (kMaxFrame)"},
      {framed(R"({"v":1,"cmd":"run","argv":)" + nested(100000) + "}"), "nested deeper than 64 levels (kMaxDepth)"},
      {framed(R"({"v":1,"cmd":"run","env":[)" + nested(30000) + "]}"), "nested deeper than 64 levels (kMaxDepth)"},
      {framed(R"({"v":1,"cmd":"ping","x":)" + nested(65) + "}"), "nested deeper than 64 levels (kMaxDepth)"},
      {framed(many_args), "more than 65536 members (kMaxItems)"},
      {framed(R"({"v":1,"cmd":"run","argv":[")" + std::string(200000, 'a') + R"("]})"), "longer than 131072 bytes (kMaxString)"},
      {framed(R"({"v":1,"cmd":"run","rows":-1})"), "'rows' is not an integer from 0 to 65535"},
      {framed(R"({"v":1,"cmd":"run","ignored_signals":[0]})"), "'ignored_signals' has an entry that is not a signal number"},
      {framed(R"({"v":1,"cmd":"run","cwd":"a\u0000b"})"), "'cwd' contains a NUL byte"},
  };
  for (const auto& c : cases) {
    auto f = raw_exchange(socket_path(), c.bytes);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_THAT(f->body.value("error", ""), HasSubstr(c.expect)) << c.bytes.substr(0, 80);
  }
  // Too many fds with a launch: 4 (a launch passes 3) and 9 (a frame carries 8).
  for (auto [count, expect] : {std::pair{4, "'run' passes at most 3 fds, not 4"}, std::pair{9, "more than 8 fds"}}) {
    lx::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, socket_path().c_str());
    ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    lx::UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    std::vector<int> fds(static_cast<std::size_t>(count), null.get());
    std::string payload = framed(R"({"v":1,"cmd":"run","argv":["/bin/true"]})");
    iovec iov{payload.data(), payload.size()};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
    ASSERT_EQ(sendmsg(fd.get(), &msg, MSG_NOSIGNAL), static_cast<ssize_t>(payload.size()));
    auto f = lx::service::recv_frame(fd.get(), 15000);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_THAT(f->body.value("error", ""), HasSubstr(expect));
  }
  // lxhostd and the instance are the same processes, and serve the next launch.
  auto next = lx({"run", "--set", "instance.linger=forever", "--", "/bin/echo", "still serving"});
  EXPECT_EQ(next.out, "still serving\n") << next.err;
  EXPECT_EQ(daemon_pid(), pid);
  EXPECT_EQ(instance_pids(lx({"status", "--json"}).out), instances);
  EXPECT_THAT(log(), Not(HasSubstr("died")));
}

TEST_F(Service, AClientSendingTheInstanceAnOversizedFrameIsHungUpOnAndTheInstanceServesOn) {
  ASSERT_EQ(lx({"run", "--set", "instance.linger=forever", "--", "/bin/true"}).status, 0);
  auto instances = instance_pids(lx({"status", "--json"}).out);
  // A launch of our own, over a raw connection: after "started", the connection is the instance's.
  lx::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, socket_path().c_str());
  ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  lx::UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  int stdio[3] = {null.get(), null.get(), null.get()};
  // (the --set values of the runs above, the variant's backend first, as the support layer adds it)
  nlohmann::json sets = nlohmann::json::array();
  if (!lx::test::test_backend().empty()) sets.push_back("instance.backend=" + lx::test::test_backend());
  sets.push_back("instance.linger=forever");
  ASSERT_TRUE(lx::service::send_frame(fd.get(), {{"v", 1}, {"cmd", "run"}, {"sets", sets},
                                                 {"argv", {"/bin/sleep", "300"}}}, stdio));
  auto started = lx::service::recv_frame(fd.get(), 30000);
  ASSERT_TRUE(started) << started.error().message;
  ASSERT_EQ(started->body.value("event", ""), "started") << started->body.dump();
  pid_t guest = started->body.value("pid", 0);
  ASSERT_GT(guest, 0);
  std::string deep = framed(R"({"cmd":"signal","signal":)" + nested(30000) + "}");
  ASSERT_EQ(send(fd.get(), deep.data(), deep.size(), MSG_NOSIGNAL), static_cast<ssize_t>(deep.size()));
  auto reply = lx::service::recv_frame(fd.get(), 30000);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_THAT(reply->body.value("error", ""), HasSubstr("nested deeper than 64 levels (kMaxDepth)"));
  // Hung up on, like a terminal: the guest got SIGHUP, and the connection is closed.
  EXPECT_TRUE(eventually([&] { return !process_alive(guest); }));
  auto end = lx::service::recv_frame(fd.get(), 30000);
  EXPECT_FALSE(end);
  auto next = lx({"run", "--set", "instance.linger=forever", "--", "/bin/echo", "still serving"});
  EXPECT_EQ(next.out, "still serving\n") << next.err;
  EXPECT_EQ(instance_pids(lx({"status", "--json"}).out), instances);
}

// The processes below `root` (not itself), with their state letter from /proc/<pid>/stat.
std::map<pid_t, char> descendants(pid_t root) {
  std::map<pid_t, std::pair<pid_t, char>> all;  // pid -> (ppid, state)
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // read(2), not a stream: the process may be gone by now (ESRCH).
    std::string stat(512, '\0');
    lx::UniqueFd fd(open((e.path().string() + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
    ssize_t n = fd ? read(fd.get(), stat.data(), stat.size()) : -1;
    if (n <= 0) continue;
    stat.resize(static_cast<std::size_t>(n));
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    char state = stat[close + 2];
    pid_t ppid = std::atoi(stat.c_str() + close + 4);
    all[std::atoi(name.c_str())] = {ppid, state};
  }
  std::map<pid_t, char> out;
  for (const auto& [pid, ps] : all) {
    pid_t p = ps.first;
    for (int hops = 0; p > 1 && hops < 1000; ++hops) {
      if (p == root) {
        if (!lx::test::is_namespace_init(pid)) out[pid] = ps.second;  // a kernel-backed instance's init stays
        break;
      }
      auto it = all.find(p);
      if (it == all.end()) break;
      p = it->second.first;
    }
  }
  return out;
}

// A fork bomb with a ceiling: every shell starts three more in the background down to depth 5
// and exits at once, so most of them are orphans; many forks fail (EAGAIN) past the limit.
// dash ends a non-interactive shell whose fork fails, so the first process forks only once, to
// a subshell that bombs, before any limit is near: a failed fork ends a bomb process, never it.
const char* kForkBomb = "b() { [ $1 -gt 0 ] || return 0; for i in 1 2 3; do (b $(($1 - 1)) &) ; done; }; (b 5); exit 0";

TEST_F(Service, AForkBombInALingeringInstanceLeavesNoZombie) {
  const std::vector<std::string> sets = {"--set", "instance.linger=forever", "--set", "proc.max_processes=50"};
  ASSERT_EQ(lx({"run", sets[0], sets[1], sets[2], sets[3], "--", "/bin/true"}).status, 0);
  auto instances = instance_pids(lx({"status", "--json"}).out);
  ASSERT_EQ(instances.size(), 1u);
  pid_t instance = instances.begin()->second;
  for (int round = 0; round < 4; ++round) {
    auto r = lx({"run", sets[0], sets[1], sets[2], sets[3], "--", "/bin/sh", "-c", kForkBomb});
    ASSERT_EQ(r.status, 0) << r.err;
    // Once the bomb's processes are gone, nothing is left below the instance: no zombie either.
    std::map<pid_t, char> left;
    bool empty = eventually([&] { return (left = descendants(instance)).empty(); }, std::chrono::seconds(60));
    std::string shown;
    for (auto [p, st] : left) shown += fmt::format(" {}:{}", p, st);
    EXPECT_TRUE(empty) << "round " << round << ": left below the instance:" << shown;
  }
  EXPECT_EQ(instance_pids(lx({"status", "--json"}).out), instances);
}

TEST_F(Service, AForkBombUnderExecLeavesNoZombie) {
  // lx exec is the tracer and the subreaper of its tree: orphans are its children. While the
  // first process still runs, the bomb's exited processes must not stay as zombies below lx.
  std::string out = dir_ + "/exec.out";
  std::string script = std::string(kForkBomb).substr(0, std::string(kForkBomb).rfind("exit 0")) + "echo bombed; exec sleep 300";
  pid_t lx_pid = lx_bg({"exec", "--set", "proc.max_processes=50", "--", "/bin/sh", "-c", script}, out);
  ASSERT_TRUE(eventually([&] { return slurp(out).find("bombed") != std::string::npos; }, std::chrono::seconds(60)))
      << slurp(out);
  // What stays is the first process (sleep), and nothing else: no zombie.
  std::map<pid_t, char> left;
  bool only_sleep = eventually([&] {
    left = descendants(lx_pid);
    return left.size() == 1 && left.begin()->second != 'Z';
  }, std::chrono::seconds(60));
  std::string shown;
  for (auto [p, st] : left) shown += fmt::format(" {}:{}", p, st);
  EXPECT_TRUE(only_sleep) << "left below lx exec:" << shown;
  kill(lx_pid, SIGTERM);
  lx::test::wait_for(lx_pid, std::chrono::seconds(30));
}

TEST_F(Service, APeerOfAnotherUidIsRefused) {
  if (!lx::test::can_switch_user()) GTEST_SKIP() << "needs root (and setpriv) to act as another uid";
  ASSERT_EQ(lx({"run", "--", "/bin/true"}).status, 0);
  // Open the way on the filesystem, so that only the daemon's own check stands.
  chmod(run_.c_str(), 0755);
  chmod((run_ + "/lxhost").c_str(), 0755);
  chmod(socket_path().c_str(), 0666);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t child = fork();
  if (child == 0) {
    close(pipefd[0]);
    if (setgroups(0, nullptr) != 0 || setgid(lx::test::unprivileged_gid()) != 0 ||
        setuid(lx::test::unprivileged_uid()) != 0)
      _exit(2);
    auto f = raw_exchange(socket_path(), framed(R"({"v":1,"cmd":"ping"})"));
    std::string msg = f ? f->body.value("error", "no error: " + f->body.dump()) : "failed: " + f.error().message;
    (void)!write(pipefd[1], msg.data(), msg.size());
    _exit(0);
  }
  close(pipefd[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
  close(pipefd[0]);
  waitpid(child, nullptr, 0);
  EXPECT_THAT(msg, HasSubstr("refused"));
  EXPECT_THAT(msg, HasSubstr(fmt::format("not uid {}", lx::test::unprivileged_uid())));
  EXPECT_EQ(lx({"run", "--", "/bin/true"}).status, 0);
}

TEST_F(Service, ConcurrentLaunchesLoseNoExitStatus) {
  constexpr int kClients = 100;
  std::vector<pid_t> pids;
  for (int i = 0; i < kClients; ++i)
    pids.push_back(lx_bg({"run", "--", "/bin/sh", "-c", fmt::format("exit {}", i % 120)}, "/dev/null"));
  int right = 0;
  for (int i = 0; i < kClients; ++i) {
    int st = lx::test::wait_for(pids[static_cast<std::size_t>(i)], std::chrono::seconds(120));
    if (st == i % 120) ++right;
    else ADD_FAILURE() << "client " << i << " exited " << st;
  }
  EXPECT_EQ(right, kClients);
}

TEST_F(Service, InteractiveShellWithJobControl) {
  if (!lx::test::TmuxSession::available()) GTEST_SKIP() << "tmux or bash missing";
  // tmux's socket directory (tmux-UID) goes into this test's directory, not /tmp.
  setenv("TMUX_TMPDIR", dir_.c_str(), 1);
  std::string envs;
  for (const auto& e : env_) envs += e + " ";
  lx::test::TmuxSession t("env " + envs + kLx + " run -- /bin/bash --norc --noprofile -i; echo lx-exit=$?; sleep 60");
  ASSERT_TRUE(t.started());
  usleep(800000);
  t.keys({"tty; stty size", "Enter"});
  t.keys({"sleep 100", "Enter"});
  t.keys({"C-z"});
  t.keys({"jobs", "Enter"});
  t.keys({"fg", "Enter"});
  t.keys({"C-c"});
  t.keys({"echo status=$?", "Enter"});
  t.keys({"exit 5", "Enter"}, 900);
  std::string screen = t.screen();
  EXPECT_THAT(screen, HasSubstr("/dev/pts/")) << screen;
  EXPECT_THAT(screen, HasSubstr("30 100")) << screen;
  EXPECT_THAT(screen, HasSubstr("Stopped                 sleep 100\n")) << screen;
  EXPECT_THAT(screen, HasSubstr("status=130")) << screen;
  EXPECT_THAT(screen, HasSubstr("lx-exit=5")) << screen;
}

// The install state, as our users have it: an unprivileged user (CI runs as root, so the tests
// drop to uid 65534 with setpriv) installs rootfs tarballs the test builds, runs in them, exports
// and re-imports them.
class Distro : public Service {
 protected:
  void SetUp() override {
    Service::SetUp();
    for (const char* kind : {"busybox", "dynamic"}) {
      std::string root = dir_ + "/" + kind;
      auto mk = run_command({"bash", std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", kind, root});
      ASSERT_EQ(mk.status, 0) << mk.err;
    }
    // Owners and a device node only root can make: the tarball carries them.
    std::string bb = dir_ + "/busybox";
    if (geteuid() == 0) {
      ASSERT_EQ(chown((bb + "/home/user").c_str(), 1000, 1000), 0);
      ASSERT_EQ(mknod((bb + "/root/devnode").c_str(), S_IFCHR | 0640, makedev(1, 3)), 0);
      ASSERT_EQ(chmod((bb + "/root").c_str(), 0700), 0);
      // A setuid-root program (a stand-in: an empty file).
      std::ofstream(bb + "/bin/suidprobe").flush();
      ASSERT_EQ(chmod((bb + "/bin/suidprobe").c_str(), 04755), 0);
    }
    for (const char* kind : {"busybox", "dynamic"}) {
      // A distro tarball is root's. Root's files here already are; an ordinary user's are their
      // own (say uid 1000), so tar records them as root's instead.
      std::vector<std::string> tar = {"tar", "--numeric-owner", "-C", dir_ + "/" + kind, "-czf",
                                      dir_ + "/" + kind + ".tar.gz", "."};
      if (geteuid() != 0) tar.insert(tar.begin() + 1, {"--owner=0", "--group=0"});
      auto t = run_command(tar);
      ASSERT_EQ(t.status, 0) << t.err;
    }
    if (lx::test::can_switch_user()) {
      // Everything the user needs is theirs; then lx runs as them, from where they reach it.
      uid_t u = lx::test::unprivileged_uid();
      gid_t g = lx::test::unprivileged_gid();
      for (const auto& d : {dir_ + "/data", dir_ + "/config", run_, dir_}) ASSERT_EQ(chown(d.c_str(), u, g), 0) << d;
      for (const char* f : {"busybox.tar.gz", "dynamic.tar.gz"}) chown((dir_ + "/" + f).c_str(), u, g);
      prefix_ = lx::test::as_unprivileged({"env", "HOME=" + dir_});
      lx_bin_ = lx::test::reachable(kLx);
    }
  }

  // `tar -tv` of a tarball with numeric owners, sorted, without times.
  std::string listing(const std::string& tarball) {
    auto r = run_command({"sh", "-c", "tar --numeric-owner -tvf '" + tarball + "' | awk '{$4=\"\"; $5=\"\"; print}' | sort"});
    return r.out;
  }

  std::string store() const { return dir_ + "/data/lxhost/distros"; }
};

TEST_F(Distro, InstallRunExportAndReimportAsAnUnprivilegedUser) {
  LX_EMULATED_BACKEND_ONLY("owners and users other than root need a delegated id range under the kernel backend; with only the user's own id mapped they are kept as fs metadata only by the emulated backend so far (issue 11 note)");
  auto r = lx({"install", "bb", dir_ + "/busybox.tar.gz"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("installed bb"));
  EXPECT_THAT(r.out, HasSubstr("the default distro"));
  auto list = lx({"list"});
  EXPECT_THAT(list.out, HasSubstr("* bb"));
  EXPECT_THAT(list.out, HasSubstr("installed"));
  auto js = nlohmann::json::parse(lx({"list", "--json"}).out);
  ASSERT_EQ(js.size(), 1u);
  EXPECT_EQ(js[0]["name"], "bb");
  EXPECT_EQ(js[0]["state"], "installed");
  EXPECT_EQ(js[0]["default"], true);
  EXPECT_GT(js[0]["size"].get<std::uint64_t>(), 1000000u);
  // Inside, the distro is root's, as in the tarball, though on the host it is the user's.
  r = lx({"run", "--", "/bin/sh", "-c", "id -u; stat -c '%u %g %n' /bin/busybox /home/user; cd /etc && cat passwd | head -1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "0\n0 0 /bin/busybox\n" + std::string(geteuid() == 0 ? "1000 1000" : "0 0") +
                       " /home/user\nroot:x:0:0:root:/root:/bin/sh\n");
  struct stat host;
  ASSERT_EQ(stat((store() + "/bb/rootfs/bin/busybox").c_str(), &host), 0);
  EXPECT_EQ(host.st_uid, lx::test::unprivileged_uid());
  if (geteuid() == 0) {
    r = lx({"run", "--", "/bin/stat", "-c", "%F %t,%T %a", "/root/devnode", "/root"});
    EXPECT_EQ(r.out, "character special file 1,3 640\ndirectory 0,0 700\n") << r.err;
  }
  // chown inside persists across launches and instances. (The guest's /tmp is the host's: the
  // test writes nothing there.)
  EXPECT_EQ(lx({"run", "--", "/bin/sh", "-c", "touch /f && chown 123:45 /f"}).status, 0);
  lx({"terminate", "bb"});
  EXPECT_EQ(lx({"run", "--", "/bin/stat", "-c", "%u %g", "/f"}).out, "123 45\n");

  // Export writes the owners the guest sees; a re-install of it exports identically.
  std::string out1 = dir_ + "/out1.tar", out2 = dir_ + "/out2.tar.xz", out3 = dir_ + "/out3.tar.gz";
  r = lx({"export", "bb", out1});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string l1 = listing(out1);
  EXPECT_THAT(l1, HasSubstr("-rwxr-xr-x 0/0"));
  EXPECT_THAT(l1, HasSubstr("-rw-r--r-- 123/45 0   f\n"));
  if (geteuid() == 0) {
    EXPECT_THAT(l1, HasSubstr("drwxr-xr-x 1000/1000"));
    EXPECT_THAT(l1, HasSubstr("crw-r----- 0/0 1,3"));
  }
  ASSERT_EQ(lx({"install", "bb2", out1}).status, 0);
  ASSERT_EQ(lx({"export", "bb2", out2}).status, 0);
  EXPECT_EQ(listing(out2), l1);
  // import of a rootfs directory keeps its ownership metadata too.
  ASSERT_EQ(lx({"import", "bb3", store() + "/bb2/rootfs"}).status, 0);
  ASSERT_EQ(lx({"export", "bb3", out3}).status, 0);
  EXPECT_EQ(listing(out3), l1);

  EXPECT_EQ(lx({"default", "bb2"}).status, 0);
  EXPECT_THAT(lx({"list"}).out, HasSubstr("* bb2"));
  EXPECT_EQ(lx({"uninstall", "bb3"}).status, 0);
  EXPECT_THAT(lx({"list"}).out, Not(HasSubstr("bb3")));
  EXPECT_FALSE(fs::exists(store() + "/bb3"));
  r = lx({"run", "-d", "nosuch", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("distro 'nosuch' is not installed"));
}

TEST_F(Distro, ADynamicRootfsRunsItsOwnPrograms) {
  ASSERT_EQ(lx({"install", "dyn", dir_ + "/dynamic.tar.gz"}).status, 0);
  auto r = lx({"run", "-d", "dyn", "--", "/bin/sh", "-c", "id -u; ls /; cat /etc/passwd"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("0\n"));
  EXPECT_THAT(r.out, HasSubstr("etc\n"));
  EXPECT_THAT(r.out, HasSubstr("root:x:0:0:root:/root:/bin/sh"));
  // The working directory is the distro's /etc itself (the physical path, not the rootfs's path
  // on the host, which the kernel backend's bound /tmp would also reach).
  r = lx({"run", "-d", "dyn", "--cd", "/etc", "--", "/bin/sh", "-c", "pwd -P"});
  EXPECT_EQ(r.out, "/etc\n") << r.err;
  // A login shell when no command is given.
  CommandOptions o;
  o.env_add = env_;
  o.input = "echo login=$0 home=$HOME pwd=$(pwd)\n";
  std::vector<std::string> argv = prefix_;
  argv.insert(argv.end(), {lx_bin_, "run", "-d", "dyn"});
  r = run_command(argv, o);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("home=/root pwd=/root"));
}

TEST_F(Distro, RunAsAUserOfTheDistroWithTheDistrosOwnConfig) {
  LX_EMULATED_BACKEND_ONLY("owners and users other than root need a delegated id range under the kernel backend; with only the user's own id mapped they are kept as fs metadata only by the emulated backend so far (issue 11 note)");
  ASSERT_EQ(lx({"install", "bb", dir_ + "/busybox.tar.gz"}).status, 0);
  {
    std::ofstream cfg(store() + "/bb/lxhost.toml");
    cfg << "[proc]\nhostname = \"bb-host\"\n";
  }
  auto r = lx({"run", "-u", "user", "--", "/bin/sh", "-c",
               "id -u; id -G; echo $HOME $USER; pwd; hostname; touch ~/mine; mkdir ~/dir; stat -c '%u %g' ~/mine ~/dir"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1000\n1000\n/home/user user\n/home/user\nbb-host\n1000 1000\n1000 1000\n");
  // What the user created stays theirs, seen from another launch as root.
  EXPECT_EQ(lx({"run", "--", "/bin/stat", "-c", "%u %g", "/home/user/mine"}).out, "1000 1000\n");
  r = lx({"run", "-u", "nosuch", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("-u nosuch: no such user"));
  // A mistake in the distro's config names its place.
  lx({"terminate", "bb"});
  {
    std::ofstream cfg(store() + "/bb/lxhost.toml");
    cfg << "[proc]\nhostnam = \"x\"\n";
  }
  r = lx({"run", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("bb/lxhost.toml:2:1"));
}

// Issue 11: an ordinary user with a delegated subordinate range installs a distro (owners other
// than their own kept as fs metadata, setuid bits too); its first start on the kernel backend
// makes them real in the user namespace, and both backends then show the same owners.
TEST_F(Distro, UnderTheKernelBackendADelegatedRangeMakesTheRecordedOwnersReal) {
  if (lx::test::test_backend() == "emulated") GTEST_SKIP() << "about the kernel backend";
  if (!lx::test::kernel_refusal().empty()) GTEST_SKIP() << "the kernel backend is unavailable: " << lx::test::kernel_refusal();
  if (geteuid() != 0 || !lx::test::can_switch_user())
    GTEST_SKIP() << "needs root, to delegate a range to the test's unprivileged user in a private mount namespace";
  for (const char* f : {"/usr/bin/newuidmap", "/usr/bin/newgidmap", "/etc/subuid", "/etc/subgid"})
    if (access(f, F_OK) != 0) GTEST_SKIP() << f << " is missing (Debian's uidmap and passwd packages)";
  if (run_command({"unshare", "-m", "--propagation", "private", "mount", "--bind", "/etc/subuid", "/etc/subuid"}).status != 0)
    GTEST_SKIP() << "this host refuses root a private mount namespace with a bind mount (unshare -m)";
  // The range, seen only by this test's processes: /etc/subuid and /etc/subgid bound over in a
  // mount namespace of their own, where lxhostd starts (and newuidmap reads them).
  const passwd* pw = getpwuid(lx::test::unprivileged_uid());
  ASSERT_NE(pw, nullptr);
  std::ofstream(dir_ + "/subids") << pw->pw_name << ":300000:65536\n";
  std::string lx_words;
  for (const auto& w : prefix_) lx_words += "'" + w + "' ";
  lx_words += "'" + lx_bin_ + "'";
  std::string probe = "stat -c '%u:%g %a %n' /home/user /bin/suidprobe";
  std::string script = fmt::format(
      "set -e; mount --bind {0}/subids /etc/subuid; mount --bind {0}/subids /etc/subgid\n"
      "{1} install own {0}/busybox.tar.gz >/dev/null\n"
      "{1} run -d own --set instance.backend=kernel -- /bin/sh -c \"{2}; tr -s ' ' </proc/self/uid_map\"\n"
      "{1} run -d own --set instance.backend=kernel -u user -- /bin/sh -c 'id -u; touch ~/made; stat -c %u:%g ~/made'\n"
      "{1} run -d own --set instance.backend=kernel -- /bin/sh -c "
      "'mkdir /srv; mkdir -m 700 /srv/private; touch /srv/private/f; chown -R 1000:1000 /srv/private'\n"
      "{1} run -d own --set instance.backend=emulated -- /bin/sh -c \"{2} /home/user/made\"\n"
      "{1} export own {0}/own.tar >/dev/null\n"
      "cp -a {3}/own {0}/own-before-uninstall\n"
      "{1} uninstall own >/dev/null\n"
      "{1} shutdown\n",
      dir_, lx_words, probe, store());
  CommandOptions o;
  o.env_add = env_;
  o.timeout = std::chrono::seconds(120);
  auto r = run_command({"unshare", "-m", "--propagation", "private", "sh", "-c", script}, o);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  // Kernel backend: the owners and the setuid bit are real (the user's own id is root inside).
  EXPECT_THAT(r.out, HasSubstr("1000:1000 755 /home/user\n0:0 4755 /bin/suidprobe\n"));
  EXPECT_THAT(r.out, HasSubstr(fmt::format("0 {} 1", lx::test::unprivileged_uid())));
  EXPECT_THAT(r.out, HasSubstr("1 300000 65536"));
  EXPECT_THAT(log(), HasSubstr("made real for the subordinate ranges"));
  // A user of the distro runs as itself and what it makes is its own.
  EXPECT_THAT(r.out, HasSubstr("1000\n1000:1000\n"));
  // The emulated backend shows the same owners (the metadata stays).
  auto emulated = r.out.substr(r.out.find("1000:1000\n") + 10);
  EXPECT_THAT(emulated, HasSubstr("1000:1000 755 /home/user\n0:0 4755 /bin/suidprobe\n"));
  // ... and what a kernel-backend guest made in the range as its owner inside.
  EXPECT_THAT(emulated, HasSubstr("1000:1000 644 /home/user/made\n"));
  // Exported with the owners inside: recorded ones, and what a guest made in the range.
  std::string tar = listing(dir_ + "/own.tar");
  auto line_of = [&](const std::string& path) {
    for (std::size_t at = 0, end; at < tar.size(); at = end + 1) {
      end = tar.find('\n', at);
      if (end == std::string::npos) end = tar.size();
      std::string line = tar.substr(at, end - at);
      if (line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0) return line;
    }
    return std::string("(not in the tarball)");
  };
  EXPECT_THAT(line_of(" home/user/made"), HasSubstr(" 1000/1000 "));
  EXPECT_THAT(line_of(" home/user/"), HasSubstr(" 1000/1000 "));
  EXPECT_THAT(line_of(" bin/suidprobe"), HasSubstr("-rwsr-xr-x 0/0 "));
  // What a guest shut the user out of (another id's, 0700) is read and removed in the namespace.
  EXPECT_THAT(line_of(" srv/private/f"), HasSubstr(" 1000/1000 "));
  EXPECT_FALSE(fs::exists(store() + "/own")) << "uninstall left the distro";
  // On the host: the subordinate ids, and the distro reachable by its user only.
  struct stat st{};
  const std::string own = dir_ + "/own-before-uninstall";  // a copy taken (as root) before the uninstall
  ASSERT_EQ(stat((own + "/rootfs/home/user").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 300000u + 999u);
  char meta[256];
  EXPECT_LT(getxattr((own + "/rootfs/home/user").c_str(), "user.lxhost.meta", meta, sizeof meta), 0)
      << "the record of an applied owner stays";
  ASSERT_EQ(stat((own + "/rootfs/bin/suidprobe").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(stat(own.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(Distro, ALaunchWaitsForAnInstallOfItsDistroAndInstallsRunOneAtATime) {
  std::string fifo = dir_ + "/slow.tar.gz";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0666), 0);
  chown(fifo.c_str(), lx::test::unprivileged_uid(), lx::test::unprivileged_gid());
  pid_t install = lx_bg({"install", "bb", fifo}, dir_ + "/install.out");
  ASSERT_TRUE(eventually([&] { return lx({"list"}).out.find("installing") != std::string::npos; }))
      << slurp(dir_ + "/install.out");
  pid_t run = lx_bg({"run", "-d", "bb", "--", "/bin/echo", "ran"}, dir_ + "/run.out");
  pid_t second = lx_bg({"install", "dyn", dir_ + "/dynamic.tar.gz"}, dir_ + "/second.out");
  EXPECT_TRUE(eventually([&] { return slurp(dir_ + "/run.out").find("waiting for the install of 'bb'") != std::string::npos; }));
  EXPECT_TRUE(eventually([&] { return slurp(dir_ + "/second.out").find("waiting for the install of 'bb'") != std::string::npos; }));
  EXPECT_TRUE(process_alive(run));
  // The tarball arrives; the install completes, then the launch runs, and the second install.
  {
    std::ifstream in(dir_ + "/busybox.tar.gz", std::ios::binary);
    std::ofstream out(fifo, std::ios::binary);
    out << in.rdbuf();
  }
  EXPECT_EQ(lx::test::wait_for(install, std::chrono::seconds(60)), 0) << slurp(dir_ + "/install.out");
  EXPECT_EQ(lx::test::wait_for(run, std::chrono::seconds(60)), 0) << slurp(dir_ + "/run.out");
  EXPECT_THAT(slurp(dir_ + "/run.out"), HasSubstr("ran\n"));
  EXPECT_EQ(lx::test::wait_for(second, std::chrono::seconds(60)), 0) << slurp(dir_ + "/second.out");
  auto list = lx({"list"}).out;
  EXPECT_THAT(list, HasSubstr("bb "));
  EXPECT_THAT(list, HasSubstr("dyn "));
  // Installing a name twice is refused clearly.
  auto again = lx({"install", "bb", dir_ + "/busybox.tar.gz"});
  EXPECT_EQ(again.status, 125);
  EXPECT_THAT(again.err, HasSubstr("already installed"));
}

TEST_F(Distro, UninstallEndsTheRunningInstanceFirst) {
  ASSERT_EQ(lx({"install", "bb", dir_ + "/busybox.tar.gz"}).status, 0);
  std::string out = dir_ + "/run.out";
  pid_t client = lx_bg({"run", "-d", "bb", "--", "/bin/sh", "-c", "echo up; exec sleep 300"}, out);
  ASSERT_TRUE(eventually([&] { return slurp(out).find("up") != std::string::npos; }));
  auto r = lx({"uninstall", "bb"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ending the running instance of 'bb'"));
  // The command was ended (SIGTERM: 143), its client told, and the distro is gone.
  EXPECT_EQ(lx::test::wait_for(client, std::chrono::seconds(20)), 128 + SIGTERM) << slurp(out);
  EXPECT_FALSE(fs::exists(store() + "/bb"));
  EXPECT_THAT(lx({"list"}).out, Not(HasSubstr("bb")));
}

TEST_F(Distro, TheDaemonKilledDuringAnInstallLeavesTheListTruthful) {
  std::string fifo = dir_ + "/slow.tar.gz";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0666), 0);
  chown(fifo.c_str(), lx::test::unprivileged_uid(), lx::test::unprivileged_gid());
  pid_t install = lx_bg({"install", "bb", fifo}, dir_ + "/install.out");
  ASSERT_TRUE(eventually([&] { return lx({"list"}).out.find("installing") != std::string::npos; }));
  std::string tarball = slurp(dir_ + "/busybox.tar.gz");
  int w = open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(w, 0);
  ASSERT_EQ(write(w, tarball.data(), tarball.size() / 2), static_cast<ssize_t>(tarball.size() / 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  pid_t d = daemon_pid();
  ASSERT_GT(d, 0);
  kill(d, SIGKILL);
  close(w);
  EXPECT_EQ(lx::test::wait_for(install, std::chrono::seconds(30)), 125);
  EXPECT_THAT(slurp(dir_ + "/install.out"), HasSubstr("closed the connection"));
  // A new daemon (started on demand) clears what the killed install left; bb is not installed.
  auto list = lx({"list"});
  EXPECT_THAT(list.out, Not(HasSubstr("bb")));
  EXPECT_EQ(lx({"run", "-d", "bb", "--", "/bin/true"}).status, 125);
  for (const auto& e : fs::directory_iterator(store())) ADD_FAILURE() << "left behind: " << e.path();
  EXPECT_EQ(lx({"install", "bb", dir_ + "/busybox.tar.gz"}).status, 0);
  EXPECT_EQ(lx({"run", "-d", "bb", "--", "/bin/echo", "ok"}).out, "ok\n");
}

// What `lx syscalls` says auto chooses on this host: "kernel" or "emulated", and why (the same
// choice, made in lx: a user namespace is tried, driver::probe_user_namespace()).
std::pair<std::string, std::string> auto_backend(const CommandResult& syscalls) {
  const std::string head = "backend: ";
  if (syscalls.out.rfind(head, 0) != 0) return {"", syscalls.out.substr(0, syscalls.out.find('\n'))};
  std::string line = syscalls.out.substr(head.size(), syscalls.out.find('\n') - head.size());
  auto space = line.find(' ');
  std::string why = space == std::string::npos ? "" : line.substr(space + 1);
  if (why.size() >= 2 && why.front() == '(' && why.back() == ')') why = why.substr(1, why.size() - 2);
  return {line.substr(0, space), why};
}

TEST_F(Service, StatusAndTheLogSayWhichBackendAnInstanceRunsOnAndWhy) {
  auto r = lx({"run", "--set", "instance.linger=forever", "--set", "instance.backend=emulated", "--", "/bin/echo", "hi"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  const std::string why = "instance.backend = emulated (--set instance.backend=emulated)";
  auto js = nlohmann::json::parse(lx({"status", "--json"}).out);
  ASSERT_EQ(js.size(), 1u) << js.dump();
  EXPECT_EQ(js[0]["backend"], "emulated");
  EXPECT_EQ(js[0]["backend_why"], why);
  EXPECT_THAT(lx({"status"}).out, HasSubstr("BACKEND emulated (" + why + ")"));
  int pid = js[0]["pid"].get<int>();
  EXPECT_THAT(log(), HasSubstr(fmt::format("instance 'host' (pid {}) runs on the emulated backend: {}\n", pid, why)));
  // lx syscalls says the same of the same config, and of a wrong word lx config check says no.
  EXPECT_THAT(lx({"syscalls", "--set", "instance.backend=emulated"}).out, ::testing::StartsWith("backend: emulated (" + why + ")\n"));
  EXPECT_EQ(lx({"config", "check", "--set", "instance.backend=emulated"}).status, 0);
  auto bad = lx({"config", "check", "--set", "instance.backend=native"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.err, HasSubstr("instance.backend"));
}

TEST_F(Service, UnderAutoAnInstanceRunsOnTheKernelBackendWhereTheHostLetsIt) {
  // instance.backend = auto named on every command: the test config of a backend variant
  // (LXHOST_TEST_BACKEND) names one, and a command naming its own is left alone.
  const std::string automatic = "instance.backend=auto";
  auto [chosen, why] = auto_backend(lx({"syscalls", "--set", automatic}));
  if (chosen == "emulated" && why.find("refuses a user namespace") != std::string::npos)
    GTEST_SKIP() << "this host refuses a user namespace: " << why;
  ASSERT_EQ(chosen, "kernel") << why;
  EXPECT_EQ(why, "auto: this host lets the user create a user namespace");
  auto r = lx({"run", "--set", "instance.linger=forever", "--set", automatic, "--", "/bin/echo", "hi"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  auto js = nlohmann::json::parse(lx({"status", "--json"}).out);
  ASSERT_EQ(js.size(), 1u) << js.dump();
  EXPECT_EQ(js[0]["backend"], "kernel");
  EXPECT_EQ(js[0]["backend_why"], why);
  EXPECT_THAT(lx({"status"}).out, HasSubstr("BACKEND kernel (" + why + ")"));
  EXPECT_THAT(log(), HasSubstr(fmt::format("instance 'host' (pid {}) runs on the kernel backend: {}\n",
                                           js[0]["pid"].get<int>(), why)));
  // Asked for by name, the same backend, with the config's word as the reason.
  ASSERT_EQ(lx({"terminate", "host"}).status, 0);
  r = lx({"run", "--set", "instance.linger=forever", "--set", "instance.backend=kernel", "--", "/bin/echo", "hi"});
  ASSERT_EQ(r.status, 0) << r.err;
  js = nlohmann::json::parse(lx({"status", "--json"}).out);
  ASSERT_EQ(js.size(), 1u) << js.dump();
  EXPECT_EQ(js[0]["backend"], "kernel");
  EXPECT_EQ(js[0]["backend_why"], "instance.backend = kernel (--set instance.backend=kernel)");
}

}  // namespace
