//! redis-server's command line: `oxidis-server [/path/to/redis.conf] [options] [-]`.
//!
//! As in Redis (server.c, main), every `--name value...` becomes a config line `name "value" ...`
//! appended after the config file and stdin, and the whole text is parsed as one redis.conf, so
//! any parameter the core's `Config` knows is a flag, and errors name a line of that text.

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Cli {
    Version,
    Help,
    Run(RunArgs),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunArgs {
    /// The config file as given (the caller makes it absolute).
    pub config_file: Option<String>,
    /// `-` as the first or last argument: read more config from stdin.
    pub config_from_stdin: bool,
    /// The options as config lines (Redis's `options` sds), e.g. `port "7000"\nbind "::1" `.
    pub options: String,
}

/// Parses argv (without argv[0]) exactly as redis-server 7.0 does.
pub fn parse(args: &[String]) -> Cli {
    let Some(first) = args.first() else {
        return Cli::Run(RunArgs::default());
    };
    // Redis only looks for these in the first position.
    match first.as_str() {
        "-v" | "--version" => return Cli::Version,
        "-h" | "--help" => return Cli::Help,
        _ => {}
    }
    let mut run = RunArgs::default();
    let mut j = 0;
    if !first.starts_with('-') {
        run.config_file = Some(first.clone());
        j = 1;
    }
    let argc = args.len();
    let mut handled_last_config_arg = true;
    let opts = &mut run.options;
    while j < argc {
        let a = args[j].as_str();
        if a == "-" && (j == 0 || j == argc - 1) {
            run.config_from_stdin = true;
        } else if handled_last_config_arg && a.starts_with("--") {
            if !opts.is_empty() {
                opts.push('\n');
            }
            opts.push_str(&a[2..]);
            opts.push(' ');
            let mut split = Vec::new();
            let words = if oxidis_core::resp::split_args(a.as_bytes(), &mut split) {
                split.len()
            } else {
                0
            };
            if words == 1 {
                // Only the name (`--port`): its values follow.
                handled_last_config_arg = false;
                let next_is_option = args.get(j + 1).is_some_and(|n| n.starts_with("--"));
                let is_last = j == argc - 1;
                if a.eq_ignore_ascii_case("--save") && (next_is_option || is_last) {
                    // `--save --port 1` and a trailing `--save` mean `save ""` (Redis 7.0.1+).
                    opts.push_str("\"\"");
                    handled_last_config_arg = next_is_option;
                } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    handled_last_config_arg = true;
                }
            } else {
                // Name and value in one argument: `"--port 6380"`.
                handled_last_config_arg = true;
            }
        } else {
            // Quoted as Redis's sdscatrepr, which the config parser's sdssplitargs reads back.
            oxidis_core::resp::render::repr(a.as_bytes(), opts);
            opts.push(' ');
            handled_last_config_arg = true;
        }
        j += 1;
    }
    Cli::Run(run)
}

/// The whole config text Redis parses (loadServerConfig): file, then stdin, then a newline
/// and the options. Error line numbers count in this text.
pub fn config_text(file: Option<&str>, stdin: Option<&str>, options: &str) -> String {
    let mut text = String::new();
    if let Some(f) = file {
        text.push_str(f);
    }
    if let Some(s) = stdin {
        text.push_str(s);
    }
    text.push('\n');
    text.push_str(options);
    text
}

/// Redis's "*** FATAL CONFIG FILE ERROR ***" block for an error from `Config::load_conf`.
/// `load_conf` reports "line N: reason"; the block quotes line N of `text` (trimmed, as Redis
/// shows it). An error without a line number is shown as it is.
pub fn fatal_config_error(text: &str, err: &str, version: &str) -> String {
    let mut out = format!("\n*** FATAL CONFIG FILE ERROR ({version}) ***\n");
    let located = err.strip_prefix("line ").and_then(|rest| {
        let (n, reason) = rest.split_once(": ")?;
        let n: usize = n.parse().ok()?;
        let line = text.split('\n').nth(n.checked_sub(1)?)?;
        Some((n, line.trim_matches([' ', '\t', '\r', '\n']), reason))
    });
    match located {
        Some((n, line, reason)) => {
            out.push_str(&format!(
                "Reading the configuration file, at line {n}\n>>> '{line}'\n{reason}\n"
            ));
        }
        None => {
            out.push_str(err);
            out.push('\n');
        }
    }
    out
}

/// Redis's usage text, for `--help`.
pub fn usage(prog: &str) -> String {
    format!(
        "Usage: {prog} [/path/to/redis.conf] [options] [-]\n       \
{prog} - (read config from stdin)\n       \
{prog} -v or --version\n       \
{prog} -h or --help\n\n\
Examples:\n       \
{prog} (run the server with default conf)\n       \
echo 'maxmemory 128mb' | {prog} -\n       \
{prog} /etc/redis/6379.conf\n       \
{prog} --port 7777\n       \
{prog} /etc/myredis.conf --loglevel verbose -\n       \
{prog} /etc/myredis.conf --loglevel verbose\n\n\
Any redis.conf parameter can be given as --name value [value ...].\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> RunArgs {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args) {
            Cli::Run(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_become_config_lines() {
        let r = run(&["--port", "7000", "--bind", "127.0.0.1", "::1"]);
        assert_eq!(r.options, "port \"7000\" \nbind \"127.0.0.1\" \"::1\" ");
        assert_eq!(r.config_file, None);
        let r = run(&["/etc/r.conf", "--timeout", "1", "-"]);
        assert_eq!(r.config_file.as_deref(), Some("/etc/r.conf"));
        assert!(r.config_from_stdin);
        assert_eq!(r.options, "timeout \"1\" ");
    }

    #[test]
    fn values_are_quoted_like_sdscatrepr() {
        let r = run(&["--port", "\"5", "--x", "a b\\\n\x01"]);
        assert_eq!(r.options, "port \"\\\"5\" \nx \"a b\\\\\\n\\x01\" ");
        let mut back = Vec::new();
        assert!(oxidis_core::resp::split_args(
            r.options.lines().nth(1).unwrap().as_bytes(),
            &mut back
        ));
        assert_eq!(back[1], b"a b\\\n\x01");
    }

    #[test]
    fn save_and_name_value_in_one_argument() {
        assert_eq!(
            run(&["--save", "--port", "1"]).options,
            "save \"\"\nport \"1\" "
        );
        assert_eq!(
            run(&["--port", "1", "--save"]).options,
            "port \"1\" \nsave \"\""
        );
        assert_eq!(
            run(&["--port 6380", "--x", "1"]).options,
            "port 6380 \nx \"1\" "
        );
        // After a bare name, a `--word` is its value.
        assert_eq!(run(&["--x", "--y"]).options, "x \"--y\" ");
    }

    #[test]
    fn version_and_help_only_first() {
        let s = |v: &[&str]| parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["-v"]), Cli::Version);
        assert_eq!(s(&["--help"]), Cli::Help);
        assert!(matches!(s(&["--port", "1", "--version"]), Cli::Run(_)));
    }

    #[test]
    fn fatal_block_quotes_the_line() {
        let text = config_text(None, None, "port \"abc\" ");
        let block = fatal_config_error(
            &text,
            "line 2: argument couldn't be parsed into an integer",
            "Oxidis 0.1.0",
        );
        assert_eq!(
            block,
            "\n*** FATAL CONFIG FILE ERROR (Oxidis 0.1.0) ***\nReading the configuration file, at line 2\n>>> 'port \"abc\"'\nargument couldn't be parsed into an integer\n"
        );
        let block = fatal_config_error(&text, "something else", "V");
        assert!(block.ends_with("***\nsomething else\n"));
        // A line number past the end is not trusted.
        let block = fatal_config_error(&text, "line 9: x", "V");
        assert!(block.ends_with("***\nline 9: x\n"));
    }
}
