//! The native host's ACL capabilities: the aclfile on disk and random bytes from the kernel.

use oxidis_core::acl::AclHost;
use std::io::{Read, Write};

pub struct NativeAclHost;

impl AclHost for NativeAclHost {
    fn read_file(&mut self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| crate::log::strerror(&e))
    }

    /// As Redis's ACLSaveToFile: a temporary file beside it, renamed over it.
    fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), String> {
        let tmp = format!("{path}.tmp-{}", std::process::id());
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            let msg = crate::log::strerror(&e);
            crate::log::warning(&format!("Writing ACL file for ACL SAVE: {msg}"));
            msg
        })
    }

    fn random_bytes(&mut self, buf: &mut [u8]) -> Result<(), String> {
        // Redis's getRandomBytes seeds from /dev/urandom too.
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(buf))
            .map_err(|e| crate::log::strerror(&e))
    }
}
