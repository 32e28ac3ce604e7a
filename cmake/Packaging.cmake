# Included at the end of the top-level CMakeLists.txt: what a user's installation has besides the
# binaries, plugins and SDK (man pages, bash completion, the systemd user units of lxhostd), and
# the Debian package of it all:
#
#   cmake -S . -B build -G Ninja -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build
#   cd build && cpack -G DEB          # lxhost_<version>_amd64.deb
#
# scripts/package_check.sh installs that package in a fresh Debian 12 chroot, uses it, purges it
# and checks that nothing is left.

# --- Man pages: made at build time from each program's --help by help2man (Debian: help2man,
# installed by scripts/setup.sh; cmake/ManPage.cmake), gzipped as Debian wants them; lx's has
# each command's --help too. Without help2man there are none (and cpack refuses to make a package
# without them).
find_program(LXHOST_HELP2MAN help2man)
find_program(LXHOST_GZIP gzip)
set(_lxhost_man_dir ${PROJECT_BINARY_DIR}/man)
set(_lxhost_man_pages "")
if(LXHOST_HELP2MAN AND LXHOST_GZIP)
  set(_lxhost_man_lx "run Linux programs under the lxhost subsystem personality")
  set(_lxhost_man_lxhostd "the per-user lxhost service")
  set(_lxhost_man_lxhost-runc "OCI runtime whose containers are lxhost instances")
  set(_lxhost_man_subcommands_lx run exec status terminate shutdown service install import export uninstall list
      default syscalls plugins config)
  foreach(_prog lx lxhostd lxhost-runc)
    set(_page ${_lxhost_man_dir}/${_prog}.1.gz)
    list(JOIN _lxhost_man_subcommands_${_prog} "," _subcommands)
    add_custom_command(OUTPUT ${_page}
      COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${_prog}> -DNAME=${_prog} "-DWHAT=${_lxhost_man_${_prog}}"
              -DVERSION=${PROJECT_VERSION} -DHELP2MAN=${LXHOST_HELP2MAN} -DGZIP=${LXHOST_GZIP}
              -DINCLUDE=${PROJECT_SOURCE_DIR}/packaging/man-files.h2m "-DSUBCOMMANDS=${_subcommands}"
              -DDIR=${_lxhost_man_dir} -P ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake
      DEPENDS ${_prog} ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake ${PROJECT_SOURCE_DIR}/packaging/man-files.h2m
      COMMENT "Generating the man page ${_prog}(1) from ${_prog} --help"
      VERBATIM)
    list(APPEND _lxhost_man_pages ${_page})
  endforeach()
  file(MAKE_DIRECTORY ${_lxhost_man_dir})
  add_custom_target(lxhost_man_pages ALL DEPENDS ${_lxhost_man_pages})
  install(FILES ${_lxhost_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man or gzip not found: no man pages (Debian: apt install help2man)")
endif()

# --- Bash completion of lx and lxhost-runc.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/lx.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME lx)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/lxhost-runc.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME lxhost-runc)

# --- The README, the documentation of it all (share/doc/lxhost).
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# --- systemd user units: lxhostd by socket activation (an alternative to lx starting it on
# demand; enabled by each user who wants it: systemctl --user enable --now lxhostd.socket).
# lib/systemd/user under the prefix: /usr/lib/systemd/user, where Debian keeps user units.
configure_file(${PROJECT_SOURCE_DIR}/packaging/lxhostd.service.in ${PROJECT_BINARY_DIR}/packaging/lxhostd.service @ONLY)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/lxhostd.socket ${PROJECT_BINARY_DIR}/packaging/lxhostd.service
        DESTINATION lib/systemd/user)

# --- The Debian package (cpack -G DEB): one package, lxhost, with everything installed above.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lxhost)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "lxhost")
set(CPACK_PACKAGE_CONTACT "lxhost maintainers <lxhost@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "run Linux programs under a user-space subsystem personality")
set(CPACK_PACKAGE_DESCRIPTION
  "lxhost runs unmodified Linux programs under a subsystem personality, the
architecture of WSL1 rebuilt in user space: a small dispatch core catches a
program's system calls with seccomp-BPF, seccomp user notification and ptrace,
and hands them to plugins, one per syscall family (filesystem, process,
networking, signals), loaded from TOML config.

This package contains the client lx, the per-user service lxhostd (started on
demand, or by systemd socket activation: systemctl --user enable --now
lxhostd.socket), the OCI runtime lxhost-runc, the family plugins, and the SDK
(headers and CMake package) for out-of-tree plugins.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # lxhost_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: the shared libraries of lx, lxhostd, lxhost-runc and the plugins, by dpkg-shlibdeps
# (dpkg-dev). Nothing is run at run time that it cannot see: the kernel backend runs
# newuidmap/newgidmap (uidmap) for an ordinary user's delegated id range, and does without them
# (the user's own id only), hence a Recommends. The SDK's users need a compiler, CMake and the
# Boost headers (find_dependency(Boost) in lxhostConfig.cmake).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "uidmap")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion, cmake, g++, libboost-dev")
# Checked when cpack runs (cmake/PackagingCheck.cmake): what the package would get wrong.
set(CPACK_LXHOST_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_LXHOST_MAN_PAGES "${_lxhost_man_pages}")
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/PackagingCheck.cmake)
include(CPack)
