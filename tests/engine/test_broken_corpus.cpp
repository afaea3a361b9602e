// The broken-input corpus (tests/data/broken, made by tools/make_broken_corpus.py): every
// case must fail to load with its own qs::Error (naming the file or folder involved), never
// with another exception or a crash; the valid case must load and report its warning.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>
#include <vector>

#include "engine/test_util.h"
#include "models/causal_lm.h"

namespace fs = std::filesystem;

namespace {

std::string read_first_line(const fs::path& p) {
    std::ifstream in(p);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string substitute_dir(std::string s, const std::string& dir) {
    const std::string key = "{dir}";
    for (size_t pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + dir.size()))
        s.replace(pos, key.size(), dir);
    return s;
}

std::vector<std::string> case_names() {
    std::vector<std::string> out;
    if (!fs::is_directory(test_data("broken"))) return out;  // HasEnoughCases then fails
    for (const auto& e : fs::directory_iterator(test_data("broken")))
        if (e.is_directory()) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

// The folder to load for a case: the case folder itself, or a fresh empty one (git cannot
// store an empty folder).
struct CaseDir {
    std::string path;
    bool temp = false;
    explicit CaseDir(const std::string& name) {
        const fs::path src = test_data("broken/" + name);
        if (fs::exists(src / "use_empty_temp_dir")) {
            fs::path p = fs::temp_directory_path() / ("qs_broken_" + name + "_" + std::to_string(::getpid()));
            fs::remove_all(p);
            fs::create_directories(p);
            path = p.string();
            temp = true;
        } else {
            path = src.string();
        }
    }
    ~CaseDir() {
        if (temp) fs::remove_all(path);
    }
};

}  // namespace

TEST(BrokenCorpus, HasEnoughCases) {
    size_t errors = 0, valid = 0;
    for (const auto& name : case_names()) {
        const fs::path d = test_data("broken/" + name);
        const bool e = fs::exists(d / "expected_error.txt"), w = fs::exists(d / "expected_warning.txt");
        EXPECT_TRUE(e != w) << name << ": needs exactly one of expected_error.txt / expected_warning.txt";
        errors += e;
        valid += w;
    }
    EXPECT_GE(errors, 15u);
    EXPECT_GE(valid, 1u);
}

class BrokenCase : public ::testing::TestWithParam<std::string> {};

TEST_P(BrokenCase, LoadsOrFailsWithItsOwnError) {
    const std::string name = GetParam();
    const fs::path src = test_data("broken/" + name);
    CaseDir dir(name);
    if (fs::exists(src / "expected_error.txt")) {
        const std::string raw = read_first_line(src / "expected_error.txt");
        ASSERT_FALSE(raw.empty()) << name;
        // Every expectation names the folder ("{dir}: ...") or a file in it ("{dir}/f: ...").
        EXPECT_EQ(raw.rfind("{dir}", 0), 0u) << name << ": expectation must start with {dir}";
        const std::string expected = substitute_dir(raw, dir.path);
        try {
            auto m = qs::load_causal_lm(dir.path);
            ADD_FAILURE() << name << ": loaded, expected error containing: " << expected;
        } catch (const qs::Error& e) {
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
                << name << "\n  error was:   " << e.what() << "\n  expected in: " << expected;
        } catch (const std::exception& e) {
            ADD_FAILURE() << name << ": non-qs::Error exception (" << typeid(e).name() << "): " << e.what();
        }
    } else {
        const std::string expected = substitute_dir(read_first_line(src / "expected_warning.txt"), dir.path);
        std::unique_ptr<qs::CausalLM> m;
        ASSERT_NO_THROW(m = qs::load_causal_lm(dir.path)) << name;
        bool found = false;
        for (const auto& w : m->warnings) found = found || w.find(expected) != std::string::npos;
        EXPECT_TRUE(found) << name << ": no warning containing: " << expected << " (" << m->warnings.size()
                           << " warnings)";
    }
}

INSTANTIATE_TEST_SUITE_P(Corpus, BrokenCase, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });
