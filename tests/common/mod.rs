//! The end-to-end harness: one mock provider and one `wrangler dev` per test binary, each with its
//! own state directory, config and secrets, started on first use and stopped when the binary exits
//! (a reaper process kills both process groups even if the test binary aborts).
//!
//! Tests read as stories: `let app = TestApp::new(); app.get_models("tier=lite").await`.
// Children are never waited for: the reaper kills their process groups when this binary exits.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::zombie_processes
)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The API key every provider is configured with; the mock accepts exactly this one.
pub const MOCK_PROVIDER_KEY: &str = "sk-mock-provider-key-7f3a9c1e";
/// A key the mock authenticates but rate-limits: every request with it is a 429 (Retry-After 30).
pub const MOCK_RATE_LIMITED_KEY: &str = "sk-mock-rate-limited-key-2b81d4";
/// A key the mock does not know: every request with it is a 401.
pub const MOCK_REVOKED_KEY: &str = "sk-mock-revoked-key-9d04aa";
pub const JWT_SECRET: &str = "e2e-jwt-secret-0123456789abcdef0123456789abcdef";
/// At least 32 bytes: the gateway refuses a shorter operator token.
pub const ADMIN_TOKEN: &str = "e2e-admin-token-5b8d2f-0123456789abcdef";

pub struct Gateway {
    pub url: String,
    pub mock_url: String,
    pub state_dir: PathBuf,
    pub wrangler_log: PathBuf,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The gateway of this test binary, started on first use.
pub fn gateway() -> &'static Gateway {
    gateway_with(&[])
}

/// The gateway of this test binary with extra vars (every test of a binary must pass the same).
pub fn gateway_with(extra_vars: &'static [(&'static str, &'static str)]) -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    // Started on a plain thread: the blocking health checks must not run inside a test's runtime.
    GATEWAY.get_or_init(|| {
        std::thread::spawn(move || start_gateway(extra_vars))
            .join()
            .expect("the gateway started")
    })
}

pub const GOOGLE_CLIENT_ID: &str = "flint-e2e.apps.googleusercontent.com";
pub const YANDEX_CLIENT_ID: &str = "flint-e2e-yandex";
/// What flint-mock's Yandex token endpoint accepts by default.
pub const YANDEX_CLIENT_SECRET: &str = "mock-yandex-secret";

pub fn target_dir() -> PathBuf {
    // tests run from target/<profile>/deps/<binary>
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn provider_ids() -> Vec<(String, String)> {
    let providers: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("src/catalog/providers.json")).unwrap(),
    )
    .unwrap();
    providers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["wire"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The secrets and vars of a test run: every provider points at the mock, under a path prefix
/// that names it, so recorded requests show which provider was called.
fn dev_vars(mock_url: &str, extra_vars: &[(&str, &str)]) -> String {
    let mut vars = vec![
        format!("JWT_SECRET={JWT_SECRET}"),
        format!("ADMIN_TOKEN={ADMIN_TOKEN}"),
        format!("EMAIL_API_URL={mock_url}/mail"),
        format!("EMAIL_API_KEY={MOCK_PROVIDER_KEY}"),
        "EMAIL_FROM=Flint <noreply@flint.test>".to_owned(),
        format!("GOOGLE_CLIENT_ID={GOOGLE_CLIENT_ID}"),
        format!("GOOGLE_TOKENINFO_URL={mock_url}/google/tokeninfo"),
        format!("YANDEX_CLIENT_ID={YANDEX_CLIENT_ID}"),
        format!("YANDEX_CLIENT_SECRET={YANDEX_CLIENT_SECRET}"),
        format!("YANDEX_OAUTH_URL={mock_url}/yandex/token"),
        format!("YANDEX_INFO_URL={mock_url}/yandex/info"),
        "YOOKASSA_SHOP_ID=123456".to_owned(),
        "YOOKASSA_SECRET_KEY=test_secret_yookassa".to_owned(),
        format!("YOOKASSA_API_URL={mock_url}/yookassa/v3"),
        "USD_RUB_RATE=92.5".to_owned(),
        // Every request of the suite comes from 127.0.0.1 (wrangler dev sets CF-Connecting-IP to
        // it, and passes one a test sends through): the per-IP limits skip it, and the stories
        // about them send CF-Connecting-IP themselves.
        "THROTTLE_EXEMPT_IPS=127.0.0.1".to_owned(),
        // The least the gateway accepts: password hashing is tested as such in the auth stories,
        // and 600,000 iterations per sign-up would only make every story wait on the CPU (and
        // under load, workerd restart the isolate mid-request).
        "PASSWORD_ITERATIONS=100000".to_owned(),
    ];
    for (id, wire) in provider_ids() {
        let prefix = id.to_ascii_uppercase();
        let base = match wire.as_str() {
            "openai" => format!("{mock_url}/{id}/v1"),
            _ => format!("{mock_url}/{id}"),
        };
        vars.push(format!("{prefix}_API_KEY={MOCK_PROVIDER_KEY}"));
        vars.push(format!("{prefix}_BASE_URL={base}"));
    }
    vars.retain(|line| !extra_vars.iter().any(|(k, _)| line.starts_with(&format!("{k}="))));
    vars.extend(extra_vars.iter().map(|(k, v)| format!("{k}={v}")));
    vars.join("\n") + "\n"
}

fn spawn_reaper(pids: &[u32]) {
    let groups: Vec<String> = pids.iter().map(|p| format!("-{p}")).collect();
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; kill -TERM {groups} 2>/dev/null; sleep 2; kill -KILL {groups} 2>/dev/null",
        parent = std::process::id(),
        groups = groups.join(" ")
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start the reaper");
}

/// The mock provider's binary: `FLINT_MOCK_BIN` if set, else `flint-mock` next to this test
/// binary's profile directory, which is where `cargo build -p flint-mock` (same profile, same
/// target directory, `CARGO_TARGET_DIR` included) puts it.
fn mock_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FLINT_MOCK_BIN") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "FLINT_MOCK_BIN={} is not a file", path.display());
        return path;
    }
    let binary = target_dir().join("flint-mock");
    assert!(
        binary.is_file(),
        "the mock provider is not built: {} is missing. `make test` builds it; by hand: \
         `cargo build -p flint-mock` with the same profile and target directory as the tests, \
         or set FLINT_MOCK_BIN to the binary",
        binary.display()
    );
    binary
}

fn start_mock(state_dir: &Path) -> (u32, String) {
    let binary = mock_binary();
    let log_path = state_dir.join("mock.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(&binary)
        .args(["--port", "0", "--api-key", MOCK_PROVIDER_KEY])
        .args(["--rate-limited-key", MOCK_RATE_LIMITED_KEY])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));
    // Its first line says where it listens; a mock that dies or hangs is reported with its log.
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let Some(url) = line.trim().strip_prefix("flint-mock listening on ") else {
        let _ = child.kill();
        let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
        panic!(
            "{} did not come up ({status}); first line {line:?}; its log:\n{}",
            binary.display(),
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    };
    let url = url.to_owned();
    wait_for_mock(&url, &mut child, &log_path);
    (child.id(), url)
}

/// The mock said it listens; "up" is when it answers.
fn wait_for_mock(url: &str, child: &mut std::process::Child, log: &Path) {
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = client
            .get(format!("{url}/__mock/health"))
            .timeout(Duration::from_secs(2))
            .send();
        if answer.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "flint-mock exited ({status}) before answering at {url}; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "flint-mock did not answer {url}/__mock/health within 10 s; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wrangler(root: &Path) -> Command {
    let mut command = Command::new(root.join("node_modules/.bin/wrangler"));
    command
        .current_dir(root)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false");
    command
}

fn start_gateway(extra_vars: &[(&str, &str)]) -> Gateway {
    let root = repo_root();
    let binary_name = std::env::current_exe()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let state_dir = target_dir()
        .join("e2e")
        .join(format!("{binary_name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    std::fs::create_dir_all(&state_dir).unwrap();
    for worker in ["build/worker/shim.mjs", "build/account/worker/shim.mjs"] {
        assert!(
            root.join(worker).exists(),
            "{worker} is missing: run `make test` (it builds both workers first)"
        );
    }
    assert!(
        root.join("build/console/index.html").exists(),
        "build/console is missing: run `make test` (`make build` builds the console too)"
    );

    let (mock_pid, mock_url) = start_mock(&state_dir);
    spawn_reaper(&[mock_pid]);

    // Configs of our own, next to our own .dev.vars (both workers read it): a developer's
    // .dev.vars never leaks in.
    let config_path = state_dir.join("wrangler.toml");
    let account_config_path = state_dir.join("wrangler.account.toml");
    for (name, path) in [
        ("wrangler.toml", &config_path),
        ("wrangler.account.toml", &account_config_path),
    ] {
        let config = std::fs::read_to_string(root.join(name))
            .unwrap()
            .replace("main = \"build/", &format!("main = \"{}/build/", root.display()))
            .replace(
                "directory = \"build/console\"",
                &format!("directory = \"{}/build/console\"", root.display()),
            );
        std::fs::write(path, config).unwrap();
    }
    std::fs::write(state_dir.join(".dev.vars"), dev_vars(&mock_url, extra_vars)).unwrap();
    let persist = state_dir.join("state");

    let output = wrangler(&root)
        .args(["d1", "execute", "DB", "--local", "--file"])
        .arg(root.join("schema.sql"))
        .arg("--persist-to")
        .arg(&persist)
        .arg("--config")
        .arg(&config_path)
        .output()
        .expect("run wrangler d1 execute");
    assert!(
        output.status.success(),
        "loading schema.sql failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let port = free_port();
    let wrangler_log = state_dir.join("wrangler.log");
    let log = std::fs::File::create(&wrangler_log).unwrap();
    let mut child = wrangler(&root)
        .args(["dev", "--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--inspector-port", &free_port().to_string()])
        .arg("--persist-to")
        .arg(&persist)
        // Both workers in one `wrangler dev`: the first config is the one on the port, the
        // second is reached through the gateway's service binding.
        .arg("--config")
        .arg(&config_path)
        .arg("--config")
        .arg(&account_config_path)
        .args([
            "--show-interactive-dev-session=false",
            "--log-level",
            "log",
            "--test-scheduled",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not start node_modules/.bin/wrangler ({e}): run `make test`, it runs `npm ci` first"
            )
        });
    spawn_reaper(&[child.id()]);

    let url = format!("http://127.0.0.1:{port}");
    wait_for_health(&url, &mut child, &wrangler_log);
    Gateway {
        url,
        mock_url,
        state_dir,
        wrangler_log,
    }
}

fn wait_for_health(url: &str, child: &mut std::process::Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let client = reqwest::blocking::Client::new();
    let mut last_answer = String::from("no answer");
    loop {
        if let Ok(response) = client
            .get(format!("{url}/health"))
            .timeout(Duration::from_secs(10))
            .send()
        {
            let status = response.status().as_u16();
            if status == 200 {
                return;
            }
            last_answer = format!("{status} {}", response.text().unwrap_or_default());
        }
        // A wrangler that exited will never answer: say so now rather than after 90 s.
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "wrangler dev exited ({status}) before {url}/health answered; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "wrangler dev did not become healthy at {url} within 90 s (last: {last_answer}); its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs SQL against the gateway's local D1, as an operator's console would (for stories that need
/// a state the API can't produce, like a request whose worker died).
pub fn d1_execute(sql: &str) -> Value {
    let gateway = gateway();
    let root = repo_root();
    // The running gateway writes the same SQLite file: a busy database is retried.
    for _ in 0..30 {
        let output = wrangler(&root)
            .args(["d1", "execute", "DB", "--local", "--json", "--command", sql])
            .arg("--persist-to")
            .arg(gateway.state_dir.join("state"))
            .arg("--config")
            .arg(gateway.state_dir.join("wrangler.toml"))
            .output()
            .expect("run wrangler d1 execute");
        if output.status.success() {
            return serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        }
        let stderr =
            String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout);
        assert!(stderr.contains("SQLITE_BUSY"), "{sql}: {stderr}");
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("{sql}: the database stayed busy");
}

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl TestResponse {
    /// The `Server-Timing` entries in order: each step's name and its `dur` in ms (0 without).
    pub fn server_timing(&self) -> Vec<(String, f64)> {
        self.header("server-timing")
            .unwrap_or_default()
            .split(',')
            .filter_map(|entry| {
                let mut parts = entry.trim().split(';');
                let name = parts.next().unwrap_or_default().trim();
                let dur = parts
                    .find_map(|p| p.trim().strip_prefix("dur="))
                    .and_then(|d| d.parse::<f64>().ok())
                    .unwrap_or(0.0);
                (!name.is_empty()).then(|| (name.to_owned(), dur))
            })
            .collect()
    }

    /// The names of the `Server-Timing` steps, in order.
    pub fn timing_steps(&self) -> Vec<String> {
        self.server_timing().into_iter().map(|(name, _)| name).collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    /// The error's `code`, in either envelope (OpenAI's `error`, Stone's `detail`); empty without.
    pub fn error_code(&self) -> String {
        let body = self.json();
        body["error"]["code"]
            .as_str()
            .or(body["detail"]["code"].as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A client of the running gateway, as a test sees it.
pub struct TestApp {
    pub url: String,
    pub mock_url: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn new() -> TestApp {
        TestApp::with_vars(&[])
    }

    pub fn with_vars(extra_vars: &'static [(&'static str, &'static str)]) -> TestApp {
        let gateway = gateway_with(extra_vars);
        TestApp {
            url: gateway.url.clone(),
            mock_url: gateway.mock_url.clone(),
            // wrangler dev drops idle connections after a few seconds; a pooled one reused
            // after a pause (a blocking `d1_execute`) would fail as an incomplete message.
            client: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(1))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// A client that opens a connection per request and reuses none: after an oversized body
    /// the worker refused, `wrangler dev`'s proxy disturbs the next request on that connection.
    pub fn unpooled() -> TestApp {
        let mut app = TestApp::new();
        app.client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        app
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> TestResponse {
        let response = request.send().await.expect("request reached the gateway");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        TestResponse {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.client.get(format!("{}{path}", self.url))).await
    }

    pub async fn request(&self, method: reqwest::Method, path: &str) -> TestResponse {
        self.send(self.client.request(method, format!("{}{path}", self.url)))
            .await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.send(self.client.post(format!("{}{path}", self.url)).json(body))
            .await
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> TestResponse {
        self.send(
            self.client
                .post(format!("{}{path}", self.url))
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await
    }

    /// The public liveness check.
    pub async fn health(&self) -> TestResponse {
        self.get("/health").await
    }

    /// The deep check of every binding, behind the operator's token.
    pub async fn deep_health(&self) -> TestResponse {
        self.send(
            self.client
                .get(format!("{}/health", self.url))
                .bearer_auth(ADMIN_TOKEN),
        )
        .await
    }

    pub async fn get_models(&self, query: &str) -> TestResponse {
        self.get(&format!("/api/models?{query}")).await
    }

    /// What the mock provider received whose body or URL contains `marker`.
    pub async fn upstream_requests(&self, marker: &str) -> Vec<Value> {
        let response = self
            .client
            .get(format!("{}/__mock/requests", self.mock_url))
            .query(&[("contains", marker)])
            .send()
            .await
            .unwrap();
        response.json::<Vec<Value>>().await.unwrap()
    }
}

/// A signed-up user of the gateway.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub token: String,
}

impl TestApp {
    pub async fn register(&self, email: &str, password: &str) -> TestResponse {
        self.post_json(
            "/api/auth/register",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    /// A POST of `body` from the client address `ip` (as Cloudflare would report it).
    pub async fn post_json_from(&self, ip: &str, path: &str, body: &Value) -> TestResponse {
        self.send(
            self.client
                .post(format!("{}{path}", self.url))
                .header("CF-Connecting-IP", ip)
                .json(body),
        )
        .await
    }

    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> TestResponse {
        self.post_json_from(
            ip,
            "/api/auth/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.post_json(
            "/api/auth/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    /// A fresh account of its own, so tests never share state.
    pub async fn new_user(&self) -> User {
        let email = format!("{}@example.com", unique("user"));
        let password = "correct horse battery".to_owned();
        let body = self.register(&email, &password).await.expect_status(200).json();
        User {
            id: body["user"]["id"].as_i64().unwrap(),
            email,
            password,
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn get_as(&self, token: &str, path: &str) -> TestResponse {
        self.send(self.client.get(format!("{}{path}", self.url)).bearer_auth(token))
            .await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> TestResponse {
        self.send(
            self.client
                .post(format!("{}{path}", self.url))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub async fn delete_as(&self, token: &str, path: &str) -> TestResponse {
        self.send(
            self.client
                .delete(format!("{}{path}", self.url))
                .bearer_auth(token),
        )
        .await
    }

    /// Creates an API key, returning the whole answer (the key is only in it).
    pub async fn create_key(&self, token: &str, body: &Value) -> Value {
        self.post_as(token, "/api/keys", body)
            .await
            .expect_status(201)
            .json()
    }

    /// A new API key of the user's named `name`, with no limits: its secret.
    pub async fn key_secret(&self, token: &str, name: &str) -> String {
        self.create_key(token, &serde_json::json!({"name": name})).await["key"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The keys a client suite pays with and is refused with: `name`, of a new user with `usd`
    /// on the balance (returned too, for its books), and `name-broke`, of a new user with nothing.
    pub async fn funded_and_broke_keys(&self, usd: f64, name: &str) -> (User, String, String) {
        let funded = self.funded_user(usd).await;
        let key = self.key_secret(&funded.token, name).await;
        let broke = self.new_user().await;
        let broke_key = self.key_secret(&broke.token, &format!("{name}-broke")).await;
        (funded, key, broke_key)
    }

    /// Uploads `bytes` as the file `name` of type `mime`, as the console's form does.
    pub async fn upload(&self, token: &str, bytes: Vec<u8>, name: &str, mime: &str) -> TestResponse {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .unwrap();
        self.send(
            self.client
                .post(format!("{}/api/chat/upload", self.url))
                .bearer_auth(token)
                .multipart(reqwest::multipart::Form::new().part("file", part)),
        )
        .await
    }
}

// ---- email codes: the mock mail service keeps every mail it was sent

impl TestApp {
    /// Asks for a sign-up code to be mailed to `email`.
    pub async fn send_code(&self, email: &str) -> TestResponse {
        self.post_json("/auth/send-code", &serde_json::json!({"email": email}))
            .await
    }

    /// Offers `code` as the one mailed to `email`.
    pub async fn verify_email(&self, email: &str, code: &str) -> TestResponse {
        self.post_json(
            "/auth/verify-email",
            &serde_json::json!({"email": email, "code": code}),
        )
        .await
    }

    /// The newest mail the mock mail service received for `email`.
    pub async fn last_mail(&self, email: &str) -> Value {
        let mails = self.upstream_requests(email).await;
        mails
            .into_iter()
            .rev()
            .find(|m| m["path"].as_str().unwrap_or_default().ends_with("/emails"))
            .expect("a mail")
    }

    /// The code in the newest mail to `email`.
    pub async fn mailed_code(&self, email: &str) -> String {
        code_in(&self.last_mail(email).await)
    }
}

/// The six-digit code a mail's text carries.
pub fn code_in(mail: &Value) -> String {
    mail["body"]["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_owned()
}

/// A well-formed code that is not `code`.
pub fn wrong_code(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_owned()
}

impl TestApp {
    /// Credits a user through the operator API.
    pub async fn credit(&self, user_id: i64, amount_usd: f64, reference: &str) -> TestResponse {
        self.send(
            self.client
                .post(format!("{}/admin/users/{user_id}/credit", self.url))
                .bearer_auth(ADMIN_TOKEN)
                .json(&serde_json::json!({"amount_usd": amount_usd, "reference": reference})),
        )
        .await
    }

    /// A fresh user with `usd` on the balance.
    pub async fn funded_user(&self, usd: f64) -> User {
        let user = self.new_user().await;
        self.credit(user.id, usd, &unique("fund"))
            .await
            .expect_status(200);
        user
    }

    pub async fn chat(&self, token: &str, body: &Value) -> TestResponse {
        self.post_as(token, "/v1/chat/completions", body).await
    }

    /// Sends a chat (streamed, with its usage chunk, when `stream`) and expects a 200.
    pub async fn chat_streamed_if(&self, stream: bool, token: &str, body: &Value) -> TestResponse {
        let mut body = body.clone();
        body["stream"] = Value::Bool(stream);
        if stream {
            body["stream_options"] = serde_json::json!({"include_usage": true});
        }
        let response = self.chat(token, &body).await;
        response.expect_status(200);
        response
    }

    /// Sends a chat and hands back the response unread, for reading a stream as it arrives.
    pub async fn open_chat(&self, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/chat/completions", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request reached the gateway")
    }

    /// Waits (up to 20 s) until the balance is `usd`: bills settle in a background task.
    pub async fn wait_for_balance(&self, token: &str, usd: f64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let balance = self.balance(token).await;
            if balance == usd {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the balance stayed {balance}, not {usd}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (up to 20 s) until the balance drops below `usd` (a charge settled).
    pub async fn wait_for_balance_below(&self, token: &str, usd: f64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.balance(token).await >= usd {
            assert!(
                std::time::Instant::now() < deadline,
                "the balance stayed at least {usd}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The user's balance in USD, as /auth/me shows it.
    pub async fn balance(&self, token: &str) -> f64 {
        self.get_as(token, "/auth/me").await.expect_status(200).json()["user"]["balance_usd"]
            .as_f64()
            .unwrap()
    }
}

/// The status and charge of the hold of `request_id`, as D1 has them.
pub fn hold_settlement(request_id: &str) -> Value {
    d1_execute(&format!(
        "SELECT status, charged_nanos FROM holds WHERE request_id = '{request_id}'"
    ))[0]["results"][0]
        .clone()
}

impl TestApp {
    /// Runs the sweeper now: wrangler dev's route for the scheduled handler, with its cron.
    pub async fn run_sweeper(&self) {
        let fired = self
            .client
            .get(format!("{}/__scheduled", self.url))
            .query(&[("cron", "*/5 * * * *")])
            .send()
            .await
            .unwrap();
        let status = fired.status();
        assert!(
            status.is_success(),
            "the sweeper failed: {}",
            fired.text().await.unwrap()
        );
    }

    /// Puts a user on `plan` with per-user `overrides` through the operator API.
    pub async fn set_plan(&self, user_id: i64, plan: &str, overrides: Value) -> TestResponse {
        let mut body = serde_json::json!({"plan": plan});
        if !overrides.is_null() {
            body["overrides"] = overrides;
        }
        self.send(
            self.client
                .put(format!("{}/admin/users/{user_id}/plan", self.url))
                .bearer_auth(ADMIN_TOKEN)
                .json(&body),
        )
        .await
    }

    /// The user's whole ledger, newest first.
    pub async fn history(&self, token: &str) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/billing/history?limit=100&cursor={c}"),
                None => "/api/billing/history?limit=100".to_owned(),
            };
            let page = self.get_as(token, &path).await.expect_status(200).json();
            entries.extend(page["entries"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return entries,
            }
        }
    }

    /// The books balance: the balance equals credits minus charges, and is never negative.
    pub async fn assert_books_balance(&self, token: &str) -> f64 {
        let balance = self.balance(token).await;
        let entries = self.history(token).await;
        let micros: i64 = entries
            .iter()
            .map(|e| (e["amount_usd"].as_f64().unwrap() * 1e6).round() as i64)
            .sum();
        let balance_micros = (balance * 1e6).round() as i64;
        // Every ledger amount is whole micro-dollars: the entries add up exactly.
        assert_eq!(
            micros, balance_micros,
            "ledger sums to {micros} µ$, balance is {balance_micros} µ$"
        );
        assert!(balance >= 0.0, "negative balance {balance}");
        if let Some(newest) = entries.first() {
            assert_eq!(
                newest["balance_usd"].as_f64().unwrap(),
                balance,
                "the newest entry's balance_usd is the balance"
            );
        }
        balance
    }
}

/// `bytes` as a streamed body: sent chunked, 64 KiB at a time, without a Content-Length.
pub fn chunked(bytes: &[u8]) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| {
            event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(str::to_owned)
        })
        .collect()
}

/// A unique marker for a test's prompts, emails and references.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}{}x{nanos:x}{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A model's per-1M-token prices as `/api/models` shows them, in micro-USD per 1M tokens.
/// A model without cache prices (the catalog before they were added, or a provider without a
/// prompt cache) has its cache tokens priced as input, as `TokenUsage::cost` does.
#[derive(Debug, Clone, Copy)]
pub struct TokenPrices {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl TestApp {
    pub async fn token_prices(&self, model: &str) -> TokenPrices {
        let models = self.get_models("").await.expect_status(200).json();
        let row = models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == model)
            .unwrap_or_else(|| panic!("{model} is not in /api/models"))
            .clone();
        let micros = |field: &str| row[field].as_f64().map(|usd| (usd * 1e6).round() as u64);
        let input = micros("price_input").unwrap();
        TokenPrices {
            input,
            output: micros("price_output").unwrap(),
            cache_read: micros("price_cache_read").unwrap_or(input),
            cache_write: micros("price_cache_write").unwrap_or(input),
        }
    }

    /// Asserts that the newest charge, once settled below `balance_before_usd`, is what `usage`
    /// costs at `prices` (`charge_micros`); that charge.
    pub async fn assert_charged(
        &self,
        token: &str,
        balance_before_usd: f64,
        usage: &flint_mock::Usage,
        prices: &TokenPrices,
        context: &str,
    ) -> i64 {
        let charge = charge_micros(usage, prices);
        assert_eq!(
            self.last_charge_micros(token, balance_before_usd).await,
            charge,
            "{context}"
        );
        charge
    }

    /// The newest ledger entry's charge in micro-dollars (positive), once the bill settled.
    pub async fn last_charge_micros(&self, token: &str, balance_before_usd: f64) -> i64 {
        self.wait_for_balance_below(token, balance_before_usd).await;
        let newest = self.history(token).await.into_iter().next().unwrap();
        assert_eq!(newest["kind"], "charge", "{newest}");
        -(newest["amount_usd"].as_f64().unwrap() * 1e6).round() as i64
    }
}

/// What the gateway charges for `usage` at `prices`: `TokenUsage::cost`'s formula (each part
/// rounded up to the nano-dollar: uncached input, cache reads, 5-minute writes at the cache
/// write price, 1-hour writes at twice the input price, output), rounded up to whole
/// micro-dollars.
pub fn charge_micros(usage: &flint_mock::Usage, prices: &TokenPrices) -> i64 {
    let part = |tokens: u64, price: u64| (u128::from(tokens) * u128::from(price)).div_ceil(1000);
    let uncached = usage.input - usage.cache_read - usage.cache_write_5m - usage.cache_write_1h;
    let nanos = part(uncached, prices.input)
        + part(usage.cache_read, prices.cache_read)
        + part(usage.cache_write_5m, prices.cache_write)
        + part(usage.cache_write_1h, 2 * prices.input)
        + part(usage.output, prices.output);
    nanos.div_ceil(1000) as i64
}

/// `(prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens)` of an OpenAI usage.
pub fn openai_usage_counts(usage: &Value) -> (u64, u64, u64, u64) {
    (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
        usage["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap(),
    )
}

/// Node's test runner over `files` of tests/sdk (the official and Flint's SDKs' suites).
pub fn node_tests(files: &[&str]) -> Command {
    let mut command = Command::new("node");
    command
        .arg("--test")
        .args(files.iter().map(|f| repo_root().join("tests/sdk").join(f)));
    command
}

/// The Python of `.venv-sdk`, where `scripts/setup.sh` installs the SDKs the Python suites use.
pub fn sdk_python() -> PathBuf {
    let python = repo_root().join(".venv-sdk/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (make test does)",
        python.display()
    );
    python
}

/// Runs a client's own test suite (Node's test runner, the Python SDK's script) from the repo
/// root, without the OpenAI SDKs' environment defaults, prints its report and fails with it.
pub fn run_client_tests(what: &str, command: &mut std::process::Command) {
    let output = command
        .current_dir(repo_root())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("run the {what} tests: {e}"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    assert!(output.status.success(), "the {what} tests failed:\n{report}");
}
