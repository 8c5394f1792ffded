//! `flint-mock`: run the mock upstream provider. See the library docs for the behaviour.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::process::ExitCode;

use flint_mock::config::{parse_args, Command, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("flint-mock: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match flint_mock::bind(&config).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("flint-mock: cannot listen on 127.0.0.1:{}: {e}", config.port);
            return ExitCode::FAILURE;
        }
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => {
            eprintln!("flint-mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "flint-mock listening on http://127.0.0.1:{port}");
    let _ = stdout.flush();
    match flint_mock::serve(listener, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flint-mock: {e}");
            ExitCode::FAILURE
        }
    }
}
