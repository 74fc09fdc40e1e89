/* toolchain.c — the C compiler, objcopy and ar of a target, its runtime archive, and linking a
 * compiled model's object and glue into a shared library, a relocatable object or an archive
 * (for lib/compile.c). */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compile.h"

void lib_dir_of(const char *path, char *dir, size_t len) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--; /* "net/" is the folder net, in "." */
  const char *s = NULL;
  for (size_t i = 0; i < n; i++)
    if (path[i] == '/') s = path + i;
  if (!s) snprintf(dir, len, ".");
  else if (s == path) snprintf(dir, len, "/");
  else snprintf(dir, len, "%.*s", (int)(s - path), path);
}

static bool host_arch_is(const char *arch) {
  struct utsname u;
  return !uname(&u) && !strcmp(u.machine, arch);
}

static bool file_exists(const char *p) {
  struct stat st;
  return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* the runtime archive for an architecture: $ONNXC_RT_DIR, in rt/ beside libonnxc (build tree) or
 * beside it (its installed library folder), rt/ beside the executable (build tree), or the
 * installed library folder beside the executable's bin/.  rt/ comes first: the build tree's own
 * folder also holds the internal libonnxc_rt.a, which is sanitized in sanitizer builds, while a
 * model library must not need the sanitizer runtime (cmake/aot.cmake). */
static int find_rtlib(const char *arch, bool native, char *out, size_t len, char *err, size_t errlen) {
  char file[64], exe[4096], dirs[6][4096];
  snprintf(file, sizeof file, native ? "libonnxc_rt.a" : "libonnxc_rt_%s.a", arch);
  int nd = 0;
  const char *env = getenv("ONNXC_RT_DIR");
  if (env) snprintf(dirs[nd++], sizeof dirs[0], "%s", env);
  Dl_info dl;
  if (dladdr((void *)onnxc_session_compile, &dl) && dl.dli_fname && strchr(dl.dli_fname, '/')) {
    char d[4096];
    lib_dir_of(dl.dli_fname, d, sizeof d);
    snprintf(dirs[nd++], sizeof dirs[0], "%.4000s/rt", d);
    snprintf(dirs[nd++], sizeof dirs[0], "%.4000s", d);
  }
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char d[4096];
    lib_dir_of(exe, d, sizeof d);
    snprintf(dirs[nd++], sizeof dirs[0], "%.4000s/rt", d);
    snprintf(dirs[nd++], sizeof dirs[0], "%.4000s/../%s", d, ONNXC_INSTALL_LIBDIR);
  }
  for (int i = 0; i < nd; i++) {
    snprintf(out, len, "%.4000s/%s", dirs[i], file);
    if (file_exists(out)) return 0;
  }
  snprintf(err, errlen, "no onnxc runtime for %s: %s not found in rt/ beside onnxc, in ../%s or in $ONNXC_RT_DIR%s", arch,
           file, ONNXC_INSTALL_LIBDIR,
           native ? "" : " (the build makes it when the cross compiler is installed, e.g. gcc-aarch64-linux-gnu)");
  return -1;
}

int lib_toolchain(const char *triple, Toolchain *tc, char *err, size_t errlen) {
  char arch[32];
  snprintf(arch, sizeof arch, "%.*s", (int)strcspn(triple, "-"), triple);
  bool native = host_arch_is(arch);
  if (native) {
    const char *cc = getenv("ONNXC_CC");
    snprintf(tc->cc, sizeof tc->cc, "%s", cc && *cc ? cc : "cc");
    snprintf(tc->objcopy, sizeof tc->objcopy, "objcopy");
    snprintf(tc->ar, sizeof tc->ar, "ar");
  } else {
    snprintf(tc->cc, sizeof tc->cc, "%s-linux-gnu-gcc", arch);
    snprintf(tc->objcopy, sizeof tc->objcopy, "%s-linux-gnu-objcopy", arch);
    snprintf(tc->ar, sizeof tc->ar, "%s-linux-gnu-ar", arch);
  }
  if (find_rtlib(arch, native, tc->rtlib, sizeof tc->rtlib, err, errlen)) return -1;
  /* `--gemm libxsmm`: onnxc_xsmm_sgemm's archive, which the build puts beside the runtime's */
  char d[4096];
  lib_dir_of(tc->rtlib, d, sizeof d);
  snprintf(tc->xsmm, sizeof tc->xsmm, "%.4000s/libonnxc_xsmm.a", d);
  if (!native || strcmp(arch, "x86_64") || !file_exists(tc->xsmm)) tc->xsmm[0] = 0;
  return 0;
}

/* runs argv (no shell); 0 if it exited 0 */
int lib_run_cmd(char *const argv[], char *err, size_t errlen) {
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
    return -1;
  }
  if (pid == 0) {
    execvp(argv[0], argv);
    _exit(127); /* the parent's message says so (nothing prints in the library) */
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) break;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  snprintf(err, errlen, "%s failed (exit %d)%s", argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1,
           WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": is it installed?" : "");
  return -1;
}


int lib_link_so(const Tmp *t, const Toolchain *tc, bool xsmm, const char *name, const char *out, char *err,
                size_t errlen) {
  FILE *f = fopen(t->vs, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %s", t->vs);
    return -1;
  }
  fprintf(f, "{\n  global: %s_*; onnxc_model_descriptor;\n  local: *;\n};\n", name);
  fclose(f);
  char soname[300], vsopt[200];
  const char *b = strrchr(out, '/');
  snprintf(soname, sizeof soname, "-Wl,-soname,%s", b ? b + 1 : out);
  snprintf(vsopt, sizeof vsopt, "-Wl,--version-script=%s", t->vs);
  char *argv[24] = {(char *)tc->cc, "-shared", "-o", (char *)out, (char *)t->obj, (char *)t->glue_o,
                    (char *)tc->rtlib};
  int n = 7;
  /* with xsmm (`--gemm libxsmm`): onnxc_xsmm_sgemm and libxsmm itself (static and position
   * independent: libonnxc.so links the same archives), its BLAS stubs and what it needs */
  const char *more[] = {tc->xsmm, "-lxsmm", "-lxsmmnoblas", "-lrt", "-ldl"};
  for (int i = 0; xsmm && i < 5; i++) argv[n++] = (char *)more[i];
  const char *tail[] = {"-lm", "-lpthread", vsopt, soname, "-Wl,-z,noexecstack", "-Wl,--as-needed", NULL};
  for (int i = 0; i < 7; i++) argv[n++] = (char *)tail[i];
  return lib_run_cmd(argv, err, errlen);
}

/* one relocatable object holding the model, the glue and the runtime; only NAME_* stay global */
int lib_link_obj(const Tmp *t, const Toolchain *tc, const char *name, const char *out, char *err, size_t errlen) {
  char *ld[] = {(char *)tc->cc, "-r", "-nostdlib", "-o", (char *)t->merged, (char *)t->obj, (char *)t->glue_o,
                "-Wl,--whole-archive", (char *)tc->rtlib, "-Wl,--no-whole-archive", NULL};
  if (lib_run_cmd(ld, err, errlen)) return -1;
  char keep[300];
  snprintf(keep, sizeof keep, "%s_*", name);
  char *oc[] = {(char *)tc->objcopy, "--wildcard", "--keep-global-symbol", keep, (char *)t->merged, (char *)out,
                NULL};
  return lib_run_cmd(oc, err, errlen);
}

int lib_link_lib(const Tmp *t, const Toolchain *tc, const char *name, const char *out, char *err,
                    size_t errlen) {
  char obj[400];
  snprintf(obj, sizeof obj, "%s/%s.o", t->dir, name);
  if (lib_link_obj(t, tc, name, obj, err, errlen)) return -1;
  unlink(out); /* ar would add to an existing archive */
  char *ar[] = {(char *)tc->ar, "rcs", (char *)out, obj, NULL};
  int rc = lib_run_cmd(ar, err, errlen);
  unlink(obj);
  return rc;
}

void lib_tmp_cleanup(const Tmp *t) {
  const char *files[] = {t->obj, t->glue, t->glue_o, t->merged, t->vs, t->hdr};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
  rmdir(t->dir);
}
