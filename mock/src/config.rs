//! Command-line configuration.

use crate::knobs::Defaults;

/// How the mock runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The key every provider's auth header must carry.
    pub api_key: String,
    /// Keys that authenticate but are rate-limited: every request with one is a 429 (each
    /// provider's own envelope) with `Retry-After: 30`.
    pub rate_limited_keys: Vec<String>,
    /// The client secret the Yandex token endpoint accepts.
    pub yandex_secret: String,
    /// Timing and chunk defaults that `[[mock …]]` markers override.
    pub defaults: Defaults,
    /// How many requests the log keeps (the oldest go first).
    pub max_records: usize,
    /// No per-request log lines.
    pub quiet: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            api_key: "mock-key".to_string(),
            rate_limited_keys: Vec::new(),
            yandex_secret: "mock-yandex-secret".to_string(),
            defaults: Defaults::default(),
            max_records: 10_000,
            quiet: false,
        }
    }
}

pub const USAGE: &str = "\
flint-mock: a deterministic mock of Flint's upstream providers

USAGE: flint-mock [OPTIONS]

OPTIONS:
  --port N             listen on 127.0.0.1:N (0 = pick a free port) [default: 0]
  --api-key KEY        the key every provider's auth header must carry [default: mock-key]
  --rate-limited-key K a key answered 429 (Retry-After: 30) on every model wire; repeatable
  --yandex-secret S    the Yandex OAuth client secret [default: mock-yandex-secret]
  --ttft-ms N          default time to first byte, ms [default: 0]
  --delay-ms N         default delay between stream chunks, ms [default: 0]
  --chunks N           default number of content chunks in an answer [default: 8]
  --max-records N      requests kept for /__mock/requests [default: 10000]
  --quiet              no per-request log lines on stderr
  -h, --help           this text

Prints `flint-mock listening on http://127.0.0.1:<port>` on stdout once ready.
Per-request knobs: put `[[mock ttft=MS delay=MS chunks=N status=CODE retry_after=S
error_after=N cut_after=N no_usage tools=N max_tokens_ignored fail_once cache_read=N
cache_write=N cache_ttl=5m|1h cache_write_5m=N cache_write_1h=N reasoning=N echo
ping_every=N error_event]]` in a prompt (see mock/README.md).
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Config),
    Help,
}

/// Parses the arguments (without the program name). `--flag value` and `--flag=value`.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut config = Config::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--quiet" => {
                config.quiet = true;
                continue;
            }
            _ => {}
        }
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => args.next().ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                config.port = v.parse::<u16>().map_err(|_| format!("--port: not a port: {v}"))?;
            }
            "--api-key" => config.api_key = value()?,
            "--rate-limited-key" => config.rate_limited_keys.push(value()?),
            "--yandex-secret" => config.yandex_secret = value()?,
            "--ttft-ms" => config.defaults.ttft_ms = number(value()?)?,
            "--delay-ms" => config.defaults.delay_ms = number(value()?)?,
            "--chunks" => config.defaults.chunks = number(value()?)?,
            "--max-records" => config.max_records = number(value()?)? as usize,
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Command::Run(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_every_flag() {
        let Ok(Command::Run(c)) = parse_args(args(
            "--port 8080 --api-key k --yandex-secret y --ttft-ms 5 --delay-ms=6 --chunks 3 --max-records 9 --quiet",
        )) else {
            panic!("expected a config")
        };
        assert_eq!(c.port, 8080);
        assert_eq!(c.api_key, "k");
        assert_eq!(c.yandex_secret, "y");
        assert_eq!(
            c.defaults,
            Defaults {
                ttft_ms: 5,
                delay_ms: 6,
                chunks: 3
            }
        );
        assert_eq!(c.max_records, 9);
        assert!(c.quiet);
    }

    #[test]
    fn rejects_junk() {
        assert!(parse_args(args("--port")).is_err());
        assert!(parse_args(args("--port x")).is_err());
        assert!(parse_args(args("--bogus")).is_err());
        assert_eq!(parse_args(args("-h")), Ok(Command::Help));
        assert_eq!(parse_args(Vec::new()), Ok(Command::Run(Config::default())));
    }
}
