# Cross build for 64-bit ARM Linux with Debian's cross compiler
# (g++-aarch64-linux-gnu) and arm64 libraries from multiarch; tests run
# under qemu-user (scripts/test-aarch64 sets it all up).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# The arm64 C library from multiarch (under /) matches the arm64 libraries the
# tests link; the cross compiler's own copy under /usr/aarch64-linux-gnu can be
# an older build whose loader hangs in pthread_create beside them.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/)
