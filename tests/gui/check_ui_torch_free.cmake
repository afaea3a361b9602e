# The GUI's own files never include libtorch headers (docs/notes.md §4: Qt's `slots` macro, compile
# time): ui/*, and the bridge headers in app/gui that ui/ includes.
file(GLOB files "${SRC}/ui/*.h" "${SRC}/ui/*.cpp" "${SRC}/app/gui/workbench.h" "${SRC}/app/gui/model_session.h"
     "${SRC}/app/gui/job_runner.h" "${SRC}/engine/quant/method_config.h" "${SRC}/engine/quant/quant_spec.h"
     "${SRC}/engine/quant/act_quant.h" "${SRC}/engine/quant/rotation_kind.h" "${SRC}/engine/models/model_summary.h"
     "${SRC}/engine/core/progress.h" "${SRC}/engine/core/error.h"
     "${SRC}/engine/export/export_types.h" "${SRC}/engine/export/workspace.h")
set(bad "")
foreach(f IN LISTS files)
  file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](torch|ATen|c10)/")
  if(lines)
    list(APPEND bad "${f}: ${lines}")
  endif()
  # Engine headers reached from ui/ must not pull in engine headers that include torch.
  file(STRINGS "${f}" quant REGEX "^[ \t]*#[ \t]*include[ \t]*\"(quant/(linear_quant|smoothquant|quant_session|calib_stats|awq|layer_preview|rotation)|models/causal_lm|core/device|export/export)\\.h\"")
  if(quant)
    list(APPEND bad "${f}: ${quant}")
  endif()
endforeach()
if(bad)
  string(REPLACE ";" "\n" bad "${bad}")
  message(FATAL_ERROR "torch headers reached from the GUI:\n${bad}")
endif()
list(LENGTH files n)
message(STATUS "${n} GUI-facing files are torch-free")
