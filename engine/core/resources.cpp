#include "core/resources.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace fs = std::filesystem;

namespace qs {

std::string executable_dir() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    return exe.parent_path().string();
}

std::string resource_dir() {
    if (const char* env = std::getenv("QUANTSCOPE_RESOURCES"); env && *env) {
        if (!fs::is_directory(env)) throw Error(std::string("QUANTSCOPE_RESOURCES=") + env + " is not a directory");
        return env;
    }
    fs::path dir = fs::path(executable_dir()) / ".." / "share" / "quantscope";
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(dir, ec);
    if (!ec && fs::is_directory(canon)) return canon.string();
    throw Error("cannot find QuantScope's resources: expected the folder " + dir.string() +
                " next to the executable (set QUANTSCOPE_RESOURCES to override)");
}

std::string resource_path(const std::string& relative) { return (fs::path(resource_dir()) / relative).string(); }

std::string default_model_dir() { return resource_path("models/TinyStories-656K"); }

}  // namespace qs
