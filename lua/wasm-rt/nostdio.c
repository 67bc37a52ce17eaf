/* Lua's core references stdio only for print, loadfile/dofile and the panic
 * message. None of them is reachable in a Redis script (print/loadfile/dofile
 * are not in Redis's allow-list), so the wasm build gets inert stand-ins
 * instead of wasi-libc's stdio (which would import wasi_snapshot_preview1). */
#include <stdio.h>
#include <stdarg.h>
FILE *const stdin = 0, *const stdout = 0, *const stderr = 0;
int fputs(const char *s, FILE *f) { (void)s; (void)f; return EOF; }
int fprintf(FILE *f, const char *fmt, ...) { (void)f; (void)fmt; return -1; }
FILE *fopen(const char *p, const char *m) { (void)p; (void)m; return 0; }
FILE *freopen(const char *p, const char *m, FILE *f) { (void)p; (void)m; (void)f; return 0; }
int fclose(FILE *f) { (void)f; return EOF; }
int getc(FILE *f) { (void)f; return EOF; }
int ungetc(int c, FILE *f) { (void)c; (void)f; return EOF; }
size_t fread(void *b, size_t s, size_t n, FILE *f) { (void)b; (void)s; (void)n; (void)f; return 0; }
int ferror(FILE *f) { (void)f; return 1; }
int feof(FILE *f) { (void)f; return 1; }
char *fgets(char *b, int n, FILE *f) { (void)b; (void)n; (void)f; return 0; }
int fflush(FILE *f) { (void)f; return 0; }
/* wasi-libc's vfprintf.o and strtod.o name the standard FILE objects; giving
 * them inert definitions keeps stderr.o/stdout.o (and fd_write) out of the link. */
char __stdin_FILE[128], __stdout_FILE[128], __stderr_FILE[128];
/* luaD_throw exits when an error escapes every protected call: in the engine
 * that is a bug (all entry points use lua_pcall), so trap instead. */
void exit(int code) { (void)code; __builtin_trap(); }
/* rust-lld asks for __wasm_call_dtors; wasi-libc's comes in exit.o (with exit
 * and _Exit -> proc_exit). An empty one keeps that member out. */
void __wasm_call_dtors(void) {}
