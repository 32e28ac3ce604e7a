// End-to-end tests of the signal plugin: signals reach only the instance's processes.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "run_command.h"
#include "test_backend.h"
#include "tmux_session.h"
#include "unprivileged.h"

namespace {

using lx::test::as_unprivileged;
using lx::test::reachable;
using lx::test::run_command;
using ::testing::HasSubstr;

const std::string kLx = LX_BIN;
const std::string kAttack = std::string(GUEST_DIR) + "/guest_attack";

TEST(SignalPlugin, TargetsOutsideTheInstanceDoNotExist) {
  LX_EMULATED_BACKEND_ONLY("the signal family's confinement; under the kernel backend the PID namespace confines signals (Confine tests), and the guest's parent is pid 0 to it");
  auto r = run_command({kLx, "exec", "--", "/bin/sh", "-c",
                        "kill -0 " + std::to_string(getpid()) + "; echo outside=$?; kill -0 $PPID; echo lx=$?; "
                        "kill -0 $$; echo self=$?"});
  EXPECT_THAT(r.out, HasSubstr("outside=1\nlx=1\nself=0\n")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("No such process"));
}

TEST(SignalPlugin, ChildrenAndJobsAreSignalledAsNatively) {
  auto r = run_command({kLx, "exec", "--", "/bin/sh", "-c", "sleep 100 & kill $!; wait $!; echo child=$?"});
  EXPECT_EQ(r.out, "child=143\n") << r.err;
  if (access("/bin/bash", X_OK) == 0) {
    auto native = run_command({"/bin/bash", "-c", "sleep 100 & kill %1; wait; echo $?"});
    auto lx = run_command({kLx, "exec", "--", "/bin/bash", "-c", "sleep 100 & kill %1; wait; echo $?"});
    EXPECT_EQ(lx.out, native.out);
    EXPECT_EQ(lx.status, native.status);
  }
}

TEST(SignalPlugin, KillMinusOneReachesOnlyTheInstance) {
  // Both the bystander and the guest run as the unprivileged user. The guest sends SIGWINCH,
  // which ends nobody, so that a broken confinement could not harm the user's other processes;
  // the bystander counts every signal it gets.
  int out = -1;
  pid_t by = lx::test::start_command(as_unprivileged({reachable(kAttack), "bystander"}), &out);
  ASSERT_EQ(lx::test::read_line(out, std::chrono::seconds(60)).rfind("up ", 0), 0u);
  auto r = run_command(as_unprivileged({reachable(kLx), "exec", "--", "/bin/sh", "-c",
                                        "sleep 100 & kill -WINCH -1; echo sent=$?; kill $!; wait; echo done"}));
  EXPECT_EQ(r.out, "sent=0\ndone\n") << r.err;
  EXPECT_TRUE(lx::test::process_alive(by));
  kill(by, SIGUSR1);  // it reports and exits
  EXPECT_EQ(lx::test::read_line(out, std::chrono::seconds(60)), "signals=0 canary=canary-untouched")
      << "kill(-1) inside the instance reached a process outside it";
  EXPECT_EQ(lx::test::wait_for(by), 0);
  close(out);
}

TEST(SignalDelivery, StaysTransparent) {
  const std::string guest = std::string(GUEST_DIR) + "/guest_signals";
  auto native = run_command({guest});
  ASSERT_EQ(native.status, 0) << native.out;
  auto r = run_command({kLx, "exec", "--", guest});
  EXPECT_EQ(r.out, native.out) << r.err;
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "ok handler\nok sa_restart\nok sigaltstack\nok sigsuspend\nok signalfd\nok stop_cont\nok sigchld\n");
}

TEST(SignalDelivery, JobControlInAnInteractiveShell) {
  if (!lx::test::TmuxSession::available()) GTEST_SKIP() << "tmux or bash missing";
  lx::test::TmuxSession t(kLx + " exec -- /bin/bash --norc --noprofile -i");
  ASSERT_TRUE(t.started());
  usleep(500000);
  t.keys({"sleep 100", "Enter"});
  t.keys({"C-z"});
  t.keys({"jobs", "Enter"});
  t.keys({"fg", "Enter"});
  t.keys({"C-c"});
  t.keys({"echo status=$?", "Enter"});
  std::string screen = t.screen();
  EXPECT_THAT(screen, HasSubstr("Stopped                 sleep 100\n")) << screen;
  EXPECT_THAT(screen, HasSubstr("status=130")) << screen;
}

TEST(SignalPlugin, ConfineCanBeSwitchedOff) {
  LX_EMULATED_BACKEND_ONLY("the signal family's confinement; under the kernel backend the PID namespace confines signals (Confine tests), and the guest's parent is pid 0 to it");
  auto r = run_command({kLx, "exec", "--set", "signal.confine=false", "--", "/bin/sh", "-c",
                        "kill -0 " + std::to_string(getpid()) + "; echo outside=$?"});
  EXPECT_EQ(r.out, "outside=0\n") << r.err;
}

}  // namespace
