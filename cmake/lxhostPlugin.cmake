# lxhost_add_plugin(NAME SOURCES src...)
#
# Builds an lxhost syscall-family plugin: a MODULE library named lxhost-<NAME>.so with hidden
# visibility (only the LXHOST_PLUGIN exports are visible), linked against the lxhost SDK.
# Used in tree and, through find_package(lxhost), by out-of-tree plugins.
function(lxhost_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "lxhost_add_plugin(${name}): SOURCES is required")
  endif()
  set(target lxhost-plugin-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE lxhost::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "lxhost-${name}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
endfunction()
