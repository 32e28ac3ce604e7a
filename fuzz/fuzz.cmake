# Included by the top-level CMakeLists.txt: builds fuzz/ (its own project, with clang++ and
# libFuzzer) as an external project, whatever compiler the main build uses, and adds a short
# run of each target to the tests. LXHOST_FUZZ: AUTO (when clang++ links -fsanitize=fuzzer),
# ON (required), OFF.
set(LXHOST_FUZZ AUTO CACHE STRING "Build the libFuzzer targets of fuzz/ with clang++ (AUTO, ON, OFF)")
set_property(CACHE LXHOST_FUZZ PROPERTY STRINGS AUTO ON OFF)
set(LXHOST_FUZZ_CXX "" CACHE FILEPATH "The clang++ that builds fuzz/ (found when empty)")

set(_lxhost_fuzz_why "")
if(LXHOST_FUZZ STREQUAL "OFF")
  set(_lxhost_fuzz_why "LXHOST_FUZZ is OFF")
else()
  if(NOT LXHOST_FUZZ_CXX)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      set(LXHOST_FUZZ_CXX "${CMAKE_CXX_COMPILER}" CACHE FILEPATH "" FORCE)
    else()
      find_program(_lxhost_clangxx NAMES clang++ clang++-16 clang++-15 clang++-14)
      if(_lxhost_clangxx)
        set(LXHOST_FUZZ_CXX "${_lxhost_clangxx}" CACHE FILEPATH "" FORCE)
      endif()
    endif()
  endif()
  if(NOT LXHOST_FUZZ_CXX)
    set(_lxhost_fuzz_why "no clang++ (Debian: clang libclang-rt-14-dev, see scripts/setup.sh)")
  else()
    # libFuzzer is a separate package on Debian (libclang-rt-*-dev): try a link.
    set(_probe "${CMAKE_BINARY_DIR}/CMakeFiles/lxhost_fuzz_probe")
    file(MAKE_DIRECTORY "${_probe}")
    file(WRITE "${_probe}/probe.cpp"
         "#include <cstddef>\n#include <cstdint>\nextern \"C\" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }\n")
    execute_process(COMMAND "${LXHOST_FUZZ_CXX}" -fsanitize=fuzzer,address,undefined "${_probe}/probe.cpp" -o "${_probe}/probe"
                    RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_VARIABLE _probe_err)
    if(NOT _probe_rc EQUAL 0)
      set(_lxhost_fuzz_why "${LXHOST_FUZZ_CXX} cannot link -fsanitize=fuzzer,address,undefined (Debian: libclang-rt-14-dev)")
    endif()
  endif()
endif()

if(_lxhost_fuzz_why)
  if(LXHOST_FUZZ STREQUAL "ON")
    message(FATAL_ERROR "LXHOST_FUZZ=ON but ${_lxhost_fuzz_why}")
  endif()
  message(STATUS "fuzz targets: not built: ${_lxhost_fuzz_why}")
  set(LXHOST_FUZZ_DIR "")
else()
  message(STATUS "fuzz targets: built with ${LXHOST_FUZZ_CXX} in ${CMAKE_BINARY_DIR}/fuzz")
  include(ExternalProject)
  set(LXHOST_FUZZ_DIR "${CMAKE_BINARY_DIR}/fuzz")
  ExternalProject_Add(lxhost_fuzz
    SOURCE_DIR "${PROJECT_SOURCE_DIR}/fuzz"
    BINARY_DIR "${LXHOST_FUZZ_DIR}"
    PREFIX "${CMAKE_BINARY_DIR}/fuzz-ep"
    CMAKE_ARGS -DCMAKE_CXX_COMPILER=${LXHOST_FUZZ_CXX} -DCMAKE_BUILD_TYPE=RelWithDebInfo
    BUILD_ALWAYS ON
    INSTALL_COMMAND ""
    BUILD_BYPRODUCTS "${LXHOST_FUZZ_DIR}/fuzz_protocol" "${LXHOST_FUZZ_DIR}/fuzz_config")
endif()
