//! The server command group.

use super::{CmdError, Ctx};

pub fn command_count(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn command_docs(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn command_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn command_info(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn command_list(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn config_get(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn config_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn config_resetstat(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn config_set(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn dbsize(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn flushall(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn flushdb(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn info(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn time(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}
