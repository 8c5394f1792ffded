//! The official `@anthropic-ai/sdk` npm package against the running gateway, through Node's test
//! runner (tests/sdk/messages.test.mjs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[tokio::test]
async fn the_anthropic_node_sdk_talks_to_every_model() {
    let app = common::TestApp::new();
    let (funded, key, free_key) = app.funded_and_broke_keys(20.0, "sdk-anthropic").await;
    common::run_client_tests(
        "Anthropic SDK",
        common::node_tests(&["messages.test.mjs"])
            .env("FLINT_URL", &app.url)
            .env("FLINT_API_KEY", key)
            .env("FLINT_FREE_KEY", free_key),
    );
    app.assert_books_balance(&funded.token).await;
}
