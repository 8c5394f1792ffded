//! Stories where time passes: the sweeper settling a hold whose request never settled, and the
//! daily allowance resetting at local midnight. A gateway of its own: holds time out after a
//! second, and its time zone is chosen so that local midnight falls half a minute after start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{unique, TestApp};
use serde_json::json;

const SECONDS_TO_MIDNIGHT: i64 = 35;

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `±HH:MM:SS` putting local midnight `SECONDS_TO_MIDNIGHT` from now.
fn offset_for_midnight_soon() -> &'static str {
    static OFFSET: OnceLock<String> = OnceLock::new();
    OFFSET.get_or_init(|| {
        let target_local = 86_400 - SECONDS_TO_MIDNIGHT;
        let mut offset = (target_local - now_secs().rem_euclid(86_400)).rem_euclid(86_400);
        if offset > 14 * 3600 {
            offset -= 86_400;
        }
        let sign = if offset < 0 { '-' } else { '+' };
        let a = offset.abs();
        format!("{sign}{:02}:{:02}:{:02}", a / 3600, a % 3600 / 60, a % 60)
    })
}

fn app() -> TestApp {
    static VARS: OnceLock<&'static [(&'static str, &'static str)]> = OnceLock::new();
    let vars = VARS.get_or_init(|| {
        Box::leak(Box::new([
            ("HOLD_TIMEOUT_SECS", "1"),
            ("TIMEZONE", offset_for_midnight_soon()),
        ]))
    });
    TestApp::with_vars(vars)
}

#[tokio::test]
async fn the_sweeper_charges_the_prompt_of_a_hold_whose_request_never_settled() {
    let app = app();
    let user = app.funded_user(2.0).await;
    // A request whose worker died after placing its hold: the hold stays open.
    let request_id = unique("orphan");
    common::d1_execute(&format!(
        "INSERT INTO holds (request_id, user_id, amount_nanos, prompt_cost_nanos, prompt_tokens, model, provider, created_at)
         VALUES ('{request_id}', {}, 500000000, 120000000, 24490, 'gpt-5.1', 'openai', {})",
        user.id,
        now_secs() - 60
    ));
    let lookup = || async {
        app.send(
            app.client
                .get(format!("{}/admin/users", app.url))
                .query(&[("email", &user.email)])
                .bearer_auth(common::ADMIN_TOKEN),
        )
        .await
        .json()["users"][0]["available_usd"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(lookup().await, 1.5, "the orphaned hold reserves half a dollar");
    app.run_sweeper().await;
    let mut available = lookup().await;
    for _ in 0..50 {
        if available == 1.88 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        available = lookup().await;
    }
    // The upstream was called and bills the prompt: that much is charged, the rest freed.
    assert_eq!(
        available, 1.88,
        "the sweeper settled the hold at the prompt's cost"
    );
    assert_eq!(
        common::hold_settlement(&request_id),
        json!({"status": "settled", "charged_nanos": 120000000})
    );
    assert_eq!(app.assert_books_balance(&user.token).await, 1.88);
}

#[tokio::test]
async fn the_daily_allowance_resets_at_local_midnight() {
    let app = app();
    let user = app.new_user().await;
    app.set_plan(user.id, "enterprise", json!({"daily_lite_requests": 1}))
        .await
        .expect_status(200);
    let ask = || json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": unique("day")}]});
    app.chat(&user.token, &ask()).await.expect_status(200);
    let spent = app.chat(&user.token, &ask()).await;
    spent.expect_status(429);
    assert_eq!(spent.json()["error"]["code"], "free_quota_exhausted");
    let me = app.get_as(&user.token, "/auth/me").await.json();
    assert_eq!(me["usage"]["remaining"], 0);
    let reset: i64 = spent.header("x-ratelimit-reset").unwrap().parse().unwrap();
    let wait = reset - now_secs();
    assert!(
        (0..=SECONDS_TO_MIDNIGHT).contains(&wait),
        "the allowance resets at local midnight, in {wait} s"
    );
    tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap() + 1)).await;
    app.chat(&user.token, &ask()).await.expect_status(200);
    let me = app.get_as(&user.token, "/auth/me").await.json();
    assert_eq!(
        (
            me["usage"]["requestsToday"].clone(),
            me["usage"]["remaining"].clone()
        ),
        (json!(1), json!(0))
    );
}
