pub fn cli(_args: &[String]) -> std::process::ExitCode { std::process::ExitCode::SUCCESS }
