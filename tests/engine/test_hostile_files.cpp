// Hostile files (issue #15): named pipes and devices where files are expected (they blocked
// forever or never ended), symlink loops, huge sparse files, zstd bombs and endless lines
// (unbounded memory), workspaces that are folders or hold nonsense, and the files QuantScope
// writes: never into or over a source model, always atomic, stale temporaries of dead
// processes removed (and reported) by the next write to the same place.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>

#include "data/calibration.h"
#include "data/eval_text.h"
#include "data/line_reader.h"
#include "data/text_source.h"
#include "data/zstd_stream.h"
#include "engine/test_export_util.h"
#include "engine/test_process_util.h"
#include "engine/test_util.h"
#include "export/atomic_dir.h"
#include "export/export.h"
#include "export/workspace.h"
#include "io/checkpoint.h"
#include "io/file_checks.h"
#include "io/mapped_file.h"
#include "io/safe_output.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace qs;
using namespace qs::test;

namespace {

std::string fifo(const TempDir& tmp, const std::string& name) {
    const std::string p = tmp / name;
    fs::create_directories(fs::path(p).parent_path());
    EXPECT_EQ(::mkfifo(p.c_str(), 0644), 0);
    return p;
}

// A .zst of `copies` times `chunk` (one frame per copy), made here with libzstd.
void write_zst(const std::string& path, const std::string& chunk, int copies) {
    std::string frame(ZSTD_compressBound(chunk.size()), '\0');
    const size_t n = ZSTD_compress(frame.data(), frame.size(), chunk.data(), chunk.size(), 19);
    ASSERT_FALSE(ZSTD_isError(n));
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < copies; ++i) out.write(frame.data(), static_cast<std::streamsize>(n));
}

// A pid that no longer runs: a child that has exited and been reaped.
long dead_pid() {
    const pid_t p = ::fork();
    if (p == 0) ::_exit(0);
    ::waitpid(p, nullptr, 0);
    return p;
}

}  // namespace

// ---------------------------------------------------------------- non-regular files

TEST(HostileFiles, NamedPipesAndDevicesAreRefusedInsteadOfBlocking) {
    TempDir tmp;
    const std::string weights = fifo(tmp, "m/model.safetensors");
    QS_EXPECT_ERROR_CONTAINS(MappedFile m(weights), weights + ": is a named pipe (FIFO), expected a regular file");
    const std::string text = fifo(tmp, "data.txt");
    QS_EXPECT_ERROR_CONTAINS(read_text_file(text), text + ": is a named pipe (FIFO)");
    QS_EXPECT_ERROR_CONTAINS(load_eval_text(text), text + ": is a named pipe (FIFO)");
    const std::string jsonl = fifo(tmp, "calib.jsonl");
    QS_EXPECT_ERROR_CONTAINS(for_each_jsonl_text(jsonl, [](std::string&&, int64_t) {}), "calib.jsonl: is a named pipe");
    const std::string cfg = fifo(tmp, "c/config.json");
    QS_EXPECT_ERROR_CONTAINS(read_json_file(cfg), cfg + ": is a named pipe (FIFO)");
    const std::string ws = fifo(tmp, "w.qscope");
    QS_EXPECT_ERROR_CONTAINS(load_workspace(ws), ws + ": is a named pipe (FIFO)");
    // /dev/zero never ends: was std::bad_alloc after eating the memory
    QS_EXPECT_ERROR_CONTAINS(read_text_file("/dev/zero"), "/dev/zero: is a character device, expected a regular file");
    fs::create_symlink("/dev/zero", tmp / "zero.jsonl");
    QS_EXPECT_ERROR_CONTAINS(for_each_jsonl_text(tmp / "zero.jsonl", [](std::string&&, int64_t) {}),
                             "zero.jsonl: is a character device");
    // a whole model folder with a FIFO config.json
    const std::string model = tmp / "fifo_config";
    fs::create_directories(model);
    fs::copy_file(tinystories() + "/model.safetensors", model + "/model.safetensors");
    fifo(tmp, "fifo_config/config.json");
    QS_EXPECT_ERROR_CONTAINS(load_causal_lm(model), model + "/config.json: is a named pipe (FIFO)");
}

TEST(HostileFiles, SymlinkLoopsAndFoldersAreNamed) {
    TempDir tmp;
    fs::create_symlink(tmp / "loop", tmp / "loop");
    // was "filesystem error: status: Too many levels of symbolic links" (exit 3)
    QS_EXPECT_ERROR_CONTAINS(load_causal_lm(tmp / "loop"), tmp / "loop" + ": symbolic link loop");
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(tmp / "loop"), "loop: symbolic link loop");
    fs::create_directories(tmp / "m");
    fs::copy_file(tinystories() + "/model.safetensors", tmp / "m/model.safetensors");
    fs::create_symlink(tmp / "m/config.json", tmp / "m/config.json.tmp");
    fs::rename(tmp / "m/config.json.tmp", tmp / "m/config.json");  // config.json -> itself
    QS_EXPECT_ERROR_CONTAINS(load_causal_lm(tmp / "m"), "m/config.json: symbolic link loop");
    QS_EXPECT_ERROR_CONTAINS(load_causal_lm(tinystories() + "/config.json"),
                             "config.json: is a regular file, not a folder (expected a Hugging Face model folder)");
}

TEST(HostileFiles, UnreadableFolderIsNamed) {
    if (::geteuid() == 0) GTEST_SKIP() << "root reads every folder (the CLI test runs this case as nobody)";
    TempDir tmp;
    fs::copy(tinystories(), tmp / "m");
    fs::permissions(tmp / "m", fs::perms::none);
    QS_EXPECT_ERROR_CONTAINS(load_causal_lm(tmp / "m"), "m: permission denied");
    fs::permissions(tmp / "m", fs::perms::owner_all);
}

// ---------------------------------------------------------------- sizes

TEST(HostileFiles, HugeSparseFilesAreRefusedBeforeReading) {
    TempDir tmp;
    fs::copy(tinystories(), tmp / "m");
    fs::resize_file(tmp / "m/config.json", uint64_t(8) << 30);  // 8 GiB of holes
    QS_EXPECT_ERROR_CONTAINS(load_causal_lm(tmp / "m"),
                             "m/config.json: 8 GiB, larger than the 16 MiB a config file may have; not read");
    write_file(tmp / "w.qscope", "{}");
    fs::resize_file(tmp / "w.qscope", uint64_t(4) << 30);
    QS_EXPECT_ERROR_CONTAINS(load_workspace(tmp / "w.qscope"),
                             "w.qscope: 4 GiB, larger than the 64 MiB a workspace may have");
    fs::copy(tinystories(), tmp / "t");
    fs::resize_file(tmp / "t/tokenizer.json", uint64_t(1) << 40);
    QS_EXPECT_ERROR_CONTAINS(load_tokenizer(tmp / "t"),
                             "tokenizer.json: 1024 GiB, larger than the 256 MiB a tokenizer file");
}

TEST(HostileFiles, DeeplyNestedJsonIsRefused) {
    QS_EXPECT_ERROR_CONTAINS(parse_json_text(std::string(100000, '[') + std::string(100000, ']'), "x.json"),
                             "x.json: JSON nested more than 128 levels deep");
    EXPECT_NO_THROW(
        parse_json_text(R"({"a": "[[[[[[[[", "b": [[1]]})", "ok.json"));  // brackets in strings do not count
}

TEST(HostileFiles, ZstdBombsAndEndlessLinesStopWithAnError) {
    TempDir tmp;
    // one line of 1 GiB (a few KB compressed): the line cap stops it after 16 MiB
    write_zst(tmp / "line.jsonl.zst", std::string(64 << 20, 'a'), 16);
    QS_EXPECT_ERROR_CONTAINS(
        for_each_jsonl_text(tmp / "line.jsonl.zst", [](std::string&&, int64_t) {}),
        "line.jsonl.zst: line 1 is longer than 16 MiB (it starts at byte offset 0 of the decompressed data)");
    // a .txt bomb: the text cap (32 MiB), for perplexity and calibration texts
    QS_EXPECT_ERROR_CONTAINS(read_text_file(tmp / "line.jsonl.zst"), "line.jsonl.zst: more than 32 MiB of text");
    write_zst(tmp / "bomb.txt.zst", std::string(64 << 20, 'b'), 16);
    QS_EXPECT_ERROR_CONTAINS(read_text_file(tmp / "bomb.txt.zst"),
                             "bomb.txt.zst: more than 32 MiB of text after decompression");
    QS_EXPECT_ERROR_CONTAINS(load_eval_text(tmp / "bomb.txt.zst"), "more than 32 MiB of text");
    // many records: perplexity texts stop at 32 MiB
    std::string records;
    while (records.size() < (4 << 20)) records += R"({"text": ")" + std::string(4000, 'c') + "\"}\n";
    write_zst(tmp / "many.jsonl.zst", records, 64);
    QS_EXPECT_ERROR_CONTAINS(load_eval_text(tmp / "many.jsonl.zst"), "many.jsonl.zst: more than 32 MiB of text");
    // and any stream stops at ByteReader's cap (4 GiB by default; 64 MiB here)
    ByteReader r(tmp / "many.jsonl.zst", uint64_t(64) << 20);
    std::vector<char> buf(1 << 20);
    QS_EXPECT_ERROR_CONTAINS(while (r.read(buf.data(), buf.size()) > 0){},
                             "many.jsonl.zst: more than 64 MiB of data after decompression (a zstd bomb?)");
    // a plain 50 MB line in a WikiText .raw file
    write_file(tmp / "long.raw", std::string(50 << 20, 'd'));
    QS_EXPECT_ERROR_CONTAINS(load_eval_text(tmp / "long.raw"), "long.raw: line 1 is longer than 16 MiB");
    LineReader small(tmp / "long.raw", 1000);
    std::string line;
    QS_EXPECT_ERROR_CONTAINS(small.next(line), "long.raw: line 1 is longer than 1000 bytes");
}

// ---------------------------------------------------------------- workspaces

TEST(HostileFiles, WorkspaceProblemsAreNamed) {
    TempDir tmp;
    fs::create_directories(tmp / "folder.qscope");
    // was "invalid JSON"
    QS_EXPECT_ERROR_CONTAINS(load_workspace(tmp / "folder.qscope"),
                             "folder.qscope: is a folder, expected a regular file");
    Workspace ws;
    ws.model_path = tinystories();
    ws.config.methods = {"smoothquant", "rtn"};
    const std::string good = tmp / "good.qscope";
    save_workspace(ws, good);
    EXPECT_NO_THROW(load_workspace(good));
    auto edited = [&](const std::string& name, const std::function<void(json&)>& edit) {
        json j;
        std::ifstream(good) >> j;
        edit(j);
        const std::string p = tmp / name;
        std::ofstream(p) << j.dump();
        return p;
    };
    // was opened and applied with clamped values
    QS_EXPECT_ERROR_CONTAINS(
        load_workspace(edited("alpha.qscope", [](json& j) { j["configuration"]["sq_alpha"] = -5; })),
        "alpha.qscope: 'configuration': sq_alpha (--sq-alpha) must be a number in [0, 1], found -5");
    QS_EXPECT_ERROR_CONTAINS(load_workspace(edited("w99.qscope", [](json& j) { j["configuration"]["w_bits"] = 99; })),
                             "w99.qscope: 'configuration': w_bits (--w-bits) must be an integer in 2..8, found 99");
    QS_EXPECT_ERROR_CONTAINS(
        load_workspace(
            edited("row.qscope",
                   [](json& j) {
                       j["results"] = json::array({{{"label", "x"}, {"configuration", {{"awq_factor", -1}}}}});
                   })),
        "row.qscope: 'results[0].configuration': awq_factor (--awq-factor) must be a positive finite number, found -1");
    // never written into the model folder (nor over its files)
    Workspace mine;
    mine.model_path = tmp / "model";
    fs::copy(tinystories(), tmp / "model");
    const auto before = snapshot(tmp / "model");
    QS_EXPECT_ERROR_CONTAINS(save_workspace(mine, tmp / "model/config.json"), "lies inside the model folder");
    QS_EXPECT_ERROR_CONTAINS(save_workspace(mine, tmp / "model/ws.qscope"), "lies inside the model folder");
    EXPECT_EQ(snapshot(tmp / "model"), before);
}

// ---------------------------------------------------------------- files QuantScope writes

TEST(HostileFiles, OutputFilesNeverGoIntoTheSourceModel) {
    TempDir tmp;
    fs::copy(tinystories(), tmp / "src");
    const auto before = snapshot(tmp / "src");
    const std::vector<std::string> src = {tmp / "src"};
    QS_EXPECT_ERROR_CONTAINS(check_output_file(tmp / "src/model.safetensors", src),
                             "src/model.safetensors: lies inside the model folder");
    QS_EXPECT_ERROR_CONTAINS(check_output_file(tmp / "src/sub/../config.json", src), "lies inside the model folder");
    fs::create_symlink(tmp / "src/config.json", tmp / "link.json");
    QS_EXPECT_ERROR_CONTAINS(check_output_file(tmp / "link.json", src), "link.json: lies inside the model folder");
    fs::create_symlink(tmp / "src", tmp / "srclink");
    QS_EXPECT_ERROR_CONTAINS(write_file_atomic(tmp / "srclink/new.csv", "x", src), "lies inside the model folder");
    EXPECT_NO_THROW(check_output_file(tmp / "elsewhere.csv", src));
    EXPECT_EQ(snapshot(tmp / "src"), before);
}

TEST(HostileFiles, AtomicFileLeavesNothingUntilCommitted) {
    TempDir tmp;
    const std::string path = tmp / "out.csv";
    write_file(path, "old");
    {
        AtomicFile f(path);
        f.write("new", 3);
        EXPECT_TRUE(fs::exists(f.temp_path()));
        EXPECT_EQ(Child::slurp(path), "old");  // untouched until commit
    }
    EXPECT_EQ(entries(tmp.path.string()), std::vector<std::string>{"out.csv"});
    EXPECT_EQ(Child::slurp(path), "old");
    write_file_atomic(path, "new");
    EXPECT_EQ(Child::slurp(path), "new");
    EXPECT_EQ(entries(tmp.path.string()), std::vector<std::string>{"out.csv"});
    QS_EXPECT_ERROR_CONTAINS(write_file_atomic(tmp / "missing/x.csv", "x"), "does not exist");
    fs::create_directories(tmp / "dir.csv");
    QS_EXPECT_ERROR_CONTAINS(write_file_atomic(tmp / "dir.csv", "x"), "dir.csv: is a folder");
}

TEST(HostileFiles, FileTooLargeIsReportedAndCleanedUp) {
    // EFBIG under a file-size limit (SIGXFSZ ignored, as prepare_process does): the same clean
    // error as a full disk, no temporary left.
    TempDir tmp;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl {
            4096, 4096
        };
        ::setrlimit(RLIMIT_FSIZE, &rl);
        try {
            write_file_atomic(tmp / "big.bin", std::string(1 << 20, 'x'));
            ::_exit(1);
        } catch (const Error& e) {
            const std::string w = e.what();
            ::_exit(w.find("big.bin: write failed (file too large for the file system or the file-size limit") !=
                            std::string::npos
                        ? 0
                        : 2);
        }
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
    EXPECT_TRUE(entries(tmp.path.string()).empty());
    EXPECT_NE(write_error_text(ENOSPC).find("disk full"), std::string::npos);
}

TEST(HostileFiles, StaleTemporariesOfDeadProcessesAreRemovedAndReported) {
    TempDir tmp;
    const long dead = dead_pid();
    const std::string dest = tmp / "out.csv";
    write_file(dest + ".tmp-" + std::to_string(dead), "partial");
    write_file(dest + ".tmp-1", "init runs: kept");  // a live process
    write_file(tmp / "other.csv.tmp-" + std::to_string(dead), "another destination: kept");
    const auto notes = write_file_atomic(dest, "rows");
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_EQ(notes[0], "removed " + dest + ".tmp-" + std::to_string(dead) + ", left by process " +
                            std::to_string(dead) + ", which no longer runs");
    EXPECT_TRUE(fs::exists(dest + ".tmp-1"));
    EXPECT_TRUE(fs::exists(tmp / "other.csv.tmp-" + std::to_string(dead)));
    // a folder replaced by a killed export, moved aside and never renamed back: restored
    fs::create_directories(tmp / "exp.old-" + std::to_string(dead));
    write_file(tmp / "exp.old-" + std::to_string(dead) + "/config.json", "{}");
    const auto restored = remove_stale_temporaries(tmp / "exp");
    ASSERT_EQ(restored.size(), 1u);
    EXPECT_NE(restored[0].find("restored " + (tmp / "exp")), std::string::npos);
    EXPECT_TRUE(fs::exists(tmp / "exp/config.json"));
}

TEST(HostileFiles, ExportRemovesStaleTemporariesAndSaysSo) {
    // A killed export leaves OUT.tmp-PID (~108 MB each in the issue); the next export to the
    // same place removes it and the report says so.
    TempDir tmp;
    const long dead = dead_pid();
    const std::string out = tmp / "out";
    fs::create_directories(out + ".tmp-" + std::to_string(dead));
    write_file(out + ".tmp-" + std::to_string(dead) + "/model.safetensors", std::string(4096, 'x'));
    auto model = load(tinystories());
    QuantSession s(model, nullptr);
    s.apply(rtn(4, 64));
    ExportOptions o;
    o.out_dir = out;
    const ExportReport rep = export_checkpoint(s, o);
    bool said = false;
    for (const auto& n : rep.notes) said = said || n.find("removed " + out + ".tmp-" + std::to_string(dead)) == 0;
    EXPECT_TRUE(said);
    EXPECT_EQ(entries(tmp.path.string()), std::vector<std::string>{"out"});
}
