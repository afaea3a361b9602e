// The quantscope-cli commands. Each returns the process exit code; errors are thrown as
// qs::Error and reported by main().
#pragma once
#include "args.h"

namespace qs::cli {

int cmd_info(const Args& a);
int cmd_check(const Args& a);
int cmd_generate(const Args& a);
int cmd_ppl(const Args& a);
int cmd_sweep(const Args& a);
int cmd_quantize(const Args& a);
void print_help();
void print_version();

}  // namespace qs::cli
