# xsmm.cmake — libxsmm as a GEMM provider (`--gemm libxsmm`, ISSUE14 Deliver 4).
#
# runtime/xsmm/onnxc_xsmm.c (the function generated code calls) is its own archive,
# libonnxc_xsmm.a, so that the runtime archive and the default compiled artifact stay libc-only.
# It goes into the CLI and libonnxc.so (JIT-compiled code resolves it in the process;
# lib/gemm.c looks it up there to know whether the provider is available).  `onnxc compile --gemm
# libxsmm` links the archive (from the runtime's folder) and libxsmm into the model's shared
# library (lib/toolchain.c); every other artifact stays libc-only.  Without libxsmm-dev (scripts/setup.sh installs it) none of this is
# built and `--gemm libxsmm` says so.
pkg_check_modules(XSMM IMPORTED_TARGET libxsmm)
find_library(ONNXC_XSMM_NOBLAS xsmmnoblas)
if(XSMM_FOUND AND ONNXC_XSMM_NOBLAS)
  add_library(onnxc_xsmm STATIC runtime/xsmm/onnxc_xsmm.c)
  # libxsmmnoblas after libxsmm: its BLAS stubs (libxsmm falls back to no BLAS)
  target_link_libraries(onnxc_xsmm PUBLIC PkgConfig::XSMM ${ONNXC_XSMM_NOBLAS})
  set_target_properties(onnxc_xsmm PROPERTIES ARCHIVE_OUTPUT_DIRECTORY ${RT_DIR})
  # never sanitized, as libonnxc_rt.a beside it (cmake/aot.cmake): a model library linking it
  # (`onnxc compile --gemm libxsmm`) must not need the sanitizer runtime
  target_compile_options(onnxc_xsmm PRIVATE -fno-sanitize=all)
  target_compile_definitions(onnxc_lib PRIVATE ONNXC_XSMM_VERSION="${XSMM_VERSION}")
  foreach(t onnxc onnxc_shared)
    target_link_libraries(${t} PRIVATE onnxc_xsmm)
    target_link_options(${t} PRIVATE -Wl,--undefined=onnxc_xsmm_sgemm) # kept and exported, though nothing calls it
  endforeach()
endif()
