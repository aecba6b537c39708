// kernels/pfr_libm.h: sin, cos and tanh from adds, multiplies and divides alone, so the environments
// and the networks give one set of bits on every CPU and GPU. Checked against libm (glibc: within an
// ulp of the exact value) over a million points where the environments live and beyond.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>

#include "kernels/pfr_libm.h"
#include "kernels/pfr_mlp.h" /* pfr_powi */

namespace {

// How many doubles lie between a and b (0: the same bits).
int64_t ulps(double a, double b)
{
    int64_t ia, ib;
    std::memcpy(&ia, &a, 8);
    std::memcpy(&ib, &b, 8);
    ia = ia < 0 ? INT64_MIN - ia : ia; // doubles in integer order
    ib = ib < 0 ? INT64_MIN - ib : ib;
    return ia > ib ? ia - ib : ib - ia;
}

struct Worst {
    int64_t most = 0;
    double at = 0.0;
    int64_t differ = 0;
    void see(double x, double got, double want)
    {
        const int64_t u = ulps(got, want);
        differ += u != 0;
        if (u > most)
            most = u, at = x;
    }
};

} // namespace

TEST(SinCos, WithinAnUlpOfLibmWhereTheEnvironmentsLive)
{
    std::mt19937_64 rng(7);
    struct Range {
        double lo, hi;
    } ranges[] = {{-10.0, 10.0}, {-0.25, 0.25}, {-1e-6, 1e-6}, {-1e3, 1e3}, {-1.6e6, 1.6e6}};
    for (const Range &r : ranges) {
        std::uniform_real_distribution<double> u(r.lo, r.hi);
        Worst s, c;
        const int n = 200000;
        for (int k = 0; k < n; ++k) {
            const double x = u(rng);
            s.see(x, pfr_sin(x), std::sin(x));
            c.see(x, pfr_cos(x), std::cos(x));
        }
        std::printf("[-%g, %g]: sin differs from libm's in %lld of %d, cos in %lld, by at most %lld / %lld ulp\n",
                    r.hi, r.hi, (long long)s.differ, n, (long long)c.differ, (long long)s.most, (long long)c.most);
        EXPECT_LE(s.most, 1) << "sin on [" << r.lo << ", " << r.hi << "], worst at " << s.at;
        EXPECT_LE(c.most, 1) << "cos on [" << r.lo << ", " << r.hi << "], worst at " << c.at;
        // most agree to the bit: a polynomial off by a term, or a wrong quadrant, would not
        EXPECT_LT(s.differ, n / 10) << r.lo;
        EXPECT_LT(c.differ, n / 10) << r.lo;
    }
}

TEST(SinCos, QuadrantsSignsAndSpecialValues)
{
    const double pi = 3.141592653589793;
    for (int k = -12; k <= 12; ++k) { // at and around every multiple of pi/2
        for (double eps : {-1e-9, 0.0, 1e-9, 0.3, -0.3}) {
            const double x = k * (pi / 2) + eps;
            EXPECT_LE(ulps(pfr_sin(x), std::sin(x)), 1) << x;
            EXPECT_LE(ulps(pfr_cos(x), std::cos(x)), 1) << x;
        }
    }
    EXPECT_EQ(pfr_sin(0.0), 0.0);
    EXPECT_TRUE(std::signbit(pfr_sin(-0.0)));
    EXPECT_EQ(pfr_cos(0.0), 1.0);
    EXPECT_TRUE(std::isnan(pfr_sin(INFINITY)) && std::isnan(pfr_cos(-INFINITY)) && std::isnan(pfr_sin(NAN)));
    EXPECT_TRUE(std::isfinite(pfr_sin(1e300)) && std::isfinite(pfr_cos(-1e300))); // deterministic, bounded
}

// tanh in float: the double tanh rounded to float (what a correctly rounded tanhf gives), bar the
// rare case where rounding twice differs; odd; saturates to 1; the tiny and NaN cases.
TEST(Tanh, WithinAnUlpOfTheRoundedDoubleTanh)
{
    std::mt19937_64 rng(11);
    for (double hi : {0.01, 1.0, 4.0, 12.0}) {
        std::uniform_real_distribution<float> u((float)-hi, (float)hi);
        int64_t differ = 0, most = 0;
        const int n = 200000;
        for (int k = 0; k < n; ++k) {
            const float z = u(rng), got = pfr_tanhf(z), want = (float)std::tanh((double)z);
            const int64_t d = ulps((double)got, (double)want); // floats widen exactly: the same count
            differ += d != 0;
            most = d > most ? d : most;
            ASSERT_EQ(pfr_tanhf(-z), -got) << z;
        }
        std::printf("[-%g, %g]: tanh differs from the rounded double's in %lld of %d\n", hi, hi, (long long)differ, n);
        EXPECT_LE(most, 1 << 29) << "more than a float ulp apart on [-" << hi << ", " << hi << "]";
        EXPECT_LT(differ, n / 100) << hi;
    }
    EXPECT_EQ(pfr_tanhf(0.0f), 0.0f);
    EXPECT_EQ(pfr_tanhf(1e-6f), 1e-6f);
    EXPECT_EQ(pfr_tanhf(20.0f), 1.0f);
    EXPECT_EQ(pfr_tanhf(-INFINITY), -1.0f);
    EXPECT_TRUE(std::isnan(pfr_tanhf(NAN)));
}

// b^t by squaring: each squaring doubles the relative error, so it stays below ~t ulps (Adam's bias
// correction 1 - b^t in float cannot see that).
TEST(Powi, CloseToLibmsPow)
{
    for (int t : {0, 1, 2, 3, 10, 1000, 123457}) {
        const double got = pfr_powi(0.999, t), want = std::pow(0.999, (double)t);
        EXPECT_LE(std::fabs(got - want), 4e-16 * (t + 1) * want) << t;
    }
    EXPECT_EQ(pfr_powi(0.9, 0), 1.0);
    EXPECT_EQ(pfr_powi(0.9, 1), 0.9);
    EXPECT_EQ(pfr_powi(0.5, 3), 0.125);
}
