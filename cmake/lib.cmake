# lib.cmake — libonnxc as a shared and a static library, installed with include/onnxc.h (the
# pkg-config file and the CMake package of cmake/aot.cmake describe it).
#
# libonnxc.so: the API objects with the frontend, passes and backend archives; the runtime whole
# (JIT-compiled code calls into it, resolved in the process) and only onnxc_* exported.
# libonnxc.a: one archive of all those objects (onnx_proto included); a program linking it needs
# -Wl,--export-dynamic so the JIT finds the runtime's functions in the executable.
set(ONNXC_LIB_MAP ${CMAKE_BINARY_DIR}/libonnxc.map)
file(WRITE ${ONNXC_LIB_MAP} "{\n  global: onnxc_*;\n  local: *;\n};\n")
add_library(onnxc_shared SHARED $<TARGET_OBJECTS:onnxc_lib>)
target_link_libraries(onnxc_shared PRIVATE onnxc_fe onnxc_passes onnxc_be onnxc_rt onnx_proto)
target_link_options(onnxc_shared PRIVATE -Wl,--whole-archive $<TARGET_FILE:onnxc_rt> -Wl,--no-whole-archive
                    -Wl,--version-script=${ONNXC_LIB_MAP})
set_target_properties(onnxc_shared PROPERTIES OUTPUT_NAME onnxc VERSION ${PROJECT_VERSION}
                      SOVERSION ${PROJECT_VERSION_MAJOR} LINK_DEPENDS ${ONNXC_LIB_MAP})

# the static archive: the API's objects and every internal archive merged with an ar MRI script
add_library(onnxc_api_objs STATIC $<TARGET_OBJECTS:onnxc_lib>)
set(ONNXC_MRI ${CMAKE_BINARY_DIR}/libonnxc.mri)
file(GENERATE OUTPUT ${ONNXC_MRI} CONTENT "create ${CMAKE_BINARY_DIR}/libonnxc.a
addlib $<TARGET_FILE:onnxc_api_objs>
addlib $<TARGET_FILE:onnxc_fe>
addlib $<TARGET_FILE:onnxc_passes>
addlib $<TARGET_FILE:onnxc_be>
addlib $<TARGET_FILE:onnxc_ir>
addlib $<TARGET_FILE:onnxc_rt>
addlib $<TARGET_FILE:onnx_proto>
save
end
")
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/libonnxc.a
  COMMAND ${CMAKE_COMMAND} -E rm -f ${CMAKE_BINARY_DIR}/libonnxc.a
  COMMAND ${CMAKE_AR} -M < ${ONNXC_MRI}
  DEPENDS onnxc_api_objs onnxc_fe onnxc_passes onnxc_be onnxc_ir onnxc_rt onnx_proto ${ONNXC_MRI}
  COMMENT "libonnxc.a")
add_custom_target(onnxc_static ALL DEPENDS ${CMAKE_BINARY_DIR}/libonnxc.a)

install(TARGETS onnxc_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_BINARY_DIR}/libonnxc.a DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES include/onnxc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/onnxc)
