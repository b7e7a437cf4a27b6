//! The S3 file store against a real S3-protocol server (moto, started by `make test`'s stack;
//! or any endpoint given as `S3_TEST_ENDPOINT`): multipart writes appear whole on finish,
//! aborted ones leave no object and no pending upload, and the whole app runs on it.

use adapters_files::{ObjectStoreFiles, S3Config};
use domain::medical_records::FileStore;
use e2e::clinic::pdf;
use e2e::TestApp;
use futures::StreamExt;

fn endpoint() -> String {
    std::env::var("S3_TEST_ENDPOINT")
        .expect("S3_TEST_ENDPOINT is set by `make test` (docker/stack.sh starts an S3 server)")
}

/// A fresh bucket on the test server.
async fn bucket() -> (String, S3Config) {
    let name = format!("hs-test-{}", e2e::unique_id());
    let response = reqwest::Client::new()
        .put(format!("{}/{name}", endpoint()))
        .send()
        .await
        .expect("S3 server reachable");
    assert!(
        response.status().is_success(),
        "create bucket: {}",
        response.status()
    );
    let config = S3Config {
        bucket: name.clone(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint()),
        access_key_id: Some("test-key".into()),
        secret_access_key: Some("test-secret".into()),
        allow_http: true,
    };
    (name, config)
}

/// The bucket's object keys and its unfinished multipart uploads, from the S3 API itself.
async fn bucket_contents(name: &str) -> (usize, usize) {
    let client = reqwest::Client::new();
    let list = client
        .get(format!("{}/{name}?list-type=2", endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let uploads = client
        .get(format!("{}/{name}?uploads", endpoint()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (
        list.matches("<Key>").count(),
        uploads.matches("<Upload>").count(),
    )
}

async fn read_all(files: &ObjectStoreFiles, key: &str) -> Vec<u8> {
    let mut stream = files.open(key).await.unwrap();
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        all.extend(chunk.unwrap());
    }
    all
}

#[tokio::test]
async fn multipart_writes_appear_whole_and_aborted_ones_leave_nothing() {
    let (name, config) = bucket().await;
    let files = ObjectStoreFiles::s3(&config).unwrap();
    // 12 MiB: more than two 5 MiB parts.
    let big: Vec<u8> = (0..12 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut writer = files.create("medical-records/p/big").await.unwrap();
    for chunk in big.chunks(64 * 1024) {
        writer.write(chunk).await.unwrap();
    }
    assert_eq!(
        bucket_contents(&name).await.0,
        0,
        "not visible before finish"
    );
    writer.finish().await.unwrap();
    assert!(read_all(&files, "medical-records/p/big").await == big);

    let mut writer = files.create("medical-records/p/aborted").await.unwrap();
    for chunk in big.chunks(1024 * 1024).take(7) {
        writer.write(chunk).await.unwrap();
    }
    writer.abort().await;
    assert!(matches!(
        files.open("medical-records/p/aborted").await.err(),
        Some(domain::error::DomainError::NotFound("file"))
    ));
    assert_eq!(
        bucket_contents(&name).await,
        (1, 0),
        "one object, no pending upload"
    );
    files.delete("medical-records/p/big").await.unwrap();
    assert_eq!(bucket_contents(&name).await, (0, 0));
}

#[tokio::test]
async fn the_app_stores_and_serves_records_from_s3() {
    let (name, s3) = bucket().await;
    let app = TestApp::spawn_with(|c| {
        c.file_store = "s3".into();
        c.s3_bucket = s3.bucket.clone();
        c.s3_endpoint = s3.endpoint.clone();
        c.s3_access_key_id = s3.access_key_id.clone();
        c.s3_secret_access_key = s3.secret_access_key.clone();
        c.s3_allow_http = true;
        c.upload_max_bytes = 256 * 1024;
    })
    .await;
    let v = app.visit("10.00", true).await;
    let report = pdf(200_000);
    let (status, record) = app
        .upload(
            Some(&v.doctor.token),
            &v.patient_id,
            "IMAGING",
            "scan.pdf",
            "application/pdf",
            &report,
        )
        .await;
    assert_eq!(status, 201, "{record}");
    let url = record["fileUrl"].as_str().unwrap();
    let response = app
        .client
        .get(app.url(url))
        .bearer_auth(&v.patient.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap().as_ref() == report.as_slice());
    // Refused uploads leave nothing in the bucket either.
    let (status, _) = app
        .upload(
            Some(&v.doctor.token),
            &v.patient_id,
            "IMAGING",
            "big.pdf",
            "application/pdf",
            &pdf(300_000),
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(bucket_contents(&name).await, (1, 0));
}
