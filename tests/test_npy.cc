// The .npy reader (host/core/npy.c) on well-formed files of every accepted kind and on hostile ones: a
// header that promises more than the file holds, counts that overflow, extra or repeated keys, a
// decoy 'fortran_order' string, shapes that are not tuples. Each hostile case is refused with a
// message naming what is wrong, before anything large is allocated.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/internal.h"
#include "tests/test_temp.h"

namespace {

std::string temp_path(const char *name)
{
    static int n = 0;
    return pfr_test::track(std::string("/tmp/pfedrl_npy_") + std::to_string(::getpid()) + "_" + std::to_string(n++) +
                           "_" + name);
}

// A .npy file with this header text (padded as NumPy pads) and these data bytes.
std::string write_npy(const std::string &header, const std::string &data, int major = 1)
{
    std::string h = header;
    const size_t pre = major == 1 ? 10 : 12;
    while ((pre + h.size() + 1) % 64)
        h += ' ';
    h += '\n';
    std::string bytes = std::string("\x93NUMPY", 6) + char(major) + char(0);
    const size_t n = h.size();
    bytes += char(n & 0xff);
    bytes += char((n >> 8) & 0xff);
    if (major != 1) {
        bytes += char((n >> 16) & 0xff);
        bytes += char((n >> 24) & 0xff);
    }
    bytes += h + data;
    const std::string path = temp_path("a.npy");
    FILE *f = std::fopen(path.c_str(), "wb");
    EXPECT_TRUE(f);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    return path;
}

std::string f64(const std::vector<double> &v) { return std::string((const char *)v.data(), v.size() * 8); }
std::string f32(const std::vector<float> &v) { return std::string((const char *)v.data(), v.size() * 4); }

TEST(Npy, LoadsWhatNumPyWrites)
{
    pfr_npy a;
    pfr_error err;
    std::string p = write_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", f64({1, 2, 3, 4, 5, 6}));
    ASSERT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_OK) << err.msg;
    EXPECT_EQ(a.ndim, 2);
    EXPECT_EQ(a.shape[0], 2);
    EXPECT_EQ(a.shape[1], 3);
    EXPECT_EQ(a.count, 6u);
    EXPECT_EQ(a.data[5], 6.0);
    pfr_npy_free(&a);
    // float32, a 1-tuple, double quotes, no trailing comma, format version 2, keys in another order
    p = write_npy("{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}", f32({0.5f, 1.5f, 2.5f}), 2);
    ASSERT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_OK) << err.msg;
    EXPECT_EQ(a.ndim, 1);
    EXPECT_EQ(a.data[2], 2.5);
    pfr_npy_free(&a);
    // a scalar: shape ()
    p = write_npy("{'descr': '<f8', 'fortran_order': False, 'shape': ()}", f64({7}));
    ASSERT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_OK) << err.msg;
    EXPECT_EQ(a.ndim, 0);
    EXPECT_EQ(a.count, 1u);
    pfr_npy_free(&a);
    // booleans and integers (availability traces): NumPy's bool, int8, int32 and int64
    p = write_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", std::string("\x01\x00\x00\x01", 4));
    ASSERT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_OK) << err.msg;
    EXPECT_EQ(a.data[0], 1.0);
    EXPECT_EQ(a.data[1], 0.0);
    EXPECT_EQ(a.data[3], 1.0);
    pfr_npy_free(&a);
    p = write_npy("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", std::string("\xff\x02", 2));
    ASSERT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_OK) << err.msg;
    EXPECT_EQ(a.data[0], -1.0);
    EXPECT_EQ(a.data[1], 2.0);
    pfr_npy_free(&a);
    const std::vector<int32_t> i4 = {-3, 5};
    p = write_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", std::string((const char *)i4.data(), 8));
    ASSERT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_OK) << err.msg;
    EXPECT_EQ(a.data[0], -3.0);
    pfr_npy_free(&a);
    const std::vector<int64_t> i8 = {7, -9};
    p = write_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", std::string((const char *)i8.data(), 16));
    ASSERT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_OK) << err.msg;
    EXPECT_EQ(a.data[1], -9.0);
    pfr_npy_free(&a);
    // what pfr_npy_save_f64 writes reads back
    const std::vector<double> v = {1, 2, 3, 4};
    const int64_t shape[2] = {2, 2};
    p = temp_path("saved.npy");
    ASSERT_EQ(pfr_npy_save_f64(p.c_str(), v.data(), 2, shape, &err), PFR_OK);
    ASSERT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_OK) << err.msg;
    EXPECT_EQ(a.data[3], 4.0);
    char buf[64];
    EXPECT_STREQ(pfr_npy_shape_text(&a, buf, sizeof buf), "(2, 2)");
    pfr_npy_free(&a);
}

struct Bad {
    const char *name;
    std::string header, data;
    const char *expect;
};

TEST(Npy, HostileHeadersAreRefusedWithTheReason)
{
    const std::string six = f64({1, 2, 3, 4, 5, 6});
    const std::vector<Bad> cases = {
        // the header promises far more than the file holds: refused before any allocation
        {"huge 1-d", "{'descr': '<f8', 'fortran_order': False, 'shape': (68719476736,), }", six,
         "truncated: the header promises shape (68719476736,)"},
        {"huge 3-d", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 46340, 46340), }", six,
         "the file holds 48 bytes of data"},
        {"count overflows", "{'descr': '<f8', 'fortran_order': False, 'shape': (16777216, 1099511627776), }", six,
         "more than 2^64 bytes"},
        {"trailing bytes", "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", six, "8 trailing bytes"},
        {"extra key", "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'extra': 1}", six,
         "unexpected key 'extra'"},
        {"decoy before True",
         "{'descr': '<f8', 'note': \"'fortran_order': False\", 'fortran_order': True, 'shape': (2, 3)}", six,
         "unexpected key 'note'"},
        {"decoy in descr", "{'descr': \"'fortran_order': False\", 'fortran_order': True, 'shape': (2, 3)}", six,
         "Fortran-order arrays are not supported"},
        {"fortran order", "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", six,
         "Fortran-order arrays are not supported"},
        {"repeated key", "{'descr': '<f8', 'shape': (6,), 'fortran_order': False, 'shape': (6,)}", six,
         "gives 'shape' twice"},
        {"missing key", "{'descr': '<f8', 'shape': (6,)}", six, "lacks 'fortran_order'"},
        {"shape not a tuple", "{'descr': '<f8', 'fortran_order': False, 'shape': (6), }", six, "shape must be a tuple"},
        {"negative extent", "{'descr': '<f8', 'fortran_order': False, 'shape': (-6,), }", six, "shape must be a tuple"},
        {"big-endian", "{'descr': '>f8', 'fortran_order': False, 'shape': (6,), }", six, "dtype '>f8' is not supported"},
        {"complex", "{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }", six, "dtype '<c16' is not supported"},
        {"not a dict", "['descr', '<f8']", six, "not a dict literal"},
        {"text after the dict", "{'descr': '<f8', 'fortran_order': False, 'shape': (6,)} x", six, "text after its dict"},
        {"fortran_order not a bool", "{'descr': '<f8', 'fortran_order': 0, 'shape': (6,)}", six,
         "fortran_order must be True or False"},
    };
    for (const Bad &c : cases) {
        SCOPED_TRACE(c.name);
        const std::string p = write_npy(c.header, c.data);
        pfr_npy a;
        pfr_error err;
        std::memset(err.msg, 0, sizeof err.msg);
        EXPECT_EQ(pfr_npy_load(p.c_str(), &a, &err), PFR_ERR_FORMAT);
        EXPECT_NE(std::string(err.msg).find(c.expect), std::string::npos) << err.msg;
        EXPECT_NE(std::string(err.msg).find(p), std::string::npos) << "the file is named: " << err.msg;
        EXPECT_EQ(a.data, nullptr);
        EXPECT_EQ(pfr_npy_peek(p.c_str(), &a, nullptr, &err), PFR_ERR_FORMAT);
        std::remove(p.c_str());
    }
    pfr_npy a;
    pfr_error err;
    EXPECT_EQ(pfr_npy_load("/nonexistent/dir/x.npy", &a, &err), PFR_ERR_IO);
    EXPECT_NE(std::string(err.msg).find("No such file or directory"), std::string::npos) << err.msg;
}

} // namespace
