# Every third-party dependency is found here, once. All come from Debian 12 packages
# (scripts/install-deps.sh). Headers of third-party libraries are SYSTEM includes so that
# -Wall -Wextra reports only our own code.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(absl REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(pugixml REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
find_package(ZLIB REQUIRED)
# OpenSSL's libcrypto: SHA-256 checksums of model bundle files.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc icu-i18n)
# liblzma decompresses the .xz recipe files (text/; tests write .xz fixtures with it).
pkg_check_modules(LZMA REQUIRED IMPORTED_TARGET liblzma)

# gemmi 0.5 is header-only on Debian (gemmi-dev); its CIF parser needs PEGTL headers.
find_path(GEMMI_INCLUDE_DIR gemmi/smcif.hpp REQUIRED)
add_library(matalign_gemmi INTERFACE)
target_include_directories(matalign_gemmi SYSTEM INTERFACE ${GEMMI_INCLUDE_DIR})
target_link_libraries(matalign_gemmi INTERFACE ZLIB::ZLIB)

if(NOT MATALIGN_FUZZ)
  find_package(Protobuf REQUIRED)
  find_package(gRPC CONFIG REQUIRED)
  find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
  # RocksDB (record store) and FAISS (vector search). FAISS's CMake config needs OpenMP
  # found first.
  # RocksDB's CMake config drags in a gflags target without a RelWithDebInfo location:
  # use the shared library directly.
  find_library(ROCKSDB_LIBRARY rocksdb REQUIRED)
  find_path(ROCKSDB_INCLUDE_DIR rocksdb/db.h REQUIRED)
  add_library(matalign_rocksdb INTERFACE)
  target_include_directories(matalign_rocksdb SYSTEM INTERFACE ${ROCKSDB_INCLUDE_DIR})
  target_link_libraries(matalign_rocksdb INTERFACE ${ROCKSDB_LIBRARY})
  find_package(OpenMP REQUIRED COMPONENTS CXX)
  find_package(faiss CONFIG REQUIRED)
  # cpp-httplib (Debian builds it as a shared library; its pkg-config Cflags carry the
  # CPPHTTPLIB_*_SUPPORT defines that the header's declarations depend on): mmserver's
  # /metrics and /healthz.
  pkg_check_modules(CPPHTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
  if(MATALIGN_WITH_TORCH)
    # Debian's LibTorch 1.13.1 (CPU). The BLAS behind it is chosen by alternatives;
    # libopenblas0-openmp must be installed for usable matrix speed.
    find_package(Torch REQUIRED)
  endif()
  if(MATALIGN_BUILD_TESTS)
    find_package(GTest REQUIRED)
  endif()
  if(MATALIGN_BUILD_BENCH)
    find_package(benchmark REQUIRED)
  endif()
endif()
