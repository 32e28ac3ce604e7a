#!/bin/bash
# Test fixture: installs lxhost into a scratch prefix and builds the probe plugin out of tree
# against it with find_package(lxhost), as a user would. Usage: build_out_of_tree.sh BUILD_DIR SRC_DIR OUT_DIR
set -euo pipefail
build=$1 src=$2 out=$3
rm -rf "$out/prefix" "$out/build"
mkdir -p "$out/plugins"
cmake --install "$build" --prefix "$out/prefix" >"$out/install.log"
cmake -S "$src" -B "$out/build" -DCMAKE_PREFIX_PATH="$out/prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/configure.log"
cmake --build "$out/build" >"$out/build.log"
cp "$out/build/lxhost-probe.so" "$out/plugins/"
echo "built $out/plugins/lxhost-probe.so out of tree"
