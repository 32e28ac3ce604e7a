// The embedded default config: the first layer of every merge, and what `lx config default`
// prints. Every key the core understands is here with a comment.
#pragma once

namespace lx::config {

/// The default config as TOML text.
inline constexpr const char* kDefaultToml = R"toml(# lxhost default configuration (embedded in the binaries).
# Layers, later wins: these defaults, /etc/lxhost/lxhost.toml,
# $XDG_CONFIG_HOME/lxhost/lxhost.toml (~/.config/lxhost/lxhost.toml), --config FILE, --set KEY=VALUE.

[plugins]
# Directories searched for lxhost-<name>.so, before the built-in plugin directory.
search_path = []

# One table per syscall family: fs, proc, net, signal, memory, time, ipc, other.
#   enabled     = false makes every syscall of the family fail in the kernel
#   plugin      = plugin name (lxhost-<name>.so in the search path) or path; "" = none: the
#                 family's syscalls run natively
#   on_disabled = errno name the disabled family's syscalls fail with ("ENOSYS", "EPERM", ...),
#                 or "passthrough" to run them natively anyway
[families.fs]
enabled = true
plugin = "fs"
on_disabled = "ENOSYS"

# The fs plugin's own settings. With root = "/", no mounts and proc = "host" it intercepts nothing.
[fs]
# Host directory that is the guest's "/".
root = "/"
# Bind /dev, /proc, /sys and /tmp from the host when root is not "/".
default_mounts = true
# Where ownership, modes and device numbers the host refuses are kept: "auto" (the
# user.lxhost.meta xattr, or a sidecar directory where the filesystem has no user xattrs),
# "xattr" or "sidecar". metadata_dir = "..." overrides the sidecar directory
# ($XDG_DATA_HOME/lxhost/metadata/<root>).
metadata = "auto"
# What the guest's /proc shows: "instance" (its own processes only: any other pid does not
# exist, as in WSL) or "host" (every process of the host the user may see).
proc = "instance"
# Bind mounts (repeat the table):
# [[fs.mount]]
# host = "/srv/data"
# guest = "/data"
# read_only = true

[families.proc]
enabled = true
plugin = "proc"
on_disabled = "ENOSYS"

# The proc plugin. As it is here it intercepts nothing.
[proc]
# getuid() == 0 and a setuid family that succeeds and stays consistent (like proot -0, fakeroot).
fake_root = false
# Processes per instance; fork past it fails with EAGAIN (0: no limit).
max_processes = 0
# hostname = "lxhost"      # uname nodename the guest sees
# release = "6.1.0-lxhost"  # uname release the guest sees

[families.net]
enabled = true
plugin = "net"
on_disabled = "ENOSYS"

# The net plugin's own settings. As they are here it intercepts nothing, unless the fs plugin
# translates paths: then AF_UNIX socket paths are translated too.
[net]
# allow_domains = ["unix", "inet", "inet6", "netlink"]   # other domains: EAFNOSUPPORT, in the kernel
# "any", or "loopback": bind/connect/sendto only to 127.0.0.0/8 and ::1 (EACCES otherwise)
bind = "any"
# [[net.port_map]]
# guest = 80
# host = 8080

[families.signal]
enabled = true
plugin = "signal"
on_disabled = "ENOSYS"

# The signal plugin: kill and friends reach only the instance's processes (ESRCH otherwise).
[signal]
confine = true

[driver]
# Threads serving the NOTIFY route (1..64).
notify_workers = 2
# Ask for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (kernel >= 6.6): the worker and the guest hand the
# CPU to each other instead of waking across CPUs. Falls back cleanly on older kernels.
sync_wakeup = true

[instance]
# What runs the instance: "kernel" (a user, mount, PID and UTS namespace: the kernel resolves
# paths and confines processes, the families keep only what it cannot do), "emulated" (no
# namespaces: the families do it all on the NOTIFY and TRACE routes), or "auto": kernel where
# this host lets the user create a user namespace (tried, not guessed), emulated otherwise.
backend = "auto"
# How long an instance lives on after its last client is gone: "0s" ends it at once, "30s",
# "5m" ... keep it that long, "forever" keeps it until `lx terminate` or `lx shutdown`.
linger = "0s"
# When an instance ends, its processes get SIGTERM, and SIGKILL after this grace period.
grace = "2s"
)toml";

}  // namespace lx::config
