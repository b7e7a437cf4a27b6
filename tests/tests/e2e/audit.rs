//! The audit trail: every committed change has exactly one `audit_logs` entry, even when
//! MongoDB is down at the time or PostgreSQL was re-created (outbox numbers issued again); a
//! rolled-back change has none; admins can search it.

use std::collections::HashSet;

use e2e::api::PASSWORD;
use e2e::servers::{Kind, ThrowawayServer};
use e2e::TestApp;
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

async fn audit_docs(app: &TestApp) -> Vec<Document> {
    let collection = app
        .app
        .mongo
        .database()
        .collection::<Document>("audit_logs");
    collection
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

async fn outbox_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.app.pg.get().await.unwrap();
    adapters_postgres::schema::audit_outbox::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

fn assert_exactly_once(docs: &[Document], expected: i64) {
    let ids: HashSet<&str> = docs.iter().map(|d| d.get_str("eventId").unwrap()).collect();
    assert_eq!(
        docs.len() as i64,
        expected,
        "one document per committed event"
    );
    assert_eq!(ids.len(), docs.len(), "no event shipped twice");
}

#[tokio::test]
async fn writes_succeed_while_mongodb_is_down_and_every_event_arrives_once_afterwards() {
    let mut mongo = ThrowawayServer::start(Kind::Mongo);
    let uri = mongo.url();
    let app = TestApp::spawn_with(|c| {
        c.mongodb_uri = uri;
        // A stopped store answers 503 after this long: short, as the outage is certain here.
        c.store_timeout_ms = 1500;
    })
    .await;
    // Down before the first event: a SIGKILLed test server may lose writes it had acknowledged
    // but not flushed, which would say nothing about the relay.
    mongo.stop();
    let admin = app.admin().await;
    let mut department_ids = Vec::new();
    for i in 0..5 {
        let (status, body) = app
            .json(
                Method::POST,
                "/departments",
                Some(&admin.token),
                Some(json!({ "name": format!("Ward {i}") })),
            )
            .await;
        assert_eq!(status, 201, "writes succeed with MongoDB down: {body}");
        department_ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let patient = app.patient().await; // CREATE user + LOGIN
                                       // A rolled-back write: the duplicate registration fails, so it must leave no event.
    let (status, _) = app
        .json(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({ "email": patient.email, "password": PASSWORD, "name": "Dup" })),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .json(Method::GET, "/audit-logs", Some(&admin.token), None)
        .await;
    assert_eq!(status, 503, "searching the audit log needs MongoDB");

    let committed = outbox_count(&app).await;
    // create-admin CREATE + admin LOGIN + 5 departments + patient CREATE + patient LOGIN.
    assert_eq!(
        committed, 9,
        "one outbox row per committed change, none for the rolled-back one"
    );

    mongo.restart();
    app.wait_for_audit_shipped().await;
    let docs = audit_docs(&app).await;
    assert_exactly_once(&docs, committed);
    let user_creates = docs
        .iter()
        .filter(|d| d.get_str("entity") == Ok("user") && d.get_str("action") == Ok("CREATE"))
        .count();
    assert_eq!(
        user_creates, 2,
        "the failed duplicate registration left no event"
    );

    // Documents have the data model's shape, and never a password hash.
    let department = docs
        .iter()
        .find(|d| d.get_str("entityId") == Ok(department_ids[0].as_str()))
        .unwrap();
    assert_eq!(department.get_str("action").unwrap(), "CREATE");
    assert_eq!(department.get_str("userId").unwrap(), admin.user_id);
    assert_eq!(
        department
            .get_document("changes")
            .unwrap()
            .get_document("after")
            .unwrap()
            .get_str("name")
            .unwrap(),
        "Ward 0"
    );
    assert!(department.get_datetime("timestamp").is_ok());
    assert!(department.contains_key("ipAddress") && department.contains_key("userAgent"));
    let everything = format!("{docs:?}");
    assert!(
        !everything.contains("$argon2"),
        "no password hash is ever recorded"
    );
    assert!(
        !everything.contains(PASSWORD),
        "no password is ever recorded"
    );
}

#[tokio::test]
async fn two_relays_side_by_side_ship_each_event_once_and_in_order() {
    let first = TestApp::spawn().await;
    let (database, mongo_db, prefix) = (
        first.config.database_url.clone(),
        first.config.mongodb_database.clone(),
        first.config.redis_key_prefix.clone(),
    );
    // A second `serve` on the same stores: same database, same MongoDB database, same Redis.
    let second = TestApp::spawn_with(|c| {
        c.database_url = database;
        c.mongodb_database = mongo_db;
        c.redis_key_prefix = prefix;
    })
    .await;
    let admin = first.admin().await;
    for i in 0..30 {
        let app = if i % 2 == 0 { &first } else { &second };
        let (status, _) = app
            .json(
                Method::POST,
                "/departments",
                Some(&admin.token),
                Some(json!({ "name": format!("D{i}") })),
            )
            .await;
        assert_eq!(status, 201);
    }
    first.wait_for_audit_shipped().await;
    let docs = audit_docs(&first).await;
    assert_exactly_once(&docs, outbox_count(&first).await);
    let mut ids: Vec<i64> = docs
        .iter()
        .map(|d| d.get_i64("outboxId").unwrap())
        .collect();
    let inserted_order = ids.clone();
    ids.sort_unstable();
    assert_eq!(inserted_order, ids, "shipped in outbox order");
}

#[tokio::test]
async fn admins_search_the_audit_log_by_user_entity_action_and_time() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let receptionist = app.staff(&admin, "RECEPTIONIST").await;
    let (_, department) = app
        .json(
            Method::POST,
            "/departments",
            Some(&admin.token),
            Some(json!({ "name": "Radiology" })),
        )
        .await;
    let department_id = department["id"].as_str().unwrap();
    let path = format!("/departments/{department_id}");
    let (status, _) = app
        .json(
            Method::PUT,
            &path,
            Some(&admin.token),
            Some(json!({ "name": "Radiology", "isActive": false })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .json(
            Method::POST,
            "/auth/logout",
            Some(&receptionist.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    app.wait_for_audit_shipped().await;

    let search = |query: String| {
        let app = &app;
        let token = admin.token.clone();
        async move {
            let (status, body) = app
                .json(
                    Method::GET,
                    &format!("/audit-logs?{query}"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{query}: {body}");
            body
        }
    };
    let by_entity: Value = search(format!("entity=department&entityId={department_id}")).await;
    let actions: Vec<&str> = by_entity["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["UPDATE", "CREATE"], "newest first");
    let update = &by_entity["items"][0];
    assert_eq!(update["changes"]["before"]["isActive"], true);
    assert_eq!(update["changes"]["after"]["isActive"], false);

    let logouts = search(format!("action=LOGOUT&userId={}", receptionist.user_id)).await;
    assert_eq!(logouts["total"], 1);
    let logins = search("action=LOGIN".into()).await;
    assert_eq!(logins["total"], 2, "admin and receptionist logged in");

    let future = search("from=2099-01-01T00:00:00Z".into()).await;
    assert_eq!(future["total"], 0);
    let paged = search("perPage=2&page=1".into()).await;
    assert_eq!(paged["items"].as_array().unwrap().len(), 2);
    assert!(paged["total"].as_u64().unwrap() >= 6);

    let (status, body) = app
        .json(
            Method::GET,
            "/audit-logs?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z",
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("from")));
    let (status, body) = app
        .json(
            Method::GET,
            "/audit-logs?action=EXPLODE",
            Some(&admin.token),
            None,
        )
        .await;
    // Well-formed but not an action: 422 naming it, like every other list parameter.
    assert_eq!((status, body["field"].as_str()), (422, Some("action")));
}

/// The outbox's (event id, outbox id) pairs, oldest first.
async fn outbox_events(app: &TestApp) -> Vec<(Uuid, i64)> {
    use adapters_postgres::schema::audit_outbox;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.app.pg.get().await.unwrap();
    audit_outbox::table
        .order(audit_outbox::id.asc())
        .select((audit_outbox::event_id, audit_outbox::id))
        .load(&mut conn)
        .await
        .unwrap()
}

/// How many `audit_logs` documents carry each event id.
fn count_by_event_id(docs: &[Document]) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for d in docs {
        *counts
            .entry(d.get_str("eventId").unwrap().to_owned())
            .or_insert(0) += 1;
    }
    counts
}

async fn create_departments(app: &TestApp, token: &str, prefix: &str, n: usize) {
    for i in 0..n {
        let (status, body) = app
            .json(
                Method::POST,
                "/departments",
                Some(token),
                Some(json!({ "name": format!("{prefix} {i}") })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

/// Hands each batch to MongoDB and keeps a copy, to ship it again by hand.
struct RecordingSink {
    inner: adapters_mongo::MongoAuditLog,
    seen: std::sync::Mutex<Vec<domain::audit::AuditRecord>>,
}

#[async_trait::async_trait]
impl domain::audit::AuditSink for RecordingSink {
    async fn append(
        &self,
        records: Vec<domain::audit::AuditRecord>,
    ) -> Result<(), domain::error::DomainError> {
        self.seen.lock().unwrap().extend(records.iter().cloned());
        self.inner.append(records).await
    }
}

#[tokio::test]
async fn a_recreated_postgres_database_ships_its_new_events_once_though_outbox_ids_repeat() {
    use domain::audit::{AuditOutbox, AuditSink};
    // The relay job is driven by hand here (it ran once at start-up, with nothing to ship).
    let app = TestApp::spawn_with(|c| c.audit_relay_interval_ms = 3_600_000).await;
    app.app.audit_log.ensure_indexes().await.unwrap();
    let admin = app.admin().await;
    create_departments(&app, &admin.token, "Before", 3).await;
    app.app.audit_relay.drain().await.unwrap();
    let before = outbox_events(&app).await;
    assert_eq!(before.len(), 5, "create-admin, login, 3 departments");

    // A restore / re-creation: same MongoDB database, a fresh PostgreSQL one.
    app.database().recreate().await;
    assert!(outbox_events(&app).await.is_empty(), "a fresh outbox");
    let admin = app.admin().await;
    create_departments(&app, &admin.token, "After", 4).await;
    let after = outbox_events(&app).await;
    assert_eq!(after.len(), 6);
    let old_outbox_ids: HashSet<i64> = before.iter().map(|(_, id)| *id).collect();
    assert!(
        after
            .iter()
            .all(|(_, id)| old_outbox_ids.contains(id) || *id > 5),
        "outbox ids start again"
    );
    assert!(
        after.iter().any(|(_, id)| old_outbox_ids.contains(id)),
        "the new events reuse outbox ids already in audit_logs"
    );
    assert_eq!(app.app.audit_relay.drain().await.unwrap(), 6);

    let docs = audit_docs(&app).await;
    let counts = count_by_event_id(&docs);
    for (event_id, outbox_id) in before.iter().chain(&after) {
        assert_eq!(
            counts.get(&event_id.to_string()),
            Some(&1),
            "event {event_id} (outbox id {outbox_id}) stored exactly once"
        );
    }
    assert_eq!(
        docs.len(),
        before.len() + after.len(),
        "nothing else stored"
    );

    // Shipping the same batch again, twice (a crash between the MongoDB write and the commit,
    // twice over): nothing is stored twice and the relay reports no error.
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.app.pg.get().await.unwrap();
        diesel::sql_query("UPDATE audit_outbox SET shipped_at = NULL")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let recording = std::sync::Arc::new(RecordingSink {
        inner: app.app.audit_log.clone(),
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let outbox = adapters_postgres::PgAuditOutbox {
        pool: app.app.pg.clone(),
    };
    assert_eq!(outbox.relay_batch(recording.clone(), 100).await.unwrap(), 6);
    let batch = recording.seen.lock().unwrap().clone();
    assert_eq!(batch.len(), 6);
    app.app.audit_log.append(batch.clone()).await.unwrap();
    app.app.audit_log.append(batch).await.unwrap();
    let again = audit_docs(&app).await;
    assert_eq!(again.len(), docs.len(), "re-shipped batches store nothing");
    assert!(count_by_event_id(&again).values().all(|n| *n == 1));
}

#[tokio::test]
async fn a_legacy_unique_outbox_id_index_is_replaced_at_start_up() {
    use mongodb::options::IndexOptions;
    use mongodb::IndexModel;
    // A MongoDB database as the previous version left it: a unique outboxId index and
    // documents without event ids. The app then starts on it.
    let database = format!("hs_test_{}", e2e::unique_id());
    let config = api_http::Config::from_env();
    let mongo = adapters_mongo::MongoStore::new(&adapters_mongo::MongoConfig {
        uri: config.mongodb_uri.clone(),
        database: database.clone(),
        max_pool_size: 2,
        timeout: std::time::Duration::from_secs(5),
    })
    .await
    .unwrap();
    let collection = mongo.database().collection::<Document>("audit_logs");
    collection
        .create_index(
            IndexModel::builder()
                .keys(doc! { "outboxId": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .unwrap();
    let legacy = |outbox_id: i64| {
        doc! { "outboxId": outbox_id, "action": "CREATE", "entity": "department",
        "changes": { "before": null, "after": null },
        "timestamp": mongodb::bson::DateTime::now() }
    };
    collection
        .insert_many([legacy(1), legacy(2)])
        .await
        .unwrap();
    let app = TestApp::spawn_with(|c| {
        c.mongodb_database = database;
        c.audit_relay_interval_ms = 3_600_000;
    })
    .await;

    app.app.audit_log.ensure_indexes().await.unwrap();
    app.app.audit_log.ensure_indexes().await.unwrap(); // idempotent
    let indexes: Vec<IndexModel> = collection
        .list_indexes()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let unique_on = |key: &str| {
        indexes.iter().any(|i| {
            i.keys.contains_key(key) && i.options.as_ref().and_then(|o| o.unique) == Some(true)
        })
    };
    assert!(!unique_on("outboxId"), "{indexes:?}");
    assert!(unique_on("eventId"), "{indexes:?}");

    // New events with outbox ids 1 and 2 again (this database is fresh) are all stored.
    let admin = app.admin().await;
    create_departments(&app, &admin.token, "Legacy", 1).await;
    assert_eq!(app.app.audit_relay.drain().await.unwrap(), 3);
    assert_eq!(audit_docs(&app).await.len(), 2 + 3);
    let (status, page) = app
        .json(
            Method::GET,
            "/audit-logs?perPage=100",
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(
        status, 200,
        "legacy documents without event ids still read: {page}"
    );
    assert_eq!(page["total"], 5);
}
