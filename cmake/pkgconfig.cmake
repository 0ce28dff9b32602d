# ndbridge.pc for pkg-config users, installed to <libdir>/pkgconfig. Paths
# are relative to the .pc file (${pcfiledir}), so the file stays right
# whatever `cmake --install --prefix` puts it under.

set(NDBRIDGE_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${NDBRIDGE_PC_DIR}")
  set(NDBRIDGE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  set(NDBRIDGE_PC_PREFIX "\${pcfiledir}")
  string(REPLACE "/" ";" pc_dir_parts "${NDBRIDGE_PC_DIR}")
  foreach(part IN LISTS pc_dir_parts)
    string(APPEND NDBRIDGE_PC_PREFIX "/..")
  endforeach()
endif()
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(NDBRIDGE_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(NDBRIDGE_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()

# HDF5 for static linking (`pkg-config --static`): by its own pkg-config
# module where there is one (Debian: hdf5, an alias of hdf5-serial), else
# by the libraries CMake found.
# zlib (the .npz reader and writer) always; Debian's zlib1g-dev ships zlib.pc.
set(NDBRIDGE_PC_REQUIRES_PRIVATE "zlib")
set(NDBRIDGE_PC_LIBS_PRIVATE "")
if(NDBRIDGE_WITH_HDF5)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(NDBRIDGE_PC_HDF5 QUIET hdf5)
  endif()
  if(NDBRIDGE_PC_HDF5_FOUND)
    string(APPEND NDBRIDGE_PC_REQUIRES_PRIVATE " hdf5")
  else()
    find_package(HDF5 QUIET COMPONENTS C)  # found before in cpp/; cached
    foreach(lib IN LISTS HDF5_C_LIBRARIES)
      string(APPEND NDBRIDGE_PC_LIBS_PRIVATE " ${lib}")
    endforeach()
    string(STRIP "${NDBRIDGE_PC_LIBS_PRIVATE}" NDBRIDGE_PC_LIBS_PRIVATE)
  endif()
endif()

set(NDBRIDGE_PC_PRIVATE "")
if(NDBRIDGE_PC_REQUIRES_PRIVATE)
  string(APPEND NDBRIDGE_PC_PRIVATE "Requires.private: ${NDBRIDGE_PC_REQUIRES_PRIVATE}\n")
endif()
if(NDBRIDGE_PC_LIBS_PRIVATE)
  string(APPEND NDBRIDGE_PC_PRIVATE "Libs.private: ${NDBRIDGE_PC_LIBS_PRIVATE}\n")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/ndbridge.pc.in ${CMAKE_CURRENT_BINARY_DIR}/ndbridge.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/ndbridge.pc
        DESTINATION ${NDBRIDGE_PC_DIR}
        COMPONENT devel)
