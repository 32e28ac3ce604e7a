// The /proc status reader: fields parsed from a fixed text, and read from this very process.
#include "base/proc_status.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

namespace lx {
namespace {

constexpr char kStatus[] =
    "Name:\tcat\n"
    "Umask:\t0027\n"
    "State:\tS (sleeping)\n"
    "Tgid:\t4242\n"
    "Ngid:\t0\n"
    "Pid:\t4243\n"
    "PPid:\t17\n"
    "TracerPid:\t9\n"
    "Uid:\t1000\t1001\t1002\t1003\n"
    "Gid:\t100\t101\t102\t103\n"
    "FDSize:\t64\n"
    "Groups:\t4 24 27 \n"
    "NStgid:\t4242\t1\n"
    "NSpid:\t4243\t2\n"
    "Threads:\t3\n"
    "SigQ:\t0/63398\n"
    "SigPnd:\t0000000000000100\n"
    "ShdPnd:\t0000000000004000\n"
    "SigBlk:\t0000000000010000\n"
    "SigIgn:\t0000000000001000\n"
    "SigCgt:\t0000000180000000\n"
    "CapEff:\t000001ffffffffff\n";

TEST(ProcStatus, ParsesEveryField) {
  ProcStatus s = ProcStatus::parse(kStatus);
  EXPECT_EQ(s.state(), 'S');
  EXPECT_EQ(s.tgid(), 4242);
  EXPECT_EQ(s.pid(), 4243);
  EXPECT_EQ(s.ppid(), 17);
  EXPECT_EQ(s.tracer_pid(), 9);
  ASSERT_TRUE(s.uid());
  EXPECT_EQ(s.uid()->real, 1000u);
  EXPECT_EQ(s.uid()->effective, 1001u);
  EXPECT_EQ(s.uid()->saved, 1002u);
  EXPECT_EQ(s.uid()->fs, 1003u);
  ASSERT_TRUE(s.gid());
  EXPECT_EQ(s.gid()->real, 100u);
  EXPECT_EQ(s.gid()->fs, 103u);
  EXPECT_EQ(s.umask(), mode_t{027});
  EXPECT_EQ(s.threads(), 3);
  EXPECT_EQ(s.groups(), (std::vector<gid_t>{4, 24, 27}));
  EXPECT_EQ(s.nspid(), (std::vector<pid_t>{4243, 2}));
  EXPECT_EQ(s.sig_pending(), 0x100u);
  EXPECT_EQ(s.shared_pending(), 0x4000u);
  EXPECT_EQ(s.sig_blocked(), 0x10000u);
  EXPECT_EQ(s.sig_ignored(), 0x1000u);
  EXPECT_EQ(s.sig_caught(), 0x180000000u);
  EXPECT_EQ(s.cap_effective(), 0x1ffffffffffu);
}

TEST(ProcStatus, KeysMatchWholeNames) {
  // "Pid" is not "PPid" nor "TracerPid", and "Tgid" is not "Ngid".
  ProcStatus s = ProcStatus::parse("PPid:\t1\nTracerPid:\t2\nNgid:\t3\n");
  EXPECT_EQ(s.pid(), std::nullopt);
  EXPECT_EQ(s.tgid(), std::nullopt);
  EXPECT_EQ(s.ppid(), 1);
}

TEST(ProcStatus, MissingOrMalformedFieldsAreNullopt) {
  ProcStatus s = ProcStatus::parse("Uid:\t1\t2\n Tgid: 5\nUmask:\tx\nGroups:\t\n");
  EXPECT_EQ(s.uid().has_value(), false);  // three ids missing
  EXPECT_EQ(s.tgid(), std::nullopt);       // not at the start of a line
  EXPECT_EQ(s.umask(), std::nullopt);
  EXPECT_TRUE(s.groups().empty());
  EXPECT_TRUE(s.nspid().empty());
  EXPECT_EQ(s.state(), std::nullopt);
}

TEST(ProcStatus, TextLargerThanTheInlineBufferIsKept) {
  std::string text = "Name:\tx\nGroups:\t";
  for (int g = 0; g < 2000; ++g) text += std::to_string(g) + " ";
  text += "\nTgid:\t77\n";
  ProcStatus s = ProcStatus::parse(text);
  EXPECT_EQ(s.groups().size(), 2000u);
  ProcStatus copy = s;
  EXPECT_EQ(copy.tgid(), 77);
  EXPECT_EQ(copy.groups().back(), 1999u);
}

TEST(ProcStatus, ReadsThisProcess) {
  auto s = ProcStatus::read(getpid());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->tgid(), getpid());
  EXPECT_EQ(s->pid(), getpid());
  EXPECT_EQ(s->ppid(), getppid());
  ASSERT_TRUE(s->uid());
  EXPECT_EQ(s->uid()->real, getuid());
  EXPECT_EQ(s->uid()->effective, geteuid());
  ASSERT_TRUE(s->gid());
  EXPECT_EQ(s->gid()->effective, getegid());
  mode_t m = ::umask(0);
  ::umask(m);
  EXPECT_EQ(s->umask(), m);
  EXPECT_EQ(s->state(), 'R');
  EXPECT_FALSE(s->nspid().empty());
}

TEST(ProcStatus, ReadsAThreadAndItsSignalMask) {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::thread t([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    while (!done) usleep(1000);
  });
  while (tid == 0) usleep(1000);
  auto s = ProcStatus::read_task(getpid(), tid);
  done = true;
  t.join();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->pid(), tid.load());
  EXPECT_EQ(s->tgid(), getpid());
  ASSERT_TRUE(s->sig_blocked());
  EXPECT_NE(*s->sig_blocked() & (1ull << (SIGUSR2 - 1)), 0u);
  EXPECT_GE(s->threads().value_or(0), 2);
}

TEST(ProcStatus, AMissingProcessIsAnErrorNamingTheCall) {
  auto s = ProcStatus::read(-5);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ENOENT);
  EXPECT_NE(s.error().message.find("open(/proc/-5/status)"), std::string::npos);
}

}  // namespace
}  // namespace lx
