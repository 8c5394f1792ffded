//! Attacks on accounts and resources, end to end, each with the limit that stops it: password
//! guessing (serial, parallel, spread over addresses, behind forged forwarding headers), lockout
//! of a victim, code guessing and mail bombing, sign-up floods and aliases, operator-token
//! guessing, upload floods. A gateway of its own with a small upload quota and rate.
//!
//! The suite's requests come from 127.0.0.1, which the harness exempts from per-IP limits; these
//! stories send `CF-Connecting-IP` themselves (wrangler dev passes it through, as the address
//! Cloudflare would report), each from addresses of its own in the documentation ranges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{unique, wrong_code, TestApp, TestResponse};
use futures_util::future::join_all;
use serde_json::json;

// The fewest PBKDF2 iterations allowed: these stories sign in a few hundred times, and the hash
// is not what they test.
const VARS: &[(&str, &str)] = &[
    ("UPLOAD_QUOTA_BYTES", "1048576"),
    ("UPLOADS_PER_HOUR", "8"),
    ("PASSWORD_ITERATIONS", "100000"),
];

fn app() -> TestApp {
    TestApp::with_vars(VARS)
}

fn statuses(responses: &[TestResponse]) -> (usize, usize) {
    let count = |status| responses.iter().filter(|r| r.status == status).count();
    (count(401), count(429))
}

// ---- password guessing

#[tokio::test]
async fn an_attackers_failures_do_not_lock_the_victim_out() {
    let app = app();
    let victim = app.new_user().await;
    // Fifteen wrong guesses from the attacker's address: ten are checked, then it is locked.
    let mut answers = Vec::new();
    for _ in 0..15 {
        answers.push(app.login_from("203.0.113.10", &victim.email, "guess guess").await);
    }
    assert_eq!(statuses(&answers), (10, 5));
    assert!(answers[14].header("retry-after").is_some());
    // The victim, from home, signs in at once.
    app.login_from("198.51.100.10", &victim.email, &victim.password)
        .await
        .expect_status(200);
    // The attacker stays locked, with the right password too.
    app.login_from("203.0.113.10", &victim.email, &victim.password)
        .await
        .expect_status(429);
}

#[tokio::test]
async fn twenty_parallel_wrong_logins_get_exactly_the_ten_allowed_checks() {
    let app = app();
    let user = app.new_user().await;
    let passwords: Vec<String> = (0..20).map(|i| format!("guess number {i}")).collect();
    let guesses = passwords
        .iter()
        .map(|p| app.login_from("203.0.113.20", &user.email, p));
    let answers = join_all(guesses).await;
    // A checked guess answers 401; one refused unchecked answers 429.
    assert_eq!(statuses(&answers), (10, 10));
    for refused in answers.iter().filter(|r| r.status == 429) {
        assert_eq!(refused.error_code(), "too_many_login_attempts");
        assert!(refused.header("retry-after").is_some());
    }
}

#[tokio::test]
async fn a_locked_address_is_told_how_long_the_lock_lasts() {
    let app = app();
    let user = app.new_user().await;
    for _ in 0..10 {
        app.login_from("203.0.113.30", &user.email, "wrong wrong")
            .await
            .expect_status(401);
    }
    let first: u64 = app
        .login_from("203.0.113.30", &user.email, "wrong wrong")
        .await
        .header("retry-after")
        .unwrap()
        .parse()
        .unwrap();
    assert!((890..=900).contains(&first), "{first}");
}

#[tokio::test]
async fn guesses_spread_over_many_addresses_stop_at_the_emails_ceiling() {
    let app = app();
    let user = app.new_user().await;
    // Nine guesses from each of six addresses: the first 50 are checked, then the email is
    // closed to every address for the window.
    let mut answers = Vec::new();
    for host in 0..6 {
        for _ in 0..9 {
            answers.push(
                app.login_from(&format!("198.51.100.{}", 40 + host), &user.email, "spread out")
                    .await,
            );
        }
    }
    let all: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses(&answers), (50, 4), "{all:?}");
    let fresh = app.login_from("198.51.100.99", &user.email, "spread out").await;
    fresh.expect_status(429);
    assert_eq!(fresh.error_code(), "too_many_login_attempts");
}

#[tokio::test]
async fn forged_forwarding_headers_buy_no_more_attempts() {
    let app = app();
    let user = app.new_user().await;
    let mut answers = Vec::new();
    for i in 0..12 {
        let request = app
            .client
            .post(format!("{}/api/auth/login", app.url))
            .header("CF-Connecting-IP", "203.0.113.50")
            .header("X-Forwarded-For", format!("10.0.{i}.1"))
            .header("X-Real-IP", format!("10.1.{i}.1"))
            .header("True-Client-IP", format!("10.2.{i}.1"))
            .json(&json!({"email": user.email, "password": "not it"}));
        answers.push(app.send(request).await);
    }
    assert_eq!(statuses(&answers), (10, 2));
    // The same for sign-ups: ten per address an hour, whatever the headers claim.
    let mut created = Vec::new();
    for i in 0..11 {
        let email = format!("{}@example.com", unique("flood"));
        let request = app
            .client
            .post(format!("{}/api/auth/register", app.url))
            .header("CF-Connecting-IP", "203.0.113.51")
            .header("X-Forwarded-For", format!("10.3.{i}.1"))
            .header("X-Real-IP", format!("10.4.{i}.1"))
            .json(&json!({"email": email, "password": "flood flood"}));
        created.push(app.send(request).await.status);
    }
    assert_eq!(created.iter().filter(|&&s| s == 200).count(), 10, "{created:?}");
    assert_eq!(created[10], 429);
}

// ---- sign-ups

async fn register_from(app: &TestApp, ip: &str) -> TestResponse {
    let email = format!("{}@example.com", unique("six"));
    app.post_json_from(
        ip,
        "/api/auth/register",
        &json!({"email": email, "password": "ipv6 client"}),
    )
    .await
}

#[tokio::test]
async fn an_ipv6_client_is_counted_per_64() {
    let app = app();
    for i in 0..10 {
        register_from(&app, &format!("2001:db8:60:1:{i:x}::{i:x}"))
            .await
            .expect_status(200);
    }
    let refused = register_from(&app, "2001:db8:60:1:ffff:ffff:ffff:ffff").await;
    refused.expect_status(429);
    assert_eq!(refused.error_code(), "too_many_registrations");
    assert!(refused.header("retry-after").is_some());
    // The next /64 is someone else.
    register_from(&app, "2001:db8:60:2::1").await.expect_status(200);
}

#[tokio::test]
async fn aliases_of_one_mailbox_make_no_second_account() {
    let app = app();
    let local = unique("alias");
    app.register(&format!("{local}@gmail.com"), "the first one")
        .await
        .expect_status(200);
    let (head, tail) = local.split_at(3);
    for alias in [
        format!("{head}.{tail}@gmail.com"),
        format!("{local}+free2@gmail.com"),
        format!("{local}@googlemail.com"),
    ] {
        let response = app.register(&alias, "a second allowance").await;
        response.expect_status(409);
        assert_eq!(response.error_code(), "email_taken", "{alias}");
    }
    // Elsewhere only +tags fold.
    let other = unique("plus");
    app.register(&format!("{other}@example.com"), "the first one")
        .await
        .expect_status(200);
    app.register(&format!("{other}+2@example.com"), "the second one")
        .await
        .expect_status(409);
    app.register(&format!("{}.x@example.com", other), "a different mailbox")
        .await
        .expect_status(200);
}

// ---- email codes

#[tokio::test]
async fn twenty_parallel_wrong_codes_get_at_most_five_guesses() {
    let app = app();
    let email = format!("{}@example.com", unique("pcode"));
    app.send_code(&email).await.expect_status(200);
    let code = app.mailed_code(&email).await;
    let wrong = wrong_code(&code);
    let guesses = (0..20).map(|_| app.verify_email(&email, &wrong));
    let answers = join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status == 400).count();
    let refused = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!((checked, refused), (5, 15));
    // The code's five attempts are spent: the right code is refused too, and a resend is no way
    // around that.
    let right = app.verify_email(&email, &code).await;
    right.expect_status(429);
    assert_eq!(right.error_code(), "too_many_attempts");
    let resend = app.send_code(&email).await;
    resend.expect_status(429);
    assert_eq!(resend.error_code(), "too_many_attempts");
}

#[tokio::test]
async fn a_resend_keeps_the_wrong_attempts_counted() {
    let app = app();
    let email = format!("{}@example.com", unique("resend"));
    app.send_code(&email).await.expect_status(200);
    let first = app.mailed_code(&email).await;
    for _ in 0..3 {
        app.verify_email(&email, &wrong_code(&first))
            .await
            .expect_status(400);
    }
    // A minute later, a new code: it has the two attempts the old one had left.
    tokio::time::sleep(std::time::Duration::from_millis(61_000)).await;
    app.send_code(&email).await.expect_status(200);
    let second = app.mailed_code(&email).await;
    assert_ne!(first, second);
    for _ in 0..2 {
        app.verify_email(&email, &wrong_code(&second))
            .await
            .expect_status(400);
    }
    let right = app.verify_email(&email, &second).await;
    right.expect_status(429);
    assert_eq!(right.error_code(), "too_many_attempts");
}

#[tokio::test]
async fn codes_are_limited_per_mailbox_and_per_address() {
    let app = app();
    // Mail-bombing one mailbox through its aliases: five an hour.
    let local = unique("bomb");
    let mut sent = Vec::new();
    for i in 0..6 {
        let alias = format!("{local}+{i}@example.com");
        sent.push(
            app.post_json_from("203.0.113.70", "/auth/send-code", &json!({"email": alias}))
                .await,
        );
    }
    assert!(sent[..5].iter().all(|r| r.status == 200));
    sent[5].expect_status(429);
    assert_eq!(sent[5].error_code(), "too_many_codes");
    assert!(sent[5].header("retry-after").is_some());
    // One address asking for codes to everyone: twenty an hour (five went out above).
    let mut statuses = Vec::new();
    for _ in 0..16 {
        let email = format!("{}@example.com", unique("spray"));
        statuses.push(
            app.post_json_from("203.0.113.70", "/auth/send-code", &json!({"email": email}))
                .await
                .status,
        );
    }
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 15, "{statuses:?}");
    assert_eq!(statuses[15], 429);
}

// ---- the operator token

#[tokio::test]
async fn wrong_admin_tokens_are_throttled_per_address() {
    let app = app();
    let user = app.new_user().await;
    let credit = |token: &'static str| {
        app.send(
            app.client
                .post(format!("{}/admin/users/{}/credit", app.url, user.id))
                .header("CF-Connecting-IP", "203.0.113.80")
                .bearer_auth(token)
                .json(&json!({"amount_usd": 1, "reference": unique("guess")})),
        )
    };
    for _ in 0..10 {
        credit("guessed-admin-token-guessed-admin-token")
            .await
            .expect_status(401);
    }
    let locked = credit("guessed-admin-token-guessed-admin-token").await;
    locked.expect_status(429);
    assert!(locked.header("retry-after").is_some());
    // From that address even the right token is refused (the limit is no oracle) …
    credit(common::ADMIN_TOKEN).await.expect_status(429);
    assert_eq!(app.balance(&user.token).await, 0.0);
    // … while the operator elsewhere is not affected.
    app.credit(user.id, 1.0, &unique("operator"))
        .await
        .expect_status(200);
}

// ---- uploads

fn png(bytes: usize) -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    data.resize(bytes, 0);
    data
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> TestResponse {
    app.upload(token, bytes, "p.png", "image/png").await
}

#[tokio::test]
async fn uploads_stop_at_the_storage_quota_even_in_parallel() {
    let app = app();
    let user = app.new_user().await;
    // 1 MiB quota: three files of 300 KiB fit, a fourth does not, whether sent together or not.
    let answers = join_all((0..5).map(|_| upload(&app, &user.token, png(300 * 1024)))).await;
    let stored = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        stored,
        3,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for refused in answers.iter().filter(|r| r.status != 200) {
        refused.expect_status(403);
        assert_eq!(refused.error_code(), "storage_quota_exceeded");
        assert!(refused.text.contains("1048576"), "{}", refused.text);
    }
    let listed = app.get_as(&user.token, "/api/files?limit=100").await.json();
    assert_eq!(listed["files"].as_array().unwrap().len(), 3);
    // Deleting makes room.
    let id = listed["files"][0]["file_id"].as_str().unwrap();
    app.delete_as(&user.token, &format!("/api/files/{id}"))
        .await
        .expect_status(200);
    upload(&app, &user.token, png(300 * 1024))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn uploads_are_limited_per_hour() {
    let app = app();
    let user = app.new_user().await;
    for _ in 0..8 {
        upload(&app, &user.token, png(64)).await.expect_status(200);
    }
    let refused = upload(&app, &user.token, png(64)).await;
    refused.expect_status(429);
    assert_eq!(refused.error_code(), "too_many_uploads");
    assert!(refused.header("retry-after").is_some());
    // Another user is not affected.
    let other = app.new_user().await;
    upload(&app, &other.token, png(64)).await.expect_status(200);
}

#[tokio::test]
async fn google_sign_ups_count_against_the_registrations_of_an_address() {
    use base64::Engine;
    let app = app();
    let ip = "203.0.113.77";
    let sign_in = |email: String, sub: String| {
        let claims = json!({"aud": common::GOOGLE_CLIENT_ID, "iss": "https://accounts.google.com", "sub": sub,
            "email": email, "email_verified": "true",
            "exp": (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600).to_string()});
        json!({"id_token": base64::engine::general_purpose::STANDARD.encode(claims.to_string())})
    };
    // Five password accounts and five Google accounts: the address's ten an hour.
    for _ in 0..5 {
        register_from(&app, ip).await.expect_status(200);
    }
    let mut returning = None;
    for _ in 0..5 {
        let (email, sub) = (format!("{}@gmail.com", unique("g-flood")), unique("g"));
        app.post_json_from(ip, "/api/auth/google", &sign_in(email.clone(), sub.clone()))
            .await
            .expect_status(200);
        returning = Some((email, sub));
    }
    let refused = app
        .post_json_from(
            ip,
            "/api/auth/google",
            &sign_in(format!("{}@gmail.com", unique("g-flood")), unique("g")),
        )
        .await;
    refused.expect_status(429);
    assert_eq!(refused.error_code(), "too_many_registrations");
    register_from(&app, ip).await.expect_status(429);
    // Signing in to an account that exists makes none: never throttled as a sign-up.
    let (email, sub) = returning.unwrap();
    app.post_json_from(ip, "/api/auth/google", &sign_in(email, sub))
        .await
        .expect_status(200);
}
