// lxhost-runc behind the real clients (issue 13, item 3): podman (rootful and rootless, through
// conmon) and containerd (ctr, through the runc v2 shim; its CRI plugin loading a RuntimeClass's
// runtime). Each client gets a storage and state of its own under a temporary directory, and the
// image is imported from the tests' busybox rootfs. The containers follow LXHOST_TEST_BACKEND
// through the io.lxhost.instance.backend annotation.
//
// This machine kind gives root no CAP_SYS_RESOURCE: podman's default rlimits (as high as the
// host's hard limits allow... for runc too) are lowered with --ulimit, as the README says.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

using lx::test::CommandResult;
using lx::test::run_command;
using lx::test::TempDir;
using ::testing::HasSubstr;

const std::string kRunc = LXHOST_RUNC_BIN;
const std::string kImage = "localhost/lxhost-busybox:test";

std::string backend() { return lx::test::test_backend().empty() ? "auto" : lx::test::test_backend(); }

// A busybox rootfs as a tar file in `dir`.
std::string rootfs_tar(const TempDir& dir) {
  std::string root = dir / "rootfs";
  auto made = run_command({std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", "busybox", root});
  if (made.status != 0) throw std::runtime_error("make_rootfs: " + made.err);
  std::string tar = dir / "rootfs.tar";
  auto t = run_command({"tar", "-C", root, "-cf", tar, "."});
  if (t.status != 0) throw std::runtime_error("tar: " + t.err);
  return tar;
}

// Why podman cannot run on this machine at all, or "" when it can: in a chroot whose root is only
// a directory, not a mount point, podman's storage fails to unpack any layer (it remounts /
// private first: EINVAL). A real machine's / is always a mount point; scripts/fresh_chroot.sh binds
// the chroot on itself for that reason. Anything else that stops podman is a test failure.
std::string podman_cannot_run_here() {
  struct statx st {};
  if (statx(AT_FDCWD, "/", 0, STATX_BASIC_STATS, &st) == 0 && (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
      !(st.stx_attributes & STATX_ATTR_MOUNT_ROOT))
    return "/ is not a mount point here (a chroot that is only a directory): podman's storage cannot remount it";
  return "";
}

// Whether a process whose command line holds `text` runs.
bool any_process_with(const std::string& text) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos || std::to_string(getpid()) == name) continue;
    std::ifstream f(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.find(text) != std::string::npos && cmd.find("grep") == std::string::npos) return true;
  }
  return false;
}

// Rootful podman with a storage of its own.
class Podman : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "rootful podman needs root (the rootless test covers an ordinary user)";
    if (auto why = podman_cannot_run_here(); !why.empty()) GTEST_SKIP() << why;
    ready_ = true;
    auto r = podman({"import", rootfs_tar(dir_), kImage});
    ASSERT_EQ(r.status, 0) << "podman import: " << r.err;
  }
  void TearDown() override {
    if (!ready_) return;  // a skipped test ran no podman (which leaves /tmp/containers-user-UID)
    podman({"rm", "--all", "--force", "--time", "0"});
    podman({"rmi", "--all", "--force"});
    podman({"system", "reset", "--force"});
  }
  CommandResult podman(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::vector<std::string> argv{"podman", "--root", dir_ / "storage", "--runroot", dir_ / "run", "--tmpdir", dir_ / "tmp",
                                  "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", kRunc};
    argv.insert(argv.end(), args.begin(), args.end());
    lx::test::CommandOptions o;
    o.timeout = timeout;
    return run_command(argv, o);
  }
  std::vector<std::string> run_options() {
    return {"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--annotation",
            "io.lxhost.instance.backend=" + backend()};
  }
  TempDir dir_{"lxhost-podman"};
  bool ready_ = false;
};

TEST_F(Podman, RunPrintsAndExitsAsTheContainerDid) {
  std::vector<std::string> args{"run", "--rm"};
  for (auto& o : run_options()) args.push_back(o);
  args.insert(args.end(), {kImage, "sh", "-c", "echo hi; exit 3"});
  auto r = podman(args);
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "hi\n");
}

TEST_F(Podman, DetachedContainerTakesExecLogsStopAndRm) {
  std::vector<std::string> args{"run", "-d", "--name", "lxc1"};
  for (auto& o : run_options()) args.push_back(o);
  // It ignores SIGTERM: stop must end it with SIGKILL after the timeout.
  args.insert(args.end(), {kImage, "sh", "-c", "trap '' TERM; echo up; while true; do sleep 0.2; done"});
  auto r = podman(args);
  ASSERT_EQ(r.status, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  ASSERT_FALSE(id.empty());
  auto ps = podman({"ps", "--format", "{{.Names}} {{.Status}}"});
  EXPECT_THAT(ps.out, HasSubstr("lxc1 Up"));
  auto e = podman({"exec", "lxc1", "sh", "-c", "echo in exec; exit 4"});
  EXPECT_EQ(e.status, 4) << e.err;
  EXPECT_EQ(e.out, "in exec\n");
  auto logs = podman({"logs", "lxc1"});
  EXPECT_THAT(logs.out, HasSubstr("up"));
  auto stop = podman({"stop", "--time", "1", "lxc1"});
  EXPECT_EQ(stop.status, 0) << stop.err;
  auto inspect = podman({"inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "lxc1"});
  EXPECT_EQ(inspect.out, "exited 137\n");
  EXPECT_EQ(podman({"rm", "lxc1"}).status, 0);
  EXPECT_FALSE(any_process_with(id)) << "nothing of the container runs after rm";
}

TEST_F(Podman, KillSendsTheSignalToTheContainersProcess) {
  std::vector<std::string> args{"run", "-d", "--name", "lxc2"};
  for (auto& o : run_options()) args.push_back(o);
  args.insert(args.end(), {kImage, "sh", "-c", "trap 'echo got USR1; exit 5' USR1; while true; do sleep 0.1; done"});
  ASSERT_EQ(podman(args).status, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(podman({"kill", "--signal", "USR1", "lxc2"}).status, 0);
  auto wait = podman({"wait", "lxc2"});
  EXPECT_EQ(wait.out, "5\n") << wait.err;
  EXPECT_THAT(podman({"logs", "lxc2"}).out, HasSubstr("got USR1"));
}

TEST_F(Podman, ATerminalContainerHasItsOwnTty) {
  // podman -it on a terminal (script(1) gives it one): conmon gets the pty through the console
  // socket, the container's stdin is a tty that ttyname() finds.
  std::string cmd = "podman --root " + (dir_ / "storage") + " --runroot " + (dir_ / "run") + " --tmpdir " + (dir_ / "tmp") +
                    " --cgroup-manager cgroupfs --events-backend file --runtime " + kRunc + " run --rm -it";
  for (auto& o : run_options()) cmd += " " + o;
  cmd += " " + kImage + " sh -c 'tty; exit 6'";
  auto r = run_command({"script", "-qec", cmd, "/dev/null"});
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("/dev/pts/[0-9]+\r\n"));
}

TEST(PodmanRootless, AnOrdinaryUserRunsAContainer) {
  if (!lx::test::can_switch_user()) GTEST_SKIP() << "needs root to give uid 65534 a subordinate range for the test";
  if (auto why = podman_cannot_run_here(); !why.empty()) GTEST_SKIP() << why;
  if (!lx::test::kernel_refusal().empty())  // a chroot, for one
    GTEST_SKIP() << "rootless podman needs a user namespace, and this host refuses one: " << lx::test::kernel_refusal();
  // uid 65534 gets a home, a runtime directory and a subordinate range (in a private mount
  // namespace, /etc/subuid and /etc/subgid bound over: the host's files are not touched).
  TempDir dir("lxhost-rootless", 0755);
  std::string home = dir / "home", run = dir / "run";
  std::filesystem::create_directories(home);
  std::filesystem::create_directories(run);
  std::filesystem::copy_file(rootfs_tar(dir), home + "/rootfs.tar");
  for (const auto& p : {home, run, home + "/rootfs.tar"}) ASSERT_EQ(chown(p.c_str(), 65534, 65534), 0);
  chmod(run.c_str(), 0700);
  std::ofstream(dir / "subuid") << "nobody:300000:65536\n";
  std::ofstream(dir / "subgid") << "nobody:300000:65536\n";
  std::string runc = lx::test::reachable(kRunc);
  std::string podman = "podman --cgroup-manager cgroupfs --events-backend file --runtime " + runc;
  std::string script =
      "set -e; mount --bind " + (dir / "subuid") + " /etc/subuid; mount --bind " + (dir / "subgid") +
      " /etc/subgid; exec setpriv --reuid 65534 --regid 65534 --clear-groups env -i HOME=" + home +
      " XDG_RUNTIME_DIR=" + run + " PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c 'cd; " + podman + " import rootfs.tar " +
      kImage + " >/dev/null || exit 77; " + podman + " run --rm --network none --ulimit nofile=1024:1024 --annotation io.lxhost.instance.backend=" +
      backend() + " " + kImage + " sh -c \"echo hi; id -u; exit 3\"; rc=$?; " + podman +
      " rmi --all --force >/dev/null 2>&1; " + podman + " system migrate >/dev/null 2>&1; exit $rc'";
  lx::test::CommandOptions o;
  o.timeout = std::chrono::seconds(180);
  auto r = run_command({"unshare", "-m", "sh", "-c", script}, o);
  ASSERT_NE(r.status, 77) << "podman import as uid 65534: " << r.err;
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "hi\n0\n");  // root of its user namespace, which is uid 65534 outside
  // Its pause process (rootless podman keeps one per user) is gone with `system migrate`; any
  // left of uid 65534 would outlive the test.
  run_command({"pkill", "-KILL", "-u", "65534", "-f", "catatonit"});
}

// containerd with its own root, state and socket, loading the CRI plugin with an lxhost runtime
// (what a Kubernetes RuntimeClass names: docs/kubernetes.md).
class Containerd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "containerd needs root";
    if (auto why = podman_cannot_run_here(); !why.empty()) GTEST_SKIP() << why;  // it makes the image
    // The image: the busybox rootfs imported by podman (a storage of its own) and saved as an
    // OCI archive, which ctr imports.
    std::string p = "podman --root " + (dir_ / "pstorage") + " --runroot " + (dir_ / "prun") + " --tmpdir " + (dir_ / "ptmp") +
                    " --cgroup-manager cgroupfs --events-backend file";
    // Its storage is reset whatever happened (an overlay left mounted would keep the directory).
    auto made = run_command({"sh", "-c", p + " import " + rootfs_tar(dir_) + " " + kImage + " >/dev/null && " + p +
                                             " save --format oci-archive -o " + (dir_ / "image.tar") + " " + kImage +
                                             "; rc=$?; " + p + " system reset --force >/dev/null; exit $rc"});
    ASSERT_EQ(made.status, 0) << "podman import/save of the test image: " << made.err;
    std::ofstream(dir_ / "config.toml") << "version = 2\n"
                                        << "root = \"" << (dir_ / "root") << "\"\n"
                                        << "state = \"" << (dir_ / "state") << "\"\n"
                                        << "[grpc]\n  address = \"" << (dir_ / "containerd.sock") << "\"\n"
                                        << "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
                                        << "  default_runtime_name = \"runc\"\n"
                                        << "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
                                        << "  runtime_type = \"io.containerd.runc.v2\"\n"
                                        << "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.lxhost]\n"
                                        << "  runtime_type = \"io.containerd.runc.v2\"\n"
                                        << "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.lxhost.options]\n"
                                        << "  BinaryName = \"" << kRunc << "\"\n";
    int out;
    daemon_ = lx::test::start_command(
        {"sh", "-c", "exec containerd --config \"$0\" 2>\"$1\"", dir_ / "config.toml", dir_ / "containerd.log"}, &out);
    log_fd_ = out;
    for (int i = 0; i < 200 && !std::filesystem::exists(dir_ / "containerd.sock"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(std::filesystem::exists(dir_ / "containerd.sock")) << "containerd did not start";
    auto imported = ctr({"images", "import", dir_ / "image.tar"});  // named by its ref.name annotation
    ASSERT_EQ(imported.status, 0) << imported.err;
  }
  void TearDown() override {
    if (daemon_ > 0) {
      ctr({"tasks", "kill", "--signal", "KILL", "c1"});
      ctr({"containers", "rm", "c1"});
      kill(daemon_, SIGTERM);
      lx::test::wait_for(daemon_, std::chrono::seconds(20));
      close(log_fd_);
    }
  }
  CommandResult ctr(std::vector<std::string> args) {
    std::vector<std::string> argv{"ctr", "--address", dir_ / "containerd.sock"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  TempDir dir_{"lxhost-containerd"};
  pid_t daemon_ = -1;
  int log_fd_ = -1;
};

TEST_F(Containerd, CtrRunsAContainerThroughTheRuncShim) {
  auto r = ctr({"run", "--runc-binary", kRunc, "--rm", "--annotation", "io.lxhost.instance.backend=" + backend(), kImage, "c1",
                "sh", "-c", "echo hi; exit 3"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "hi\n");
}

TEST_F(Containerd, TheCriPluginLoadsTheLxhostRuntime) {
  auto plugins = ctr({"plugins", "ls"});
  ASSERT_EQ(plugins.status, 0) << plugins.err;
  EXPECT_THAT(plugins.out, ::testing::ContainsRegex("io\\.containerd\\.grpc\\.v1 +cri +[^ ]+ +ok"));
  auto dump = run_command({"containerd", "--config", dir_ / "config.toml", "config", "dump"});
  EXPECT_THAT(dump.out, HasSubstr("runtimes.lxhost.options]"));
  EXPECT_THAT(dump.out, HasSubstr("BinaryName = \"" + kRunc + "\""));
}

}  // namespace
