# Sourced by tests/run.sh when BUILD is a sanitizer build (ASAN=1: -fsanitize in BUILD/version.h): the runtime
# options every test program, end-to-end script and mpirun'd rank of `make test-asan` runs under. Each report goes
# to a file in $SANITIZER_LOGS (one per process, named report.PID), which tests/run.sh checks after every test: a
# report fails the test whatever the exit status, so a rank that leaks while the command around it was expected to
# fail (a bad-input case) is caught too. docs/RELIABILITY.md, "Sanitizers", says why each option is set.
export SANITIZER_LOGS
SANITIZER_LOGS=$(mktemp -d) || return 1
# exitcode 86: no status brainsweep uses, so a check on the exit status fails as well, and says why
report="log_path=$SANITIZER_LOGS/report:exitcode=86"
# ASan's fast unwinder (its default) records allocation stacks: Open MPI's own allocations are recognised by the
# module of the frame above malloc (tests/sanitizers/lsan.supp), which the sanitizer build keeps loaded
# (tests/sanitizers/keep_modules.c). The slow unwinder (fast_unwind_on_malloc=0) would give whole stacks, at more
# than twice the time of the whole run
# intercept_tls_get_addr=0: the leak checker of GCC 12's runtime guesses where a dynamic TLS block starts from the
# layout of glibc 2.19: a block that glibc >= 2.25 mallocs at an address 16 past a 4 KiB boundary is taken for a
# header, and the leak check dies scanning garbage ("Tracer caught signal 11"). Which address the block of the
# library Open MPI's hwloc loads gets depends on the machine (its PCI devices, its cores), so a machine either always
# or never crashes. Since glibc 2.25 these blocks are ordinary heap blocks reachable from the thread's DTV, so the
# leak check still sees what they point to without the interceptor.
# detect_stack_use_after_return=1: a pointer to a returned function's locals is caught too (off by default)
export ASAN_OPTIONS="$report:detect_leaks=1:halt_on_error=1:abort_on_error=0:intercept_tls_get_addr=0:detect_stack_use_after_return=1:handle_abort=1"
# the binaries are built with -fno-sanitize-recover=all: undefined behaviour stops the program at the first report.
# GCC's UBSan runtime is a library of its own beside ASan's, and its log_path does not take (setting the path binds
# to ASan's copy), so its message goes to stderr, which the end-to-end tests keep to themselves: abort_on_error makes
# it raise SIGABRT, which ASan (handle_abort=1 above) turns into a report in the folder, with the stack through the
# __ubsan_handle_* function that names the kind of undefined behaviour and our line that had it
export UBSAN_OPTIONS="$report:halt_on_error=1:abort_on_error=1:print_stacktrace=1:report_error_type=1"
# print_suppressions=0: the table of matched suppressions would otherwise be written to the log of every MPI run
export LSAN_OPTIONS="$report:suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
unset report
