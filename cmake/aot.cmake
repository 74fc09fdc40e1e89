# aot.cmake — what `onnxc compile` needs beside the compiler: the model ABI header embedded in
# libonnxc (pasted into every NAME.h), runtime archives per target architecture, and the install
# rules with a pkg-config file and a CMake package (find_package(onnxc) + onnxc_add_model;
# cmake/lib.cmake adds libonnxc to both).
include(GNUInstallDirs)

# runtime/onnxc_model.h as a C string in onnxc
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/onnxc_model.h)
file(READ ${CMAKE_SOURCE_DIR}/runtime/onnxc_model.h ONNXC_ABI_HEX HEX)
string(REGEX REPLACE "(..)" "0x\\1," ONNXC_ABI_HEX "${ONNXC_ABI_HEX}")
file(WRITE ${GEN}/model_abi.c.new
     "/* generated from runtime/onnxc_model.h */\nconst char onnxc_model_abi_h[] = {${ONNXC_ABI_HEX}0};\n")
file(COPY_FILE ${GEN}/model_abi.c.new ${GEN}/model_abi.c ONLY_IF_DIFFERENT)
target_sources(onnxc_lib PRIVATE ${GEN}/model_abi.c)
target_compile_definitions(onnxc_lib PRIVATE ONNXC_INSTALL_LIBDIR="${CMAKE_INSTALL_LIBDIR}")

# The runtimes compiled models link, in ${CMAKE_BINARY_DIR}/rt (onnxc looks there, beside itself,
# and in the installed library folder): libonnxc_rt.a for the host, never sanitized (a model
# library must not need the sanitizer runtime), and libonnxc_rt_aarch64.a, built with Debian's
# cross compiler when it is installed (`onnxc compile --target aarch64`).
set(RT_DIR ${CMAKE_BINARY_DIR}/rt)
add_library(onnxc_rt_aot STATIC ${RT_SRC})
target_include_directories(onnxc_rt_aot PRIVATE runtime)
target_compile_options(onnxc_rt_aot PRIVATE -fno-sanitize=all)
set_target_properties(onnxc_rt_aot PROPERTIES OUTPUT_NAME onnxc_rt ARCHIVE_OUTPUT_DIRECTORY ${RT_DIR})
add_dependencies(onnxc onnxc_rt_aot)
find_program(ONNXC_AARCH64_CC aarch64-linux-gnu-gcc)
find_program(ONNXC_AARCH64_AR aarch64-linux-gnu-ar)
if(ONNXC_AARCH64_CC AND ONNXC_AARCH64_AR)
  set(rt64_objs)
  foreach(src ${RT_SRC})
    get_filename_component(base ${src} NAME_WE)
    set(obj ${RT_DIR}/aarch64/${base}.o)
    add_custom_command(OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${RT_DIR}/aarch64
      COMMAND ${ONNXC_AARCH64_CC} -std=c11 -O2 -fPIC -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter
              -I${CMAKE_SOURCE_DIR}/runtime -c ${src} -o ${obj}
      DEPENDS ${src} ${CMAKE_SOURCE_DIR}/runtime/onnxc_rt.h ${CMAKE_SOURCE_DIR}/runtime/onnxc_model.h
      COMMENT "aarch64 runtime: ${base}.c")
    list(APPEND rt64_objs ${obj})
  endforeach()
  add_custom_command(OUTPUT ${RT_DIR}/libonnxc_rt_aarch64.a
    COMMAND ${CMAKE_COMMAND} -E rm -f ${RT_DIR}/libonnxc_rt_aarch64.a
    COMMAND ${ONNXC_AARCH64_AR} rcs ${RT_DIR}/libonnxc_rt_aarch64.a ${rt64_objs}
    DEPENDS ${rt64_objs})
  add_custom_target(onnxc_rt_aarch64 ALL DEPENDS ${RT_DIR}/libonnxc_rt_aarch64.a)
  install(FILES ${RT_DIR}/libonnxc_rt_aarch64.a DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()

# install: onnxc, the runtime, its headers, pkg-config and CMake package files
install(TARGETS onnxc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS onnxc_rt_aot ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES runtime/onnxc_model.h runtime/onnxc_rt.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/onnxc)
file(RELATIVE_PATH ONNXC_PC_REL_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix) # relocatable
configure_file(cmake/onnxc.pc.in ${CMAKE_BINARY_DIR}/onnxc.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/onnxc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH ONNXC_REL_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/cmake/onnxc /prefix)
configure_file(cmake/onnxcConfig.cmake.in ${CMAKE_BINARY_DIR}/onnxcConfig.cmake @ONLY)
include(CMakePackageConfigHelpers)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/onnxcConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/onnxcConfig.cmake ${CMAKE_BINARY_DIR}/onnxcConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/onnxc)
