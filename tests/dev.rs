//! `make dev` as a new user meets it: `scripts/dev.sh` in a checkout with no `.dev.vars` and no
//! state, with no provider key. It must generate its secrets, start the bundled mock, bring up
//! both workers, and only then say it is serving; and what it says must be true: a chat answers
//! from the mock, and the account worker got the same offline settings (email codes in the log,
//! payments at the mock's YooKassa).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

/// A checkout of our own: every top-level entry of the repository linked in, except the files a
/// run of `make dev` writes (`.dev.vars`, `.wrangler/`) and the target directory.
fn checkout(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(common::repo_root()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if [".dev.vars", ".wrangler", "target", ".git"].contains(&name.to_str().unwrap_or("")) {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), dir.join(&name)).unwrap();
    }
}

/// Stops the script's process group (the script, wrangler, the mock) when the test ends.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-s", "TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

#[test]
fn make_dev_serves_both_workers_offline_and_says_so_only_once_they_answer() {
    let dir = common::target_dir()
        .join("e2e")
        .join(format!("dev-{}", std::process::id()));
    checkout(&dir);
    let port = common::free_port();
    let mut script = Command::new(dir.join("scripts/dev.sh"))
        .arg(port.to_string())
        .env("MOCK_PORT", common::free_port().to_string())
        .env("MOCK_PROFILE", "dev")
        .env("CARGO_TARGET_DIR", common::target_dir().parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let (stdout, stderr) = (script.stdout.take().unwrap(), script.stderr.take().unwrap());
    let _group = Group(script);
    let (lines, output) = mpsc::channel::<String>();
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
    }
    let mut log = Vec::new();
    let next_line = |log: &mut Vec<String>, within: Duration| {
        let line = output.recv_timeout(within).ok()?;
        log.push(line.clone());
        Some(line)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let Some(line) = next_line(
            &mut log,
            deadline.saturating_duration_since(std::time::Instant::now()),
        ) else {
            panic!(
                "make dev never said it is serving; its output:\n{}",
                log.join("\n")
            );
        };
        if line.contains("serving http://127.0.0.1:") {
            break;
        }
    }
    let said = log.join("\n");
    assert!(said.contains("generated a random one there"), "{said}");
    assert!(said.contains("started the bundled mock provider"), "{said}");
    let vars = std::fs::read_to_string(dir.join(".dev.vars")).unwrap();
    assert!(
        vars.lines().any(|l| l.starts_with("JWT_SECRET="))
            && vars.lines().any(|l| l.starts_with("ADMIN_TOKEN="))
    );
    assert!(
        !vars.contains("mock-key"),
        "the mock's settings were written into the user's .dev.vars"
    );

    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut request = client.post(format!("{url}{path}")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };
    // The README's first steps: sign up (the account worker), chat (the gateway and the mock).
    let (status, registered) = post(
        "/api/auth/register",
        None,
        json!({"email": "newcomer@example.com", "password": "a long password"}),
    );
    assert_eq!(status, 200, "{registered}");
    let token = registered["token"].as_str().unwrap().to_owned();
    let (status, answer) = post(
        "/v1/chat/completions",
        Some(&token),
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Привет!"}]}),
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Mock answer"),
        "{answer}"
    );
    // The account worker got the offline settings too: codes go to the log, payments to the mock.
    let (status, sent) = post("/auth/send-code", None, json!({"email": "code@example.com"}));
    assert_eq!(status, 200, "{sent}");
    let (status, topup) = post("/api/billing/topup", Some(&token), json!({"amount_usd": 5}));
    assert_eq!(status, 200, "{topup}");
    let confirmation = topup["confirmation_url"].as_str().unwrap_or_default();
    assert!(confirmation.starts_with("http://127.0.0.1:"), "{topup}");
    let logged = loop {
        match next_line(&mut log, Duration::from_secs(10)) {
            Some(line) if line.contains("email code for code@example.com") => break true,
            Some(_) => {}
            None => break false,
        }
    };
    assert!(
        logged,
        "the email code was not printed; make dev's output:\n{}",
        log.join("\n")
    );
}
