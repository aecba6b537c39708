# Cross-compiling for 64-bit ARM Linux (scripts/test_builds.sh) with Debian's cross toolchain
# (gcc-aarch64-linux-gnu) and the libraries' arm64 packages installed beside the native ones
# (multiarch: /usr/lib/aarch64-linux-gnu); what is built runs under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# the arm64 libraries only (the x86-64 ones sit in /usr/lib/x86_64-linux-gnu, never searched here)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
