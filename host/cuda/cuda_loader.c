/*
 * cuda_loader.c — finds the CUDA engine (cuda_plugin.h): linked into the program, or the module
 * libpfedrl_cuda.so, looked for in order at
 *   $PFEDRL_CUDA_PLUGIN,
 *   the folder of the program or library that holds this code, and its ../lib and ../lib/pfedrl,
 *   the build folder it was built in, and the install folder.
 * The result is kept for the life of the process (dlopen'd modules are never closed: the CUDA
 * runtime's exit handlers live in it).
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_plugin.h"
#include "neural/neural.h" /* sizeof(pfr_neural) */

/* Weak: resolves to the linked-in entry when the program links the CUDA objects, else NULL. */
extern const pfr_cuda_plugin *pfr_cuda_plugin_get(void) __attribute__((weak));

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const pfr_cuda_plugin *loaded;
static char load_error[sizeof(((pfr_error *)0)->msg)];

static int check_module(const pfr_cuda_plugin *p, const char *path, char *why, size_t n)
{
    if (strcmp(p->version, PFR_VERSION_STRING) != 0 || p->sim_bytes != sizeof(pfr_sim) ||
        p->config_bytes != sizeof(pfr_config) || p->env_bytes != sizeof(pfr_env) ||
        p->neural_bytes != sizeof(pfr_neural)) {
        snprintf(why, n, "%s is from another build (version %s, handle %zu bytes; this library: %s, %zu bytes)", path,
                 p->version, p->sim_bytes, PFR_VERSION_STRING, sizeof(pfr_sim));
        return 0;
    }
    return 1;
}

/* Try one path: 1 loaded, 0 not there or unusable (why appended). */
static int try_path(const char *path, char *why, size_t n)
{
    if (access(path, F_OK) != 0)
        return 0;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, n, "%s", e ? e : path);
        return 0;
    }
    const pfr_cuda_plugin *(*entry)(void) = NULL;
    *(void **)&entry = dlsym(h, PFR_CUDA_PLUGIN_ENTRY);
    if (!entry) {
        snprintf(why, n, "%s has no %s", path, PFR_CUDA_PLUGIN_ENTRY);
        dlclose(h);
        return 0;
    }
    const pfr_cuda_plugin *p = entry();
    if (!p || !check_module(p, path, why, n)) {
        dlclose(h);
        return 0;
    }
    loaded = p;
    return 1;
}

static void load(void)
{
    if (pfr_cuda_plugin_get) { /* linked in */
        loaded = pfr_cuda_plugin_get();
        return;
    }
    char why[400] = "", tried[600] = "", dir[PATH_MAX] = "";
    size_t used = 0;
    const char *env = getenv(PFR_CUDA_PLUGIN_ENV);
    if (env && *env) { /* asked for by name: that module or none */
        if (!try_path(env, why, sizeof why))
            snprintf(load_error, sizeof load_error, "the CUDA engine %s=%s could not be loaded: %s; allowed: the "
                     "path of %s from this build", PFR_CUDA_PLUGIN_ENV, env, why[0] ? why : "no such file",
                     PFR_CUDA_PLUGIN_FILE);
        return;
    }
    /* the folder of the file holding this code: a shared library's own path, or the program's */
    Dl_info info;
    if (dladdr((void *)&load, &info) && info.dli_fname && strchr(info.dli_fname, '/') &&
        strlen(info.dli_fname) < sizeof dir)
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
    else {
        ssize_t k = readlink("/proc/self/exe", dir, sizeof dir - 1);
        dir[k > 0 ? k : 0] = '\0';
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    const char *rel[] = {"", "/../lib", "/../lib/pfedrl"};
    char path[PATH_MAX + 64];
    for (int i = 0; i < 3 && dir[0]; ++i) {
        snprintf(path, sizeof path, "%s%s/%s", dir, rel[i], PFR_CUDA_PLUGIN_FILE);
        if (try_path(path, why, sizeof why))
            return;
        used += (size_t)snprintf(tried + used, used < sizeof tried ? sizeof tried - used : 0, "%s%s", used ? ", " : "",
                                 path);
    }
#ifdef PFR_CUDA_PLUGIN_DIRS /* the build folder and the install folder, ':'-separated */
    char dirs[] = PFR_CUDA_PLUGIN_DIRS, *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, sizeof path, "%s/%s", d, PFR_CUDA_PLUGIN_FILE);
        if (try_path(path, why, sizeof why))
            return;
        if (used < sizeof tried)
            used += (size_t)snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", path);
    }
#endif
    snprintf(load_error, sizeof load_error,
             "the CUDA engine (%s) could not be loaded: %s (looked at %s); set %s to its path, or use backend=cpu",
             PFR_CUDA_PLUGIN_FILE, why[0] ? why : "not found", tried, PFR_CUDA_PLUGIN_ENV);
}

const pfr_cuda_plugin *pfr_cuda_load(pfr_error *err)
{
    pthread_once(&load_once, load);
    if (!loaded && err)
        pfr_fail(err, PFR_ERR_NO_DEVICE, "%s", load_error);
    return loaded;
}

int pfr_cuda_available(char *why, size_t n)
{
    if (why && n)
        why[0] = '\0';
    /* The NVIDIA driver's files first: a machine without them has no usable GPU, and then the
     * module (the CUDA runtime and cuBLAS, about 220 MB) is never loaded. */
    if (access("/dev/nvidiactl", F_OK) != 0 && access("/proc/driver/nvidia/version", F_OK) != 0)
        return 0;
    pfr_error err;
    const pfr_cuda_plugin *p = pfr_cuda_load(&err);
    if (!p) {
        if (why)
            snprintf(why, n, "%s", err.msg);
        return 0;
    }
    if (p->device_count() <= 0) {
        /* CUDA_VISIBLE_DEVICES set: the devices were hidden on purpose (scripts/test.sh does), no word */
        if (why && !getenv("CUDA_VISIBLE_DEVICES"))
            snprintf(why, n, "CUDA sees no device: check that the driver is at least as new as the CUDA runtime");
        return 0;
    }
    return 1;
}
