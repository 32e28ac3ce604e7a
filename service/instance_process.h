// The instance process's state, shared by its two halves: instance.cpp (the main thread: the
// control socket from lxhostd, the clients' connections, the end) and instance_launch.cpp (a
// launch: its plan, its standard fds, its driver and the thread that runs it).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <lxhost/interfaces.h>

#include "base/result.h"
#include "base/unique_fd.h"
#include "launch_plan.h"
#include "messages.h"
#include "runtime/runner.h"

namespace lx::service {

/// One `lx run`: its client's connection and its guest tree.
struct Launch {
  int id = 0;
  std::mutex conn_mu;  // guards conn writes (tracer thread and main thread)
  UniqueFd conn;
  std::unique_ptr<driver::GuestRunner> driver;
  std::thread thread;
  std::atomic<pid_t> main_pid{0};
  std::atomic<bool> main_exited{false};
  std::atomic<bool> finished{false};
  bool client_gone = false;  // main thread only

  /// Sends `m` to the client, unless it is gone.
  template <class M>
  void send(const M& m, std::span<const int> fds = {}) {
    std::lock_guard lock(conn_mu);
    if (conn) (void)send_message(conn.get(), m, fds);
  }
  /// The launch ends before (or without) its guest: the client hears `why` and exits with `exit`.
  void fail(const std::string& why, int exit = 125);
};

/// A debug line (LXHOSTD_DEBUG=1) on stderr, which is lxhostd's log.
void debug(const std::string& line);

/// The instance process: one thread per launch runs its guest tree under a driver (each the
/// ptrace tracer of its own tree); the main thread serves the control socket and the clients'
/// connections, and ends everything when told to.
class InstanceProcess {
 public:
  explicit InstanceProcess(int control) : control_(control) {}
  /// The main loop; returns the process's exit code.
  int run();

 private:
  // instance.cpp
  Result<InitReply> start(const Frame& first);
  Result<InitReply> init(const InitCommand& init);
  bool serve_once();
  void handle_control(Frame frame);
  void refuse_control(Frame& frame, const Error& error);
  void handle_client(Launch& l);
  void client_gone(Launch& l);
  void forget_finished();
  bool ended();
  void begin_end();
  std::size_t attached() const;
  std::vector<ProcessInfo> process_table() const;
  void send_control(const nlohmann::json& body) {
    if (control_) (void)send_frame(control_.get(), body);
  }
  void idle() { send_control(encode(IdleEvent{{}, received_})); }
  void wake();

  // instance_launch.cpp
  void handle_launch(const RunRequest& request, std::vector<UniqueFd> fds);
  Result<void> start_driver(Launch& l, LaunchPlan plan, const RunRequest& request, std::vector<UniqueFd> fds);
  void on_started(Launch& l, pid_t pid, const std::optional<LaunchUser>& user, const UniqueFd& master);
  void on_exited(Launch& l, const driver::ExitStatus& status);

  UniqueFd control_;
  UniqueFd wake_;
  InstanceSettings settings_;
  std::chrono::milliseconds grace_{2000};
  std::unique_ptr<runtime::Runtime> runtime_;
  sdk::LaunchIdentity* identity_ = nullptr;  // the proc plugin's, when it offers it
  driver::KernelInstance* kernel_ = nullptr;  // the runtime's, under the kernel backend
  std::vector<std::unique_ptr<Launch>> launches_;
  int next_id_ = 1;
  int received_ = 0;
  std::atomic<bool> ending_{false};
};

}  // namespace lx::service
