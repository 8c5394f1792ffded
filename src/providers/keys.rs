//! Key pools: `<ID>_API_KEY` may hold several keys, comma-separated. Requests take the healthy
//! keys in turn; a key answered 401 or 403 is out for `OUT_FOR_MS` (a revoked key does not come
//! back by itself — the operator replaces it — and five minutes bound a mistaken verdict to one
//! wasted try per isolate), one answered 429 rests for its `Retry-After`. A request whose key
//! fails moves to the next key before its first byte, so the client never sees it. A provider
//! with a single key is called as before, its errors passed on: there is nowhere to move to.
//!
//! Where the health lives: every isolate keeps its own view, so the hot path makes no remote
//! call for it; what an isolate learns it reports to the provider's instance of the `LIMITER`
//! Durable Object (`keys:<provider>`), and every isolate reads that instance back at most every
//! `SYNC_EVERY_MS`, in the background. So a key refused anywhere is skipped everywhere within
//! seconds, and an isolate that has not heard yet tries it once and moves on. Keys are named by a
//! fingerprint (a hash prefix) in the object, the logs and the operator's view, never in full.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use worker::{Env, Method, Request, RequestInit, Response, SqlStorage};

/// How long a key answered 401/403 stays out.
pub const OUT_FOR_MS: u64 = 5 * 60 * 1000;
/// How long a key answered 429 rests when the answer names no time.
pub const DEFAULT_REST_MS: u64 = 10_000;
/// The longest rest a `Retry-After` can impose.
pub const MAX_REST_MS: u64 = 10 * 60 * 1000;
/// How often an isolate reads what the other isolates learned.
pub const SYNC_EVERY_MS: u64 = 5_000;

/// A key's name where it may be shown: the first 12 hex digits of its SHA-256.
pub fn fingerprint(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..6])
}

/// What an upstream's answer says about the key it was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 401/403: the key is refused.
    Refused,
    /// 429: the key is rate-limited for this long.
    Resting { for_ms: u64 },
}

/// A key's state: unusable until `until_ms`; `out`: refused rather than resting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    pub until_ms: u64,
    pub out: bool,
}

/// `POST /keys/report` to the provider's object.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyReport {
    pub fingerprint: String,
    #[serde(flatten)]
    pub state: KeyState,
}

/// `POST /keys/state`: the keys still unusable at `now_ms`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StateCall {
    pub now_ms: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PoolState {
    pub keys: HashMap<String, KeyState>,
}

/// One isolate's view of one provider's keys.
#[derive(Debug, Default)]
struct View {
    states: HashMap<String, KeyState>,
    synced_ms: u64,
    syncing: bool,
    /// Where the next request starts, so requests spread over the keys.
    turn: usize,
}

thread_local! {
    static VIEWS: RefCell<HashMap<String, View>> = RefCell::new(HashMap::new());
}

fn with_view<T>(provider: &str, f: impl FnOnce(&mut View) -> T) -> T {
    VIEWS.with(|views| f(views.borrow_mut().entry(provider.to_owned()).or_default()))
}

/// The order to try `keys` in: the usable ones, starting at this isolate's turn (which moves
/// on by one each call). Empty when every key is out or resting.
pub fn order(provider: &str, keys: &[String], now_ms: u64) -> Vec<usize> {
    with_view(provider, |view| {
        let usable: Vec<usize> = (0..keys.len())
            .filter(|&i| {
                view.states
                    .get(&fingerprint(&keys[i]))
                    .is_none_or(|state| state.until_ms <= now_ms)
            })
            .collect();
        if usable.is_empty() {
            return usable;
        }
        let start = view.turn % usable.len();
        view.turn = view.turn.wrapping_add(1);
        usable[start..].iter().chain(&usable[..start]).copied().collect()
    })
}

/// The soonest a resting key of `keys` is usable again, in seconds from `now_ms` (for the
/// client's `Retry-After` when every key rests).
pub fn soonest_back_secs(provider: &str, keys: &[String], now_ms: u64) -> Option<u64> {
    with_view(provider, |view| {
        keys.iter()
            .filter_map(|key| view.states.get(&fingerprint(key)))
            .filter(|state| !state.out && state.until_ms > now_ms)
            .map(|state| (state.until_ms - now_ms).div_ceil(1000))
            .min()
    })
}

/// The state `verdict` puts a key in.
pub fn state_of(verdict: Verdict, now_ms: u64) -> KeyState {
    match verdict {
        Verdict::Refused => KeyState {
            until_ms: now_ms + OUT_FOR_MS,
            out: true,
        },
        Verdict::Resting { for_ms } => KeyState {
            until_ms: now_ms + for_ms.clamp(1000, MAX_REST_MS),
            out: false,
        },
    }
}

/// Records a verdict in this isolate (at once) and returns the report for the provider's
/// object.
pub fn mark(provider: &str, key: &str, verdict: Verdict, now_ms: u64) -> KeyReport {
    let fingerprint = fingerprint(key);
    let state = state_of(verdict, now_ms);
    with_view(provider, |view| merge(&mut view.states, &fingerprint, state));
    KeyReport { fingerprint, state }
}

/// The later of two states wins; a refusal beats a rest.
fn merge(states: &mut HashMap<String, KeyState>, fingerprint: &str, state: KeyState) {
    let entry = states.entry(fingerprint.to_owned()).or_insert(state);
    if state.until_ms > entry.until_ms || (state.out && !entry.out) {
        *entry = KeyState {
            until_ms: entry.until_ms.max(state.until_ms),
            out: entry.out || state.out,
        };
    }
}

/// Whether this isolate should read the provider's object now (and marks a read as started).
pub fn sync_due(provider: &str, now_ms: u64) -> bool {
    with_view(provider, |view| {
        let due = !view.syncing && now_ms.saturating_sub(view.synced_ms) >= SYNC_EVERY_MS;
        if due {
            view.syncing = true;
        }
        due
    })
}

fn object_request(path: &str, body: &impl Serialize) -> worker::Result<Request> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(
        serde_json::to_string(body)
            .map_err(|e| worker::Error::RustError(e.to_string()))?
            .into(),
    ));
    Request::new_with_init(&format!("https://limiter{path}"), &init)
}

async fn call_object<T: for<'de> Deserialize<'de>>(
    env: &Env,
    provider: &str,
    path: &str,
    body: &impl Serialize,
) -> worker::Result<T> {
    let stub = env
        .durable_object("LIMITER")?
        .get_by_name(&format!("keys:{provider}"))?;
    let mut response = stub.fetch_with_request(object_request(path, body)?).await?;
    if response.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "keys:{provider}{path} answered {}",
            response.status_code()
        )));
    }
    crate::http::response_json(&mut response).await
}

/// Tells the provider's object; best effort (the isolate's own view already has it).
pub async fn report(env: &Env, provider: &str, report: KeyReport) {
    if let Err(error) = call_object::<PoolState>(env, provider, "/keys/report", &report).await {
        worker::console_warn!("key health of {provider} not shared: {error}");
    }
}

/// Reads what the other isolates learned (once `sync_due` said so); best effort.
pub async fn sync(env: &Env, provider: &str) {
    let now_ms = crate::time::now_ms();
    let read = call_object::<PoolState>(env, provider, "/keys/state", &StateCall { now_ms }).await;
    with_view(provider, |view| {
        view.syncing = false;
        view.synced_ms = now_ms;
        match read {
            Ok(pool) => {
                // Our own fresher verdicts stay; expired ones go.
                view.states.retain(|_, state| state.until_ms > now_ms);
                for (fingerprint, state) in pool.keys {
                    merge(&mut view.states, &fingerprint, state);
                }
            }
            Err(error) => worker::console_warn!("key health of {provider} not read: {error}"),
        }
    });
}

/// What the provider's object knows, for the operator (`GET /admin/keys`).
pub async fn shared_state(env: &Env, provider: &str, now_ms: u64) -> worker::Result<PoolState> {
    call_object(env, provider, "/keys/state", &StateCall { now_ms }).await
}

// ---- inside the `LIMITER` object (`keys:<provider>` instances)

pub const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS key_health (fingerprint TEXT PRIMARY KEY, until_ms INTEGER NOT NULL, out INTEGER NOT NULL);";

#[derive(Deserialize)]
struct Row {
    fingerprint: String,
    until_ms: i64,
    out: i64,
}

fn pool_state(sql: &SqlStorage, now_ms: u64) -> worker::Result<PoolState> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    sql.exec("DELETE FROM key_health WHERE until_ms <= ?", vec![now.into()])?;
    let rows: Vec<Row> = sql
        .exec("SELECT fingerprint, until_ms, out FROM key_health", None)?
        .to_array()?;
    Ok(PoolState {
        keys: rows
            .into_iter()
            .map(|row| {
                let state = KeyState {
                    until_ms: u64::try_from(row.until_ms).unwrap_or(0),
                    out: row.out != 0,
                };
                (row.fingerprint, state)
            })
            .collect(),
    })
}

/// `/keys/report`: a key's new state (the later and the stronger verdict wins).
pub fn object_report(sql: &SqlStorage, report: KeyReport) -> worker::Result<Response> {
    let until = i64::try_from(report.state.until_ms).unwrap_or(i64::MAX);
    sql.exec(
        "INSERT INTO key_health (fingerprint, until_ms, out) VALUES (?, ?, ?)
         ON CONFLICT (fingerprint) DO UPDATE SET until_ms = MAX(until_ms, excluded.until_ms), out = MAX(out, excluded.out)",
        vec![
            report.fingerprint.into(),
            until.into(),
            i64::from(report.state.out).into(),
        ],
    )?;
    Response::from_json(&pool_state(sql, crate::time::now_ms())?)
}

/// `/keys/state`: the keys unusable at `now_ms`.
pub fn object_state(sql: &SqlStorage, call: StateCall) -> worker::Result<Response> {
    Response::from_json(&pool_state(sql, call.now_ms)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<String> {
        vec!["k-one".into(), "k-two".into(), "k-three".into()]
    }

    #[test]
    fn requests_take_the_keys_in_turn() {
        let firsts: Vec<usize> = (0..6).map(|_| order("turns", &keys(), 0)[0]).collect();
        assert_eq!(firsts, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(order("turns", &keys(), 0).len(), 3);
    }

    #[test]
    fn a_refused_key_is_out_and_a_limited_one_rests_for_its_time() {
        let pool = keys();
        mark("verdicts", "k-one", Verdict::Refused, 1_000);
        mark("verdicts", "k-two", Verdict::Resting { for_ms: 30_000 }, 1_000);
        assert_eq!(order("verdicts", &pool, 2_000), vec![2]);
        assert_eq!(soonest_back_secs("verdicts", &pool, 2_000), Some(29));
        let later = order("verdicts", &pool, 31_001);
        assert!(later.contains(&1) && !later.contains(&0), "{later:?}");
        assert!(order("verdicts", &pool, 1_000 + OUT_FOR_MS).contains(&0));
    }

    #[test]
    fn a_pool_with_every_key_down_offers_none() {
        let pool = vec!["only".to_owned()];
        mark("down", "only", Verdict::Refused, 0);
        assert!(order("down", &pool, 1).is_empty());
        assert_eq!(
            soonest_back_secs("down", &pool, 1),
            None,
            "a refused key is not coming back soon"
        );
    }

    #[test]
    fn rests_are_bounded_and_refusals_beat_rests() {
        assert_eq!(state_of(Verdict::Resting { for_ms: 0 }, 0).until_ms, 1000);
        assert_eq!(
            state_of(Verdict::Resting { for_ms: u64::MAX / 2 }, 0).until_ms,
            MAX_REST_MS
        );
        let mut states = HashMap::new();
        merge(&mut states, "f", state_of(Verdict::Resting { for_ms: 5_000 }, 0));
        merge(&mut states, "f", state_of(Verdict::Refused, 0));
        merge(&mut states, "f", state_of(Verdict::Resting { for_ms: 5_000 }, 0));
        assert!(states["f"].out && states["f"].until_ms == OUT_FOR_MS);
    }

    #[test]
    fn fingerprints_do_not_show_the_key() {
        let key = "sk-live-0123456789abcdef";
        let shown = fingerprint(key);
        assert_eq!(shown.len(), 12);
        assert!(!key.contains(&shown) && shown != fingerprint("sk-live-0123456789abcdeg"));
    }
}
