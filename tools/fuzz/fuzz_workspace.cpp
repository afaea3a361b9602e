// libFuzzer target for the workspace reader: qs::parse_json_text + qs::workspace_from_json.
// Every input is either a workspace or a qs::Error; and a workspace read must be written and
// read back (workspace_to_json -> workspace_from_json) to the same JSON. Built and run by
// run_fuzz.sh.
#include <cstdint>
#include <string>

#include "export/workspace.h"
#include "fuzz_common.h"
#include "io/file_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    qs::Workspace ws;
    bool read = false;
    qs::fuzz::expect_only_qs_errors("fuzz_workspace", [&] {
        // with a file name, so that "path_relative" is resolved against the file system too
        ws = qs::workspace_from_json(qs::parse_json_text(text, "fuzz.qscope"), "fuzz.qscope", "/tmp/fuzz/fuzz.qscope");
        (void)qs::check_model_location(ws);
        read = true;
    });
    if (!read) return 0;
    try {
        ws.config.validate();  // what was read passed the same rules the GUI and the CLI apply
        const nlohmann::json once = qs::workspace_to_json(ws);
        const qs::Workspace again = qs::workspace_from_json(once, "again.qscope");
        if (qs::workspace_to_json(again) != once) qs::fuzz::bug("fuzz_workspace", "write/read round trip changed it");
    } catch (const std::exception& e) {
        qs::fuzz::bug("fuzz_workspace",
                      std::string("a workspace it read cannot be written and read back: ") + e.what());
    }
    return 0;
}
