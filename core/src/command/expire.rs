//! The expire command group.

use super::{CmdError, Ctx};

pub fn expire(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn expireat(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn expiretime(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn persist(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn pexpire(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn pexpireat(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn pexpiretime(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn pttl(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn ttl(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}
