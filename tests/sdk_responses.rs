//! `client.responses.*` of the official `openai` npm package against the running gateway
//! (tests/sdk/responses.test.mjs), through Node's test runner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[tokio::test]
async fn the_openai_node_sdk_speaks_the_responses_api() {
    let app = common::TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = app.key_secret(&user.token, "sdk-responses").await;
    common::run_client_tests(
        "Responses SDK",
        common::node_tests(&["responses.test.mjs"])
            .env("FLINT_URL", &common::gateway().url)
            .env("FLINT_API_KEY", key),
    );
    // Everything the SDK did was billed: the balance went down and the books balance.
    let left = app.assert_books_balance(&user.token).await;
    assert!(left < 5.0, "nothing was charged: {left}");
}
