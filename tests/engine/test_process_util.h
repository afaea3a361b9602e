// Running quantscope-cli (QS_CLI_PATH) from engine tests, for what a shell script cannot time
// precisely: signals in the middle of a write, truncating a file while it is mapped.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace qs::test {

struct Child {
    pid_t pid = -1;
    std::string out_path, err_path;

    // Exit code as a shell reports it: the status, or 128 + the signal that ended it.
    int wait() {
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::string err() const { return slurp(err_path); }
    std::string out() const { return slurp(out_path); }
    static std::string slurp(const std::string& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    ~Child() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            wait();
        }
    }
};

// Starts `quantscope-cli args...` with stdout/stderr in files next to `log_prefix`. `limit_fsize`
// (bytes, 0 = none) sets RLIMIT_FSIZE in the child, as `ulimit -f` does.
inline Child spawn_cli(const std::vector<std::string>& args, const std::string& log_prefix, uint64_t limit_fsize = 0) {
    Child c;
    c.out_path = log_prefix + ".out";
    c.err_path = log_prefix + ".err";
    // Everything allocated before fork(): the test process has other threads (libtorch).
    std::vector<std::string> all = {QS_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s = {"OMP_NUM_THREADS=1"};
    for (char** e = environ; *e; ++e)
        if (std::string(*e).rfind("OMP_NUM_THREADS=", 0) != 0) env_s.push_back(*e);
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    c.pid = ::fork();
    if (c.pid == 0) {
        const int o = ::open(c.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int e = ::open(c.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(o, 1);
        ::dup2(e, 2);
        if (limit_fsize) {
            struct rlimit rl {
                limit_fsize, limit_fsize
            };
            ::setrlimit(RLIMIT_FSIZE, &rl);
        }
        ::signal(SIGXFSZ, SIG_DFL);  // as from a shell: the program must deal with it itself
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    return c;
}

// Polls `pred` every 200 us for up to `seconds`; true as soon as it holds.
inline bool wait_for(const std::function<bool()>& pred, double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return pred();
}

// True while process `pid` has `path` memory-mapped (/proc/PID/maps).
inline bool maps_file(pid_t pid, const std::string& path) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
    std::string line;
    while (std::getline(in, line))
        if (line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0) return true;
    return false;
}

}  // namespace qs::test
