// lxhostd started by socket activation (packaging/lxhostd.socket): systemd binds the socket where
// lx looks for it and starts lxhostd on the first connection, passing the listening socket as fd
// 3 with LISTEN_FDS=1 and LISTEN_PID=<lxhostd's pid> (sd_listen_fds(3)). Here the test plays
// systemd; lx is the real client, with the test's own runtime and data directories.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "unprivileged.h"

extern char** environ;

namespace {

using lx::test::CommandOptions;
using lx::test::CommandResult;
using lx::test::process_alive;
using lx::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class SocketActivation : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: the socket's path must fit in sockaddr_un.
    run_tmp_ = std::make_unique<TempDir>("lxsa", 0700);
    data_tmp_ = std::make_unique<TempDir>("lxsa-data", 0700);
    run_ = run_tmp_->path();
    fs::create_directories(data_tmp_->path() + "/data");
    fs::create_directories(data_tmp_->path() + "/config");
    env_ = {"XDG_RUNTIME_DIR=" + run_, "XDG_DATA_HOME=" + data_tmp_->path() + "/data",
            "XDG_CONFIG_HOME=" + data_tmp_->path() + "/config"};
  }
  void TearDown() override {
    // The daemon (and its instances) are gone before their directories; wait_for kills a daemon
    // that outlives the timeout, and returns at once for one already waited for.
    lx({"shutdown"});
    for (pid_t d : daemons_) lx::test::wait_for(d, std::chrono::seconds(30));
  }

  std::string socket_path() const { return run_ + "/lxhost/lxhostd.sock"; }

  // What systemd does for ListenStream=%t/lxhost/lxhostd.sock (SocketMode=0600, DirectoryMode=0700).
  int bind_socket() {
    fs::create_directories(run_ + "/lxhost");
    chmod((run_ + "/lxhost").c_str(), 0700);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path().c_str(), sizeof addr.sun_path - 1);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 128) != 0) {
      ADD_FAILURE() << "bind/listen " << socket_path() << ": " << strerror(errno);
      return -1;
    }
    chmod(socket_path().c_str(), 0600);
    return fd;
  }

  // Starts lxhostd with `fd` as its fd 3, LISTEN_FDS=1 and LISTEN_PID=`listen_pid` (its own pid
  // when 0), stdout and stderr to log().
  pid_t start_lxhostd(int fd, pid_t listen_pid = 0) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "LISTEN_", 7) != 0) env.emplace_back(*e);
    env.insert(env.end(), env_.begin(), env_.end());
    env.push_back("LISTEN_FDS=1");
    env.push_back("LISTEN_PID=" + std::string(24, '\0'));  // written in the child, once its pid is known
    char* pid_digits = env.back().data() + std::strlen("LISTEN_PID=");
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const char* prog = LXHOSTD_BIN;
    int out = open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t child = fork();
    if (child == 0) {
      // As systemd does, just before exec: the pid is the child's own, the socket is fd 3.
      std::string pid = std::to_string(listen_pid ? listen_pid : getpid());
      std::memcpy(pid_digits, pid.c_str(), pid.size() + 1);
      dup2(out, 1);
      dup2(out, 2);
      if (fd == 3) fcntl(3, F_SETFD, 0);
      else dup2(fd, 3);
      execle(prog, prog, static_cast<char*>(nullptr), envp.data());
      _exit(127);
    }
    close(out);
    daemons_.push_back(child);
    return child;
  }

  CommandResult lx(std::vector<std::string> args) {
    args.insert(args.begin(), LX_BIN);
    CommandOptions o;
    o.env_add = env_;
    return lx::test::run_command(args, o);
  }

  std::string log_path() const { return run_ + "/test-lxhostd.log"; }

  std::unique_ptr<TempDir> run_tmp_, data_tmp_;
  std::string run_;
  std::vector<std::string> env_;
  std::vector<pid_t> daemons_;
};

TEST_F(SocketActivation, LxIsServedByTheDaemonGivenTheSocketWhichOutlivesIt) {
  int sock = bind_socket();
  ASSERT_GE(sock, 0);
  pid_t d = start_lxhostd(sock);
  // A client may connect before lxhostd runs (systemd starts it on that connection).
  auto r = lx({"run", "--", "/bin/sh", "-c", "echo served; exit 7"});
  EXPECT_EQ(r.out, "served\n") << r.err << slurp(log_path());
  EXPECT_EQ(r.status, 7);
  EXPECT_THAT(lx({"service", "status"}).out, HasSubstr(fmt::format("lxhostd is running (pid {})", d)));
  EXPECT_THAT(slurp(log_path()), HasSubstr("listening on " + socket_path() + ", a socket from systemd"));
  // Stopped, lxhostd leaves the socket to systemd, which starts the next lxhostd on it.
  EXPECT_EQ(lx({"service", "stop"}).status, 0);
  EXPECT_EQ(lx::test::wait_for(d), 0);
  EXPECT_TRUE(fs::exists(socket_path()));
  pid_t again = start_lxhostd(sock);
  EXPECT_EQ(lx({"run", "--", "/bin/true"}).status, 0) << slurp(log_path());
  EXPECT_THAT(lx({"service", "status"}).out, HasSubstr(fmt::format("(pid {})", again)));
  close(sock);
}

TEST_F(SocketActivation, VariablesForAnotherProcessAreIgnored) {
  // LISTEN_PID names another process: lxhostd binds its own socket, and fd 3 is not its.
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t d = start_lxhostd(devnull, getpid());
  close(devnull);
  auto r = lx({"run", "--", "/bin/true"});
  EXPECT_EQ(r.status, 0) << r.err << slurp(log_path());
  EXPECT_THAT(lx({"service", "status"}).out, HasSubstr(fmt::format("(pid {})", d)));
  EXPECT_THAT(slurp(log_path()), Not(HasSubstr("from systemd")));
}

TEST_F(SocketActivation, AnFd3ThatIsNotAListeningSocketIsRefused) {
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t d = start_lxhostd(devnull);
  close(devnull);
  EXPECT_EQ(lx::test::wait_for(d), 1);
  EXPECT_THAT(slurp(log_path()), HasSubstr("fd 3 is not a listening Unix stream socket"));
}

}  // namespace
