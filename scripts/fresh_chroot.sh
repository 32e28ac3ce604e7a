# A fresh Debian 12 machine as a chroot, for scripts/fresh_machine_check.sh and
# scripts/package_check.sh (sourced by them, not run): a pristine `debootstrap --variant=buildd
# bookworm` tree (the debootstrap tarball and its result cached), the host's network and apt
# sources in it, its binds, and its removal. The caller sets:
#   me      the script's name, for messages
#   dir     the chroot (an absolute path)
#   cache   the cache directory: bookworm-buildd.tgz, rootfs.tar, apt-archives/
#   mirror  the Debian mirror debootstrap downloads from
# and defines say MESSAGE.

# Anything still mounted at or under $dir (deepest first, $dir itself last).
mounts_under() { findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r; }

# Removes an earlier chroot at $dir: only when nothing is mounted under it and it is empty or a
# chroot made here. Exits otherwise.
fresh_chroot_clear() {
  if [ -n "$(mounts_under)" ]; then
    echo "$me: $dir has mounts (an earlier run still going?):" >&2
    mounts_under >&2
    exit 1
  fi
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/etc/debian_version" ]; then
    echo "$me: $dir exists and is not a chroot made by this script; not removing it" >&2
    exit 2
  fi
  rm -rf --one-file-system "$dir"
}

# Makes $dir a pristine bookworm buildd tree: from the cached rootfs, else debootstrap (cached
# too), its output to LOG.
fresh_chroot_make() {  # fresh_chroot_make LOG
  local log=$1
  mkdir -p "$cache/apt-archives/partial" "$(dirname "$dir")"
  if [ -f "$cache/rootfs.tar" ]; then
    say "unpacking the cached debootstrap result ($cache/rootfs.tar)"
    mkdir -p "$dir"
    tar -C "$dir" --numeric-owner -xpf "$cache/rootfs.tar"
    return
  fi
  command -v debootstrap >/dev/null || { say "installing debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
  if [ ! -f "$cache/bookworm-buildd.tgz" ]; then
    say "downloading the bookworm buildd packages"
    debootstrap --variant=buildd --make-tarball="$cache/bookworm-buildd.tgz" bookworm "$dir.mk" "$mirror" >>"$log" 2>&1
    rm -rf "$dir.mk"
  fi
  say "debootstrap --variant=buildd bookworm $dir"
  debootstrap --variant=buildd --unpack-tarball="$cache/bookworm-buildd.tgz" bookworm "$dir" "$mirror" >>"$log" 2>&1 ||
    { tail -20 "$log"; exit 1; }
  tar -C "$dir" --numeric-owner -cpf "$cache/rootfs.tar.new" . && mv "$cache/rootfs.tar.new" "$cache/rootfs.tar"
}

# The host's network and apt sources in $dir, and its binds: $dir on itself (on a real machine /
# is a mount point; podman's storage remounts it private before it unpacks a layer, and fails with
# EINVAL in a chroot that is only a directory), /proc, /sys, /dev, /dev/pts, a tmpfs /dev/shm,
# and the cached apt archives (what apt downloads there is kept for the next run). Private: what
# is mounted in the chroot never propagates to the host.
fresh_chroot_bind() {
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
  # debootstrap's own sources.list gives way to the host's sources (mirrors, security updates).
  if [ -f /etc/apt/sources.list ] || compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null ||
     compgen -G '/etc/apt/sources.list.d/*.list' >/dev/null; then
    rm -f "$dir/etc/apt/sources.list"
  fi
  [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$dir/etc/apt/sources.list"
  local f
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && cp "$f" "$dir/etc/apt/sources.list.d/"
  done
  mount --bind "$dir" "$dir"
  mount --make-private "$dir"
  mount --bind /proc "$dir/proc"
  mount --bind /sys "$dir/sys"
  mount --bind /dev "$dir/dev"
  mount --bind /dev/pts "$dir/dev/pts"
  mount -t tmpfs -o mode=1777,nosuid,nodev shm "$dir/dev/shm"
  mount --bind "$cache/apt-archives" "$dir/var/cache/apt/archives"
}

# Ends the processes left in $dir (a daemon started by `lx run`: only those whose root is $dir),
# unmounts everything under it, and removes it unless KEEP is 1. Call it from an EXIT trap.
fresh_chroot_remove() {  # fresh_chroot_remove KEEP
  local p m
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$dir" ] && kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
  for m in $(mounts_under); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  if [ -n "$(mounts_under)" ]; then
    echo "$me: still mounted under $dir, not removing it:" >&2
    mounts_under >&2
  elif [ "$1" -eq 0 ] && [ -d "$dir" ]; then
    rm -rf --one-file-system "$dir"
  fi
}
