// PFedDQN-Rep's networks (kernels/pfr_mlp.h) against an independent double-precision reference
// written here: the forward pass, every gradient of the TD loss by central differences, the Huber
// clip, and Adam against its formula.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include "kernels/pfr_mlp.h"
}

namespace {

// The same network in double, straight from its definition (no shared code with the header).
double ref_q(const pfr_mlp &m, const std::vector<double> &p, const std::vector<double> &theta, const std::vector<double> &x,
             int a)
{
    std::vector<double> in = x;
    size_t off = 0;
    for (int l = 0; l < m.layers; ++l) {
        const int ni = m.width[l], no = m.width[l + 1];
        std::vector<double> out(no);
        for (int o = 0; o < no; ++o) {
            double z = p[off + (size_t)no * ni + o];
            for (int i = 0; i < ni; ++i)
                z += p[off + (size_t)o * ni + i] * in[i];
            out[o] = m.act == PFR_MLP_TANH ? std::tanh(z) : std::max(z, 0.0);
        }
        off += (size_t)no * ni + no;
        in = out;
    }
    const int d = m.width[m.layers];
    double q = 0;
    for (int j = 0; j < d; ++j)
        q += theta[(size_t)a * d + j] * in[j];
    return q;
}

struct Net {
    pfr_mlp m;
    int A;
    std::vector<float> p, theta, x;
};

Net make_net(int act, std::vector<int> widths, int A, unsigned seed)
{
    Net n;
    n.m.layers = (int)widths.size() - 1;
    for (size_t l = 0; l < widths.size(); ++l)
        n.m.width[l] = widths[l];
    n.m.act = act;
    n.A = A;
    std::mt19937 rng(seed);
    std::normal_distribution<float> z(0.0f, 0.5f);
    n.p.resize((size_t)pfr_mlp_params(&n.m));
    for (float &v : n.p)
        v = z(rng);
    n.theta.resize((size_t)A * widths.back());
    for (float &v : n.theta)
        v = z(rng);
    n.x.resize((size_t)widths[0]);
    for (float &v : n.x)
        v = z(rng);
    return n;
}

std::vector<double> to_d(const std::vector<float> &v) { return std::vector<double>(v.begin(), v.end()); }

} // namespace

TEST(Mlp, ShapesAndForwardMatchTheDefinition)
{
    Net n = make_net(PFR_MLP_RELU, {4, 128, 16}, 2, 1);
    EXPECT_EQ(pfr_mlp_params(&n.m), 4 * 128 + 128 + 128 * 16 + 16);
    EXPECT_EQ(pfr_mlp_acts(&n.m), 4 + 128 + 16);
    std::vector<float> acts((size_t)pfr_mlp_acts(&n.m));
    const float *f = pfr_mlp_forward(&n.m, n.p.data(), n.x.data(), acts.data());
    for (int a = 0; a < 2; ++a) {
        const double want = ref_q(n.m, to_d(n.p), to_d(n.theta), to_d(n.x), a);
        EXPECT_NEAR(pfr_mlp_q(n.theta.data(), f, a, 16), want, 1e-4 * (1 + std::fabs(want)));
    }
}

// The interleaved forward pass (eight units' chains at once) is the plain one's bits: widths that are
// and are not multiples of eight, both activations, one to three layers.
TEST(Mlp, InterleavedForwardIsThePlainOnesBits)
{
    for (int act : {PFR_MLP_TANH, PFR_MLP_RELU})
        for (const std::vector<int> &w : {std::vector<int>{4, 64, 16}, std::vector<int>{6, 13, 9, 3}, std::vector<int>{4, 5},
                                           std::vector<int>{6, 24, 8}}) {
            Net n = make_net(act, w, 2, 3 + (unsigned)w.size());
            std::vector<float> a0((size_t)pfr_mlp_acts(&n.m)), a1(a0.size());
            const float *f0 = pfr_mlp_forward(&n.m, n.p.data(), n.x.data(), a0.data());
            const float *f1 = pfr_mlp_forward8(&n.m, n.p.data(), n.x.data(), a1.data());
            EXPECT_EQ(std::memcmp(a0.data(), a1.data(), 4 * a0.size()), 0) << "widths " << w[1];
            EXPECT_EQ(f0 - a0.data(), f1 - a1.data());
        }
}

// Every parameter's gradient of 1/2 (Q - y)^2 (and of theta's row a) against central differences of
// the double reference, for tanh and ReLU bodies of two and three layers.
TEST(Mlp, GradientsEqualCentralDifferences)
{
    for (int act : {PFR_MLP_TANH, PFR_MLP_RELU})
        for (const std::vector<int> &w : {std::vector<int>{4, 7, 5}, std::vector<int>{6, 9, 8, 3}}) {
            SCOPED_TRACE(std::string(act == PFR_MLP_TANH ? "tanh" : "relu") + " layers " + std::to_string(w.size() - 1));
            Net n = make_net(act, w, 3, 7 + (unsigned)w.size());
            const int a = 1, d = w.back();
            const double y = 0.3;
            std::vector<float> acts((size_t)pfr_mlp_acts(&n.m)), gp(n.p.size(), 0.0f), gt(n.theta.size(), 0.0f),
                delta(2 * 16);
            const float *f = pfr_mlp_forward(&n.m, n.p.data(), n.x.data(), acts.data());
            const float e = pfr_mlp_q(n.theta.data(), f, a, d) - (float)y;
            pfr_mlp_backward(&n.m, n.p.data(), n.theta.data(), a, acts.data(), pfr_mlp_dloss(e, 0), gp.data(), gt.data(),
                             delta.data());
            std::vector<double> p = to_d(n.p), th = to_d(n.theta);
            const std::vector<double> x = to_d(n.x);
            auto loss = [&]() {
                const double q = ref_q(n.m, p, th, x, a) - y;
                return 0.5 * q * q;
            };
            double worst = 0;
            // each entry of v moved by +-h: the loss's central difference against the gradient g
            auto check = [&](std::vector<double> &v, const std::vector<float> &g) {
                const double h = 1e-6;
                for (size_t k = 0; k < v.size(); ++k) {
                    const double keep = v[k];
                    v[k] = keep + h;
                    const double up = loss();
                    v[k] = keep - h;
                    const double down = loss();
                    v[k] = keep;
                    const double num = (up - down) / (2 * h);
                    worst = std::fmax(worst, std::fabs(g[k] - num) / (1e-3 + std::fabs(num)));
                }
            };
            check(p, gp);
            check(th, gt);
            for (size_t k = 0; k < th.size(); ++k)
                if ((int)(k / d) != a) { // other actions' rows get nothing
                    EXPECT_EQ(gt[k], 0.0f);
                }
            EXPECT_LT(worst, 2e-3); // float against double
        }
}

TEST(Mlp, HuberClipsTheErrorAtOne)
{
    EXPECT_EQ(pfr_mlp_dloss(3.5f, 1), 1.0f);
    EXPECT_EQ(pfr_mlp_dloss(-2.0f, 1), -1.0f);
    EXPECT_EQ(pfr_mlp_dloss(0.25f, 1), 0.25f);
    EXPECT_EQ(pfr_mlp_dloss(3.5f, 0), 3.5f);
}

// Three Adam steps against its formula in double (PyTorch's defaults but lr).
TEST(Mlp, AdamFollowsItsFormula)
{
    const std::vector<float> p0 = {0.5f, -1.0f, 2.0f};
    std::vector<float> p = p0, m(3, 0.0f), v(3, 0.0f);
    std::vector<double> pd(p.begin(), p.end()), md(3, 0.0), vd(3, 0.0);
    const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int t = 1; t <= 3; ++t) {
        const std::vector<float> g = {0.1f * t, -0.2f, 0.05f / t};
        pfr_adam_step(p.data(), g.data(), m.data(), v.data(), 3, (float)lr, (float)b1, (float)b2, (float)eps, t);
        for (int k = 0; k < 3; ++k) {
            md[k] = b1 * md[k] + (1 - b1) * g[k];
            vd[k] = b2 * vd[k] + (1 - b2) * (double)g[k] * g[k];
            pd[k] -= lr * (md[k] / (1 - std::pow(b1, t))) / (std::sqrt(vd[k] / (1 - std::pow(b2, t))) + eps);
        }
    }
    for (int k = 0; k < 3; ++k) {
        EXPECT_NEAR(p[k], pd[k], 1e-6) << k;
        EXPECT_NE(p[k], p0[k]) << "moved";
    }
}
