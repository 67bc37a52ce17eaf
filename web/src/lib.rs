//! wasm-bindgen bindings over the oxidis-core Engine (see the wasm issue).
pub use oxidis_core::Engine;
