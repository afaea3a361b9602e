// Interrupted work and files changing underfoot (issue #15): SIGBUS on a truncated mapped
// checkpoint (in process and in quantscope-cli), SIGTERM / SIGHUP in the middle of an export,
// SIGKILL and a rerun, SIGXFSZ under a file-size limit. Every case checks the exit code, the
// message, that the source model is unchanged and that nothing is left behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/test_export_util.h"
#include "engine/test_process_util.h"
#include "engine/test_util.h"
#include "io/map_guard.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "models/original_weights.h"

namespace fs = std::filesystem;
using namespace qs;
using namespace qs::test;

namespace {

// Entries of `dir` that are temporaries of an atomic write: "*.tmp-<pid>" or "*.old-<pid>".
std::vector<std::string> leftovers(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& n : entries(dir))
        if (n.find(".tmp-") != std::string::npos || n.find(".old-") != std::string::npos) out.push_back(n);
    return out;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

// A random OPT checkpoint of about 40 MB: large enough that writing its export, or loading
// it, takes a while to interrupt.
const std::string& big_model() {
    static TempDir keep;
    static const std::string dir = [] {
        const std::string d = keep / "big";
        make_random_opt(d, 512, 2048, 3, 8, 1000, 7);
        return d;
    }();
    return dir;
}

}  // namespace

// ---------------------------------------------------------------- SIGBUS, in process

TEST(HostileSigbus, TruncatedMappedFileReadsZerosAndIsReported) {
    TempDir tmp;
    const std::string path = tmp / "weights.bin";
    const long page = ::sysconf(_SC_PAGESIZE);
    write_file(path, std::string(static_cast<size_t>(3 * page), '\x7f'));
    MappedFile f(path);
    EXPECT_TRUE(map_guard::handler_installed());
    EXPECT_NO_THROW(f.check_intact());
    ASSERT_EQ(::truncate(path.c_str(), page), 0);  // another program shortens the file
    // Without the guard this read ends the process with SIGBUS (exit 135).
    volatile const uint8_t* p = f.data();
    EXPECT_EQ(p[page - 1], 0x7f);   // still inside the file
    EXPECT_EQ(p[2 * page + 5], 0);  // beyond its new end: a zero page
    EXPECT_EQ(p[page + 1], 0);      // every page after the fault was replaced too
    QS_EXPECT_ERROR_CONTAINS(f.check_intact(), path +
                                                   ": the file changed while it was read (it was modified or "
                                                   "truncated by another program); reopen the model");
    QS_EXPECT_ERROR_CONTAINS(MappedFile::check_all_intact(), "weights.bin: the file changed while it was read");
}

TEST(HostileSigbus, InPlaceRewriteIsReported) {
    TempDir tmp;
    const std::string path = tmp / "w.bin";
    write_file(path, std::string(8192, 'a'));
    struct stat mapped {};
    ASSERT_EQ(::stat(path.c_str(), &mapped), 0);
    MappedFile f(path);
    // another program rewrites two bytes in place (same size); repeat until the file system's
    // clock shows a new modification time
    for (int i = 0; i < 300; ++i) {
        ::usleep(10000);
        std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
        out.seekp(100);
        out.write("zz", 2);
        out.close();
        struct stat now {};
        ASSERT_EQ(::stat(path.c_str(), &now), 0);
        if (now.st_mtim.tv_sec != mapped.st_mtim.tv_sec || now.st_mtim.tv_nsec != mapped.st_mtim.tv_nsec) break;
    }
    QS_EXPECT_ERROR_CONTAINS(f.check_intact(), "w.bin: the file changed while it was read");
}

TEST(HostileSigbus, ReplacedFileKeepsTheMappedDataValid) {
    // A new file renamed over the path (what an atomic writer does) leaves our inode intact.
    TempDir tmp;
    const std::string path = tmp / "w.bin";
    write_file(path, std::string(8192, 'a'));
    MappedFile f(path);
    write_file(tmp / "new.bin", "b");
    fs::rename(tmp / "new.bin", path);
    EXPECT_NO_THROW(f.check_intact());
    EXPECT_EQ(f.data()[8000], 'a');
}

TEST(HostileSigbus, SafetensorsLoadOfATruncatedFileFailsWithItsName) {
    TempDir tmp;
    const std::string path = tmp / "model.safetensors";
    write_safetensors(path, {{"a", at::ones({4096})}, {"b", at::ones({4096})}});
    SafetensorsFile st(path);
    ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
    QS_EXPECT_ERROR_CONTAINS(st.load("b"), path + ": the file changed while it was read");
}

TEST(HostileSigbus, AFaultOutsideRegisteredMappingsStillEndsTheProcess) {
    TempDir tmp;
    const std::string path = tmp / "raw.bin";
    write_file(path, std::string(3 * 4096, 'x'));
    MappedFile keep(path);  // the handler is installed
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int fd = ::open(path.c_str(), O_RDONLY);
        auto* p = static_cast<volatile const char*>(::mmap(nullptr, 3 * 4096, PROT_READ, MAP_PRIVATE, fd, 0));
        if (::ftruncate(::open(path.c_str(), O_WRONLY), 0) != 0) ::_exit(3);
        (void)p[2 * 4096];  // not a MappedFile: the default action
        ::_exit(0);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFSIGNALED(st)) << "child exited with " << WEXITSTATUS(st);
    EXPECT_EQ(WTERMSIG(st), SIGBUS);
}

TEST(HostileSigbus, ForwardOverZeroCopyWeightsOfATruncatedCheckpointIsReported) {
    // The originals stay mapped for the session (zero-copy views read by every forward): a
    // checkpoint truncated after loading must end the next perplexity run with a message, not
    // with SIGBUS (exit 135).
    TempDir tmp;
    fs::copy(tinystories(), tmp / "m");
    auto model = load(tmp / "m");
    ASSERT_TRUE(model->originals && model->originals->zero_copy()) << "expected zero-copy originals on CPU fp32";
    ASSERT_EQ(::truncate((tmp / "m/model.safetensors").c_str(), 4096), 0);
    PplOptions o;
    o.seqlen = 64;
    o.nsamples = 2;
    QS_EXPECT_ERROR_CONTAINS(evaluate_perplexity(*model, ids_1d(model->config.vocab_size, 200), o),
                             "m/model.safetensors: the file changed while it was read");
}

// ---------------------------------------------------------------- SIGBUS, quantscope-cli

TEST(HostileSigbus, CliReportsACheckpointTruncatedWhileItIsRead) {
    // Another process truncates model.safetensors while `quantscope-cli check` has it mapped:
    // stop the CLI while the map is live, truncate, continue. Before the guard: exit 135.
    TempDir tmp;
    bool hit = false;
    for (int attempt = 0; attempt < 8 && !hit; ++attempt) {
        const std::string model = tmp / ("m" + std::to_string(attempt));
        fs::copy(big_model(), model);
        const std::string weights = fs::canonical(model + "/model.safetensors").string();
        Child c = spawn_cli({"check", "--model", model}, tmp / ("check" + std::to_string(attempt)));
        if (!wait_for([&] { return maps_file(c.pid, weights); }, 60)) {
            c.wait();
            continue;
        }
        ::kill(c.pid, SIGSTOP);
        if (!maps_file(c.pid, weights)) {  // unmapped before it stopped: try again
            ::kill(c.pid, SIGCONT);
            c.wait();
            continue;
        }
        ASSERT_EQ(::truncate(weights.c_str(), 64 << 10), 0);
        ::kill(c.pid, SIGCONT);
        const int rc = c.wait();
        hit = true;
        EXPECT_EQ(rc, 2) << c.err();
        EXPECT_NE(c.err().find(model + "/model.safetensors: the file changed while it was read"), std::string::npos)
            << c.err();
    }
    EXPECT_TRUE(hit) << "never caught the CLI with the checkpoint mapped";
}

// ---------------------------------------------------------------- SIGTERM / SIGHUP / SIGKILL

namespace {

// Runs `quantize --out OUT` on the big model and sends `sig` as soon as OUT.tmp-PID exists.
// Returns the exit code; `interrupted` says whether the export was still writing.
int export_and_signal(const TempDir& tmp, const std::string& out, int sig, bool& interrupted, std::string& err) {
    Child c = spawn_cli(
        {"quantize", "--model", big_model(), "--method", "rtn", "--w-bits", "4", "--format", "fake", "--out", out},
        tmp / "q");
    const std::string temp = out + ".tmp-" + std::to_string(c.pid);
    interrupted = wait_for([&] { return fs::exists(temp); }, 120);
    ::kill(c.pid, sig);
    const int rc = c.wait();
    err = c.err();
    return rc;
}

}  // namespace

class HostileTermination : public ::testing::TestWithParam<int> {};

TEST_P(HostileTermination, MidExportSignalCancelsAndLeavesNothing) {
    const int sig = GetParam();
    TempDir tmp;
    const auto before = snapshot(big_model());
    int cancelled = 0;
    for (int attempt = 0; attempt < 4 && cancelled == 0; ++attempt) {
        const std::string out = tmp / ("out" + std::to_string(attempt));
        bool interrupted = false;
        std::string err;
        const int rc = export_and_signal(tmp, out, sig, interrupted, err);
        EXPECT_TRUE(leftovers(tmp.path.string()).empty()) << joined(leftovers(tmp.path.string()));
        if (rc == 0) {  // finished before the signal landed: a complete export, nothing else
            EXPECT_TRUE(fs::exists(out + "/model.safetensors"));
            continue;
        }
        EXPECT_EQ(rc, 128 + sig) << err;  // before the fix: SIGTERM ended it at once (143) with OUT.tmp-PID left
        EXPECT_NE(err.find("cancelled"), std::string::npos) << err;
        EXPECT_FALSE(fs::exists(out));
        ++cancelled;
    }
    EXPECT_GT(cancelled, 0) << "the export always finished before the signal";
    EXPECT_EQ(snapshot(big_model()), before);
}

INSTANTIATE_TEST_SUITE_P(Signals, HostileTermination, ::testing::Values(SIGTERM, SIGHUP, SIGINT),
                         [](const ::testing::TestParamInfo<int>& i) {
                             return std::string(i.param == SIGTERM  ? "SIGTERM"
                                                : i.param == SIGHUP ? "SIGHUP"
                                                                    : "SIGINT");
                         });

TEST(HostileTermination, SigkillLeavesATemporaryThatTheRerunRemovesAndReports) {
    TempDir tmp;
    const std::string out = tmp / "out";
    std::string dead_temp;
    for (int attempt = 0; attempt < 4 && dead_temp.empty(); ++attempt) {
        bool interrupted = false;
        std::string err;
        Child c = spawn_cli(
            {"quantize", "--model", big_model(), "--method", "rtn", "--format", "fake", "--out", out, "--force"},
            tmp / "k");
        const std::string temp = out + ".tmp-" + std::to_string(c.pid);
        interrupted = wait_for([&] { return fs::exists(temp); }, 120);
        ::kill(c.pid, SIGKILL);
        c.wait();
        if (interrupted && fs::exists(temp)) dead_temp = temp;
    }
    ASSERT_FALSE(dead_temp.empty()) << "never killed the CLI while it was writing";
    Child again =
        spawn_cli({"quantize", "--model", big_model(), "--method", "rtn", "--format", "fake", "--out", out, "--force"},
                  tmp / "rerun");
    EXPECT_EQ(again.wait(), 0) << again.err();
    EXPECT_NE(again.err().find("note: removed " + dead_temp + ", left by process"), std::string::npos) << again.err();
    EXPECT_TRUE(leftovers(tmp.path.string()).empty()) << joined(leftovers(tmp.path.string()));
    EXPECT_TRUE(fs::exists(out + "/model.safetensors"));
    ASSERT_NO_THROW(load_causal_lm(out));
}

// ---------------------------------------------------------------- SIGXFSZ

TEST(HostileTermination, FileSizeLimitIsReportedLikeADiskFullAndLeavesNothing) {
    // ulimit -f: before, SIGXFSZ ended the CLI (exit 153) and left OUT.tmp-PID behind.
    TempDir tmp;
    const std::string out = tmp / "out";
    Child c = spawn_cli({"quantize", "--model", tinystories(), "--method", "rtn", "--format", "fake", "--out", out},
                        tmp / "fsize", 512 << 10);
    EXPECT_EQ(c.wait(), 2) << c.err();
    EXPECT_NE(c.err().find("file too large for the file system or the file-size limit (ulimit -f)"), std::string::npos)
        << c.err();
    EXPECT_FALSE(fs::exists(out));
    EXPECT_TRUE(leftovers(tmp.path.string()).empty()) << joined(leftovers(tmp.path.string()));
    // the logits dump as well
    Child d = spawn_cli({"quantize", "--model", tinystories(), "--method", "rtn", "--dump-logits",
                         tmp / "l.safetensors", "--logits-tokens", "256"},
                        tmp / "fsize2", 64 << 10);
    EXPECT_EQ(d.wait(), 2) << d.err();
    EXPECT_NE(d.err().find("l.safetensors: write failed (file too large"), std::string::npos) << d.err();
    EXPECT_TRUE(leftovers(tmp.path.string()).empty()) << joined(leftovers(tmp.path.string()));
}
