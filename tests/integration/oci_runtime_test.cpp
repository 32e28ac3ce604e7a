// lxhost-runc, the OCI runtime (issue 13), driven as a shim drives runc: real bundles (a static
// busybox rootfs and a config.json), real container processes, the runtime's own state directory.
// Registered for each backend: the bundle's io.lxhost.instance.backend annotation follows
// LXHOST_TEST_BACKEND.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "test_backend.h"
#include "unprivileged.h"

namespace {

using lx::test::CommandResult;
using lx::test::run_command;
using lx::test::TempDir;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kRunc = LXHOST_RUNC_BIN;

// The backend the bundle asks for: the tests' backend, else what lxhost-runc chooses.
std::string backend() { return lx::test::test_backend().empty() ? "auto" : lx::test::test_backend(); }

std::string fmt_path(pid_t pid, const std::string& ns) { return "/proc/" + std::to_string(pid) + "/ns/" + ns; }

// A bundle: rootfs/ (busybox) and config.json as `lxhost-runc spec` writes it, with `args`, no
// terminal and the tests' backend.
class Bundle {
 public:
  Bundle() : dir_("lxhost-oci", 0755) {
    auto made = run_command({std::string(SOURCE_DIR) + "/tests/fixtures/make_rootfs.sh", "busybox", dir_ / "rootfs"});
    if (made.status != 0) throw std::runtime_error("make_rootfs: " + made.err);
    auto spec = run_command({kRunc, "spec", "--bundle", dir_.path()});
    if (spec.status != 0) throw std::runtime_error("lxhost-runc spec: " + spec.err);
    std::ifstream f(dir_ / "config.json");
    config_ = json::parse(f);
    config_["process"]["terminal"] = false;
    config_["annotations"]["io.lxhost.instance.backend"] = backend();
  }
  json& config() { return config_; }
  void set_args(std::vector<std::string> args) { config_["process"]["args"] = std::move(args); }
  const std::string& path() const { return dir_.path(); }
  std::string operator/(const std::string& n) const { return dir_ / n; }
  void write() const { std::ofstream(dir_ / "config.json") << config_.dump(1); }

 private:
  TempDir dir_;
  json config_;
};

// lxhost-runc with its own state root.
class OciRuntime : public ::testing::Test {
 protected:
  // lxhost-runc ARGS. Its output goes through files: the container's process keeps the
  // standard fds of `create` (as runc's does), so pipes would not see EOF until it ends.
  CommandResult runc(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    // A file of its own for each call: a container keeps writing to create's.
    std::string output = state_ / ("output" + std::to_string(++calls_));
    std::vector<std::string> argv{"sh", "-c", "\"$@\" >\"$0.out\" 2>\"$0.err\"", output, kRunc, "--root", state_ / "state"};
    argv.insert(argv.end(), args.begin(), args.end());
    lx::test::CommandOptions o;
    o.timeout = timeout;
    CommandResult r = run_command(argv, o);
    auto slurp = [](const std::string& p) {
      std::ifstream f(p);
      return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    };
    r.out = slurp(output + ".out");
    r.err += slurp(output + ".err");
    return r;
  }
  json state(const std::string& id) {
    auto r = runc({"state", id});
    EXPECT_EQ(r.status, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "state printed: " << r.out << r.err;
    return j.is_object() ? j : json::object({{"status", "unreadable"}, {"pid", 0}});
  }
  void TearDown() override {
    // Nothing may be left running: every container this test made is deleted by force.
    auto list = runc({"list", "--quiet"});
    std::istringstream ids(list.out);
    for (std::string id; std::getline(ids, id);)
      if (!id.empty()) runc({"delete", "--force", id});
  }
  TempDir state_{"lxhost-oci-state"};
  Bundle bundle_;
  int calls_ = 0;
};

TEST_F(OciRuntime, RunPrintsAndExitsAsTheProcessDid) {
  bundle_.set_args({"sh", "-c", "echo hi from $(hostname); exit 3"});
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c1"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "hi from lxhost\n");
  EXPECT_EQ(runc({"list", "--quiet"}).out, "") << "run deletes the container it ran";
}

TEST_F(OciRuntime, CreateStartStateKillDeleteFollowTheRuntimeSpecLifecycle) {
  bundle_.set_args({"sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo started; while true; do sleep 0.1; done"});
  bundle_.write();
  std::string pid_file = bundle_ / "pid";
  auto c = runc({"create", "--bundle", bundle_.path(), "--pid-file", pid_file, "c2"});
  ASSERT_EQ(c.status, 0) << c.err;
  json s = state("c2");
  EXPECT_EQ(s["status"], "created");
  EXPECT_EQ(s["id"], "c2");
  EXPECT_EQ(s["bundle"], std::filesystem::canonical(bundle_.path()).string());
  pid_t pid = s["pid"].get<pid_t>();
  std::ifstream pf(pid_file);
  pid_t from_file = 0;
  pf >> from_file;
  EXPECT_EQ(from_file, pid);
  EXPECT_TRUE(lx::test::process_alive(pid));
  EXPECT_NE(runc({"delete", "c2"}).status, 0) << "only a stopped container is deleted without --force";
  EXPECT_EQ(state("c2")["status"], "created");

  ASSERT_EQ(runc({"start", "c2"}).status, 0);
  EXPECT_EQ(state("c2")["status"], "running");
  EXPECT_NE(runc({"start", "c2"}).status, 0) << "a running container cannot be started again";
  auto ps = runc({"ps", "--format", "json", "c2"});
  ASSERT_EQ(ps.status, 0) << ps.err;
  json pids = json::parse(ps.out, nullptr, false);
  EXPECT_TRUE(pids.is_array() && !pids.empty()) << ps.out;
  auto del = runc({"delete", "c2"});
  EXPECT_NE(del.status, 0);
  EXPECT_THAT(del.err, HasSubstr("running"));

  ASSERT_EQ(runc({"kill", "c2", "TERM"}).status, 0);
  for (int i = 0; i < 200 && state("c2")["status"] != "stopped"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(state("c2")["status"], "stopped");
  EXPECT_FALSE(lx::test::process_alive(pid));
  EXPECT_NE(runc({"kill", "c2", "TERM"}).status, 0) << "a stopped container gets no signal";
  ASSERT_EQ(runc({"delete", "c2"}).status, 0);
  auto gone = runc({"state", "c2"});
  EXPECT_NE(gone.status, 0);
  EXPECT_THAT(gone.err, HasSubstr("does not exist"));
}

TEST_F(OciRuntime, TheContainersExitStatusIsItsProcesss) {
  // A shim reaps the pid it was given and reports what it died of.
  bundle_.set_args({"sh", "-c", "kill -KILL $$"});
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c3b"});
  EXPECT_EQ(r.status, 128 + SIGKILL) << r.err;
}

TEST_F(OciRuntime, ExecRunsAnotherProcessInTheContainer) {
  bundle_.set_args({"sh", "-c", "echo main > /tmp/main-was-here; while true; do sleep 0.1; done"});
  bundle_.write();
  ASSERT_EQ(runc({"run", "--detach", "--bundle", bundle_.path(), "c4"}).status, 0);
  // The exec'd process sees the container's files (its /tmp is the container's own).
  CommandResult e;
  for (int i = 0; i < 100; ++i) {
    e = runc({"exec", "c4", "sh", "-c", "cat /tmp/main-was-here && exit 5"});
    if (e.status == 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(e.status, 5) << e.err;
  EXPECT_EQ(e.out, "main\n");
  // --process, --detach and --pid-file, as conmon and the runc shim use it: the pid stands for
  // the process and exits as it does.
  std::ofstream(bundle_ / "process.json")
      << json{{"args", {"sh", "-c", "sleep 0.3; exit 9"}}, {"cwd", "/"}, {"env", {"PATH=/bin"}}}.dump();
  std::string pid_file = bundle_ / "exec.pid";
  auto d = runc({"exec", "--detach", "--pid-file", pid_file, "--process", bundle_ / "process.json", "c4"});
  ASSERT_EQ(d.status, 0) << d.err;
  pid_t stand_in = 0;
  std::ifstream(pid_file) >> stand_in;
  ASSERT_GT(stand_in, 0);
  for (int i = 0; i < 200 && lx::test::process_alive(stand_in); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_FALSE(lx::test::process_alive(stand_in));
  auto bad = runc({"exec", "c4", "/no/such/program"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(runc({"exec", "no-such-container", "true"}).status, 0);
}

TEST_F(OciRuntime, APodsContainersShareTheIpcAndUtsNamespacesOfItsFirstAndNotTheHosts) {
  // As a Kubernetes pod is made: the sandbox container asks for new namespaces, the others join
  // them by /proc/<its pid>/ns/... Only a launcher allowed to make namespaces can (root here;
  // rootless podman's user namespace).
  if (geteuid() != 0) GTEST_SKIP() << "an ordinary user's lxhost-runc outside a user namespace makes no IPC namespace";
  bundle_.set_args({"sleep", "1000"});
  bundle_.config()["hostname"] = "the-pod";
  bundle_.write();
  ASSERT_EQ(runc({"run", "--detach", "--bundle", bundle_.path(), "sandbox"}).status, 0);
  pid_t sandbox = state("sandbox")["pid"].get<pid_t>();
  auto ns = [](const std::string& p) { return std::filesystem::read_symlink(p).string(); };
  std::string pod_ipc = ns(fmt_path(sandbox, "ipc")), pod_uts = ns(fmt_path(sandbox, "uts"));
  EXPECT_NE(pod_ipc, ns("/proc/self/ns/ipc")) << "the pod's IPC namespace is the host's";
  EXPECT_NE(pod_uts, ns("/proc/self/ns/uts"));
  Bundle app;
  app.set_args({"sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname"});
  app.config()["hostname"] = "the-pod";
  for (auto& n : app.config()["linux"]["namespaces"])
    if (n["type"] == "ipc" || n["type"] == "uts") n["path"] = fmt_path(sandbox, n["type"].get<std::string>());
  app.write();
  auto r = runc({"run", "--bundle", app.path(), "app"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, pod_ipc + "\n" + pod_uts + "\nthe-pod\n");
}

TEST_F(OciRuntime, WhatItCannotHonourIsRefusedNamingTheField) {
  struct Case {
    std::function<void(json&)> change;
    std::string field;
  };
  std::vector<Case> cases{
      {[](json& c) { c["mounts"].push_back({{"destination", "/data"}, {"type", "nfs"}, {"source", "srv:/x"}}); }, "mounts[6].type"},
      {[](json& c) { c["process"]["capabilities"]["ambient"] = {"CAP_SYS_ADMIN"}; }, "process.capabilities.ambient"},
      {[](json& c) { c["linux"]["resources"] = {{"memory", {{"limit", 1 << 20}}}}; }, "linux.resources.memory"},
      {[](json& c) { c["linux"]["namespaces"] = {{{"type", "pid"}, {"path", "/proc/1/ns/pid"}}}; }, "linux.namespaces[0].path"},
      {[](json& c) { c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_NOTIFY"}}; }, "linux.seccomp.defaultAction"},
      {[](json& c) { c["process"]["args"] = json::array(); }, "process.args"},
      {[](json& c) { c["ociVersion"] = "2.0.0"; }, "ociVersion"},
      {[](json& c) { c["linux"]["sysctl"] = {{"kernel.shmmax", "1"}}; }, "linux.sysctl.kernel.shmmax"},
      {[](json& c) { c["annotations"]["io.lxhost.families.net.enabled"] = "maybe"; }, "io.lxhost.families.net.enabled"},
      // The container's author may not load code into the runtime or move its root to the host's.
      {[](json& c) { c["annotations"]["io.lxhost.families.fs.plugin"] = "/tmp/evil.so"; }, "io.lxhost.families.fs.plugin"},
      {[](json& c) { c["annotations"]["io.lxhost.plugins.search_path"] = "[\"/tmp\"]"; }, "io.lxhost.plugins.search_path"},
      {[](json& c) { c["annotations"]["io.lxhost.fs.root"] = "/"; }, "io.lxhost.fs.root"},
  };
  if (backend() == "emulated") cases.push_back({[](json& c) { c["root"]["readonly"] = true; }, "root.readonly"});
  for (const auto& k : cases) {
    Bundle b;
    k.change(b.config());
    b.write();
    auto r = runc({"create", "--bundle", b.path(), "refused"});
    EXPECT_NE(r.status, 0) << k.field;
    EXPECT_THAT(r.err, HasSubstr(k.field));
    EXPECT_EQ(runc({"list", "--quiet"}).out, "") << "a refused create leaves nothing: " << k.field;
  }
  std::ofstream(bundle_ / "config.json") << "{ not json";
  auto r = runc({"create", "--bundle", bundle_.path(), "bad"});
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.err, HasSubstr("not valid JSON"));
  EXPECT_NE(runc({"create", "--bundle", bundle_.path(), "../escape"}).status, 0) << "an id is not a path";
}

TEST_F(OciRuntime, TheBundlesSeccompProfileHoldsBesideLxhostsOwnFilter) {
  bundle_.set_args({"sh", "-c", "mkdir /tmp/d && echo made; echo still here"});
  bundle_.config()["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures", {"SCMP_ARCH_X86_64"}},
      {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c5"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "still here\n");
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));
}

TEST_F(OciRuntime, TheBoundingInheritableAndAmbientSetsAreTheBundles) {
  if (geteuid() != 0 && backend() == "emulated")
    GTEST_SKIP() << "an ordinary user's emulated guest keeps its sets: without CAP_SETPCAP they cannot change, and "
                    "under no_new_privs no capability is gained at exec";
  bundle_.set_args({"sh", "-c", "grep -E 'CapInh|CapBnd|CapAmb' /proc/self/status"});
  bundle_.config()["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_CHOWN"}},
                                                 {"effective", {"CAP_KILL"}},
                                                 {"inheritable", {"CAP_KILL"}},
                                                 {"ambient", {"CAP_KILL"}}};
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c6"});
  EXPECT_EQ(r.status, 0) << r.err;
  // CAP_CHOWN (0), CAP_KILL (5)
  EXPECT_EQ(r.out, "CapInh:\t0000000000000020\nCapBnd:\t0000000000000021\nCapAmb:\t0000000000000020\n");
}

TEST_F(OciRuntime, LimitsOomScoreMasksAndReadOnlyPathsHold) {
  std::filesystem::create_directories(bundle_ / "rootfs/srv/ro");
  std::filesystem::create_directories(bundle_ / "rootfs/srv/hidden/deeper");
  std::ofstream(bundle_ / "rootfs/srv/hidden/secret") << "secret\n";
  std::ofstream(bundle_ / "rootfs/srv/secret-file") << "secret\n";
  bundle_.set_args({"sh", "-c",
                    "ulimit -n; cat /proc/self/oom_score_adj; ls /srv/hidden | wc -l; cat /srv/secret-file | wc -c; "
                    "touch /srv/ro/x 2>/dev/null || echo read-only"});
  bundle_.config()["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 600}}};
  bundle_.config()["process"]["oomScoreAdj"] = 500;
  // A directory under a masked one has nothing left to be masked in: it is skipped.
  bundle_.config()["linux"]["maskedPaths"] = {"/srv/hidden", "/srv/hidden/deeper", "/srv/secret-file", "/no/such/path"};
  bundle_.config()["linux"]["readonlyPaths"] = {"/srv/ro"};
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c10"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "512\n500\n0\n0\nread-only\n");
}

TEST_F(OciRuntime, TheKernelBackendMakesTheBundlesMountsExactlyAndInOrder) {
  if (backend() == "emulated")
    GTEST_SKIP() << "about the kernel backend: the emulated one gives a tmpfs as a private directory, and its own /proc, /dev and /sys";
  bundle_.set_args({"sh", "-c",
                    "awk '$5 ~ /^\\/(proc|dev|dev\\/pts|dev\\/shm|dev\\/mqueue|sys)$/ { for (i = 7; i <= NF; i++) "
                    "if ($i == \"-\") { print $5, $(i + 1), $(i + 2); break } }' /proc/self/mountinfo; "
                    "head -c 2000000 /dev/zero > /dev/shm/big 2>/dev/null || echo full"});
  for (auto& m : bundle_.config()["mounts"])
    if (m["destination"] == "/dev/shm") m["options"] = {"nosuid", "nodev", "mode=1777", "size=1m"};
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c12"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "/proc proc proc\n/dev tmpfs tmpfs\n/dev/pts devpts devpts\n/dev/shm tmpfs shm\n/dev/mqueue mqueue mqueue\n"
            "/sys sysfs sysfs\nfull\n");
}

TEST_F(OciRuntime, AReadOnlyRootIsReadOnlyAndTheMountsOnItAreNot) {
  if (backend() == "emulated") GTEST_SKIP() << "about the kernel backend: the emulated one refuses root.readonly";
  bundle_.set_args({"sh", "-c", "touch /x 2>/dev/null || echo root-read-only; touch /dev/shm/y && echo shm-writable"});
  bundle_.config()["root"]["readonly"] = true;
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c13"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "root-read-only\nshm-writable\n");
  EXPECT_FALSE(std::filesystem::exists(bundle_ / "rootfs/x"));
}

TEST_F(OciRuntime, AnImagesSymlinkNeverTakesAMountOutOfIt) {
  // The image's /tmp and a read-only path are symlinks to host directories: what the container
  // gets is looked up in the image (RESOLVE_IN_ROOT), never the host's /etc.
  TempDir host("lxhost-oci-host", 0755);
  std::ofstream(host / "host-only") << "host\n";
  std::filesystem::remove_all(bundle_ / "rootfs/tmp");
  std::filesystem::create_symlink(host.path(), bundle_ / "rootfs/tmp");
  std::filesystem::create_symlink(host.path(), bundle_ / "rootfs/ro-link");
  bundle_.set_args({"sh", "-c", "ls /tmp/ /ro-link/ 2>&1; echo done"});
  bundle_.config()["linux"]["readonlyPaths"] = {"/ro-link"};
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c11"});
  EXPECT_THAT(r.out, Not(HasSubstr("host-only")));
  // The kernel backend refuses a mount point that is a symlink; the emulated one mounts over the
  // name (its walk never follows the link out of the image).
  if (r.status != 0) EXPECT_THAT(r.err, HasSubstr("creating mount point /tmp: Too many levels of symbolic links"));
  else EXPECT_THAT(r.out, HasSubstr("done"));
}

TEST_F(OciRuntime, AnAnnotationSwitchesAFamilyOffInTheKernel) {
  bundle_.set_args({"sh", "-c", "nc -l -p 8080; echo nc=$?"});
  bundle_.config()["annotations"]["io.lxhost.families.net.enabled"] = "false";
  bundle_.write();
  auto r = runc({"run", "--bundle", bundle_.path(), "c7"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Function not implemented"));  // socket(): ENOSYS
}

TEST_F(OciRuntime, OnlyTheStandardSocketActivationAndPreservedFdsReachTheProcess) {
  bundle_.set_args({"sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; echo $LISTEN_FDS; [ \"$LISTEN_PID\" = $$ ] && echo pid-ok; cat <&3"});
  bundle_.write();
  // fd 3 (LISTEN_FDS=1) holds a file; fd 4 and fd 9 are open too but not passed.
  std::ofstream(bundle_ / "activated") << "through fd 3\n";
  std::string line = "exec 3<" + (bundle_ / "activated") + " 4</dev/null 9</dev/null; LISTEN_FDS=1 exec " + kRunc +
                     " --root " + (state_ / "state") + " run --bundle " + bundle_.path() + " c8";
  auto r = run_command({"sh", "-c", line});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "0 1 2 3 4 \n1\npid-ok\nthrough fd 3\n");  // 4: ls's own, of /proc/self/fd
}

// Receives the pty master a runtime sends to a console socket.
class ConsoleSocket {
 public:
  explicit ConsoleSocket(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 1) != 0)
      throw std::runtime_error("console socket");
  }
  ~ConsoleSocket() { close(fd_); }
  // The master, and the pty's name the runtime sent with it; -1 when none came within 60 s (a
  // runtime that failed before it connected).
  int receive(std::string& name) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 60000) != 1) return -1;
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    char buf[256] = {};
    iovec iov{buf, sizeof buf - 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    int master = -1;
    if (recvmsg(c, &msg, 0) > 0)
      if (cmsghdr* h = CMSG_FIRSTHDR(&msg); h && h->cmsg_type == SCM_RIGHTS) std::memcpy(&master, CMSG_DATA(h), sizeof master);
    close(c);
    name = buf;
    return master;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST_F(OciRuntime, ATerminalGoesToTheConsoleSocketAndIsTheContainersOwn) {
  bundle_.set_args({"sh", "-c", "tty; [ -t 0 ] && echo stdin-is-a-tty; exit 4"});
  bundle_.config()["process"]["terminal"] = true;
  bundle_.write();
  auto noconsole = runc({"create", "--bundle", bundle_.path(), "c9"});
  EXPECT_NE(noconsole.status, 0);
  EXPECT_THAT(noconsole.err, HasSubstr("--console-socket"));
  ConsoleSocket console(state_ / "console.sock");
  std::string name;
  int master = -1;
  std::thread receiver([&] { master = console.receive(name); });
  auto c = runc({"create", "--bundle", bundle_.path(), "--console-socket", console.path(), "c9"});
  receiver.join();
  ASSERT_EQ(c.status, 0) << c.err;
  ASSERT_GE(master, 0);
  EXPECT_THAT(name, HasSubstr("/dev/pts/"));
  ASSERT_EQ(runc({"start", "c9"}).status, 0);
  std::string out;
  char buf[512];
  for (int i = 0; i < 100; ++i) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) {
      if (out.find("stdin-is-a-tty") != std::string::npos) break;
      continue;
    }
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(master);
  // ttyname() finds it: the container's own devpts (kernel backend) or the host's (emulated).
  EXPECT_THAT(out, HasSubstr(name + "\r\nstdin-is-a-tty"));
}

TEST_F(OciRuntime, FeaturesAndHelpTellTheTruth) {
  auto f = runc({"features"});
  ASSERT_EQ(f.status, 0);
  json j = json::parse(f.out);
  EXPECT_EQ(j["linux"]["seccomp"]["enabled"], true);
  EXPECT_THAT(runc({"--help"}).out, HasSubstr("exec"));
  auto unknown = runc({"frobnicate"});
  EXPECT_NE(unknown.status, 0);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command"));
  EXPECT_THAT(runc({"--version"}).out, HasSubstr("lxhost-runc version"));
}

}  // namespace
