# Sourced by the CLI test scripts: vmem_limit CLI prints the address-space limit (KiB, for
# `ulimit -v`) under which a quantscope-cli run must stay: the size of the libraries it maps
# plus 2.5 GB. An input that makes it allocate without bound then ends in std::bad_alloc (exit 3,
# a test failure) instead of exhausting the machine. QS_TEST_VMEM_KB overrides it. A CUDA build
# (libtorch_cuda: its driver reserves address space at start) and an ASan build get "unlimited" unless
# overridden.
vmem_limit() {
    if [ -n "${QS_TEST_VMEM_KB:-}" ]; then echo "$QS_TEST_VMEM_KB"; return; fi
    local deps libs
    deps=$(ldd "$1" 2>/dev/null || true)  # captured first: grep -q on a pipe may end the writer early (SIGPIPE)
    if grep -q 'libtorch_cuda' <<<"$deps"; then echo unlimited; return; fi
    # AddressSanitizer reserves its 16 TB shadow at start: no address-space limit can hold; the asan
    # preset bounds allocations through ASAN_OPTIONS instead (max_allocation_size_mb, hard_rss_limit_mb).
    if grep -q 'libasan' <<<"$deps"; then echo unlimited; return; fi
    libs=$(awk '/=>/ { print $3 }' <<<"$deps" | xargs -r du -Lk 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
    echo $((libs + 2500000))
}
