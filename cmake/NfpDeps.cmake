# Locates the system libraries (Debian packages) and the MuJoCo C library that
# scripts/install_deps.sh unpacked from the PyPI wheel.
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(GLFW REQUIRED IMPORTED_TARGET glfw3)
pkg_check_modules(OSMESA REQUIRED IMPORTED_TARGET osmesa)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)  # bridge JPEG frames
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET cairo)               # charts, text overlays
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale)  # videos
pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(Threads REQUIRED)

set(NFP_MUJOCO_VERSION 3.17.0)
if(DEFINED ENV{NFP_CACHE})
  set(_nfp_cache $ENV{NFP_CACHE})
elseif(DEFINED ENV{XDG_CACHE_HOME})
  set(_nfp_cache $ENV{XDG_CACHE_HOME}/nfp)
else()
  set(_nfp_cache $ENV{HOME}/.cache/nfp)
endif()
set(NFP_MUJOCO_DIR ${_nfp_cache}/mujoco-${NFP_MUJOCO_VERSION} CACHE PATH "MuJoCo prefix (include/, lib/)")
set(_mj_lib ${NFP_MUJOCO_DIR}/lib/libmujoco.so.${NFP_MUJOCO_VERSION})
if(NOT EXISTS ${_mj_lib})
  message(FATAL_ERROR "MuJoCo ${NFP_MUJOCO_VERSION} not found at ${NFP_MUJOCO_DIR}; run scripts/install_deps.sh first")
endif()
add_library(mujoco SHARED IMPORTED GLOBAL)
set_target_properties(mujoco PROPERTIES
  IMPORTED_LOCATION ${_mj_lib}
  IMPORTED_NO_SONAME FALSE
  INTERFACE_INCLUDE_DIRECTORIES ${NFP_MUJOCO_DIR}/include)
# The wheel's library has its full version as SONAME; bake its folder into rpath.
set(CMAKE_BUILD_RPATH ${NFP_MUJOCO_DIR}/lib)
set(CMAKE_INSTALL_RPATH ${NFP_MUJOCO_DIR}/lib)

add_library(nfp_hdf5 INTERFACE)
target_include_directories(nfp_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(nfp_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
