//! The libraries Redis bundles into its Lua state, ported onto [`LuaStack`](super::vm::LuaStack)
//! (docs/design/scripting.md §4.5).

pub(crate) mod cjson;
pub(crate) mod cmsgpack;
