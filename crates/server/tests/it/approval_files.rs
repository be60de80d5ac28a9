//! Files on approval forms over HTTP: uploaded before submitting, claimed
//! by the request, downloadable (and listed on the request page and print
//! view) by those who may see the request and by no one else; a refused
//! submission claims nothing and an unclaimed upload is swept after a day
//! (on the next upload and at start-up, which keeps claimed files);
//! nobody can put someone else's upload on their request; size limit.

use serde_json::{json, Value};

use crate::approvals::{create_template, office, submit, task_of};
use crate::kit::{error_code, Client};

fn design(finance: &str) -> Value {
    json!({
        "name": "報銷（附收據）",
        "category": "expense",
        "fields": [
            { "key": "reason", "label": "事由", "type": "short_text", "required": true },
            { "key": "receipts", "label": "收據", "type": "attachment", "required": true }
        ],
        "flow": { "nodes": [
            { "type": "approver", "id": "manager", "name": "直屬主管", "approvers": [{ "kind": "manager" }] },
            { "type": "approver", "id": "finance", "name": "財務", "approvers": [{ "kind": "person", "user_id": finance }] }
        ] }
    })
}

async fn upload(c: &Client, name: &str, body: Vec<u8>) -> (u16, Value) {
    let token = c.csrf().await;
    let res = c
        .http
        .post(c.url(&format!(
            "/api/v1/approvals/files?name={}",
            url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
        )))
        .header("x-csrf-token", token)
        .header("content-type", "application/pdf")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(c: &Client, path: &str) -> (u16, String, Vec<u8>) {
    let res = c
        .http
        .get(c.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let disposition = res
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, disposition, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn uploaded_files_go_with_the_request_to_those_who_may_see_it() {
    let o = office().await;
    let template = create_template(&o.owner.0, design(&o.fiona.1)).await;
    let content = b"%PDF-1.4 receipt for a taxi".to_vec();
    let (status, file) = upload(&o.alice.0, "的士收據.pdf", content.clone()).await;
    assert_eq!(status, 200, "{file}");
    let file_id = file["id"].as_str().unwrap().to_string();
    assert_eq!(file["file_name"], "的士收據.pdf");
    assert_eq!(file["size_bytes"], content.len());
    assert_eq!(file["instance_id"], Value::Null);

    // Bob cannot put Alice's upload on a request of his own.
    let (status, body) = submit(
        &o.bob.0,
        &template,
        json!({ "reason": "偷用", "receipts": [file_id] }),
    )
    .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_values")
    );
    assert!(body["error"]["fields"]["receipts"].is_string(), "{body}");

    // A refused submission (reason missing) claims nothing.
    let (status, body) = submit(&o.alice.0, &template, json!({ "receipts": [file_id] })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        o.t.count("SELECT COUNT(*) FROM approval_files WHERE instance_id IS NULL")
            .await,
        1
    );

    let (status, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "的士", "receipts": [file_id] }),
    )
    .await;
    assert_eq!(status, 200, "{request}");
    let id = request["id"].as_str().unwrap().to_string();
    let link = format!("/approvals/{id}/files/{file_id}");

    // The approver sees it listed on the request and its print view, and
    // downloads it (as an attachment, whatever its type).
    for page in [format!("/approvals/{id}"), format!("/approvals/{id}/print")] {
        let (status, _, html) = get(&o.bob.0, &page).await;
        let html = String::from_utf8(html).unwrap();
        assert_eq!(status, 200, "{page}");
        assert!(html.contains(&format!("href=\"{link}\"")), "{page}: {html}");
        assert!(html.contains("的士收據.pdf"), "{page}");
    }
    let (status, disposition, bytes) = get(&o.bob.0, &link).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, content);
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    // So does the submitter.
    assert_eq!(get(&o.alice.0, &link).await.0, 200);

    // Fiona's step has not come yet: she may not see the request, nor its
    // file; a member of another org guessing the ids gets 404 too.
    assert_eq!(get(&o.fiona.0, &link).await.0, 404);
    let stranger =
        o.t.register_email("mallory@example.com", "Mallory", Some("別家公司"), None)
            .await;
    assert_eq!(get(&stranger, &link).await.0, 404);
    // Nor can the stranger put the file on a request in their own org.
    let stranger_id = crate::chat::user_id(&stranger).await;
    let theirs = create_template(&stranger, design(&stranger_id)).await;
    let (status, body) = submit(
        &stranger,
        &theirs,
        json!({ "reason": "偷", "receipts": [file_id] }),
    )
    .await;
    assert_eq!(
        (status.as_u16(), error_code(&body)),
        (400, "invalid_values")
    );

    // Once Bob approves, Fiona is an approver and may fetch it.
    let (status, _) =
        crate::approvals::decide(&o.bob.0, &task_of(&request, &o.bob.1), "approve").await;
    assert_eq!(status, 200);
    assert_eq!(get(&o.fiona.0, &link).await.0, 200);
    // A claimed file is not swept, however old.
    o.t.advance(3 * 24 * 3600);
    let (status, _) = upload(&o.alice.0, "b.pdf", b"later".to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(get(&o.fiona.0, &link).await.0, 200);
    o.t.stop().await;
}

#[tokio::test]
async fn an_upload_never_submitted_is_swept_and_too_large_ones_are_refused() {
    let o = office().await;
    let (status, first) = upload(&o.alice.0, "a.pdf", b"first".to_vec()).await;
    assert_eq!(status, 200);
    let first = first["id"].as_str().unwrap().to_string();
    assert!(o.t.state().blobs.exists(&format!("apf_{first}")));

    // A day later, Alice's next upload sweeps the one she never submitted.
    o.t.advance(25 * 3600);
    let (status, second) = upload(&o.alice.0, "b.pdf", b"second".to_vec()).await;
    assert_eq!(status, 200);
    let second = second["id"].as_str().unwrap().to_string();
    assert!(!o.t.state().blobs.exists(&format!("apf_{first}")));
    assert_eq!(o.t.count("SELECT COUNT(*) FROM approval_files").await, 1);

    // 20 MiB and one byte, streamed (no length announced): refused as it
    // passes the limit, and nothing kept.
    let mut chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![1u8; 1024 * 1024])).collect();
    chunks.push(Ok(vec![1u8]));
    let res = o
        .alice
        .0
        .http
        .post(o.alice.0.url("/api/v1/approvals/files?name=big.pdf"))
        .header("x-csrf-token", o.alice.0.csrf().await)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let (status, body) = upload(&o.alice.0, "empty.pdf", Vec::new()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(o.t.count("SELECT COUNT(*) FROM approval_files").await, 1);

    // Across a restart: the claimed file stays (chat's sweep leaves `apf_`
    // blobs alone), an upload a day old is swept, and so is a blob no row
    // refers to (a crash between keeping a file and recording it).
    let template = create_template(&o.owner.0, design(&o.fiona.1)).await;
    let (status, request) = submit(
        &o.alice.0,
        &template,
        json!({ "reason": "的士", "receipts": [second] }),
    )
    .await;
    assert_eq!(status, 200, "{request}");
    let (_, third) = upload(&o.alice.0, "c.pdf", b"third".to_vec()).await;
    let third = third["id"].as_str().unwrap().to_string();
    let shard = o.t.state().blobs.root().join("ap");
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::write(shard.join("apf_orphan"), b"lost").unwrap();
    o.t.advance(25 * 3600);
    let t = o.t.restart().await;
    let blobs = &t.state().blobs;
    assert!(blobs.exists(&format!("apf_{second}")));
    assert!(!blobs.exists(&format!("apf_{third}")));
    assert!(!blobs.exists("apf_orphan"));
    assert_eq!(t.count("SELECT COUNT(*) FROM approval_files").await, 1);
    let link = format!(
        "/approvals/{}/files/{second}",
        request["id"].as_str().unwrap()
    );
    let (status, _, bytes) = get(&o.alice.0, &link).await;
    assert_eq!((status, bytes), (200, b"second".to_vec()));
    t.stop().await;
}
