//! Uploads end to end: images and PDFs into R2, their checks, their use in chat, the file
//! routes, and a hostile-PDF corpus that must never take the worker down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::{repo_root, unique, TestApp};
use serde_json::{json, Value};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/fixtures").join(path)).unwrap()
}

/// The fixture at `path` uploaded as `name` (`mime`): the answer, which must be a 200.
async fn upload_fixture(app: &TestApp, token: &str, path: &str, name: &str, mime: &str) -> Value {
    app.upload(token, fixture(path), name, mime)
        .await
        .expect_status(200)
        .json()
}

/// A new user's upload of the fixture at `path` as `name` (`mime`): the answer, a 200.
async fn new_users_upload(path: &str, name: &str, mime: &str) -> Value {
    let app = TestApp::new();
    let user = app.new_user().await;
    upload_fixture(&app, &user.token, path, name, mime).await
}

/// The gradient PNG uploaded for `token`: its upload answer.
async fn uploaded_image(app: &TestApp, token: &str) -> Value {
    app.upload(token, fixture("images/gradient.png"), "g.png", "image/png")
        .await
        .json()
}

#[tokio::test]
async fn an_image_upload_answers_the_seed_shape_with_a_data_url() {
    let app = TestApp::new();
    let user = app.new_user().await;
    for (path, mime) in [
        ("images/gradient.png", "image/png"),
        ("images/gradient.jpg", "image/jpeg"),
    ] {
        let bytes = fixture(path);
        let name = path.rsplit('/').next().unwrap();
        let body = app
            .upload(&user.token, bytes.clone(), name, mime)
            .await
            .expect_status(200)
            .json();
        assert_eq!(body["file_name"], name);
        assert_eq!(body["file_type"], "image");
        assert_eq!(body["mime_type"], mime);
        assert_eq!(body["size"], bytes.len());
        let prefix = format!("data:{mime};base64,");
        let encoded = body["content"].as_str().unwrap().strip_prefix(&prefix).unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(),
            bytes
        );
        assert!(body["file_id"].as_str().unwrap().len() >= 8);
    }
}

#[tokio::test]
async fn a_multipage_pdf_comes_out_as_text_latin_and_cyrillic_in_page_order() {
    let body = new_users_upload(
        "pdf/multipage-latin-cyrillic.pdf",
        "report.pdf",
        "application/pdf",
    )
    .await;
    assert_eq!(body["file_type"], "pdf");
    assert_eq!(body["mime_type"], "application/pdf");
    assert_eq!(body["pages"], 3);
    let text = body["content"].as_str().unwrap();
    assert!(text.contains("Привет"), "{text}");
    assert!(text.chars().any(|c| c.is_ascii_alphabetic()), "{text}");
    assert!(body.get("warning").is_none(), "{body}");
}

#[tokio::test]
async fn a_pdf_with_compressed_streams_is_read() {
    let body = new_users_upload("pdf/compressed.pdf", "compressed.pdf", "application/pdf").await;
    assert!(!body["content"].as_str().unwrap().trim().is_empty(), "{body}");
}

#[tokio::test]
async fn scanned_and_encrypted_pdfs_are_stored_with_a_warning_and_no_text() {
    let app = TestApp::new();
    let user = app.new_user().await;
    for name in ["scanned.pdf", "encrypted.pdf"] {
        let body = upload_fixture(&app, &user.token, &format!("pdf/{name}"), name, "application/pdf").await;
        assert_eq!(body["content"], "", "{name}");
        assert!(body["warning"].as_str().unwrap().len() > 10, "{name}: {body}");
        app.get_as(
            &user.token,
            &format!("/api/files/{}", body["file_id"].as_str().unwrap()),
        )
        .await
        .expect_status(200);
    }
}

#[tokio::test]
async fn types_are_decided_by_content_and_must_agree_with_the_claims() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let png = fixture("images/gradient.png");
    let pdf = fixture("pdf/compressed.pdf");
    for (bytes, name, mime, status) in [
        (png.clone(), "cat.pdf", "application/pdf", 415),
        (pdf.clone(), "doc.pdf", "image/png", 415),
        (png.clone(), "cat.png", "application/pdf", 415),
        (b"just some text".to_vec(), "notes.txt", "text/plain", 415),
        (b"PK\x03\x04 a zip".to_vec(), "a.zip", "application/zip", 415),
        (Vec::new(), "empty.png", "image/png", 400),
        (png.clone(), "cat", "application/octet-stream", 200),
    ] {
        let response = app.upload(&user.token, bytes, name, mime).await;
        assert_eq!(response.status, status, "{name} as {mime}: {}", response.text);
        if status != 200 {
            assert!(response.json()["detail"]["error"].as_str().unwrap().len() > 10);
        }
    }
    let not_multipart = app
        .post_as(&user.token, "/api/chat/upload", &json!({"file": "x"}))
        .await;
    not_multipart.expect_status(415);
}

#[tokio::test]
async fn file_names_are_sanitized() {
    let body = new_users_upload("images/gradient.png", "../../etc/\u{7}pass\"wd.png", "image/png").await;
    assert_eq!(body["file_name"], "passwd.png");
}

#[tokio::test]
async fn exactly_ten_mebibytes_is_accepted() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let mut bytes = fixture("images/gradient.png");
    bytes.resize(10 * 1024 * 1024, 0);
    let body = app
        .upload(&user.token, bytes, "big.png", "image/png")
        .await
        .expect_status(200)
        .json();
    assert_eq!(body["size"], 10_485_760);
}

#[tokio::test]
async fn the_file_routes_list_get_and_delete_only_the_owners_files() {
    let app = TestApp::new();
    let owner = app.new_user().await;
    let stranger = app.new_user().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            app.upload(&owner.token, fixture("images/gradient.png"), "g.png", "image/png")
                .await
                .json()["file_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page = app
        .get_as(&owner.token, "/api/files?limit=2")
        .await
        .expect_status(200)
        .json();
    assert_eq!(page["files"].as_array().unwrap().len(), 2);
    assert_eq!(page["files"][0]["file_id"], ids[2].as_str(), "newest first");
    assert!(page["files"][0].get("content").is_none());
    let rest = app
        .get_as(
            &owner.token,
            &format!(
                "/api/files?limit=2&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
        )
        .await
        .json();
    assert_eq!(rest["files"][0]["file_id"], ids[0].as_str());
    assert_eq!(rest["next_cursor"], Value::Null);

    let one = app
        .get_as(&owner.token, &format!("/api/files/{}", ids[0]))
        .await
        .expect_status(200)
        .json();
    assert!(one["content"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    for response in [
        app.get_as(&stranger.token, &format!("/api/files/{}", ids[0]))
            .await,
        app.delete_as(&stranger.token, &format!("/api/files/{}", ids[0]))
            .await,
    ] {
        response.expect_status(404);
        assert_eq!(response.json()["detail"]["code"], "file_not_found");
    }
    assert!(app.get_as(&stranger.token, "/api/files").await.json()["files"]
        .as_array()
        .unwrap()
        .is_empty());
    app.delete_as(&owner.token, &format!("/api/files/{}", ids[0]))
        .await
        .expect_status(200);
    app.get_as(&owner.token, &format!("/api/files/{}", ids[0]))
        .await
        .expect_status(404);
}

#[tokio::test]
async fn an_uploaded_image_reaches_the_model_as_an_image_part_and_a_pdf_as_text() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let image = uploaded_image(&app, &user.token).await;
    let pdf = app
        .upload(
            &user.token,
            fixture("pdf/multipage-latin-cyrillic.pdf"),
            "report.pdf",
            "application/pdf",
        )
        .await
        .json();
    let marker = unique("files");
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "text", "text": marker},
        {"type": "file", "file": {"file_id": image["file_id"]}},
        {"type": "file", "file": {"file_id": pdf["file_id"]}}]}]});
    app.chat(&user.token, &body).await.expect_status(200);
    let sent = &app.upstream_requests(&marker).await[0]["body"]["messages"][0]["content"];
    assert_eq!(sent[1]["type"], "image_url");
    assert_eq!(sent[1]["image_url"]["url"], image["content"]);
    assert_eq!(sent[2]["type"], "text");
    let text = sent[2]["text"].as_str().unwrap();
    assert!(
        text.starts_with("[File: report.pdf]") && text.contains("Привет"),
        "{text}"
    );
    // Another user's file id is a 404, in chat too, and nothing reaches the model.
    let stranger = app.new_user().await;
    let marker = unique("theirs");
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "text", "text": marker}, {"type": "file", "file": {"file_id": image["file_id"]}}]}]});
    let refused = app.chat(&stranger.token, &body).await;
    refused.expect_status(404);
    assert_eq!(refused.json()["error"]["code"], "file_not_found");
    assert!(app.upstream_requests(&marker).await.is_empty());
}

#[tokio::test]
async fn the_malformed_pdf_corpus_never_takes_the_worker_down() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let dir = repo_root().join("tests/fixtures/pdf/malformed");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "only {} malformed PDFs", files.len());
    // Uploads run alongside ordinary requests, which must keep being answered.
    let hostile = async {
        for path in &files {
            let response = app
                .upload(
                    &user.token,
                    std::fs::read(path).unwrap(),
                    "hostile.pdf",
                    "application/pdf",
                )
                .await;
            assert!(
                [200, 413, 415].contains(&response.status),
                "{}: {} {}",
                path.display(),
                response.status,
                response.text
            );
        }
    };
    let bystander = async {
        for _ in 0..20 {
            app.get("/api/models?tier=lite").await.expect_status(200);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::join!(hostile, bystander);
    app.health().await.expect_status(200);
}

#[tokio::test]
async fn a_chat_with_more_file_parts_than_allowed_is_a_400_and_costs_nothing() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let image = uploaded_image(&app, &user.token).await;
    let marker = unique("many-files");
    let part = json!({"type": "file", "file": {"file_id": image["file_id"]}});
    let mut content = vec![json!({"type": "text", "text": marker})];
    // The default MAX_FILE_PARTS_PER_REQUEST is 8: nine are refused, eight go through.
    content.extend(std::iter::repeat_n(part.clone(), 9));
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]});
    let refused = app.chat(&user.token, &body).await;
    refused.expect_status(400);
    assert_eq!(refused.json()["error"]["code"], "too_many_file_parts");
    assert_eq!(refused.json()["error"]["param"], "messages");
    assert!(app.upstream_requests(&marker).await.is_empty());
    assert_eq!(app.balance(&user.token).await, 1.0);

    let mut content = vec![json!({"type": "text", "text": marker})];
    content.extend(std::iter::repeat_n(part, 8));
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]});
    app.chat(&user.token, &body).await.expect_status(200);
    let sent = &app.upstream_requests(&marker).await[0]["body"]["messages"][0]["content"];
    assert_eq!(sent.as_array().unwrap().len(), 9);
    assert!(sent.as_array().unwrap()[1..]
        .iter()
        .all(|p| p["image_url"]["url"] == image["content"]));
    app.wait_for_balance_below(&user.token, 1.0).await;
    app.assert_books_balance(&user.token).await;
}

#[tokio::test]
async fn files_are_read_only_after_admission_and_a_refused_request_reads_none() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let image = uploaded_image(&app, &user.token).await;
    let with_file = |marker: &str| {
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "text", "text": marker},
            {"type": "file", "file": {"file_id": image["file_id"]}}]}]})
    };
    // Admitted: the limiter, then the files, then the hold sized on them, then the model.
    let marker = unique("after-admission");
    let answered = app.chat(&user.token, &with_file(&marker)).await;
    answered.expect_status(200);
    assert_eq!(
        answered.timing_steps(),
        ["auth", "admit", "files", "hold", "upstream"]
    );
    let sent = &app.upstream_requests(&marker).await[0]["body"]["messages"][0]["content"];
    assert_eq!(sent[1]["image_url"]["url"], image["content"]);
    app.wait_for_balance_below(&user.token, 1.0).await;
    app.assert_books_balance(&user.token).await;

    // Over the rate limit: refused by the limiter before any file is read.
    app.set_plan(user.id, "enterprise", json!({"rpm": 1}))
        .await
        .expect_status(200);
    let mut limited = None;
    for _ in 0..3 {
        let answer = app.chat(&user.token, &with_file(&unique("limited"))).await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("a 429 within 3 requests at 1 a minute");
    assert_eq!(limited.timing_steps(), ["auth", "admit"]);

    // Nothing on the balance for a premium model: a 402 before any file is read. Another
    // user's file id would be a 404, but only once the request may read files at all.
    let broke = app.new_user().await;
    let refused = app.chat(&broke.token, &with_file(&unique("broke"))).await;
    refused.expect_status(402);
    assert_eq!(refused.timing_steps(), ["auth", "admit"]);
    assert_eq!(app.balance(&broke.token).await, 0.0);
}
