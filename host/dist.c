/*
 * dist.c — the MPI side of a run over ranks (dist.h): start, the build check, and the collectives,
 * each checked (an MPI error travels up as PFR_ERR_INTERNAL with the call and its text). Compiled
 * with MPI where PFR_MPI is on (PFR_HAVE_MPI), else as one rank whose collectives are no-ops.
 * MPI is called from one thread only (the CPU engine's pool runs the computing threads between the
 * calls): MPI_THREAD_FUNNELED.
 */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int pfr_dist_launcher_rank(int *size)
{
    static const char *const pairs[][2] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, {"PMI_RANK", "PMI_SIZE"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; ++i) {
        const char *r = getenv(pairs[i][0]), *n = getenv(pairs[i][1]);
        if (r && n) {
            if (size)
                *size = atoi(n);
            return atoi(r);
        }
    }
    if (size)
        *size = 0;
    return 0;
}

#ifndef PFR_HAVE_MPI

pfr_status pfr_dist_start(int *argc, char ***argv, pfr_error *err)
{
    (void)argc;
    (void)argv;
    int n = 0;
    pfr_dist_launcher_rank(&n);
    if (n > 1)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "started as %d MPI ranks, but this pfedrl was built without MPI; allowed: one process, or a "
                        "build with -DPFR_MPI=ON (docs/DESIGN.md §13)",
                        n);
    return PFR_OK;
}
void pfr_dist_stop(void) {}
int pfr_dist_rank(void) { return 0; }
int pfr_dist_size(void) { return 1; }
int pfr_dist_built(void) { return 0; }
void pfr_dist_abort(int code) { exit(code); }
pfr_status pfr_dist_sum_u64(uint64_t *v, int n, pfr_error *err)
{
    (void)v, (void)n, (void)err;
    return PFR_OK;
}
pfr_status pfr_dist_max_int(int *v, int n, pfr_error *err)
{
    (void)v, (void)n, (void)err;
    return PFR_OK;
}
pfr_status pfr_dist_allgather_slices(void *base, int64_t count, size_t item, pfr_error *err)
{
    (void)base, (void)count, (void)item, (void)err;
    return PFR_OK;
}
pfr_status pfr_dist_allgather_ranges(void *base, const int64_t *lo, size_t item, pfr_error *err)
{
    (void)base, (void)lo, (void)item, (void)err;
    return PFR_OK;
}
pfr_status pfr_dist_exchange(const void *send, const int64_t *send_bytes, void **recv, size_t *recv_cap,
                             int64_t *recv_bytes, pfr_error *err)
{
    const size_t n = (size_t)send_bytes[0];
    if (n > *recv_cap) {
        void *p = realloc(*recv, n);
        if (!p)
            return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for %zu bytes of the exchange", n);
        *recv = p;
        *recv_cap = n;
    }
    if (n)
        memcpy(*recv, send, n);
    recv_bytes[0] = (int64_t)n;
    return PFR_OK;
}
pfr_status pfr_dist_allgather(const void *mine, size_t bytes, void *all, pfr_error *err)
{
    (void)err;
    if (all != mine)
        memcpy(all, mine, bytes);
    return PFR_OK;
}
pfr_status pfr_dist_allgatherv(const void *mine, int64_t bytes, void **all, int64_t *lens, pfr_error *err)
{
    *all = malloc(bytes > 0 ? (size_t)bytes : 1);
    if (!*all)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    memcpy(*all, mine, (size_t)bytes);
    lens[0] = bytes;
    return PFR_OK;
}
pfr_status pfr_dist_bcast(void *buf, size_t bytes, int root, pfr_error *err)
{
    (void)buf, (void)bytes, (void)root, (void)err;
    return PFR_OK;
}
pfr_status pfr_dist_agree(pfr_status st, pfr_error *err)
{
    (void)err;
    return st;
}

#else /* PFR_HAVE_MPI */

#include <mpi.h>

static int g_rank = 0, g_size = 1, g_started = 0;

/* An MPI call, checked: its error text into err, PFR_ERR_INTERNAL returned. */
#define PFR_MPI(err, call)                                                                            \
    do {                                                                                              \
        const int pfr_rc_ = (call);                                                                   \
        if (pfr_rc_ != MPI_SUCCESS) {                                                                 \
            char pfr_txt_[MPI_MAX_ERROR_STRING];                                                      \
            int pfr_len_ = 0;                                                                         \
            MPI_Error_string(pfr_rc_, pfr_txt_, &pfr_len_);                                           \
            return pfr_fail((err), PFR_ERR_INTERNAL, "%s failed at %s:%d (rank %d of %d): %.*s", #call, \
                            __FILE__, __LINE__, g_rank, g_size, pfr_len_, pfr_txt_);                  \
        }                                                                                             \
    } while (0)

int pfr_dist_rank(void) { return g_rank; }
int pfr_dist_size(void) { return g_size; }
int pfr_dist_built(void) { return 1; }

void pfr_dist_abort(int code)
{
    if (g_started)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

/* What must be the same on every rank: the version and the layout of the shared structures, and the
 * build (its compile time), so that ranks of different binaries refuse to run together. */
static void fingerprint(char *buf, size_t n)
{
    const char *other = getenv("PFEDRL_TEST_OTHER_BUILD"); /* tests: a rank that poses as another build */
    snprintf(buf, n, "pfedrl %s sim %zu config %zu built %s %s%s%s", pfr_version(), sizeof(pfr_sim), sizeof(pfr_config),
             __DATE__, __TIME__, other ? " " : "", other ? other : "");
}

pfr_status pfr_dist_start(int *argc, char ***argv, pfr_error *err)
{
    int n = 0;
    pfr_dist_launcher_rank(&n);
    if (n < 1) /* not started by an MPI launcher: one process, MPI left alone */
        return PFR_OK;
    int provided = 0;
    PFR_MPI(err, MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    g_started = 1;
    PFR_MPI(err, MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    PFR_MPI(err, MPI_Comm_rank(MPI_COMM_WORLD, &g_rank));
    PFR_MPI(err, MPI_Comm_size(MPI_COMM_WORLD, &g_size));
    if (provided < MPI_THREAD_FUNNELED)
        return pfr_fail(err, PFR_ERR_CONFIG, "the MPI library offers thread level %d; pfedrl needs MPI_THREAD_FUNNELED",
                        provided);
    char mine[256] = {0};
    fingerprint(mine, sizeof mine);
    char *all = calloc((size_t)g_size, sizeof mine);
    if (!all)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    const int rc = MPI_Allgather(mine, (int)sizeof mine, MPI_CHAR, all, (int)sizeof mine, MPI_CHAR, MPI_COMM_WORLD);
    pfr_status st = PFR_OK;
    for (int r = 0; rc == MPI_SUCCESS && r < g_size && st == PFR_OK; ++r)
        if (strcmp(all + (size_t)r * sizeof mine, mine) != 0)
            st = pfr_fail(err, PFR_ERR_CONFIG,
                          "the MPI ranks run different builds of pfedrl: rank %d '%s', rank %d '%s'; allowed: one build "
                          "on every rank",
                          g_rank, mine, r, all + (size_t)r * sizeof mine);
    free(all);
    if (rc != MPI_SUCCESS)
        return pfr_fail(err, PFR_ERR_INTERNAL, "MPI_Allgather of the build fingerprints failed (rank %d)", g_rank);
    return st;
}

void pfr_dist_stop(void)
{
    if (g_started)
        MPI_Finalize();
    g_started = 0;
}

pfr_status pfr_dist_sum_u64(uint64_t *v, int n, pfr_error *err)
{
    if (g_size > 1)
        PFR_MPI(err, MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
    return PFR_OK;
}

pfr_status pfr_dist_max_int(int *v, int n, pfr_error *err)
{
    if (g_size > 1)
        PFR_MPI(err, MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return PFR_OK;
}

/* An MPI type of `item` bytes, so that counts are items (not bytes) and a rank's slice may pass 2 GB. */
static pfr_status item_type(size_t item, MPI_Datatype *t, pfr_error *err)
{
    PFR_MPI(err, MPI_Type_contiguous((int)item, MPI_BYTE, t));
    PFR_MPI(err, MPI_Type_commit(t));
    return PFR_OK;
}

pfr_status pfr_dist_allgather_ranges(void *base, const int64_t *lo, size_t item, pfr_error *err)
{
    if (g_size == 1)
        return PFR_OK;
    int *counts = malloc(sizeof(int) * (size_t)g_size), *displs = malloc(sizeof(int) * (size_t)g_size);
    if (!counts || !displs) {
        free(counts);
        free(displs);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    }
    pfr_status st = PFR_OK;
    for (int r = 0; r < g_size && st == PFR_OK; ++r) {
        if (lo[r + 1] - lo[r] > INT_MAX || lo[r] > INT_MAX)
            st = pfr_fail(err, PFR_ERR_TOO_LARGE, "rank %d's slice of %lld items (from item %lld) is beyond MPI's int "
                          "counts; allowed: fewer agents a rank (more ranks)", r, (long long)(lo[r + 1] - lo[r]),
                          (long long)lo[r]);
        counts[r] = (int)(lo[r + 1] - lo[r]);
        displs[r] = (int)lo[r];
    }
    MPI_Datatype t;
    if (st == PFR_OK)
        st = item_type(item, &t, err);
    if (st == PFR_OK) {
        const int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, t, base, counts, displs, t, MPI_COMM_WORLD);
        MPI_Type_free(&t);
        if (rc != MPI_SUCCESS)
            st = pfr_fail(err, PFR_ERR_INTERNAL, "MPI_Allgatherv of %zu-byte items failed (rank %d of %d)", item, g_rank,
                          g_size);
    }
    free(counts);
    free(displs);
    return st;
}

pfr_status pfr_dist_allgather_slices(void *base, int64_t count, size_t item, pfr_error *err)
{
    if (g_size == 1)
        return PFR_OK;
    int64_t *lo = malloc(sizeof(int64_t) * (size_t)(g_size + 1));
    if (!lo)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    for (int r = 0; r <= g_size; ++r)
        lo[r] = pfr_dist_first(count, r, g_size);
    const pfr_status st = pfr_dist_allgather_ranges(base, lo, item, err);
    free(lo);
    return st;
}

pfr_status pfr_dist_exchange(const void *send, const int64_t *send_bytes, void **recv, size_t *recv_cap,
                             int64_t *recv_bytes, pfr_error *err)
{
    const size_t R = (size_t)g_size;
    PFR_MPI(err, MPI_Alltoall(send_bytes, 1, MPI_INT64_T, recv_bytes, 1, MPI_INT64_T, MPI_COMM_WORLD));
    int *sc = malloc(sizeof(int) * 4 * R);
    if (!sc)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    int *sd = sc + R, *rc = sc + 2 * R, *rd = sc + 3 * R;
    int64_t so = 0, ro = 0;
    for (size_t q = 0; q < R; ++q) {
        if (send_bytes[q] > INT_MAX || recv_bytes[q] > INT_MAX || so > INT_MAX || ro > INT_MAX) {
            free(sc);
            return pfr_fail(err, PFR_ERR_TOO_LARGE, "a round's exchange between two ranks passes 2 GB (%lld and %lld "
                            "bytes); allowed: fewer agents or rows a rank (more ranks)",
                            (long long)send_bytes[q], (long long)recv_bytes[q]);
        }
        sc[q] = (int)send_bytes[q];
        sd[q] = (int)so;
        rc[q] = (int)recv_bytes[q];
        rd[q] = (int)ro;
        so += send_bytes[q];
        ro += recv_bytes[q];
    }
    int ok = 1; /* every rank has room, or none sends: a rank that returned early would leave the others waiting */
    if ((size_t)ro > *recv_cap) {
        void *p = realloc(*recv, (size_t)ro);
        ok = p != NULL;
        if (p) {
            *recv = p;
            *recv_cap = (size_t)ro;
        }
    }
    int all_ok = ok;
    if (MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS || !all_ok) {
        free(sc);
        return pfr_fail(err, ok ? PFR_ERR_INTERNAL : PFR_ERR_NO_MEMORY,
                        ok ? "another rank had no room for a round's sums" : "out of memory for %lld bytes of the exchange",
                        (long long)ro);
    }
    const int e = MPI_Alltoallv(send, sc, sd, MPI_BYTE, *recv, rc, rd, MPI_BYTE, MPI_COMM_WORLD);
    free(sc);
    if (e != MPI_SUCCESS)
        return pfr_fail(err, PFR_ERR_INTERNAL, "MPI_Alltoallv of a round's sums failed (rank %d of %d)", g_rank, g_size);
    return PFR_OK;
}

pfr_status pfr_dist_allgather(const void *mine, size_t bytes, void *all, pfr_error *err)
{
    PFR_MPI(err, MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD));
    return PFR_OK;
}

pfr_status pfr_dist_allgatherv(const void *mine, int64_t bytes, void **all, int64_t *lens, pfr_error *err)
{
    PFR_MPI(err, MPI_Allgather(&bytes, 1, MPI_INT64_T, lens, 1, MPI_INT64_T, MPI_COMM_WORLD));
    int *counts = malloc(sizeof(int) * 2 * (size_t)g_size);
    if (!counts)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    int *displs = counts + g_size;
    int64_t off = 0;
    for (int r = 0; r < g_size; ++r) {
        if (lens[r] > INT_MAX || off > INT_MAX) {
            free(counts);
            return pfr_fail(err, PFR_ERR_TOO_LARGE, "a rank's rows of a round pass 2 GB (%lld bytes); allowed: more ranks",
                            (long long)lens[r]);
        }
        counts[r] = (int)lens[r];
        displs[r] = (int)off;
        off += lens[r];
    }
    *all = malloc(off > 0 ? (size_t)off : 1);
    int ok = *all != NULL, all_ok = ok; /* (as in pfr_dist_exchange: nobody left waiting) */
    if (MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS || !all_ok) {
        free(counts);
        free(*all);
        *all = NULL;
        return pfr_fail(err, ok ? PFR_ERR_INTERNAL : PFR_ERR_NO_MEMORY,
                        ok ? "another rank had no room for a round's rows" : "out of memory for %lld bytes of rows",
                        (long long)off);
    }
    const int e = MPI_Allgatherv(mine, (int)bytes, MPI_BYTE, *all, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    free(counts);
    if (e != MPI_SUCCESS)
        return pfr_fail(err, PFR_ERR_INTERNAL, "MPI_Allgatherv of a round's rows failed (rank %d of %d)", g_rank, g_size);
    return PFR_OK;
}

pfr_status pfr_dist_bcast(void *buf, size_t bytes, int root, pfr_error *err)
{
    if (g_size > 1)
        PFR_MPI(err, MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD));
    return PFR_OK;
}

pfr_status pfr_dist_agree(pfr_status st, pfr_error *err)
{
    if (g_size == 1)
        return st;
    int *all = malloc(sizeof(int) * (size_t)g_size);
    if (!all)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    int mine = (int)st;
    const int rc = MPI_Allgather(&mine, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    int who = -1;
    for (int r = 0; rc == MPI_SUCCESS && r < g_size && who < 0; ++r)
        if (all[r] != PFR_OK)
            who = r;
    const pfr_status agreed = rc != MPI_SUCCESS ? PFR_ERR_INTERNAL : who < 0 ? PFR_OK : (pfr_status)all[who];
    free(all);
    if (rc != MPI_SUCCESS)
        return pfr_fail(err, PFR_ERR_INTERNAL, "MPI_Allgather of the ranks' statuses failed (rank %d)", g_rank);
    if (who < 0)
        return PFR_OK;
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    if (MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, who, MPI_COMM_WORLD) != MPI_SUCCESS)
        return pfr_fail(err, PFR_ERR_INTERNAL, "MPI_Bcast of rank %d's message failed", who);
    msg[sizeof msg - 1] = '\0';
    if (strncmp(msg, "rank ", 5) == 0) { /* named already (an agreement of an agreement) */
        snprintf(err->msg, sizeof err->msg, "%s", msg);
    } else {
        char head[48];
        const int n = snprintf(head, sizeof head, "rank %d of %d: ", who, g_size);
        snprintf(err->msg, sizeof err->msg, "%s%.*s", head, (int)(sizeof err->msg) - 1 - n, msg);
    }
    return agreed;
}

#endif
