// test_temp.h — temporary files and folders of the tests, removed when the test process ends (ctest
// runs every test as a process of its own). Forked children leave with _exit, so they remove nothing.
#ifndef PFR_TEST_TEMP_H
#define PFR_TEST_TEMP_H

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace pfr_test {

class TempPaths {
  public:
    static TempPaths &get()
    {
        static TempPaths t;
        return t;
    }
    void add(const std::string &p)
    {
        std::lock_guard<std::mutex> g(m_);
        paths_.push_back(p);
    }
    ~TempPaths()
    {
        for (const auto &p : paths_) {
            std::error_code ec;
            std::filesystem::remove_all(p, ec);
        }
    }

  private:
    std::mutex m_;
    std::vector<std::string> paths_;
};

// "/tmp/<prefix>XXXXXX" as the writable template mkdtemp and mkstemp fill in.
inline std::vector<char> temp_template(const std::string &prefix)
{
    const std::string t = "/tmp/" + prefix + "XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    return buf;
}

// A new folder /tmp/<prefix>XXXXXX, removed at exit ("/tmp" itself, never removed, if none could be made).
inline std::string temp_dir(const std::string &prefix)
{
    std::vector<char> buf = temp_template(prefix);
    const char *d = mkdtemp(buf.data());
    if (!d)
        return "/tmp";
    TempPaths::get().add(d);
    return d;
}

// A new empty file /tmp/<prefix>XXXXXX (its descriptor closed), removed at exit; "" if none could be made.
inline std::string temp_file(const std::string &prefix)
{
    std::vector<char> buf = temp_template(prefix);
    const int fd = mkstemp(buf.data());
    if (fd < 0)
        return "";
    close(fd);
    TempPaths::get().add(buf.data());
    return buf.data();
}

// Remove `path` at exit too (a file a test names itself).
inline const std::string &track(const std::string &path)
{
    TempPaths::get().add(path);
    return path;
}

} // namespace pfr_test

#endif
