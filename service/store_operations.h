// The install state as lxhostd serves it: install, import, export and uninstall run one at a
// time (the next one waits and is told so), a launch of a distro waits for an operation on that
// distro, an uninstall first ends the distro's instance, and the list shows what is under way.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "base/result.h"
#include "driver/namespaces.h"
#include "instance_supervisor.h"
#include "messages.h"
#include "store/distro_store.h"

namespace lx::service {

/// The installed distros and the operations on them. Thread-safe.
class StoreOperations {
 public:
  /// The store in `data_dir`; `instances` are ended before an uninstall.
  StoreOperations(const std::string& data_dir, InstanceSupervisor& instances);

  /// Clears what interrupted operations left (at daemon start).
  Result<void> recover();
  /// The instance a launch of `distro` runs in ("": the default distro, or the host root when
  /// none is set): its init. Waits while an operation on the distro runs, telling `conn`.
  Result<InitCommand> instance_for(std::string distro, int conn);
  /// Runs `op` on `distro` with `path` (the tarball or directory), telling `conn` its progress.
  Result<DaemonReply> run(StoreOp op, const std::string& distro, const std::string& path, int conn);
  /// The installed distros, and one being installed.
  Result<ListReply> list();
  /// Sets the default distro to `distro` (unless "") and answers the default.
  Result<DefaultReply> set_default(const std::string& distro);

 private:
  void wait_for_op(int conn, const std::string& distro, std::unique_lock<std::mutex>& lock);
  Result<void> begin(StoreOp op, const std::string& distro, int conn);
  Result<DaemonReply> perform(StoreOp op, const std::string& distro, const std::string& path, int conn);

  // Runs `op` as root of a user namespace with the user's delegated ranges when there are any.
  Result<void> in_namespace(const std::function<Result<void>()>& op);

  store::DistroStore store_;
  InstanceSupervisor& instances_;
  driver::IdMaps maps_;  // the kernel backend's id maps for this user
  std::mutex mu_;  // taken before InstanceSupervisor's, never after
  std::condition_variable cv_;  // an operation ended
  bool op_active_ = false;      // guarded by mu_
  StoreOp op_ = StoreOp::kInstall;  // guarded by mu_
  std::string op_distro_;           // guarded by mu_
};

}  // namespace lx::service
