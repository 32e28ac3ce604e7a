// End-to-end tests of the net plugin: domain policy in the kernel, loopback-only, port maps
// reachable from the host, AF_UNIX sockets inside the guest root.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"

namespace {

using lx::test::run_command;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kLx = LX_BIN;
const std::string kNet = std::string(GUEST_DIR) + "/guest_net";

TEST(NetPlugin, DefaultConfigAsksForNothing) {
  auto r = run_command({kLx, "syscalls"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# family net     enabled, plugin 'net'"));
  for (const char* call : {" bind ", " connect ", " sendto ", " getsockname ", " socket "})
    EXPECT_THAT(r.out, Not(HasSubstr(call)));
}

TEST(NetPlugin, AllowDomainsIsDecidedInTheKernel) {
  auto r = run_command({kLx, "exec", "--set", "net.allow_domains=[\"unix\"]", "--trace", "--",
                        std::string(GUEST_DIR) + "/guest_probe", "socket"});
  EXPECT_EQ(r.out, "EAFNOSUPPORT\n");
  EXPECT_THAT(r.err, HasSubstr("in kernel: socket -> errno(EAFNOSUPPORT)+rules"));
  EXPECT_THAT(r.err, Not(HasSubstr("] socket(")));  // never reached user space
  EXPECT_THAT(r.err, HasSubstr("0 notifications, 0 trace stops"));
  r = run_command({kLx, "exec", "--set", "net.allow_domains=[\"unix\"]", "--", std::string(GUEST_DIR) + "/guest_probe",
                   "unix"});
  EXPECT_EQ(r.out, "ok\n");
}

TEST(NetPlugin, BadDomainIsRefused) {
  auto r = run_command({kLx, "exec", "--set", "net.allow_domains=[\"carrier-pigeon\"]", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("unknown domain 'carrier-pigeon'"));
}

TEST(NetPlugin, LoopbackOnlyRefusesOtherAddressesBeforeAnyPacket) {
  // 10.0.0.1 is never contacted: the handler refuses on the address the guest passed.
  auto r = run_command({kLx, "exec", "--set", "net.bind=loopback", "--", kNet, "connect", "10.0.0.1", "80"});
  EXPECT_EQ(r.out, "EACCES\n") << r.err;
  r = run_command({kLx, "exec", "--set", "net.bind=loopback", "--", kNet, "udp", "10.0.0.1", "9"});
  EXPECT_EQ(r.out, "EACCES\n") << r.err;
  r = run_command({kLx, "exec", "--set", "net.bind=loopback", "--", kNet, "connect", "127.0.0.1", "1"});
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
  auto native = run_command({"/usr/bin/perl", "-e", script});
  ASSERT_EQ(native.out, "sigpipe\nerr=32\n");
  auto r = run_command({kLx, "exec", "--set", "net.bind=loopback", "--", "/usr/bin/perl", "-e", script});
  EXPECT_EQ(r.out, native.out) << r.err;
  EXPECT_EQ(r.status, 0);
}

TEST(NetPlugin, PortMappedGuestServerIsReachableFromTheHost) {
  int host_port = 20000 + getpid() % 20000;
  std::vector<std::string> argv;
  if (geteuid() == 0)  // an unprivileged guest binding port 80: only the map makes it possible
    argv = {"/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"};
  for (auto a : {kLx, std::string("exec"), std::string("--set"),
                 fmt::format("net.port_map=[{{guest=80, host={}}}]", host_port), std::string("--"), kNet,
                 std::string("serve"), std::string("80")})
    argv.push_back(a);
  int out = -1;
  pid_t pid = lx::test::start_command(argv, &out);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(lx::test::read_line(out), "listening 80");  // getsockname reports the guest port
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<in_port_t>(host_port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = -1;
  for (int i = 0; i < 50 && rc != 0; ++i) {
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

TEST(NetPlugin, UnixSocketsLiveInTheGuestRoot) {
  char tmpl[] = "/tmp/lxhost-net-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string root = dir + "/root";
  ASSERT_EQ(run_command({std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", "busybox", root}).status, 0);
  std::filesystem::create_directories(root + "/run");
  std::filesystem::copy_file(kNet, root + "/bin/guest_net");
  auto r = run_command({kLx, "exec", "--set", "fs.root=" + root, "--", "/bin/guest_net", "unix", "/run/x.sock"});
  EXPECT_EQ(r.out, "client got pong\nserver at /run/x.sock\n") << r.err;
  struct stat st;
  ASSERT_EQ(stat((root + "/run/x.sock").c_str(), &st), 0);  // on the host, under the guest root
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_FALSE(std::filesystem::exists("/run/x.sock"));
  std::filesystem::remove_all(dir);
}

}  // namespace
