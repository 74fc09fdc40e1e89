# onnxcConfig.cmake — find_package(onnxc) for projects that compile ONNX models at build time.
#
#   find_package(onnxc REQUIRED)
#   add_executable(app main.c)
#   onnxc_add_model(app model.onnx [NAME name] [TARGET native|x86-64-avx2|...] [SHAPES in=1x3x8x8 ...])
#
# onnxc_add_model compiles the model into a static archive (onnxc compile --emit lib) when the
# target is built, puts NAME.h on the target's include path and links the archive. Imported
# targets: onnxc::onnxc (the compiler), onnxc::rt (the runtime archive).
get_filename_component(_onnxc_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET onnxc::onnxc)
  add_executable(onnxc::onnxc IMPORTED)
  find_program(ONNXC_EXECUTABLE onnxc PATHS "${_onnxc_prefix}/bin" NO_DEFAULT_PATH)
  set_target_properties(onnxc::onnxc PROPERTIES IMPORTED_LOCATION "${ONNXC_EXECUTABLE}")
  add_library(onnxc::rt STATIC IMPORTED)
  find_library(ONNXC_RT_LIBRARY onnxc_rt PATHS "${_onnxc_prefix}/lib" "${_onnxc_prefix}/lib64"
               "${CMAKE_CURRENT_LIST_DIR}/../.." NO_DEFAULT_PATH)
  set_target_properties(onnxc::rt PROPERTIES IMPORTED_LOCATION "${ONNXC_RT_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${_onnxc_prefix}/include/onnxc"
    INTERFACE_LINK_LIBRARIES "m;pthread")
endif()

function(onnxc_add_model target model)
  cmake_parse_arguments(A "" "NAME;TARGET" "SHAPES" ${ARGN})
  get_filename_component(model "${model}" ABSOLUTE)
  if(NOT A_NAME)
    get_filename_component(A_NAME "${model}" NAME_WE)
    string(MAKE_C_IDENTIFIER "${A_NAME}" A_NAME)
  endif()
  if(NOT A_TARGET)
    set(A_TARGET native)
  endif()
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/onnxc_${A_NAME}")
  set(args)
  foreach(s ${A_SHAPES})
    list(APPEND args --shape ${s})
  endforeach()
  add_custom_command(OUTPUT "${dir}/lib${A_NAME}.a" "${dir}/${A_NAME}.h"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${dir}"
    COMMAND onnxc::onnxc compile "${model}" -o "${dir}/lib${A_NAME}.a" --name ${A_NAME} --emit lib
            --target ${A_TARGET} ${args}
    DEPENDS "${model}" onnxc::onnxc
    COMMENT "onnxc: compiling ${model} as ${A_NAME}")
  add_custom_target(onnxc_model_${A_NAME} DEPENDS "${dir}/lib${A_NAME}.a" "${dir}/${A_NAME}.h")
  add_dependencies(${target} onnxc_model_${A_NAME})
  target_include_directories(${target} PRIVATE "${dir}")
  target_link_libraries(${target} PRIVATE "${dir}/lib${A_NAME}.a" m pthread)
endfunction()
