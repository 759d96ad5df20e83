# Helpers that give every MatAlign target the same flags.

set(MATALIGN_WARNINGS -Wall -Wextra)

# matalign_library(NAME SOURCES ...) creates matalign_NAME with alias matalign::NAME.
# Public headers are included as "NAME/header.h" from the repository root.
function(matalign_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(matalign_${name} STATIC ${ARG_SOURCES})
  add_library(matalign::${name} ALIAS matalign_${name})
  target_include_directories(matalign_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(matalign_${name} PRIVATE ${MATALIGN_WARNINGS})
  if(MATALIGN_FUZZ)
    target_compile_options(matalign_${name} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  endif()
endfunction()

# matalign_executable(NAME SOURCES ... LIBS ...) builds build/bin/NAME.
function(matalign_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${MATALIGN_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
endfunction()
