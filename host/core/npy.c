/*
 * npy.c — a strict reader for NumPy .npy files (format versions 1, 2 and 3), little-endian float32
 * or float64, C order, and a writer for float64.
 *
 * The header is the Python literal of a dict, e.g. {'descr': '<f8', 'fortran_order': False,
 * 'shape': (3, 4), } followed by whitespace. It is parsed as that literal (what NumPy's own reader
 * does with ast.literal_eval): exactly the keys descr, fortran_order and shape, once each, strings
 * in single or double quotes, True/False, a tuple of non-negative integers (a 1-tuple needs its
 * comma). Anything else is an error naming what was found. The element count is computed with
 * overflow checks and compared with the bytes the file holds before anything is allocated, so a
 * header that promises more than the file holds costs nothing.
 * Hand-written: the format is ten lines of spec, and no Debian library reads .npy from C.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

static const char MAGIC[6] = {(char)0x93, 'N', 'U', 'M', 'P', 'Y'};

/* ---- the header literal --------------------------------------------------------------------------- */
typedef struct hdr_parse {
    const char *p, *end;
} hdr_parse;

static void skip_ws(hdr_parse *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        ++h->p;
}

static int eat(hdr_parse *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        ++h->p;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes (NumPy writes none) into out. */
static int parse_string(hdr_parse *h, char *out, size_t n)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return 0;
    const char q = *h->p++;
    size_t len = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || len + 1 >= n)
            return 0;
        out[len++] = *h->p++;
    }
    if (h->p >= h->end)
        return 0;
    ++h->p;
    out[len] = '\0';
    return 1;
}

static int parse_word(hdr_parse *h, const char *w)
{
    skip_ws(h);
    const size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || strncmp(h->p, w, n) != 0)
        return 0;
    if (h->p + n < h->end && (isalnum((unsigned char)h->p[n]) || h->p[n] == '_'))
        return 0;
    h->p += n;
    return 1;
}

/* (n0, n1, ...): non-negative decimal integers; a 1-tuple needs its trailing comma. */
static int parse_shape(hdr_parse *h, pfr_npy *out)
{
    if (!eat(h, '('))
        return 0;
    int n = 0, comma = 0;
    for (;;) {
        skip_ws(h);
        if (h->p < h->end && *h->p == ')') {
            ++h->p;
            break;
        }
        if (n > 0 && !comma)
            return 0;
        if (h->p >= h->end || !isdigit((unsigned char)*h->p) || n == 8)
            return 0;
        uint64_t v = 0;
        while (h->p < h->end && isdigit((unsigned char)*h->p)) {
            if (v > (UINT64_MAX - 9) / 10)
                return 0;
            v = v * 10 + (uint64_t)(*h->p++ - '0');
        }
        if (v > (uint64_t)INT64_MAX)
            return 0;
        out->shape[n++] = (int64_t)v;
        comma = eat(h, ',');
    }
    if (n == 1 && !comma)
        return 0; /* (3) is the integer 3, not a shape */
    out->ndim = n;
    return 1;
}

/* The header text [p, end): into *out (ndim, shape) and *itemsize; 0 with a message in err. */
static int parse_header(const char *path, const char *p, const char *end, pfr_npy *out, int *itemsize, char *kind,
                        pfr_error *err)
{
    hdr_parse h = {p, end};
    int have_descr = 0, have_fo = 0, have_shape = 0;
    char key[32], descr[32];
    if (!eat(&h, '{'))
        return pfr_fail(err, PFR_ERR_FORMAT, "%s: the .npy header is not a dict literal", path), 0;
    for (;;) {
        if (eat(&h, '}'))
            break;
        if (!parse_string(&h, key, sizeof key) || !eat(&h, ':'))
            return pfr_fail(err, PFR_ERR_FORMAT, "%s: malformed .npy header (expected 'key': value)", path), 0;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            have_descr = 1;
            if (!parse_string(&h, descr, sizeof descr))
                return pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy header: descr is not a string", path), 0;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fo) {
            have_fo = 1;
            if (parse_word(&h, "True"))
                return pfr_fail(err, PFR_ERR_FORMAT,
                                "%s: Fortran-order arrays are not supported; allowed: C order (save with np.ascontiguousarray)",
                                path),
                       0;
            if (!parse_word(&h, "False"))
                return pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy header: fortran_order must be True or False", path), 0;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            have_shape = 1;
            if (!parse_shape(&h, out))
                return pfr_fail(err, PFR_ERR_FORMAT,
                                "%s: .npy header: shape must be a tuple of non-negative integers such as (3, 4) or (5,)",
                                path),
                       0;
        } else if (strcmp(key, "descr") == 0 || strcmp(key, "fortran_order") == 0 || strcmp(key, "shape") == 0) {
            return pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy header gives '%s' twice", path, key), 0;
        } else {
            return pfr_fail(err, PFR_ERR_FORMAT,
                            "%s: .npy header has an unexpected key '%s'; allowed: exactly descr, fortran_order, shape",
                            path, key),
                   0;
        }
        if (!eat(&h, ',')) {
            if (!eat(&h, '}'))
                return pfr_fail(err, PFR_ERR_FORMAT, "%s: malformed .npy header (expected ',' or '}')", path), 0;
            break;
        }
    }
    skip_ws(&h);
    if (h.p != h.end)
        return pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy header has text after its dict", path), 0;
    if (!have_descr || !have_fo || !have_shape)
        return pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy header lacks '%s'", path,
                        !have_descr ? "descr" : !have_fo ? "fortran_order" : "shape"),
               0;
    /* floats for values; booleans and small integers for masks such as availability traces */
    static const struct {
        const char *descr;
        int size;
        char kind;
    } DTYPES[] = {{"<f8", 8, 'f'}, {"<f4", 4, 'f'}, {"|b1", 1, 'b'}, {"|u1", 1, 'u'},
                  {"|i1", 1, 'i'}, {"<i4", 4, 'i'}, {"<i8", 8, 'i'}};
    for (size_t t = 0; t < sizeof DTYPES / sizeof DTYPES[0]; ++t)
        if (strcmp(descr, DTYPES[t].descr) == 0) {
            *itemsize = DTYPES[t].size;
            *kind = DTYPES[t].kind;
            return 1;
        }
    return pfr_fail(err, PFR_ERR_FORMAT,
                    "%s: dtype '%s' is not supported; allowed: little-endian float32 ('<f4') or float64 ('<f8'), "
                    "bool ('|b1'), int8/uint8 ('|i1', '|u1'), int32/int64 ('<i4', '<i8')",
                    path, descr),
           0;
}

/* "(a, b, c)" into buf, for messages. */
static const char *shape_text(const pfr_npy *a, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < a->ndim && used < n; ++i)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, a->ndim == 1 ? ",)" : ")");
    return buf;
}

/* Open path and parse its header: out->ndim, out->shape, *itemsize, the data's checked size in
 * out->count; *fp is left at the first data byte. On failure nothing is left open or allocated. */
static pfr_status open_npy(const char *path, pfr_npy *out, int *itemsize, char *kind, FILE **fp, pfr_error *err)
{
    memset(out, 0, sizeof *out);
    *fp = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return pfr_fail(err, PFR_ERR_IO, "%s: cannot open file: %s", path, strerror(errno));
    pfr_status st = PFR_OK;
    char *hdr = NULL;
    unsigned char pre[12];
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = pfr_fail(err, PFR_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    size_t got = fread(pre, 1, 10, f);
    if (got < 10 || memcmp(pre, MAGIC, 6) != 0) {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: not a .npy file (missing the \\x93NUMPY magic)", path);
        goto done;
    }
    const int major = pre[6];
    size_t hlen, offset = 10;
    if (major == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = pfr_fail(err, PFR_ERR_FORMAT, "%s: truncated .npy header", path);
            goto done;
        }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
        offset = 12;
    } else {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy format version %d is not supported (1, 2 or 3 are)", path, major);
        goto done;
    }
    if (hlen == 0 || hlen > (1u << 20) || offset + hlen > (size_t)sb.st_size) {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: implausible .npy header length %zu (file of %lld bytes)", path, hlen,
                      (long long)sb.st_size);
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
    if (memchr(hdr, '\0', hlen)) {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: .npy header holds a NUL byte", path);
        goto done;
    }
    if (!parse_header(path, hdr, hdr + hlen, out, itemsize, kind, err)) {
        st = PFR_ERR_FORMAT;
        goto done;
    }
    /* count and bytes with overflow checks, against what the file holds */
    char shown[200], bytes_text[32];
    uint64_t count = 1, bytes = 0;
    int overflow = 0;
    for (int i = 0; i < out->ndim; ++i)
        overflow |= __builtin_mul_overflow(count, (uint64_t)out->shape[i], &count);
    overflow |= __builtin_mul_overflow(count, (uint64_t)*itemsize, &bytes);
    const uint64_t holds = (uint64_t)sb.st_size - (uint64_t)offset - (uint64_t)hlen;
    if (overflow || bytes > holds) {
        if (overflow)
            snprintf(bytes_text, sizeof bytes_text, "more than 2^64");
        else
            snprintf(bytes_text, sizeof bytes_text, "%llu", (unsigned long long)bytes);
        st = pfr_fail(err, PFR_ERR_FORMAT,
                      "%s: truncated: the header promises shape %s of %d-byte values (%s bytes), the file holds %llu "
                      "bytes of data",
                      path, shape_text(out, shown, sizeof shown), *itemsize, bytes_text, (unsigned long long)holds);
        goto done;
    }
    if (bytes < holds) {
        st = pfr_fail(err, PFR_ERR_FORMAT, "%s: %llu trailing bytes after the %llu values of shape %s the header promises",
                      path, (unsigned long long)(holds - bytes), (unsigned long long)count,
                      shape_text(out, shown, sizeof shown));
        goto done;
    }
    out->count = (size_t)count;
done:
    free(hdr);
    if (st != PFR_OK) {
        fclose(f);
        memset(out, 0, sizeof *out);
    } else {
        *fp = f;
    }
    return st;
}

pfr_status pfr_npy_peek(const char *path, pfr_npy *out, int *itemsize, pfr_error *err)
{
    FILE *f = NULL;
    int size = 0;
    char kind = 0;
    pfr_status st = open_npy(path, out, &size, &kind, &f, err);
    if (f)
        fclose(f);
    if (itemsize)
        *itemsize = size;
    return st;
}

pfr_status pfr_npy_load(const char *path, pfr_npy *out, pfr_error *err)
{
    FILE *f = NULL;
    int itemsize = 0;
    char kind = 0;
    pfr_status st = open_npy(path, out, &itemsize, &kind, &f, err);
    if (st != PFR_OK)
        return st;
    const size_t count = out->count;
    void *raw = malloc(count ? count * (size_t)itemsize : 1);
    out->data = malloc((count ? count : 1) * sizeof(double));
    if (!out->data || !raw) {
        st = pfr_fail(err, PFR_ERR_NO_MEMORY, "%s: out of memory for %zu values", path, count);
    } else if (fread(raw, (size_t)itemsize, count, f) != count) {
        st = pfr_fail(err, PFR_ERR_IO, "%s: read failed: %s", path, ferror(f) ? strerror(errno) : "the file shrank");
    } else {
        for (size_t i = 0; i < count; ++i) {
            const char *at = (const char *)raw + (size_t)itemsize * i;
            if (kind == 'f' && itemsize == 8) {
                double v;
                memcpy(&v, at, 8);
                out->data[i] = v;
            } else if (kind == 'f') {
                float v;
                memcpy(&v, at, 4);
                out->data[i] = v;
            } else if (itemsize == 1) {
                out->data[i] = kind == 'i' ? (double)*(const int8_t *)at : (double)*(const uint8_t *)at;
            } else if (itemsize == 4) {
                int32_t v;
                memcpy(&v, at, 4);
                out->data[i] = v;
            } else {
                int64_t v;
                memcpy(&v, at, 8);
                out->data[i] = (double)v;
            }
        }
    }
    free(raw);
    fclose(f);
    if (st != PFR_OK)
        pfr_npy_free(out);
    return st;
}

const char *pfr_npy_shape_text(const pfr_npy *a, char *buf, size_t n) { return shape_text(a, buf, n); }

void pfr_npy_free(pfr_npy *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

pfr_status pfr_npy_save_f64(const char *path, const double *data, int ndim, const int64_t *shape, pfr_error *err)
{
    return pfr_npy_save(path, data, "<f8", sizeof(double), ndim, shape, err);
}

pfr_status pfr_npy_save(const char *path, const void *data, const char *descr, size_t elem, int ndim,
                        const int64_t *shape, pfr_error *err)
{
    char dict[256];
    size_t count = 1;
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; ++i) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld,%s", (long long)shape[i], i + 1 < ndim ? " " : "");
        count *= (size_t)shape[i];
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f)
        return pfr_fail(err, PFR_ERR_IO, "%s: cannot create file: %s", path, strerror(errno));
    unsigned short hl = (unsigned short)(len + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = 0; ok && i < pad; ++i)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(data, elem, count, f) == count;
    int e = ok ? 0 : errno; /* why the first write failed (a full disk: ENOSPC) */
    if (fclose(f) != 0 && ok)
        e = errno, ok = 0;
    if (!ok) {
        remove(path);
        return pfr_fail(err, PFR_ERR_IO, "%s: write failed: %s", path, e ? strerror(e) : "unknown cause");
    }
    return PFR_OK;
}
