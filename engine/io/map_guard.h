// SIGBUS protection for memory-mapped input files.
//
// Reading a mapped page beyond the end of a file raises SIGBUS, which kills the process; it
// happens when another program truncates or rewrites a checkpoint while QuantScope has it
// mapped (and with zero-copy tensors over the map, a forward pass may touch such a page at any
// time, not only during loading). Every MappedFile registers its mapping here. A process-wide
// SIGBUS handler (installed once, on the first registration) looks the faulting address up:
//  - inside a registered mapping: the faulting page and the rest of the mapping (all beyond the
//    file's new end) are replaced by anonymous zero pages (mmap MAP_FIXED), so the faulting
//    instruction is retried and reads zeros, and the mapping is marked "faulted";
//    MappedFile::check_intact() then reports "the file changed while it was read";
//  - anywhere else: the previous handler runs, or the default action (the process ends with
//    SIGBUS as it would have without QuantScope's handler).
// The handler only reads a fixed table of atomics and calls mmap: async-signal-safe in practice.
#pragma once
#include <cstddef>

namespace qs::map_guard {

// Registers [data, data + size) (mapped with protection `prot`); returns a slot for the calls
// below, or -1 when the table (4096 live mappings) is full, in which case the mapping is not
// protected. Installs the handler on first use.
int register_mapping(const void* data, size_t size, int prot);
// Forgets the slot (call before munmap). -1 is ignored.
void unregister_mapping(int slot);
// True once a SIGBUS was caught inside this mapping.
bool faulted(int slot);

// The handler is installed (for tests).
bool handler_installed();

}  // namespace qs::map_guard
