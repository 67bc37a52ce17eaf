/* Minimal setjmp.h for wasm32 with LLVM's -wasm-enable-sjlj lowering: the
 * compiler rewrites calls to setjmp/longjmp into __wasm_setjmp / __wasm_longjmp
 * (see rt_sjlj.c) and wasm exception-handling instructions. */
#ifndef OXIDIS_SETJMP_H
#define OXIDIS_SETJMP_H
typedef struct { void *p[4]; } jmp_buf[1];
int setjmp(jmp_buf env) __attribute__((returns_twice));
void longjmp(jmp_buf env, int val) __attribute__((noreturn));
#endif
