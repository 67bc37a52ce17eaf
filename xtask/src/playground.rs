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
    precompress(&dst.join("oxidis_wasm_bg.wasm"))
}

/// Writes `<file>.gz` (gzip -9) and, when a `brotli` program is installed, `<file>.br` beside
/// the file: the static server sends them to browsers that accept the encoding (the .wasm is
/// about 2.2 MB, 0.8 MB gzipped).
pub fn precompress(file: &Path) -> Result<(), String> {
    let gz = Command::new("gzip")
        .args(["-9", "-k", "-f", "-n"])
        .arg(file)
        .status();
    match gz {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(format!("gzip {}: {s}", file.display())),
        Err(e) => eprintln!("note: no gzip ({e}): the .wasm is served uncompressed"),
    }
    if crate::setup::which("brotli").is_some() {
        let s = Command::new("brotli")
            .args(["-q", "11", "-f", "-k"])
            .arg(file)
            .status()
            .map_err(|e| format!("brotli: {e}"))?;
        if !s.success() {
            return Err(format!("brotli {}: {s}", file.display()));
        }
    }
    Ok(())
}

/// The precompressed sibling of `path` to send for a request's Accept-Encoding, if there is
/// one: (its path, the Content-Encoding). Brotli before gzip.
pub fn encoded(path: &Path, accept_encoding: &str) -> Option<(PathBuf, &'static str)> {
    let accepts = |enc: &str| {
        accept_encoding
            .split(',')
            .map(|p| p.split(';').next().unwrap_or("").trim())
            .any(|p| p.eq_ignore_ascii_case(enc))
    };
    for (enc, ext) in [("br", "br"), ("gzip", "gz")] {
        if accepts(enc) {
            let mut name = path.as_os_str().to_owned();
            name.push(".");
            name.push(ext);
            let p = PathBuf::from(name);
            if p.is_file() {
                return Some((p, enc));
            }
        }
    }
    None
}

/// `cargo xtask site [DIR]`: the playground as a static directory (default target/site) that
/// works from any static host: index.html, style.css, js/ and pkg/ (with the precompressed
/// .wasm), every path relative.
pub fn site_cli(args: &[String]) -> std::process::ExitCode {
    let out = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::target_dir().join("site"));
    match prepare().and_then(|()| copy_site(&www_dir(), &out)) {
        Ok(n) => {
            println!(
                "playground site: {n} files in {} (publish the directory as is on any static host)",
                out.display()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cargo xtask site: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Copies the site's files (index.html, style.css, js/, pkg/) from `www` to `out`.
pub fn copy_site(www: &Path, out: &Path) -> Result<usize, String> {
    let _ = std::fs::remove_dir_all(out);
    let mut n = 0;
    fn copy_dir(from: &Path, to: &Path, n: &mut usize) -> Result<(), String> {
        std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
        for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path();
            if path.is_dir() {
                copy_dir(&path, &to.join(entry.file_name()), n)?;
            } else {
                std::fs::copy(&path, to.join(entry.file_name()))
                    .map_err(|e| format!("copy {}: {e}", path.display()))?;
                *n += 1;
            }
        }
        Ok(())
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for f in ["index.html", "style.css"] {
        std::fs::copy(www.join(f), out.join(f)).map_err(|e| format!("copy {f}: {e}"))?;
        n += 1;
    }
    for d in ["js", "pkg"] {
        copy_dir(&www.join(d), &out.join(d), &mut n)?;
    }
    Ok(n)
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
    // The headers: only Accept-Encoding matters.
    let mut h = String::new();
    let mut accept_encoding = String::new();
    while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("accept-encoding") {
                accept_encoding = v.trim().to_string();
            }
        }
        h.clear();
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut out = stream;
    let found = if method == "GET" || method == "HEAD" {
        resolve(root, target).filter(|p| p.is_file()).and_then(|p| {
            let (file, enc) = match encoded(&p, &accept_encoding) {
                Some((f, e)) => (f, Some(e)),
                None => (p.clone(), None),
            };
            std::fs::read(&file).ok().map(|b| (p, b, enc))
        })
    } else {
        None
    };
    let _ = match found {
        Some((p, body, enc)) => {
            let enc = enc
                .map(|e| format!("Content-Encoding: {e}\r\nVary: Accept-Encoding\r\n"))
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\n{enc}Content-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
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
    fn serves_precompressed_files_to_browsers_that_accept_them() {
        let dir = crate::target_dir().join("tmp/playground-encoded-test");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let wasm = dir.join("a.wasm");
        std::fs::write(&wasm, b"\0asm").unwrap();
        assert_eq!(encoded(&wasm, "gzip, deflate, br"), None);
        std::fs::write(dir.join("a.wasm.gz"), b"gz").unwrap();
        assert_eq!(
            encoded(&wasm, "gzip, deflate, br"),
            Some((dir.join("a.wasm.gz"), "gzip"))
        );
        assert_eq!(encoded(&wasm, "identity"), None);
        std::fs::write(dir.join("a.wasm.br"), b"br").unwrap();
        assert_eq!(
            encoded(&wasm, "gzip;q=1.0, br;q=0.9"),
            Some((dir.join("a.wasm.br"), "br"))
        );
        assert_eq!(
            encoded(&wasm, "gzip"),
            Some((dir.join("a.wasm.gz"), "gzip"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_site_is_the_pages_files_only() {
        let dir = crate::target_dir().join("tmp/playground-site-test");
        let _ = std::fs::remove_dir_all(&dir);
        let www = dir.join("www");
        for d in ["js", "pkg", "tests", "node_modules/x"] {
            std::fs::create_dir_all(www.join(d)).unwrap();
        }
        for f in [
            "index.html",
            "style.css",
            "js/app.js",
            "pkg/index.js",
            "tests/t.mjs",
            "node_modules/x/y.js",
            "package.json",
        ] {
            std::fs::write(www.join(f), f).unwrap();
        }
        let out = dir.join("site");
        assert_eq!(copy_site(&www, &out).unwrap(), 4);
        assert!(out.join("js/app.js").is_file() && out.join("pkg/index.js").is_file());
        assert!(!out.join("tests").exists() && !out.join("node_modules").exists());
        assert!(!out.join("package.json").exists());
        let _ = std::fs::remove_dir_all(&dir);
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
