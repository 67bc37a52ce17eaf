//! The keys command group.

use super::{CmdError, Ctx};

pub fn copy(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn del(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn exists(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn keys(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn move_(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn randomkey(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn rename(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn renamenx(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn scan(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn touch(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn type_(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}

pub fn unlink(_ctx: &mut Ctx, _args: &[&[u8]]) -> Result<(), CmdError> {
    Err(CmdError::err("not implemented yet"))
}
