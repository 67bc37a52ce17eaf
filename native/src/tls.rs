//! TLS (`tls-port`) with rustls: Redis's tls.c configuration (tlsConfigure) turned into a
//! rustls `ServerConfig`, and the server side of a TLS connection over a non-blocking socket.
//! The same stream is the client side of the links this server opens to its peers
//! (`tls-replication`: the master link; `tls-cluster`: the bus links and MIGRATE's
//! connections; the bus listener then requires a client certificate). Those present
//! `tls-client-cert-file`/`tls-client-key-file` when both are set, else the server's
//! certificate and key, and verify the peer's chain against `tls-ca-cert-file`/`-dir` without
//! checking its name (Redis sets no host name to verify).
//!
//! What rustls does not do, and how the parameters behave here:
//! - `tls-protocols`: TLSv1.2 and TLSv1.3 (Redis's default is both). `TLSv1` and `TLSv1.1` are
//!   accepted in the list, as Redis accepts them, but never negotiated: rustls has neither; a
//!   list naming only those is refused at startup.
//! - `tls-ciphersuites` (TLS 1.3, OpenSSL's colon list): the three suites rustls has
//!   (TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256), in the
//!   given order; any other name fails as Redis fails on an unknown suite.
//! - `tls-ciphers` (TLS 1.2, an OpenSSL cipher string): a colon list of OpenSSL names of the
//!   suites rustls has (ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-RSA-AES128-GCM-SHA256,
//!   ECDHE-RSA-CHACHA20-POLY1305 ...); OpenSSL's keywords and operators (DEFAULT, HIGH,
//!   !aNULL, +, @STRENGTH) are not understood and are refused. rustls has no CBC, RSA-kx or
//!   DHE suites, so `tls-dh-params-file` has nothing to configure (accepted, unused).
//! - `tls-prefer-server-ciphers`: rustls always picks by the server's order (as `yes`).
//! - `tls-key-file-pass`, `tls-client-key-file-pass`: encrypted private keys are not
//!   supported (refused at startup).
//! - `tls-session-caching` / `-cache-size`: rustls's in-memory session cache of that size
//!   (tickets off, as Redis's stateful cache); `tls-session-cache-timeout` is not applied.
//! - CONFIG SET tls-* reloads the files and applies to new connections (Redis's applyTlsCfg); a
//!   failure is logged and the CONFIG SET undone. CONFIG SET tls-port does not move the listener.

use oxidis_core::Config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedCipherSuite};
use std::io::{self, Read, Write};
use std::sync::Arc;

fn lossy(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// OpenSSL's names for the suites rustls implements.
const SUITE_NAMES: &[(&str, &str)] = &[
    ("TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"),
    ("TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS13_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// The suites a colon list names (OpenSSL names), from `all`, for TLS 1.3 (`tls13`) or 1.2.
fn pick_suites(
    list: &str,
    all: &[SupportedCipherSuite],
    tls13: bool,
) -> Option<Vec<SupportedCipherSuite>> {
    let mut out = Vec::new();
    for name in list.split(':').filter(|n| !n.is_empty()) {
        let rustls_name = SUITE_NAMES
            .iter()
            .find(|(o, _)| o.eq_ignore_ascii_case(name))?
            .1;
        let suite = all
            .iter()
            .find(|s| s.suite().as_str() == Some(rustls_name))?;
        if matches!(suite, SupportedCipherSuite::Tls13(_)) != tls13 {
            return None;
        }
        out.push(*suite);
    }
    (!out.is_empty()).then_some(out)
}

/// Redis's parseProtocolsConfig: which of TLS 1.2 / 1.3 are enabled.
fn protocols(cfg: &str) -> Result<(bool, bool), String> {
    if cfg.trim().is_empty() {
        return Ok((true, true));
    }
    let (mut v12, mut v13, mut old) = (false, false, false);
    for t in cfg.split(' ').filter(|t| !t.is_empty()) {
        match t.to_ascii_lowercase().as_str() {
            "tlsv1" | "tlsv1.1" => old = true,
            "tlsv1.2" => v12 = true,
            "tlsv1.3" => v13 = true,
            _ => {
                return Err("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.".into())
            }
        }
    }
    if !v12 && !v13 {
        let why = if old {
            "tls-protocols names only TLSv1/TLSv1.1, which Oxidis's TLS (rustls) does not implement."
        } else {
            "Invalid tls-protocols configuration string"
        };
        return Err(why.into());
    }
    Ok((v12, v13))
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{path}: {e}"))?
        .collect();
    let certs = certs.map_err(|e| format!("{path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate found"));
    }
    Ok(certs)
}

/// The trusted CAs: tls-ca-cert-file, then every certificate file in tls-ca-cert-dir.
fn load_roots(file: &str, dir: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let mut add = |path: &str| -> Result<(), String> {
        for c in load_certs(path)? {
            roots.add(c).map_err(|e| format!("{path}: {e}"))?;
        }
        Ok(())
    };
    if !file.is_empty() {
        add(file)?;
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))?;
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths.iter().filter(|p| p.is_file()) {
            // OpenSSL's -CApath holds hashed links and other files: take what parses.
            let _ = add(&p.display().to_string());
        }
    }
    Ok(roots)
}

/// What TLS connections use, made from one configuration: client connections accepted on
/// `tls-port` (verified as tls-auth-clients says), cluster bus connections accepted (a client
/// certificate always required, as Redis's connCreateAcceptedTLS(.., TLS_CLIENT_AUTH_YES)),
/// and the links this server opens (replication, the bus, MIGRATE).
#[derive(Clone)]
struct Configs {
    server: Arc<ServerConfig>,
    bus: Option<Arc<ServerConfig>>,
    client: Option<Arc<ClientConfig>>,
}

/// The TLS configuration new connections get (CONFIG SET tls-* replaces it).
static CURRENT: std::sync::Mutex<Option<Configs>> = std::sync::Mutex::new(None);

/// tls-cluster as last applied (for the synchronous MIGRATE, which has no engine at hand).
static CLUSTER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn configs() -> Option<Configs> {
    CURRENT.lock().ok()?.clone()
}

/// The configuration of connections accepted on `tls-port`.
pub fn current() -> Option<Arc<ServerConfig>> {
    configs().map(|c| c.server)
}

/// The configuration of cluster bus connections accepted (client certificate required).
pub fn bus_server() -> Option<Arc<ServerConfig>> {
    configs().and_then(|c| c.bus)
}

/// tls-cluster: bus links and MIGRATE's connections are TLS (Redis's connTypeOfCluster).
pub fn cluster() -> bool {
    CLUSTER.load(std::sync::atomic::Ordering::Relaxed)
}

/// Redis's applyTlsCfg (the engine's `configure_tls` hook, and startup): when TLS is in use
/// (tls-port, tls-replication or tls-cluster), load `cfg`'s files and install the result for
/// new connections; on failure log why and keep the old one.
pub fn apply(cfg: &Config) -> Result<(), String> {
    if cfg.tls_port == 0 && !cfg.tls_replication && !cfg.tls_cluster {
        CLUSTER.store(false, std::sync::atomic::Ordering::Relaxed);
        return Ok(());
    }
    match configure_all(cfg) {
        Ok(c) => {
            if let Ok(mut cur) = CURRENT.lock() {
                *cur = Some(c);
            }
            CLUSTER.store(cfg.tls_cluster, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            crate::log::warning(&e);
            Err(e)
        }
    }
}

/// The cipher suites and protocol versions tls-ciphersuites, tls-ciphers and tls-protocols
/// allow, shared by both sides.
struct Params {
    provider: Arc<rustls::crypto::CryptoProvider>,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

fn params(cfg: &Config) -> Result<Params, String> {
    let (v12, v13) = protocols(&lossy(&cfg.tls_protocols))?;
    let mut provider = rustls::crypto::ring::default_provider();
    let all = provider.cipher_suites.clone();
    let mut suites: Vec<SupportedCipherSuite> = Vec::new();
    let ciphersuites = lossy(&cfg.tls_ciphersuites);
    if ciphersuites.is_empty() {
        suites.extend(
            all.iter()
                .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_))),
        );
    } else {
        suites.extend(
            pick_suites(&ciphersuites, &all, true)
                .ok_or_else(|| format!("Failed to configure ciphersuites: {ciphersuites}"))?,
        );
    }
    let ciphers = lossy(&cfg.tls_ciphers);
    if ciphers.is_empty() {
        suites.extend(
            all.iter()
                .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_))),
        );
    } else {
        suites.extend(
            pick_suites(&ciphers, &all, false)
                .ok_or_else(|| format!("Failed to configure ciphers: {ciphers}"))?,
        );
    }
    provider.cipher_suites = suites;
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if v13 {
        versions.push(&rustls::version::TLS13);
    }
    if v12 {
        versions.push(&rustls::version::TLS12);
    }
    Ok(Params {
        provider: Arc::new(provider),
        versions,
    })
}

/// A certificate chain and its key, Redis's createSSLContext's loading.
fn load_identity(
    cert_file: &str,
    key_file: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs = load_certs(cert_file)
        .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    Ok((certs, key))
}

/// Redis's tlsConfigure: the server-side, bus and client-side configurations. The error is the
/// warning line Redis logs (then "Failed to configure TLS. Check logs for more info." and
/// exit 1).
fn configure_all(cfg: &Config) -> Result<Configs, String> {
    let cert_file = lossy(&cfg.tls_cert_file);
    let key_file = lossy(&cfg.tls_key_file);
    let ca_file = lossy(&cfg.tls_ca_cert_file);
    let ca_dir = lossy(&cfg.tls_ca_cert_dir);
    if cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    // tls-auth-clients: 0 no, 1 yes, 2 optional (the core's TLS_AUTH).
    let auth = cfg.tls_auth_clients.0;
    if (auth != 0 || cfg.tls_cluster || cfg.tls_replication)
        && ca_file.is_empty()
        && ca_dir.is_empty()
    {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    if !cfg.tls_key_file_pass.is_empty() || !cfg.tls_client_key_file_pass.is_empty() {
        return Err(
            "tls-key-file-pass / tls-client-key-file-pass: encrypted private keys are not supported by Oxidis's TLS (rustls)"
                .into(),
        );
    }
    let Params { provider, versions } = params(cfg)?;
    let (certs, key) = load_identity(&cert_file, &key_file)?;
    // SSL_CTX_load_verify_locations: the CAs, when configured, whoever uses them.
    let roots = if ca_file.is_empty() && ca_dir.is_empty() {
        None
    } else {
        let roots = load_roots(&ca_file, &ca_dir)
            .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?;
        Some(Arc::new(roots))
    };
    let server_config = |auth| -> Result<Arc<ServerConfig>, String> {
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("Failed to configure TLS: {e}"))?;
        let ca_err =
            |e: String| format!("Failed to configure CA certificate(s) file/directory: {e}");
        let builder = match (auth, &roots) {
            (0, _) => builder.with_no_client_auth(),
            (_, None) => return Err(ca_err("no CA configured".into())),
            (_, Some(roots)) => {
                let v =
                    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
                let v = if auth == 2 {
                    v.allow_unauthenticated()
                } else {
                    v
                };
                let v = v.build().map_err(|e| ca_err(e.to_string()))?;
                builder.with_client_cert_verifier(v)
            }
        };
        let mut sc = builder
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
        if cfg.tls_session_caching {
            let size = usize::try_from(cfg.tls_session_cache_size)
                .unwrap_or(0)
                .max(1);
            sc.session_storage = rustls::server::ServerSessionMemoryCache::new(size);
        } else {
            sc.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        }
        sc.ignore_client_order = true;
        Ok(Arc::new(sc))
    };
    let server = server_config(auth)?;
    let bus = roots.as_ref().map(|_| server_config(1)).transpose()?;
    let client = match &roots {
        None => None,
        Some(roots) => {
            // Redis's client context: tls-client-cert-file/-key-file when both are set, else
            // the server's certificate and key.
            let client_cert = lossy(&cfg.tls_client_cert_file);
            let client_key = lossy(&cfg.tls_client_key_file);
            let (certs, key) = if !client_cert.is_empty() && !client_key.is_empty() {
                load_identity(&client_cert, &client_key)?
            } else {
                (certs.clone(), key.clone_key())
            };
            let chain = rustls::client::WebPkiServerVerifier::builder_with_provider(
                roots.clone(),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?;
            let cc = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&versions)
                .map_err(|e| format!("Failed to configure TLS: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(chain)))
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
            Some(Arc::new(cc))
        }
    };
    Ok(Configs {
        server,
        bus,
        client,
    })
}

/// How Redis's client side verifies a peer (SSL_VERIFY_PEER with no host name set): the
/// certificate chain must lead to a configured CA; the names in it are not checked (a master
/// or a cluster node is reached by whatever address it announced).
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError as C;
        // WebPkiServerVerifier checks the chain first, the name last: a name mismatch means
        // the chain was good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                C::NotValidForName | C::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// One TLS connection over a socket `S`, either side: accepted (`new`) or opened by this
/// server (`client`: a replica's master link, a cluster bus link, MIGRATE). Over a
/// non-blocking socket, reads decrypt what the socket has; writes encrypt into rustls's buffer
/// and push records to the socket until it would block (`wants_write` then says records are
/// still queued: the loop keeps WRITABLE). Plaintext written during the handshake waits in
/// rustls until it completes (a client's first command goes with its Finished).
pub struct TlsStream<S> {
    pub sock: S,
    tls: rustls::Connection,
}

/// The client side of a link over a connected blocking socket, the handshake done within
/// `timeout` (MIGRATE's connBlockingConnect); the timeouts stay set on the socket.
pub fn connect_blocking(
    sock: std::net::TcpStream,
    host: &str,
    timeout: std::time::Duration,
) -> io::Result<TlsStream<std::net::TcpStream>> {
    sock.set_read_timeout(Some(timeout))?;
    sock.set_write_timeout(Some(timeout))?;
    let mut t = TlsStream::client(sock, host)?;
    t.handshake()?;
    Ok(t)
}

/// A TLS connection this server opens is wanted but TLS is not configured.
fn not_configured() -> io::Error {
    io::Error::other("TLS is not configured (tls-cert-file, tls-key-file, tls-ca-cert-file)")
}

impl<S: Read + Write> TlsStream<S> {
    pub fn new(sock: S, cfg: Arc<ServerConfig>) -> io::Result<TlsStream<S>> {
        let tls = rustls::ServerConnection::new(cfg).map_err(io::Error::other)?;
        Ok(TlsStream {
            sock,
            tls: tls.into(),
        })
    }

    /// A cluster bus connection accepted on the bus port.
    pub fn accept_bus(sock: S) -> io::Result<TlsStream<S>> {
        TlsStream::new(sock, bus_server().ok_or_else(not_configured)?)
    }

    /// The client side of a link to `host` (connTLSConnect): the ClientHello is queued, to go
    /// with the first write or `handshake`. The certificate's names are not checked against
    /// `host` (see `AnyName`); it is the SNI only when it is a DNS name.
    pub fn client(sock: S, host: &str) -> io::Result<TlsStream<S>> {
        let cfg = configs()
            .and_then(|c| c.client)
            .ok_or_else(not_configured)?;
        let name = ServerName::try_from(host.to_string())
            .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a DNS name"));
        let tls = rustls::ClientConnection::new(cfg, name).map_err(io::Error::other)?;
        Ok(TlsStream {
            sock,
            tls: tls.into(),
        })
    }

    /// The whole handshake on a blocking socket (connTLSBlockingConnect; the socket's
    /// timeouts bound it).
    pub fn handshake(&mut self) -> io::Result<()> {
        while self.tls.is_handshaking() {
            self.tls.complete_io(&mut self.sock)?;
        }
        self.push_records()
    }

    /// The same connection over another handle on its socket (blocking std to mio).
    pub fn map_sock<T>(self, f: impl FnOnce(S) -> T) -> TlsStream<T> {
        TlsStream {
            sock: f(self.sock),
            tls: self.tls,
        }
    }

    /// Encrypted records are queued that the socket has not taken yet.
    pub fn wants_write(&self) -> bool {
        self.tls.wants_write()
    }

    pub fn handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }

    /// Queues close_notify and sends what the socket takes now.
    pub fn close_notify(&mut self) {
        self.tls.send_close_notify();
        let _ = self.push_records();
    }

    /// Writes queued records until done or the socket would block.
    pub fn push_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: an EOF all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    let processed = self.tls.process_new_packets();
                    // Handshake messages, or the alert that explains a failure.
                    let pushed = self.push_records();
                    processed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    pushed?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tls.writer().write(buf)?;
        self.push_records()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_records()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lists() {
        assert_eq!(protocols(""), Ok((true, true)));
        assert_eq!(protocols("TLSv1.2 TLSv1.3"), Ok((true, true)));
        assert_eq!(protocols("tlsv1.3"), Ok((false, true)));
        assert_eq!(protocols("TLSv1 TLSv1.2"), Ok((true, false)));
        assert!(protocols("TLSv1.1").is_err());
        assert!(protocols("SSLv3")
            .unwrap_err()
            .starts_with("Invalid tls-protocols specified"));
    }

    #[test]
    fn suites_by_openssl_name() {
        let all = rustls::crypto::ring::default_provider().cipher_suites;
        let s = pick_suites(
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
            &all,
            true,
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].suite().as_str(),
            Some("TLS13_CHACHA20_POLY1305_SHA256")
        );
        assert!(pick_suites("TLS_AES_128_CCM_SHA256", &all, true).is_none());
        assert!(pick_suites("ECDHE-RSA-AES128-GCM-SHA256", &all, true).is_none());
        assert!(pick_suites("ECDHE-RSA-AES128-GCM-SHA256", &all, false).is_some());
        assert!(pick_suites("HIGH:!aNULL", &all, false).is_none());
    }
}
