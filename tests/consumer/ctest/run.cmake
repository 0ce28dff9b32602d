# Driver for the consumer tests (cmake -P). MODE picks the step:
#   install-tree  install the already built BINARY tree into PREFIX
#   install-build configure SOURCE in BINARY with ARGS, build, install to PREFIX
#   consumer      configure the project SOURCE in BINARY with ARGS, build it
#                 and run BINARY/consumer (or RUN, if set) in BINARY/work
#   pkgconfig     compile SOURCE with the flags `pkg-config [--static]
#                 ndbridge` gives from PREFIX, then run it
# Lists in ARGS are separated by "|". GENERATOR, BUILD_TYPE, CXX, C set the
# tool chain of nested builds. Every command must succeed.
cmake_minimum_required(VERSION 3.18)

string(REPLACE "|" ";" ARGS "${ARGS}")

function(run)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "run: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${shown}")
  endif()
endfunction()

function(configure_and_build source binary)
  file(REMOVE_RECURSE ${binary})
  run(${CMAKE_COMMAND} -S ${source} -B ${binary} -G ${GENERATOR}
      -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_C_COMPILER=${C}
      ${ARGN})
  # Other work shares this machine: two jobs at most.
  run(${CMAKE_COMMAND} --build ${binary} -j2)
endfunction()

if(MODE STREQUAL "install-tree")
  file(REMOVE_RECURSE ${PREFIX})
  run(${CMAKE_COMMAND} --install ${BINARY} --prefix ${PREFIX})
elseif(MODE STREQUAL "install-build")
  configure_and_build(${SOURCE} ${BINARY} ${ARGS})
  file(REMOVE_RECURSE ${PREFIX})
  run(${CMAKE_COMMAND} --install ${BINARY} --prefix ${PREFIX})
elseif(MODE STREQUAL "consumer")
  configure_and_build(${SOURCE} ${BINARY} ${ARGS})
  if(NOT RUN)
    set(RUN ${BINARY}/consumer ${BINARY}/work)
  else()
    string(REPLACE "|" ";" RUN "${RUN}")
  endif()
  run(${RUN})
elseif(MODE STREQUAL "pkgconfig")
  set(pc_args --cflags --libs ndbridge)
  if(STATIC)
    list(PREPEND pc_args --static)
  endif()
  # The caller's path stays after it: where its HDF5's hdf5.pc is.
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/lib/pkgconfig:$ENV{PKG_CONFIG_PATH}")
  execute_process(COMMAND pkg-config ${pc_args}
                  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config ${pc_args} failed (${rc}) with PKG_CONFIG_PATH=${PREFIX}/lib/pkgconfig")
  endif()
  message(STATUS "pkg-config ${pc_args}: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  file(REMOVE_RECURSE ${BINARY})
  file(MAKE_DIRECTORY ${BINARY})
  # The rpath only matters for the shared library.
  run(${CXX} -std=c++17 -O1 ${SOURCE} -o ${BINARY}/consumer ${flags} -Wl,-rpath,${PREFIX}/lib)
  run(${BINARY}/consumer ${BINARY}/work)
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
