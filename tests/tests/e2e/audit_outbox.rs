//! The audit outbox's retention: the relay deletes rows shipped longer than
//! `AUDIT_OUTBOX_RETENTION_HOURS` ago; unshipped and recently shipped rows stay, and several
//! relays pruning at once delete each row once.

use api_http::jobs::prune_audit_outbox_once;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use e2e::TestApp;

#[derive(QueryableByName)]
struct Kept {
    #[diesel(sql_type = Text)]
    entity: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn exec(app: &TestApp, sql: &str) {
    let mut conn = app.app.pg.get().await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}

/// The outbox's rows per entity, by entity.
async fn kept(app: &TestApp) -> Vec<(String, i64)> {
    let mut conn = app.app.pg.get().await.unwrap();
    diesel::sql_query(
        "SELECT entity, count(*) AS n FROM audit_outbox GROUP BY entity ORDER BY entity",
    )
    .load::<Kept>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|k| (k.entity, k.n))
    .collect()
}

/// An application whose background relay ships once at start-up and then sleeps, so the test
/// alone decides when the outbox is pruned.
async fn quiet_relay_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.audit_relay_interval_ms = 3_600_000;
        c.audit_outbox_retention_hours = 24;
    })
    .await
}

#[tokio::test]
async fn shipped_rows_past_the_retention_go_and_unshipped_or_recent_ones_stay() {
    let app = quiet_relay_app().await;
    // Let the start-up run of the relay pass before the rows exist.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    exec(
        &app,
        "INSERT INTO audit_outbox (action, entity, occurred_at, shipped_at) VALUES
           ('CREATE', 'old_shipped', now() - interval '30 days', now() - interval '25 hours'),
           ('UPDATE', 'old_shipped', now() - interval '30 days', now() - interval '29 days'),
           ('CREATE', 'recent_shipped', now() - interval '30 days', now() - interval '23 hours'),
           ('CREATE', 'unshipped', now() - interval '30 days', NULL)",
    )
    .await;

    assert_eq!(prune_audit_outbox_once(&app.app).await.unwrap(), 2);
    assert_eq!(
        kept(&app).await,
        [
            ("recent_shipped".to_owned(), 1),
            ("unshipped".to_owned(), 1)
        ]
    );
    assert_eq!(
        prune_audit_outbox_once(&app.app).await.unwrap(),
        0,
        "nothing else is due"
    );
}

#[tokio::test]
async fn several_relays_pruning_at_once_delete_each_row_once_in_bounded_batches() {
    let app = quiet_relay_app().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // More than two batches' worth (domain::audit::PRUNE_BATCH is 1,000).
    exec(
        &app,
        "INSERT INTO audit_outbox (action, entity, occurred_at, shipped_at)
         SELECT 'CREATE', 'old_shipped', now() - interval '30 days', now() - interval '2 days'
         FROM generate_series(1, 2500)",
    )
    .await;
    exec(
        &app,
        "INSERT INTO audit_outbox (action, entity) VALUES ('CREATE', 'unshipped')",
    )
    .await;

    let (a, b, c) = tokio::join!(
        prune_audit_outbox_once(&app.app),
        prune_audit_outbox_once(&app.app),
        prune_audit_outbox_once(&app.app)
    );
    assert_eq!(a.unwrap() + b.unwrap() + c.unwrap(), 2500);
    assert_eq!(kept(&app).await, [("unshipped".to_owned(), 1)]);
}
