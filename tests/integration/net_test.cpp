// End-to-end tests of the net plugin: domain policy in the kernel, loopback-only, port maps
// reachable from the host, AF_UNIX sockets inside the guest root, and every call that carries an
// address (sendto, sendmsg, sendmmsg, recvfrom, recvmsg, recvmmsg, accept, accept4) translated
// and policed — as the unprivileged user, against host sockets outside the guest root.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

namespace fs = std::filesystem;
using lx::test::as_unprivileged;
using lx::test::reachable;
using lx::test::run_command;
using lx::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kLx = LX_BIN;
const std::string kNet = std::string(GUEST_DIR) + "/guest_net";
const std::string kProbe = std::string(GUEST_DIR) + "/guest_probe";

// `lx exec` with `sets`, of `argv`, as the unprivileged user.
std::vector<std::string> lx_unprivileged(const std::vector<std::string>& sets, const std::vector<std::string>& argv) {
  std::vector<std::string> a = {reachable(kLx), "exec"};
  for (const auto& s : sets) a.insert(a.end(), {"--set", s});
  a.push_back("--");
  a.insert(a.end(), argv.begin(), argv.end());
  return as_unprivileged(a);
}

// A datagram socket of the host (the test), bound at `path` and open to every user: what a guest
// must never reach when `path` lies outside its root.
class HostDatagram {
 public:
  explicit HostDatagram(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && chmod(path.c_str(), 0777) == 0;
  }
  ~HostDatagram() { close(fd_); }
  bool bound() const { return bound_; }
  // The datagrams waiting, taken; waits up to `wait` for the first one.
  int drain(std::chrono::milliseconds wait = std::chrono::milliseconds(300)) {
    int n = 0;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return 0;
    char buf[64];
    while (recv(fd_, buf, sizeof buf, MSG_DONTWAIT) >= 0) ++n;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

// A rootfs with guest_net in /bin and a /run every user can write, in a directory the
// unprivileged user can reach; the host's /tmp is not mounted in it (the test's own sockets
// there must stay out of the guest's reach).
class NetRoot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("lxhost-net-test", 0755);
    root_ = *dir_ / "root";
    // guest_net is static: it needs nothing else in the root.
    fs::create_directories(root_ + "/bin");
    fs::create_directories(root_ + "/run");
    fs::permissions(root_ + "/run", fs::perms(01777));
    fs::copy_file(kNet, root_ + "/bin/guest_net");
    fs::permissions(root_ + "/bin/guest_net", fs::perms(0755));
  }
  static void TearDownTestSuite() { dir_.reset(); }

  // The outside of the root: a host directory the unprivileged user can reach.
  static std::string outside(const std::string& name) { return *dir_ / name; }

  // `lx exec` of guest_net ARGS in the rootfs, as the unprivileged user.
  static std::vector<std::string> guest(const std::vector<std::string>& args, std::vector<std::string> sets = {}) {
    sets.insert(sets.begin(), {"fs.root=" + root_, "fs.default_mounts=false"});
    std::vector<std::string> argv = {"/bin/guest_net"};
    argv.insert(argv.end(), args.begin(), args.end());
    return lx_unprivileged(sets, argv);
  }

  static std::unique_ptr<TempDir> dir_;
  static std::string root_;
};

std::unique_ptr<TempDir> NetRoot::dir_;
std::string NetRoot::root_;

TEST(NetPlugin, DefaultConfigAsksForNothing) {
  auto r = run_command({kLx, "syscalls"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# family net     enabled, plugin 'net'"));
  for (const char* call : {" bind ", " connect ", " sendto ", " sendmsg ", " sendmmsg ", " recvfrom ", " recvmsg ",
                           " accept ", " getsockname ", " socket "})
    EXPECT_THAT(r.out, Not(HasSubstr(call)));
}

TEST(NetPlugin, AllowDomainsIsDecidedInTheKernel) {
  auto r = run_command(lx_unprivileged({"net.allow_domains=[\"unix\"]"}, {reachable(kProbe), "socket"}));
  EXPECT_EQ(r.out, "EAFNOSUPPORT\n") << r.err;
  r = run_command(as_unprivileged({reachable(kLx), "exec", "--set", "net.allow_domains=[\"unix\"]", "--trace", "--",
                                   reachable(kProbe), "socket"}));
  EXPECT_EQ(r.out, "EAFNOSUPPORT\n");
  EXPECT_THAT(r.err, HasSubstr("in kernel: socket -> errno(EAFNOSUPPORT)+rules"));
  EXPECT_THAT(r.err, Not(HasSubstr("] socket(")));  // never reached user space
  r = run_command(lx_unprivileged({"net.allow_domains=[\"unix\"]"}, {reachable(kProbe), "unix"}));
  EXPECT_EQ(r.out, "ok\n");
}

TEST(NetPlugin, BadDomainIsRefused) {
  auto r = run_command(lx_unprivileged({"net.allow_domains=[\"carrier-pigeon\"]"}, {"/bin/true"}));
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("unknown domain 'carrier-pigeon'"));
}

TEST(NetPlugin, LoopbackOnlyRefusesOtherAddressesBeforeAnyPacket) {
  // 10.0.0.1 is never contacted: the handler refuses on the address the guest passed.
  const std::vector<std::string> loopback = {"net.bind=loopback"};
  auto r = run_command(lx_unprivileged(loopback, {reachable(kNet), "connect", "10.0.0.1", "80"}));
  EXPECT_EQ(r.out, "EACCES\n") << r.err;
  r = run_command(lx_unprivileged(loopback, {reachable(kNet), "udp", "10.0.0.1", "9"}));
  EXPECT_EQ(r.out, "EACCES\n") << r.err;
  for (const char* mode : {"sendmsg", "sendmmsg"}) {
    r = run_command(lx_unprivileged(loopback, {reachable(kNet), "inet-send", mode, "10.0.0.1", "9"}));
    EXPECT_EQ(r.out, "EACCES\n") << mode << ": " << r.err;
  }
  r = run_command(lx_unprivileged(loopback, {reachable(kNet), "connect", "127.0.0.1", "1"}));
  EXPECT_EQ(r.out, "ECONNREFUSED\n") << r.err;  // allowed, and nobody listens there
}

TEST(NetPlugin, ABrokenPipeOnASendDoneOnBehalfIsTheGuestsSigpipe) {
  if (access("/usr/bin/perl", X_OK) != 0) GTEST_SKIP() << "perl missing";
  // sendto with an address goes through the loopback policy, on the guest's behalf: a peer that
  // is gone gives the guest EPIPE and its SIGPIPE, as natively, and never signals lx itself.
  const char* script =
      "use Socket; use Time::HiRes qw(sleep);"
      "socket(my $l, PF_INET, SOCK_STREAM, 0); bind($l, pack_sockaddr_in(0, inet_aton('127.0.0.1'))); listen($l, 1);"
      "my $addr = getsockname($l); socket(my $c, PF_INET, SOCK_STREAM, 0); connect($c, $addr); accept(my $a, $l);"
      "close($a); close($l); $SIG{PIPE} = sub { print qq(sigpipe\n) };"
      "for (1..20) { if (!defined send($c, 'x', 0, $addr)) { print 'err=', $!+0, qq(\n); last } sleep 0.05 }";
  auto native = run_command(as_unprivileged({"/usr/bin/perl", "-e", script}));
  ASSERT_EQ(native.out, "sigpipe\nerr=32\n");
  auto r = run_command(lx_unprivileged({"net.bind=loopback"}, {"/usr/bin/perl", "-e", script}));
  EXPECT_EQ(r.out, native.out) << r.err;
  EXPECT_EQ(r.status, 0);
}

// A host UDP socket on 127.0.0.1 at a free port.
struct HostUdp {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int port = 0;
  HostUdp() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
    port = ntohs(a.sin_port);
  }
  ~HostUdp() { close(fd); }
  int drain() {
    int n = 0;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 300) <= 0) return 0;
    char buf[16];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) ++n;
    return n;
  }
};

TEST(NetPlugin, SendmsgAndSendmmsgFollowThePortMap) {
  HostUdp host;
  ASSERT_GT(host.port, 0);
  // The guest sends to port 53 (which it could not bind as an unprivileged user); the map sends it
  // to the host's socket.
  const std::vector<std::string> map = {fmt::format("net.port_map=[{{guest=53, host={}}}]", host.port)};
  auto r = run_command(lx_unprivileged(map, {reachable(kNet), "inet-send", "sendmsg", "127.0.0.1", "53"}));
  EXPECT_EQ(r.out, "ok 1\n") << r.err;
  EXPECT_EQ(host.drain(), 1);
  r = run_command(lx_unprivileged(map, {reachable(kNet), "inet-send", "sendmmsg", "127.0.0.1", "53"}));
  EXPECT_EQ(r.out, "ok 2\nlen 1 1\n") << r.err;
  EXPECT_EQ(host.drain(), 2);
}

TEST(NetPlugin, PortMappedGuestServerIsReachableFromTheHost) {
  int host_port = 20000 + getpid() % 20000;
  // An unprivileged guest binding port 80: only the map makes it possible.
  int out = -1;
  pid_t pid = lx::test::start_command(
      lx_unprivileged({fmt::format("net.port_map=[{{guest=80, host={}}}]", host_port)}, {reachable(kNet), "serve", "80"}),
      &out);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(lx::test::read_line(out), "listening 80");  // getsockname reports the guest port
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<in_port_t>(host_port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = -1;
  for (int i = 0; i < 250 && rc != 0; ++i) {
    rc = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(rc, 0) << "no server on host port " << host_port;
  char buf[16] = {0};
  EXPECT_EQ(read(s, buf, sizeof buf - 1), 6);
  EXPECT_STREQ(buf, "hello\n");
  close(s);
  EXPECT_EQ(lx::test::wait_for(pid), 0);
  close(out);
}

TEST_F(NetRoot, UnixSocketsLiveInTheGuestRoot) {
  auto r = run_command(guest({"unix", "/run/x.sock"}));
  EXPECT_EQ(r.out, "client got pong\nserver at /run/x.sock\n") << r.err;
  struct stat st;
  ASSERT_EQ(stat((root_ + "/run/x.sock").c_str(), &st), 0);  // on the host, under the guest root
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_uid, lx::test::unprivileged_uid());
  EXPECT_FALSE(fs::exists("/run/x.sock"));
}

TEST_F(NetRoot, SendsToAHostPathOutsideTheRootDeliverNothing) {
  HostDatagram host(outside("host.sock"));
  ASSERT_TRUE(host.bound());
  // The same host path, as the guest names it and through ".." above its root.
  for (const std::string& path : {outside("host.sock"), "/../../../.." + outside("host.sock")}) {
    for (const char* mode : {"sendto", "sendmsg", "sendmmsg"}) {
      auto r = run_command(guest({"dgram-send", mode, path}));
      EXPECT_EQ(r.out, "ENOENT\n") << mode << " " << path << ": " << r.err;
    }
  }
  EXPECT_EQ(host.drain(), 0);
  // The host socket itself works: the test can reach it.
  int c = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, outside("host.sock").c_str(), sizeof a.sun_path - 1);
  EXPECT_EQ(sendto(c, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a), 1);
  close(c);
  EXPECT_EQ(host.drain(), 1);
}

TEST_F(NetRoot, SendsToAPathInsideTheRootDeliver) {
  HostDatagram inside(root_ + "/run/in.sock");
  ASSERT_TRUE(inside.bound());
  for (const char* mode : {"sendto", "sendmsg"}) {
    auto r = run_command(guest({"dgram-send", mode, "/run/in.sock"}));
    EXPECT_EQ(r.out, "ok 1\n") << mode << ": " << r.err;
    EXPECT_EQ(inside.drain(), 1) << mode;
  }
  auto r = run_command(guest({"dgram-send", "sendmmsg", "/run/in.sock"}));
  EXPECT_EQ(r.out, "ok 2\nlen 1 1\n") << r.err;
  EXPECT_EQ(inside.drain(), 2);
}

TEST_F(NetRoot, ARaceOnTheAddressOrTheFdNeverReachesOutside) {
  // A guest thread keeps rewriting msg_name between a path inside the root and a host path outside
  // it, and swapping the socket's fd for an inet socket, while another sends.
  HostDatagram host(outside("race.sock"));
  HostDatagram inside(root_ + "/run/race-in.sock");
  ASSERT_TRUE(host.bound() && inside.bound());
  auto r = run_command(guest({"race", "/run/race-in.sock", outside("race.sock"), "3000"}));
  EXPECT_THAT(r.out, StartsWith("sent ")) << r.err;
  EXPECT_GT(inside.drain(), 0);
  EXPECT_EQ(host.drain(), 0);
}

TEST_F(NetRoot, ADirectorySwappedForASymlinkNeverLeadsOutside) {
  // The guest keeps swapping /run/d for a relative symlink that, walked by the host, climbs out of
  // the root to <dir>/out, where a host socket s.sock waits, while it sends to /run/d/s.sock.
  fs::create_directories(outside("out"));
  HostDatagram host(outside("out/s.sock"));
  ASSERT_TRUE(host.bound());
  auto r = run_command(guest({"dirswap", "/run/d", "../../out", "3000"}));
  EXPECT_THAT(r.out, StartsWith("sent ")) << r.err;
  EXPECT_NE(r.out, "sent 0\n");
  EXPECT_EQ(host.drain(), 0);
}

TEST_F(NetRoot, RightsPassBetweenGuestProcessesOverATranslatedSocket) {
  auto r = run_command(guest({"rights", "/run/rights.sock"}));
  EXPECT_EQ(r.out, "got through the fd\n") << r.err;
}

TEST_F(NetRoot, ReceivedAddressesAreGuestPaths) {
  for (const char* mode : {"recvfrom", "recvmsg", "recvmmsg"}) {
    auto r = run_command(guest({"dgram-recv", mode, "/run/r.sock"}));
    EXPECT_EQ(r.out, "from /run/r.sock.c len 1\n") << mode << ": " << r.err;
  }
  auto r = run_command(guest({"accept", "accept", "/run/a.sock"}));
  EXPECT_EQ(r.out, "peer /run/a.sock.c\n") << r.err;
  r = run_command(guest({"accept", "accept4", "/run/a4.sock"}));
  EXPECT_EQ(r.out, "peer /run/a4.sock.c\ncloexec 1 nonblock 1\n") << r.err;
}

TEST_F(NetRoot, AHostSenderOutsideTheGuestsWorldShowsUnnamed) {
  LX_EMULATED_BACKEND_ONLY("AF_UNIX receives are native under the kernel backend: the kernel gives the name the sender bound, as in any container");
  // A host process bound outside the root sends to the guest: its path is not the guest's to see.
  int out = -1;
  pid_t pid = lx::test::start_command(guest({"dgram-recv-only", "/run/from-host.sock"}), &out);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(lx::test::read_line(out, std::chrono::seconds(30)), "ready");
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, (root_ + "/run/from-host.sock").c_str(), sizeof a.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un b{};
  b.sun_family = AF_UNIX;
  std::string from = outside("sender2.sock");
  std::strncpy(b.sun_path, from.c_str(), sizeof b.sun_path - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&b), sizeof b), 0);
  EXPECT_EQ(sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a), 1);
  close(fd);
  std::string line = lx::test::read_line(out, std::chrono::seconds(30));
  EXPECT_EQ(line, "from  len 0");  // unnamed: no path at all
  EXPECT_THAT(line, Not(HasSubstr(dir_->path())));
  EXPECT_EQ(lx::test::wait_for(pid), 0);
  close(out);
}

TEST_F(NetRoot, BadPointersAndLengthsGiveTheNativeErrors) {
  auto native = run_command(as_unprivileged({reachable(kNet), "errors"}));
  ASSERT_EQ(native.status, 0) << native.err;
  auto r = run_command(guest({"errors"}));
  EXPECT_EQ(r.out, native.out) << r.err;
  EXPECT_THAT(r.out, HasSubstr("sendmmsg vlen 1100: ok 1024\n"));
}

TEST_F(NetRoot, ABlockingReceiveOnBehalfEndsOnTheGuestsSignals) {
  // recvfrom with an address on an AF_UNIX socket waits on the guest's behalf: SIGALRM without
  // SA_RESTART ends it with EINTR; with SA_RESTART it goes on until the data comes.
  int out = -1;
  pid_t pid = lx::test::start_command(guest({"recv-signal", "/run/sig.sock"}), &out);
  ASSERT_GT(pid, 0);
  EXPECT_THAT(lx::test::read_line(out, std::chrono::seconds(30)), StartsWith("pid "));
  EXPECT_EQ(lx::test::read_line(out, std::chrono::seconds(30)), "ready");
  EXPECT_EQ(lx::test::read_line(out, std::chrono::seconds(30)), "EINTR");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // lets the second alarm come first
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, (root_ + "/run/sig.sock").c_str(), sizeof a.sun_path - 1);
  EXPECT_EQ(sendto(fd, "abc", 3, 0, reinterpret_cast<sockaddr*>(&a), sizeof a), 3);
  close(fd);
  EXPECT_EQ(lx::test::read_line(out, std::chrono::seconds(30)), "restarted, got 3");
  EXPECT_EQ(lx::test::wait_for(pid), 0);
  close(out);
}

TEST_F(NetRoot, ABlockingSendOnBehalfEndsOnTheGuestsSignals) {
  auto native = run_command(as_unprivileged({reachable(kNet), "send-signal", root_ + "/run/full-native.sock"}));
  ASSERT_EQ(native.out, "full EAGAIN\nEINTR\n");
  auto r = run_command(guest({"send-signal", "/run/full.sock"}));
  EXPECT_EQ(r.out, native.out) << r.err;
}

TEST_F(NetRoot, AKilledGuestEndsItsBlockingReceiveOnBehalf) {
  LX_EMULATED_BACKEND_ONLY("receives done on behalf of the guest are the emulated backend's translation");
  int out = -1;
  pid_t pid = lx::test::start_command(guest({"recv-signal", "/run/kill.sock"}), &out);
  ASSERT_GT(pid, 0);
  std::string line = lx::test::read_line(out, std::chrono::seconds(30));
  ASSERT_THAT(line, StartsWith("pid "));
  pid_t guest_pid = std::stoi(line.substr(4));
  EXPECT_EQ(lx::test::read_line(out, std::chrono::seconds(30)), "ready");
  // The guest (same uid as the unprivileged user, or as the test) blocks in recvfrom; kill it.
  ASSERT_EQ(kill(guest_pid, SIGKILL), 0);
  EXPECT_EQ(lx::test::wait_for(pid, std::chrono::seconds(30)), 128 + SIGKILL);
  close(out);
}

TEST_F(NetRoot, SyscallsTableSaysWhatNetDoes) {
  LX_EMULATED_BACKEND_ONLY("the emulated backend's rows (backend_routes_test checks the kernel backend's)");
  auto r = run_command({kLx, "syscalls", "--set", "fs.root=" + root_});
  EXPECT_EQ(r.status, 0) << r.err;
  for (const char* call : {" sendmsg ", " sendmmsg ", " recvfrom ", " recvmsg ", " recvmmsg ", " accept ", " accept4 "})
    EXPECT_THAT(r.out, HasSubstr(call));
  EXPECT_THAT(r.out, HasSubstr("SCM_RIGHTS carries the guest's fds"));
}

}  // namespace
