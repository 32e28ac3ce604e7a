// The instances lxhostd runs: one process per running distro (`lxhostd --instance`), started at
// its first launch, passed each launch, asked for its processes, and ended when idle past its
// linger time, on `lx terminate`, before an uninstall and at shutdown. Each instance has a reader
// thread for its control socket; the linger timers run on the daemon's io_context.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "base/result.h"
#include "base/unique_fd.h"
#include "messages.h"

namespace lx::service {

/// The name of the host root's instance (no distro).
inline constexpr const char* kHostInstance = "host";

struct InstanceRec;

/// Starts, feeds and ends the instance processes. Thread-safe.
class InstanceSupervisor {
 public:
  /// `program`: the lxhostd executable; `system_config_dir`: for the instances' config merge.
  InstanceSupervisor(boost::asio::io_context& io, std::string program, std::string system_config_dir);
  ~InstanceSupervisor();

  /// Passes a launch to the instance `init.name`, started with `init` (and the request's --set
  /// values) when none runs: the client's connection `conn` and its `stdio` go with it, and the
  /// instance answers the client from then on.
  Result<void> launch(InitCommand init, const RunRequest& request, int conn, std::span<const UniqueFd> stdio);
  /// Every running instance with its processes (one that does not answer within 3 s says so).
  std::vector<InstanceInfo> status();
  /// Ends the instance of `name` ("" the host's) and waits until it is gone.
  Result<void> terminate(const std::string& name);
  /// Ends the instance of `name` if one runs, calling `on_ending` first, and waits until it is gone.
  void end(const std::string& name, const std::function<void()>& on_ending);
  /// Whether an instance of `name` runs.
  bool running(const std::string& name);
  /// Whether shutdown_all() has begun: no instance starts any more.
  bool shutting_down();
  /// Ends every instance and waits for them; no instance starts after.
  void shutdown_all();

 private:
  Result<std::shared_ptr<InstanceRec>> get(InitCommand init);
  Result<std::shared_ptr<InstanceRec>> spawn(InitCommand init);
  void read(std::shared_ptr<InstanceRec> rec);
  void on_event(const std::shared_ptr<InstanceRec>& rec, const InstanceEvent& event);
  void on_exit(const std::shared_ptr<InstanceRec>& rec);
  void on_idle(std::shared_ptr<InstanceRec> rec, int received);
  void end_locked(InstanceRec& rec);
  bool wait_gone(std::unique_lock<std::mutex>& lock, const std::shared_ptr<InstanceRec>& rec);

  boost::asio::io_context& io_;
  std::string program_;
  std::string system_config_dir_;
  std::mutex spawn_mu_;  // one instance started at a time
  std::mutex mu_;
  std::condition_variable cv_;                                      // an instance is gone
  std::map<std::string, std::shared_ptr<InstanceRec>> instances_;  // guarded by mu_
  bool shutting_down_ = false;                                      // guarded by mu_
};

}  // namespace lx::service
