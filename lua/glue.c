/* oxidis-lua's C side: the few things that must be C because they may raise a Lua
 * error (lua_error is a longjmp, which must never cross a Rust frame). Rust functions
 * called from here return a status; the raise happens after they have returned. Nothing
 * Redis-specific lives here: the rules are the core's (core/src/script). */
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "lstate.h" /* G(L)->GCthreshold, for oxl_gc_hold */

/* Implemented in src/lib.rs. */
extern int oxl_rust_api(lua_State *L, int fn_id); /* >= 0: results; < 0: raise the top */
extern int oxl_rust_hook(lua_State *L);           /* 0: continue; < 0: raise the top */
extern int oxl_rust_panic(lua_State *L);          /* an error outside any pcall: aborts */

/* Every API function is this closure; upvalue 1 is the core's function number, the
 * caller's upvalues follow (LuaStack::upvalue_index shifts by one). */
static int api_trampoline(lua_State *L) {
  int n = oxl_rust_api(L, (int)lua_tonumber(L, lua_upvalueindex(1)));
  if (n < 0) return lua_error(L);
  return n;
}

void oxl_push_api_fn(lua_State *L, int fn_id, int nup) {
  lua_pushnumber(L, (lua_Number)fn_id);
  lua_insert(L, -(nup + 1));
  lua_pushcclosure(L, api_trampoline, nup + 1);
}

static void hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (oxl_rust_hook(L) < 0) lua_error(L);
}

/* mode: 0 off, 1 every `count` instructions, 2 every line. */
void oxl_sethook(lua_State *L, int mode, int count) {
  if (mode == 1)
    lua_sethook(L, hook, LUA_MASKCOUNT, count);
  else if (mode == 2)
    lua_sethook(L, hook, LUA_MASKLINE, 0);
  else
    lua_sethook(L, NULL, 0, 0);
}

/* lua_rawset / lua_rawseti / lua_setmetatable without the readonly error: 0 (and the
 * operands popped) where the patched functions would raise. */
int oxl_rawset(lua_State *L, int idx) {
  if (lua_isreadonlytable(L, idx)) { lua_pop(L, 2); return 0; }
  lua_rawset(L, idx);
  return 1;
}

int oxl_rawseti(lua_State *L, int idx, int n) {
  if (lua_isreadonlytable(L, idx)) { lua_pop(L, 1); return 0; }
  lua_rawseti(L, idx, n);
  return 1;
}

int oxl_setmetatable(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TTABLE && lua_isreadonlytable(L, idx)) { lua_pop(L, 1); return 0; }
  lua_setmetatable(L, idx);
  return 1;
}

/* The libraries Redis loads, in its order (eval.c luaLoadLibraries). */
void oxl_open_libs(lua_State *L) {
  static const luaL_Reg libs[] = {
    {"", luaopen_base},
    {LUA_TABLIBNAME, luaopen_table},
    {LUA_STRLIBNAME, luaopen_string},
    {LUA_MATHLIBNAME, luaopen_math},
    {LUA_DBLIBNAME, luaopen_debug},
    {NULL, NULL}
  };
  const luaL_Reg *lib;
  for (lib = libs; lib->func; lib++) {
    lua_pushcfunction(L, lib->func);
    lua_pushstring(L, lib->name);
    lua_call(L, 1, 0);
  }
}

void oxl_atpanic(lua_State *L) {
  lua_atpanic(L, oxl_rust_panic);
}

/* The collector runs only while Lua code runs inside load/pcall with no Rust frame on
 * the stack: a __gc finalizer (newproxy is on Redis's allow-list) may raise, and a raise
 * from a collection triggered by an allocation in host code would cross Rust frames, or
 * with no pcall at all end in Lua's panic. Holding the threshold at its maximum keeps
 * luaC_checkGC from stepping (as LUA_GCSTOP does); releasing restores the exact value, so
 * the pacing of the collector is what it would have been. */
size_t oxl_gc_hold(lua_State *L) {
  global_State *g = G(L);
  lu_mem t = g->GCthreshold;
  g->GCthreshold = MAX_LUMEM;
  return (size_t)t;
}

void oxl_gc_release(lua_State *L, size_t threshold) {
  G(L)->GCthreshold = (lu_mem)threshold;
}

static int gc_collect(lua_State *L) {
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}

/* A full collection, protected: a finalizer's error is dropped (0 = none). */
int oxl_gc_collect(lua_State *L) {
  int status = lua_cpcall(L, gc_collect, NULL);
  if (status != 0) lua_pop(L, 1);
  return status;
}
