# crm_library(NAME SOURCES ... DEPS ...)
#   A component library `crm_NAME` with the alias `crm::NAME`. Include paths
#   are from the repository root, so includes read "engine/base/status.h".
function(crm_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(crm_${name} STATIC ${ARG_SOURCES})
  add_library(crm::${name} ALIAS crm_${name})
  target_include_directories(crm_${name} PUBLIC ${PROJECT_SOURCE_DIR}
                                                ${PROJECT_BINARY_DIR}/proto)
  target_link_libraries(crm_${name} PUBLIC ${ARG_DEPS})
  target_compile_options(crm_${name} PRIVATE -Wall -Wextra)
endfunction()

# crm_test(NAME SOURCES ... DEPS ... [LABELS ...])
#   A GoogleTest binary `NAME`, linked with gtest_main, registered with ctest
#   test by test. Tests run from a scratch directory under the build tree.
function(crm_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} crm::testing GTest::gmock
                                        GTest::gtest_main)
  target_compile_options(${name} PRIVATE -Wall -Wextra)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # Where tests find the repository (test data) and the crm program.
  target_compile_definitions(${name} PRIVATE
    CRM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    CRM_BINARY_PATH="$<TARGET_FILE:crm>")
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()
