# Read by cpack before it makes a package (CPACK_PROJECT_CONFIG_FILE, set in Packaging.cmake):
# refuses a Debian package that would be wrong, saying how to configure the build instead.
if(CPACK_GENERATOR STREQUAL "DEB")
  if(NOT CPACK_LXHOST_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "lxhost: the Debian package installs under /usr, and the programs look for their plugins "
                        "where CMAKE_INSTALL_PREFIX put them (${CPACK_LXHOST_INSTALL_PREFIX}): configure the build "
                        "with -DCMAKE_INSTALL_PREFIX=/usr, build, then run cpack again")
  endif()
  if(NOT CPACK_LXHOST_MAN_PAGES)
    message(FATAL_ERROR "lxhost: no man pages: help2man was not found when the build was configured "
                        "(Debian: apt install help2man, or scripts/setup.sh); configure and build again")
  endif()
endif()
