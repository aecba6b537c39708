/*
 * npy.c — a strict reader for NumPy .npy files (format versions 1, 2 and 3), little-endian float32
 * or float64, C order. Anything else (other dtypes, Fortran order, a truncated or overlong
 * payload, a malformed header) is an error that says what was found and what is accepted.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char MAGIC[6] = {(char)0x93, 'N', 'U', 'M', 'P', 'Y'};

/* Find the value text after 'key': in the header dict. */
static const char *dict_value(const char *hdr, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        ++p;
    if (*p != ':')
        return NULL;
    ++p;
    while (*p == ' ')
        ++p;
    return p;
}

pfr_status pfr_npy_load(const char *path, pfr_npy *out, pfr_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return pfr_fail(err, PFR_ERR_IO, "%s: cannot open file", path);
    pfr_status st = PFR_OK;
    char *hdr = NULL;
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    if (got < 10 || memcmp(pre, MAGIC, 6) != 0) {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: not a .npy file (missing the \\x93NUMPY magic)", path);
        goto done;
    }
    int major = pre[6];
    size_t hlen;
    if (major == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = pfr_fail(err, PFR_ERR_FORMAT, "%s: truncated .npy header", path);
            goto done;
        }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
    } else {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy format version %d is not supported (1, 2 or 3 are)", path, major);
        goto done;
    }
    if (hlen == 0 || hlen > (1u << 20)) {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: implausible .npy header length %zu", path, hlen);
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        st = pfr_fail(err, PFR_ERR_NO_MEMORY, "%s: out of memory", path);
        goto done;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: truncated .npy header", path);
        goto done;
    }
    hdr[hlen] = '\0';

    const char *descr = dict_value(hdr, "descr");
    int itemsize = 0;
    if (descr && (strncmp(descr, "'<f8'", 5) == 0 || strncmp(descr, "'float64'", 9) == 0))
        itemsize = 8;
    else if (descr && (strncmp(descr, "'<f4'", 5) == 0 || strncmp(descr, "'float32'", 9) == 0))
        itemsize = 4;
    if (!itemsize) {
        char shown[32] = "(none)";
        if (descr)
            snprintf(shown, sizeof shown, "%.*s", (int)strcspn(descr, ",}"), descr);
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: dtype %s is not supported; allowed: little-endian float32 ('<f4') or float64 ('<f8')",
                      path, shown);
        goto done;
    }
    const char *fo = dict_value(hdr, "fortran_order");
    if (!fo || strncmp(fo, "False", 5) != 0) {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: only C-order arrays are supported (save with np.ascontiguousarray)", path);
        goto done;
    }
    const char *sh = dict_value(hdr, "shape");
    if (!sh || *sh != '(') {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy header has no shape", path);
        goto done;
    }
    ++sh;
    size_t count = 1;
    for (;;) {
        while (*sh == ' ' || *sh == ',')
            ++sh;
        if (*sh == ')')
            break;
        if (!isdigit((unsigned char)*sh) || out->ndim == 8) {
            st = pfr_fail(err, PFR_ERR_FORMAT, "%s: malformed shape in .npy header", path);
            goto done;
        }
        char *end;
        long long v = strtoll(sh, &end, 10);
        if (v < 0 || v > (1LL << 40)) {
            st = pfr_fail(err, PFR_ERR_FORMAT, "%s: malformed shape in .npy header", path);
            goto done;
        }
        out->shape[out->ndim++] = v;
        count *= (size_t)v;
        if (count > ((size_t)1 << 36)) {
            st = pfr_fail(err, PFR_ERR_FORMAT, "%s: array too large", path);
            goto done;
        }
        sh = end;
    }
    out->count = count;
    out->data = malloc((count ? count : 1) * sizeof(double));
    void *raw = malloc((count ? count : 1) * (size_t)itemsize);
    if (!out->data || !raw) {
        free(raw);
        st = pfr_fail(err, PFR_ERR_NO_MEMORY, "%s: out of memory for %zu elements", path, count);
        goto done;
    }
    size_t n = fread(raw, (size_t)itemsize, count, f);
    if (n != count) {
        free(raw);
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: truncated data: the header promises %zu values, the file holds %zu", path,
                      count, n);
        goto done;
    }
    int extra = fgetc(f);
    if (extra != EOF) {
        free(raw);
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: trailing bytes after the %zu values the header promises", path, count);
        goto done;
    }
    for (size_t i = 0; i < count; ++i) {
        if (itemsize == 8) {
            double v;
            memcpy(&v, (char *)raw + 8 * i, 8);
            out->data[i] = v;
        } else {
            float v;
            memcpy(&v, (char *)raw + 4 * i, 4);
            out->data[i] = v;
        }
    }
    free(raw);
done:
    free(hdr);
    fclose(f);
    if (st != PFR_OK)
        pfr_npy_free(out);
    return st;
}

void pfr_npy_free(pfr_npy *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

pfr_status pfr_npy_save_f64(const char *path, const double *data, int ndim, const int64_t *shape, pfr_error *err)
{
    char dict[256];
    size_t count = 1;
    int len = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; ++i) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld,%s", (long long)shape[i], i + 1 < ndim ? " " : "");
        count *= (size_t)shape[i];
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f)
        return pfr_fail(err, PFR_ERR_IO, "%s: cannot create file", path);
    unsigned short hl = (unsigned short)(len + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = 0; ok && i < pad; ++i)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(data, sizeof(double), count, f) == count;
    if (fclose(f) != 0 || !ok) {
        remove(path);
        return pfr_fail(err, PFR_ERR_IO, "%s: write failed", path);
    }
    return PFR_OK;
}
