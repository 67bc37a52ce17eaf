//! The connection command group.

use super::{CmdError, Ctx};

pub fn client_getname(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_id(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_setinfo(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn client_setname(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn echo(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn hello(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn ping(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn quit(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn select(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}
