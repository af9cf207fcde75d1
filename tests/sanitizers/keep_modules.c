/*
 * keep_modules: linked into every program of a sanitizer build (ASAN=1), never into a release build. Its dlclose
 * keeps every shared object loaded until the process ends, so that the leak report at exit can still name the
 * module of each frame.
 *
 * Why: Open MPI dlopens its components (mca_*.so) and dlcloses them in MPI_Finalize. An allocation made by a
 * component and never freed is then reported from an `<unknown module>`, and the address range may since have been
 * reused by another library, so the report names an unrelated one; tests/sanitizers/lsan.supp could only recognise
 * such allocations from the whole stack down to MPI_Init, which needs ASan's slow unwinder in every malloc
 * (fast_unwind_on_malloc=0: the libraries are built without frame pointers), and that took most of `make
 * test-asan`'s time. With the modules kept, ASan's fast unwinder's first frame names the library that allocated,
 * and lsan.supp matches it by module. Open MPI 4.1 has no setting of its own for this.
 *
 * A definition in the executable comes before libc's in the dynamic linker's search, so every library's call
 * lands here. Loading the same object again, or a dlsym on the handle, works as before; nothing ever unloads.
 */
#include <dlfcn.h>

int dlclose(void *handle) {
    (void)handle;
    return 0;
}
