//! The test side's shared tools, used by xtask and by native's integration tests (core does
//! not depend on this crate; it depends on core):
//!
//! - [`conn`]: [`Conn`], the one blocking RESP connection (core's request encoder and reply
//!   decoder over a `TcpStream`);
//! - [`server`]: free ports, waiting for a server to accept, [`Server`] (a child process
//!   stopped on drop);
//! - [`transcripts`]: the one walk of `testdata/golden`;
//! - [`golden_tcp`]: the golden-transcript driver over TCP, and recording a transcript from a
//!   reference server.

pub mod conn;
pub mod golden_tcp;
pub mod server;
pub mod transcripts;

pub use conn::Conn;
pub use server::Server;
