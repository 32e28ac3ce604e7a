// lxhostd: the per-user lxhost service, in the foreground (`lx service start` runs it in the
// background). Also the instance process (`lxhostd --instance=NAME --control-fd=N`), started by
// the daemon itself.
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "base/dumpable.h"
#include "cli_options.h"
#include "daemon.h"
#include "instance.h"

namespace {

constexpr const char* kUsage = R"(usage: lxhostd [--runtime-dir DIR] [--data-dir DIR] [--config FILE] [--set KEY=VALUE]...

The per-user lxhost service, in the foreground (log on stderr). 'lx' starts it on demand in the
background, and 'lx service start|stop|status' manages it. Or systemd starts it by socket
activation (systemctl --user enable --now lxhostd.socket): then it serves the listening socket
systemd passes (LISTEN_FDS=1, LISTEN_PID) instead of making its own.

  --runtime-dir DIR   socket, lock and log directory ([service] runtime_dir;
                      default $XDG_RUNTIME_DIR/lxhost, /run/user/UID/lxhost, /tmp/lxhost-UID)
  --data-dir DIR      installed distros ([service] data_dir;
                      default $XDG_DATA_HOME/lxhost, ~/.local/share/lxhost)
  --config FILE, --set KEY=VALUE
                      config layers, as for lx
)";

}  // namespace

int main(int argc, char** argv) {
  lx::make_non_dumpable_except_forks();
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args)
    if (a.rfind("--control-fd=", 0) == 0) return lx::service::instance_main(std::atoi(a.c_str() + 13));
  lx::cli::ConfigOptions copts;
  std::string runtime_dir, data_dir;
  for (std::size_t i = 0; i < args.size();) {
    auto consumed = lx::cli::parse_config_option(args, i, copts);
    if (!consumed) {
      std::fprintf(stderr, "lxhostd: %s\n", consumed.error().message.c_str());
      return 2;
    }
    if (*consumed) continue;
    const std::string& a = args[i];
    if ((a == "--runtime-dir" || a == "--data-dir") && i + 1 < args.size()) {
      (a == "--runtime-dir" ? runtime_dir : data_dir) = args[i + 1];
      i += 2;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "lxhostd: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  auto cfg = lx::cli::load_config(copts);
  if (!cfg) {
    std::fprintf(stderr, "lxhostd: %s\n", cfg.error().message.c_str());
    return 1;
  }
  lx::service::DaemonOptions opts;
  opts.paths = lx::service::ServicePaths::resolve(*cfg);
  if (!runtime_dir.empty()) {
    opts.paths.runtime_dir = runtime_dir;
    opts.paths.socket = runtime_dir + "/lxhostd.sock";
    opts.paths.lock = runtime_dir + "/lxhostd.lock";
    opts.paths.log = runtime_dir + "/lxhostd.log";
  }
  if (!data_dir.empty()) opts.paths.data_dir = data_dir;
  opts.instance_program = lx::service::executable_dir() + "/lxhostd";
  lx::service::Daemon daemon(opts);
  return daemon.run();
}
