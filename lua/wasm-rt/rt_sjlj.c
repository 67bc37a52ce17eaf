/* Runtime half of LLVM's wasm setjmp/longjmp lowering (the ABI that
 * WebAssemblyLowerEmscriptenEHSjLj uses in wasm-EH mode, LLVM >= 18). */
#include <stdint.h>
#include <stddef.h>
struct jb { void *inv; uint32_t label; struct arg { void *env; int val; } arg; };
void __wasm_setjmp(void *env, uint32_t label, void *inv) {
  struct jb *j = env; if (!label || !inv) __builtin_trap();
  j->inv = inv; j->label = label;
}
uint32_t __wasm_setjmp_test(void *env, void *inv) {
  struct jb *j = env; if (!j->label || !inv) __builtin_trap();
  return j->inv == inv ? j->label : 0;
}
void oxl_throw_longjmp(void *) __attribute__((noreturn));
void __wasm_longjmp(void *env, int val) {
  struct jb *j = env; if (val == 0) val = 1;
  j->arg.env = env; j->arg.val = val;
  oxl_throw_longjmp(&j->arg); __builtin_unreachable();
}
