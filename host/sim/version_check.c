/*
 * version_check.c — the shared library's own source: it checks, when the library is built, that the
 * version in the public header is the project's (CMakeLists.txt), so the SONAME, pfedrl.pc,
 * pfedrlConfigVersion.cmake and pfr_version() can never disagree. Everything else comes from the
 * static stack (CMakeLists.txt).
 */
#include "pfedrl/pfedrl.h"

#if PFR_VERSION_MAJOR != PFR_PROJECT_VERSION_MAJOR || PFR_VERSION_MINOR != PFR_PROJECT_VERSION_MINOR ||          \
    PFR_VERSION_PATCH != PFR_PROJECT_VERSION_PATCH
#error "include/pfedrl/pfedrl.h's PFR_VERSION_* differ from project(pfedrl VERSION ...) in CMakeLists.txt"
#endif

/* ISO C wants a translation unit to declare something. */
typedef int pfr_version_check_unit;
