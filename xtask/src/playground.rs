//! The playground (www/): preparing it (the wasm package copied into www/pkg), serving it
//! over http for `cargo xtask run`, and its browser test suite (Playwright in headless
//! Chromium, www/tests) for `cargo xtask test`.
//!
//! The site is static (plain ES modules, no bundler), so any static server works; this one
//! is a few dozen lines of std so `cargo xtask run` needs neither python nor node.

use crate::suite::Suite;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// The port `cargo xtask run` serves the playground on when it is free (else any free port).
pub const DEFAULT_PORT: u16 = 8379;

pub fn www_dir() -> PathBuf {
    crate::repo_root().join("www")
}

/// Builds the wasm package and copies it into www/pkg (git-ignored), where the page imports it.
pub fn prepare() -> Result<(), String> {
    crate::wasm::build()?;
    let src = crate::wasm::pkg_dir();
    let dst = www_dir().join("pkg");
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(&dst).map_err(|e| format!("{}: {e}", dst.display()))?;
    for entry in std::fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            std::fs::copy(entry.path(), dst.join(entry.file_name()))
                .map_err(|e| format!("copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The content type of a served file (wasm must be application/wasm for streaming compile).
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ts" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file under `root` a request path names, or None (outside the site, tests, node_modules).
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or("");
    let mut out = root.to_path_buf();
    let mut first = true;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if first && matches!(part, "node_modules" | "tests") {
            return None;
        }
        first = false;
        let c = Path::new(part).components().next()?;
        match c {
            Component::Normal(p) if Path::new(part).components().count() == 1 => out.push(p),
            _ => return None,
        }
    }
    if path.is_empty() || path.ends_with('/') {
        out.push("index.html");
    }
    Some(out)
}

fn handle(root: &Path, stream: TcpStream) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Skip the headers.
    let mut h = String::new();
    while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
        h.clear();
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut out = stream;
    let found = if method == "GET" || method == "HEAD" {
        resolve(root, target).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b)))
    } else {
        None
    };
    let _ = match found {
        Some((p, body)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
                content_type(&p),
                body.len()
            );
            out.write_all(head.as_bytes()).and_then(|()| {
                if method == "GET" {
                    out.write_all(&body)
                } else {
                    Ok(())
                }
            })
        }
        None => out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        ),
    };
}

/// Serves www/ on 127.0.0.1:`port` (a free port if it is taken) from a background thread.
pub fn serve(port: u16) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .or_else(|_| TcpListener::bind(("127.0.0.1", 0)))
        .map_err(|e| format!("cannot listen for the playground: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let root = www_dir();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || handle(&root, stream));
        }
    });
    Ok(addr)
}

/// The suite: prepare the site, install playwright-core, run www/tests (Chromium through
/// playwright-core, Firefox through WebDriver BiDi).
pub fn suite(_: &mut crate::test_all::Ctx, name: &str) -> Suite {
    if let Err(e) = prepare() {
        return Suite::error(name, format!("building the wasm package: {e}"));
    }
    if let Err(e) = crate::setup::npm_ci(&www_dir()) {
        return Suite::error(name, format!("npm: {e}"));
    }
    let mut s = Suite::new(name);
    let shots = crate::target_dir().join("playground-screenshots");
    let mut cmd = Command::new("node");
    // WebSocket for the Firefox test's WebDriver BiDi (built into Node from 22 on).
    cmd.arg("--experimental-websocket")
        .env("SCREENSHOTS", &shots)
        .current_dir(www_dir());
    crate::wasm::run_node_tests(&mut s, cmd);
    s.info.push(format!("screenshots in {}", shots.display()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_only_files_of_the_site() {
        let root = Path::new("/site");
        assert_eq!(resolve(root, "/"), Some(PathBuf::from("/site/index.html")));
        assert_eq!(
            resolve(root, "/js/app.js?x=1"),
            Some(PathBuf::from("/site/js/app.js"))
        );
        assert_eq!(
            resolve(root, "/pkg/oxidis_wasm_bg.wasm"),
            Some(PathBuf::from("/site/pkg/oxidis_wasm_bg.wasm"))
        );
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/js/../../x"), None);
        assert_eq!(
            resolve(root, "/node_modules/playwright-core/index.js"),
            None
        );
        assert_eq!(resolve(root, "/tests/playground.test.mjs"), None);
    }

    #[test]
    fn serves_wasm_as_application_wasm() {
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(
            content_type(Path::new("a.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
    }

    #[test]
    fn serves_the_site_over_http() {
        let addr = serve(0).expect("listen");
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut s, &mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
        assert!(body.contains("Content-Type: text/html"));
        assert!(body.contains("Oxidis"));
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /nope.js HTTP/1.1\r\n\r\n").unwrap();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut s, &mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 404"));
    }
}
