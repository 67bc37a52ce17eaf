//! RESP, both directions: requests in (multibulk and inline), replies out (RESP2 and RESP3),
//! and a reply decoder for tests, tools and the playground.

pub mod annotate;
pub mod render;
pub(crate) mod reply;
pub(crate) mod request;
pub mod trace;

pub use reply::{decode_reply, Reply};
pub use request::{
    append_request, append_request_arg, append_request_len, encode_request, request_len,
    split_args, Args, Decoded, ProtocolError, RequestDecoder,
};

pub(crate) use reply::{format_double_g, format_double_g17, ReplyWriter};
