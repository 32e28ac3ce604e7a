// Store operations: one at a time under mu_, each announced to the waiting clients and logged.
#include "store_operations.h"

#include <fmt/format.h>

#include "daemon_log.h"
#include "driver/namespaces.h"

namespace lx::service {
namespace {

std::string_view op_name(StoreOp op) {
  switch (op) {
    case StoreOp::kInstall:
      return InstallRequest::kName;
    case StoreOp::kImport:
      return ImportRequest::kName;
    case StoreOp::kExport:
      return ExportRequest::kName;
    case StoreOp::kUninstall:
      break;
  }
  return UninstallRequest::kName;
}

DaemonReply installed(const store::DistroInfo& info) {
  InstalledReply r;
  r.size = info.size_bytes;
  r.rootfs = info.rootfs.string();
  r.is_default = info.is_default;
  return r;
}

DistroEntry entry(const store::DistroInfo& d, bool running) {
  DistroEntry e;
  e.name = d.name;
  e.state = d.state;
  e.size = d.size_bytes;
  e.is_default = d.is_default;
  e.running = running;
  e.source = d.source;
  e.installed_at = d.installed_at;
  e.rootfs = d.rootfs.string();
  return e;
}

}  // namespace

StoreOperations::StoreOperations(const std::string& data_dir, InstanceSupervisor& instances)
    : store_(data_dir), instances_(instances), maps_(driver::id_maps_of_this_user()) {
  // What the kernel backend's guests own in the user's delegated ranges is exported as theirs
  // (when the export cannot run in the user namespace, see in_namespace).
  const auto& maps = maps_;
  if (maps.helpers) {
    auto shifts = [](const std::vector<driver::IdRange>& ranges) {
      std::vector<store::IdShift> out;
      for (const auto& r : ranges)
        if (r.inside != 0) out.push_back({r.inside, r.outside, r.count});
      return out;
    };
    store_.set_subordinate_ids(shifts(maps.uids), shifts(maps.gids));
  }
}

Result<void> StoreOperations::in_namespace(const std::function<Result<void>()>& op) {
  // Where the user may not create a user namespace (a chroot, a container that refuses it), no
  // guest of the kernel backend ever made such files: the operation runs as the user.
  static const bool can = driver::probe_user_namespace().empty();
  if (!maps_.helpers || !can) return op();
  return driver::run_in_user_namespace(maps_, [&]() -> Result<void> {
    store_.set_subordinate_ids({}, {});  // in there the kernel shows the ids inside
    return op();
  });
}

Result<void> StoreOperations::recover() {
  return in_namespace([&] { return store_.recover(); });
}

void StoreOperations::wait_for_op(int conn, const std::string& distro, std::unique_lock<std::mutex>& lock) {
  bool told = false;
  while (op_active_ && (distro.empty() || op_distro_ == distro)) {
    if (!told) {
      (void)send_message(conn, WaitingEvent{{}, fmt::format("waiting for the {} of '{}' to finish", op_name(op_), op_distro_)});
      told = true;
    }
    cv_.wait(lock);
  }
}

Result<InitCommand> StoreOperations::instance_for(std::string distro, int conn) {
  if (distro.empty()) {
    if (auto d = store_.default_name()) distro = *d;
  }
  InitCommand init;
  init.name = distro.empty() ? kHostInstance : distro;
  if (distro.empty()) return init;
  {
    std::unique_lock lock(mu_);
    wait_for_op(conn, distro, lock);
  }
  auto info = store_.get(distro);
  if (!info) return Error{ENOENT, fmt::format("{} (see 'lx list')", info.error().message)};
  // An installed distro: root inside by default (its files are root's), its own config file,
  // and its rootfs and metadata directory, which the user's --set cannot move.
  init.rootfs = info->rootfs.string();
  init.service_sets = {"proc.fake_root=true"};
  init.distro_config = store_.config_file(distro).string();
  init.root_sets = {"fs.root=" + init.rootfs, "fs.metadata_dir=" + store_.metadata_dir(distro).string()};
  return init;
}

Result<DaemonReply> StoreOperations::run(StoreOp op, const std::string& distro, const std::string& path, int conn) {
  if (!store::DistroStore::valid_name(distro) || distro == kHostInstance)
    return Error{EINVAL, fmt::format("'{}' is not a valid distro name: letters, digits, '.', '_', '-', at most 64, "
                                     "starting with a letter or digit; '{}' is reserved for the host",
                                     distro, kHostInstance)};
  LX_TRY(begin(op, distro, conn));
  log(fmt::format("{} '{}' started", op_name(op), distro));
  auto reply = perform(op, distro, path, conn);
  log(fmt::format("{} '{}': {}", op_name(op), distro, reply ? "done" : reply.error().message));
  {
    std::lock_guard lock(mu_);
    op_active_ = false;
  }
  cv_.notify_all();
  return reply;
}

Result<void> StoreOperations::begin(StoreOp op, const std::string& distro, int conn) {
  {
    // Installs and uninstalls run one at a time; the next one waits and is told so.
    std::unique_lock lock(mu_);
    wait_for_op(conn, "", lock);
    if (instances_.shutting_down()) return Error{ESHUTDOWN, "lxhostd is shutting down"};
    op_active_ = true;
    op_ = op;
    op_distro_ = distro;
  }
  if (op == StoreOp::kUninstall)
    instances_.end(distro, [&] {
      (void)send_message(conn, WaitingEvent{{}, fmt::format("ending the running instance of '{}'", distro)});
    });
  return ok();
}

Result<DaemonReply> StoreOperations::perform(StoreOp op, const std::string& distro, const std::string& path, int conn) {
  auto progress = [conn](const store::Progress& p) {
    (void)send_message(conn, ProgressEvent{{}, p.done_bytes, p.total_bytes, p.entries, p.current});
  };
  switch (op) {
    case StoreOp::kInstall: {
      LX_TRY_ASSIGN(info, store_.install(distro, path, progress));
      return installed(info);
    }
    case StoreOp::kImport: {
      LX_TRY_ASSIGN(info, store_.import_dir(distro, path, progress));
      return installed(info);
    }
    // A distro that kernel-backend guests used may hold files of subordinate ids that shut the
    // user out: read and removed as root of the user namespace.
    case StoreOp::kExport:
      LX_TRY(in_namespace([&] { return store_.export_tar(distro, path, progress); }));
      break;
    case StoreOp::kUninstall:
      LX_TRY(in_namespace([&] { return store_.uninstall(distro); }));
      break;
  }
  return DaemonReply(DoneReply{});
}

Result<ListReply> StoreOperations::list() {
  LX_TRY_ASSIGN(all, store_.list());
  ListReply reply;
  std::lock_guard lock(mu_);
  bool op_listed = false;
  for (const auto& d : all) {
    DistroEntry e = entry(d, instances_.running(d.name));
    if (op_active_ && op_distro_ == d.name) {
      op_listed = true;
      if (op_ == StoreOp::kUninstall || op_ == StoreOp::kExport) e.state = doing(op_);
    }
    reply.distros.push_back(std::move(e));
  }
  if (op_active_ && !op_listed && (op_ == StoreOp::kInstall || op_ == StoreOp::kImport)) {
    DistroEntry e;
    e.name = op_distro_;
    e.state = doing(op_);
    reply.distros.push_back(std::move(e));
  }
  return reply;
}

Result<DefaultReply> StoreOperations::set_default(const std::string& distro) {
  if (!distro.empty()) LX_TRY(store_.set_default(distro));
  LX_TRY_ASSIGN(name, store_.default_name());
  DefaultReply reply;
  reply.name = name;
  return reply;
}

}  // namespace lx::service
