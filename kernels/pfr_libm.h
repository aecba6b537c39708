/*
 * pfr_libm.h — the few transcendental functions the neural instance needs, with the same bits on
 * every CPU and GPU: sin and cos in double (the environments, kernels/pfr_classic.h) and tanh in
 * float (the body's tanh activation, kernels/pfr_mlp.h), so that an agent's trajectory and network
 * are one set of bits on the CPU engine, on ARM64 and on the device (issue 29's contract).
 *
 * Why not libm's: glibc's sin and cos are correctly rounded in practice, CUDA's are documented to
 * within 2 ulp (tanhf likewise), and other C libraries differ again; one ulp in a pole's angle
 * changes every later step of a chaotic system. Here every operation is an IEEE add, multiply or
 * divide in a fixed order (the project builds without contraction into FMAs: -ffp-contract=off,
 * nvcc --fmad=false), so the result depends on nothing but the argument.
 *
 * sin and cos: x = k pi/2 + r with k the nearest integer to x 2/pi and r = ((x - k P1) - k P2) - k P3,
 * pi/2 split in three (P1 and P2 of 33 significant bits, so k P1 and k P2 are exact for |k| < 2^20);
 * then sin r and cos r on |r| <= pi/4 by their Taylor series in Horner form, to the first term below
 * half an ulp (sin: r^17, cos: r^16), and the quadrant k mod 4 picks the sign and the function.
 * Accuracy: within 1 ulp of the exact value for |x| < 1.6 x 10^6 (tests/test_sincos.cc against
 * libm over 10^6 points; the environments' angles stay below 10); beyond, still deterministic, less
 * accurate; NaN for infinities and NaN.
 *
 * tanh (float): in double, tanh|z| = e / (e + 2) with e = expm1(2|z|), expm1 by 2^k (exact) times
 * the Taylor series of e^r - 1 on |r| <= ln2 / 2, then rounded to float once: within an ulp of the
 * exact value (the double is ~1e-15 off, far below a float's ulp).
 */
#ifndef PFR_LIBM_H
#define PFR_LIBM_H

#include "pfr_agent_math.h" /* PFR_HD */

#define PFR_PIO2_1 1.5707963267341256     /* pi/2 to 33 bits: 0x1.921fb544p+0 */
#define PFR_PIO2_2 6.077100506303966e-11  /* the next 33 bits */
#define PFR_PIO2_3 2.0222662487959506e-21 /* the next 53 */
#define PFR_2_OVER_PI 0.6366197723675814
#define PFR_ROUND_MAGIC 6755399441055744.0 /* 1.5 x 2^52: adding and taking it away rounds to an integer */

/* The Taylor polynomials' tails past their first terms (z = r^2): sin r = r + r z ps(z), cos r =
 * 1 - z/2 + z^2 pc(z); the coefficients are 1/n! as doubles. */
PFR_HD static inline double pfr_sin_poly(double z)
{
    return -0.16666666666666666 +
           z * (0.008333333333333333 +
                z * (-0.0001984126984126984 +
                     z * (2.7557319223985893e-06 +
                          z * (-2.505210838544172e-08 +
                               z * (1.6059043836821613e-10 + z * (-7.647163731819816e-13 + z * 2.8114572543455206e-15))))));
}

PFR_HD static inline double pfr_cos_poly(double z)
{
    return 0.041666666666666664 +
           z * (-0.001388888888888889 +
                z * (2.48015873015873e-05 +
                     z * (-2.755731922398589e-07 +
                          z * (2.08767569878681e-09 + z * (-1.1470745597729725e-11 + z * 4.779477332387385e-14)))));
}

/* sin(r + t) and cos(r + t) for |r| <= pi/4, t the reduction's tail (|t| below half an ulp of r):
 * the first-order terms of t kept, and cos's 1 - z/2 with its rounding error carried. */
PFR_HD static inline double pfr_sin_kernel(double r, double t)
{
    const double z = r * r;
    return r + ((r * z) * pfr_sin_poly(z) + t * (1.0 - 0.5 * z));
}

PFR_HD static inline double pfr_cos_kernel(double r, double t)
{
    const double z = r * r, hz = 0.5 * z, w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + ((z * z) * pfr_cos_poly(z) - r * t));
}

/* x = k pi/2 + r + t, |r| <= pi/4 (a little more at rounding's edge), t the low part; *quadrant =
 * k mod 4. x - k P1 and k P2 are exact; their difference's rounding error is recovered exactly. */
PFR_HD static inline double pfr_sincos_reduce(double x, int *quadrant, double *tail)
{
    const double k = (x * PFR_2_OVER_PI + PFR_ROUND_MAGIC) - PFR_ROUND_MAGIC;
    const double a = x - k * PFR_PIO2_1, b = k * PFR_PIO2_2;
    const double r1 = a - b;
    const double lo = ((a - r1) - b) - k * PFR_PIO2_3;
    const double r = r1 + lo;
    *tail = lo - (r - r1);
    const double kk = k < 0.0 ? -k : k;
    /* k mod 4 of |k| < 2^52 without an integer overflow: the low bits of its magnitude */
    const int q = (int)(kk - 4.0 * (double)(long long)(kk * 0.25));
    *quadrant = k < 0.0 ? (4 - q) & 3 : q;
    return r;
}

/* Below 1e-8, sin x rounds to x and cos x to 1 (x^2/6 and x^2/2 are under half an ulp). */
#define PFR_SINCOS_TINY 1e-8
#define PFR_SINCOS_HUGE 4.0e15 /* past it the rounding trick fails: reduced as zero turns */

PFR_HD static inline double pfr_sin(double x)
{
    if (!(x - x == 0.0)) /* infinity or NaN */
        return x - x;
    if (x < PFR_SINCOS_TINY && x > -PFR_SINCOS_TINY)
        return x;
    if (!(x < PFR_SINCOS_HUGE && x > -PFR_SINCOS_HUGE))
        return x * 0.0;
    int q;
    double t;
    const double r = pfr_sincos_reduce(x, &q, &t);
    switch (q) {
    case 0: return pfr_sin_kernel(r, t);
    case 1: return pfr_cos_kernel(r, t);
    case 2: return -pfr_sin_kernel(r, t);
    default: return -pfr_cos_kernel(r, t);
    }
}

PFR_HD static inline double pfr_cos(double x)
{
    if (!(x - x == 0.0))
        return x - x;
    if (x < PFR_SINCOS_TINY && x > -PFR_SINCOS_TINY)
        return 1.0;
    if (!(x < PFR_SINCOS_HUGE && x > -PFR_SINCOS_HUGE))
        return 1.0 + x * 0.0;
    int q;
    double t;
    const double r = pfr_sincos_reduce(x, &q, &t);
    switch (q) {
    case 0: return pfr_cos_kernel(r, t);
    case 1: return -pfr_sin_kernel(r, t);
    case 2: return -pfr_cos_kernel(r, t);
    default: return pfr_sin_kernel(r, t);
    }
}

#define PFR_LN2_HI 0.6931471806019545      /* ln 2 to 33 bits: k PFR_LN2_HI exact for |k| < 2^20 */
#define PFR_LN2_LO -4.2009150726810846e-11 /* the rest */
#define PFR_1_OVER_LN2 1.4426950408889634

/* e^x - 1 for 0 <= x <= 40: x = k ln2 + r, e^r - 1 = r + r^2 (1/2! + r (1/3! + ...)) to r^14. */
PFR_HD static inline double pfr_expm1_pos(double x)
{
    const double k = (x * PFR_1_OVER_LN2 + PFR_ROUND_MAGIC) - PFR_ROUND_MAGIC;
    const double r = (x - k * PFR_LN2_HI) - k * PFR_LN2_LO;
    const double em1 = r + (r * r) * (0.5 + r * (0.16666666666666666 + r * (0.041666666666666664 + r * (0.008333333333333333 + r * (0.001388888888888889 + r * (0.0001984126984126984 + r * (2.48015873015873e-05 + r * (2.7557319223985893e-06 + r * (2.755731922398589e-07 + r * (2.505210838544172e-08 + r * (2.08767569878681e-09 + r * (1.6059043836821613e-10 + r * (1.1470745597729725e-11)))))))))))));
    if (k == 0.0)
        return em1;
    double scale = 1.0; /* 2^k, exact */
    for (int j = 0; j < (int)k; ++j)
        scale = scale * 2.0;
    return (scale * em1 + scale) - 1.0;
}

/* tanh in float: +-1 past 9.1 (where float's tanh is 1), z itself below 2^-13 (z^3/3 under half
 * an ulp); NaN for NaN. */
PFR_HD static inline float pfr_tanhf(float z)
{
    if (z != z)
        return z;
    const double a = z < 0.0f ? -(double)z : (double)z;
    if (a < 1.220703125e-4)
        return z;
    double t = 1.0;
    if (a < 9.1) {
        const double e = pfr_expm1_pos(2.0 * a);
        t = e / (e + 2.0);
    }
    return (float)(z < 0.0f ? -t : t);
}

#endif
