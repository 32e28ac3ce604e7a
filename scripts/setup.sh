#!/bin/bash
# Installs what lxhost needs to build, test and benchmark on Debian 12 (bookworm), from Debian's
# archive only. Safe to run again: it installs only what is missing. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost-dev libboost-filesystem-dev   # Boost.DLL (plugin loading), Boost.Asio (service)
  libtomlplusplus-dev                    # config
  libfmt-dev                             # formatting
  nlohmann-json3-dev                     # the service's control protocol (JSON frames)
  libarchive-dev                         # lx install/export: tar, tar.gz, tar.xz, tar.zst
  libgtest-dev libgmock-dev              # tests
  busybox-static                         # the tests' static rootfs
  util-linux                             # setpriv: tests run guests as an unprivileged user
  tmux                                   # tests drive an interactive shell on a terminal
  proot                                  # benchmarks compare against it
  strace gdb                             # tests: the guest traces its own processes (kernel backend)
  uidmap                                 # newuidmap/newgidmap: an ordinary user's delegated id
                                         # ranges in the kernel backend's user namespace
  libseccomp-dev                         # lxhost-runc: a bundle's seccomp profile compiled to BPF
  podman containerd                      # tests: lxhost-runc behind the real clients (conmon, the
  netavark iptables catatonit            # runc v2 shim, CRI); podman's network and rootless pause
                                         # process, which are only its recommends
  help2man                               # man pages made from each program's --help (packaging)
  clang libclang-rt-14-dev               # fuzz/: libFuzzer and ASan/UBSan runtimes (clang's
                                         # recommends, which --no-install-recommends leaves out)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root (missing: ${missing[*]})" >&2; exit 1; }
  SUDO=sudo
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
