# Helpers so each library, binary and test is declared in a few lines.
#
#   llemma_library(NAME core SRCS a.cc b.cc DEPS fmt::fmt)
#   llemma_test(NAME core_test SRCS status_test.cc DEPS llemma_core)
#
# Libraries are named llemma_<NAME>; tests link GoogleTest and register with ctest.

function(llemma_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(llemma_${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(llemma_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(llemma_${ARG_NAME} PUBLIC ${ARG_DEPS})
  target_compile_options(llemma_${ARG_NAME} PRIVATE ${LLEMMA_WARNINGS})
endfunction()

function(llemma_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT LLEMMA_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${ARG_NAME} PRIVATE ${LLEMMA_WARNINGS})
  target_compile_definitions(${ARG_NAME} PRIVATE
    LLEMMA_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/tests/testdata"
    LLEMMA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    LLEMMA_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
