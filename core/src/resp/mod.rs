//! RESP, both directions: requests in (multibulk and inline), replies out (RESP2 and RESP3),
//! and a reply decoder for tests, tools and the playground.

pub mod annotate;
pub mod render;
pub mod reply;
pub mod request;

pub use reply::{decode_reply, format_double_g17, Reply, ReplyWriter};
pub use request::{
    append_request, append_request_arg, append_request_len, encode_request, parse_i64, split_args,
    Decoded, ProtocolError, RequestDecoder,
};
