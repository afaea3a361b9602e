# Finds libtorch and defines TORCH_LIBRARIES, QS_TORCH_VERSION (e.g. 2.11.0), QS_TORCH_CUDA
# (ON when libtorch_cuda is linked) and QS_TORCH_LIB_DIR (the folder of libtorch.so).
#
# Two ways:
#  * default: Debian's libtorch-dev (CPU-only 1.13), through find_package(Torch).
#  * -DQS_TORCH_ROOT=DIR: an unpacked LibTorch archive (DIR/lib, DIR/include) or the torch/
#    folder of a PyPI wheel (site-packages/torch: the same layout); packaging/setup-debian.sh
#    --libtorch pip passes the latter. The libraries are linked straight from DIR/lib instead of
#    through DIR/share/cmake/Torch (docs/notes.md §1): that config demands a full CUDA toolkit although
#    QuantScope has no CUDA code, and the toolkit's rpath made the linker take the toolkit's
#    libnccl instead of the wheel's. libtorch_cuda and libc10_cuda, when present, are linked as
#    always-needed: nothing references them, but loading them registers the CUDA backend; and
#    libstdc++ comes first (see below).
# qs_torch_version(OUT INCLUDE_DIRS...): MAJOR.MINOR.PATCH from torch/version.h.
function(qs_torch_version out)
  foreach(_dir IN LISTS ARGN)
    foreach(_hdr "${_dir}/torch/headeronly/version.h" "${_dir}/torch/csrc/api/include/torch/version.h"
                 "${_dir}/torch/version.h")
      if(EXISTS "${_hdr}")
        file(STRINGS "${_hdr}" _ver REGEX "#define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
        foreach(_part MAJOR MINOR PATCH)
          string(REGEX MATCH "TORCH_VERSION_${_part} ([0-9]+)" _m "${_ver}")
          set(_v_${_part} ${CMAKE_MATCH_1})
        endforeach()
        set(${out} "${_v_MAJOR}.${_v_MINOR}.${_v_PATCH}" PARENT_SCOPE)
        return()
      endif()
    endforeach()
  endforeach()
  message(FATAL_ERROR "torch/version.h not found under ${ARGN}")
endfunction()

set(QS_TORCH_ROOT "" CACHE PATH "LibTorch archive or wheel torch/ folder to build against (default: Debian's libtorch)")

if(QS_TORCH_ROOT)
  get_filename_component(_root "${QS_TORCH_ROOT}" ABSOLUTE)
  set(QS_TORCH_LIB_DIR "${_root}/lib")
  foreach(_f "${QS_TORCH_LIB_DIR}/libtorch.so" "${QS_TORCH_LIB_DIR}/libtorch_cpu.so" "${QS_TORCH_LIB_DIR}/libc10.so"
             "${_root}/include/ATen/ATen.h")
    if(NOT EXISTS "${_f}")
      message(FATAL_ERROR "QS_TORCH_ROOT=${QS_TORCH_ROOT} is not a LibTorch archive or a wheel's torch/ folder: "
                          "${_f} is missing (expected lib/libtorch.so, lib/libtorch_cpu.so, lib/libc10.so and include/)")
    endif()
  endforeach()
  qs_torch_version(QS_TORCH_VERSION "${_root}/include")

  set(_cuda_libs "")
  set(QS_TORCH_CUDA OFF)
  foreach(_n torch_cuda c10_cuda)
    if(EXISTS "${QS_TORCH_LIB_DIR}/lib${_n}.so")
      list(APPEND _cuda_libs "${QS_TORCH_LIB_DIR}/lib${_n}.so")
      set(QS_TORCH_CUDA ON)
    endif()
  endforeach()
  add_library(qs_torch INTERFACE)
  target_include_directories(qs_torch SYSTEM INTERFACE "${_root}/include" "${_root}/include/torch/csrc/api/include")
  # The wheel's libtorch.so exports ~145 unversioned libstdc++ symbols of its own (std::filesystem
  # among them, from the manylinux toolchain's static libstdc++ parts). Listed first, it would
  # interpose on the system libstdc++ for the whole process: std::filesystem::remove_all(path, ec)
  # then jumped to address 0 (measured: quantscope-cli quantize --force crashed). libstdc++ is
  # therefore made a needed library ahead of libtorch, so the dynamic linker finds its symbols first.
  # One --no-as-needed block (CMake drops repeated flags): libtorch_cuda / libc10_cuda are not
  # referenced, but loading them registers the CUDA backend.
  target_link_libraries(qs_torch INTERFACE "-Wl,--push-state,--no-as-needed" stdc++
    "${QS_TORCH_LIB_DIR}/libtorch.so" "${QS_TORCH_LIB_DIR}/libtorch_cpu.so" "${QS_TORCH_LIB_DIR}/libc10.so"
    ${_cuda_libs} "-Wl,--pop-state")
  set(TORCH_LIBRARIES qs_torch)
  # packaging/make_relocatable.sh carries libtorch in <prefix>/lib/quantscope/torch/lib
  list(APPEND CMAKE_INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}/quantscope/torch/lib")
  message(STATUS "libtorch ${QS_TORCH_VERSION} from ${_root} (CUDA backend linked: ${QS_TORCH_CUDA})")
else()
  find_package(Torch REQUIRED)
  qs_torch_version(QS_TORCH_VERSION ${TORCH_INCLUDE_DIRS})
  list(FIND TORCH_LIBRARIES torch_cuda _i)
  if(_i GREATER -1)
    set(QS_TORCH_CUDA ON)
  else()
    set(QS_TORCH_CUDA OFF)
  endif()
  get_filename_component(QS_TORCH_LIB_DIR "${TORCH_LIBRARY}" DIRECTORY)
  message(STATUS "libtorch ${QS_TORCH_VERSION} from ${QS_TORCH_LIB_DIR} (CUDA backend linked: ${QS_TORCH_CUDA})")
endif()

# torch 2.x headers require C++20 ("#error C++20 or later compatible compiler is required").
if(QS_TORCH_VERSION VERSION_GREATER_EQUAL 2.0)
  set(CMAKE_CXX_STANDARD 20)
  # GCC 12 at -O3 in C++20 warns about std::string code it inlines (-Wrestrict false positive,
  # GCC bug 105329).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict>)
  endif()
endif()
