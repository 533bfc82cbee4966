// libFuzzer's entry point for programs with their own main (compiler-rt, FuzzerInterface.h; in LLVM since 12).
// SwiftPM gives every executable target its own `main` (it links `main` to `<Target>_main`), so libFuzzer's main
// is never used: each target's @main calls this instead. The symbol comes from the libFuzzer runtime that
// `-sanitize=fuzzer` links.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
