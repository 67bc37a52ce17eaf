# The exception tag used by LLVM's wasm setjmp/longjmp lowering (payload: one
# i32, the address of the {env, val} pair), and the function that throws it.
.globl __c_longjmp
.tagtype __c_longjmp i32
__c_longjmp:

.globl oxl_throw_longjmp
oxl_throw_longjmp:
  .functype oxl_throw_longjmp (i32) -> ()
  local.get 0
  throw __c_longjmp
  unreachable
  end_function
