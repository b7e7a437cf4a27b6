//! Every `down.sql` reverses its `up.sql`: after applying migration N and reverting it, the
//! catalogue (tables, columns, constraints, indexes, types, functions) is exactly what it was
//! before N; and all of them revert to an empty database.

use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use e2e::TestDatabase;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// A text picture of everything the migrations can create in `public`.
const CATALOGUE: &str = r"
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
       || ' ' || coalesce(column_default, '') AS line
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint
 WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '__diesel_schema_migrations'
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes
 WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'
UNION ALL
SELECT 'type ' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
  FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
 WHERE t.typnamespace = 'public'::regnamespace GROUP BY t.typname
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
UNION ALL
SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
ORDER BY 1";

async fn catalogue(db: &TestDatabase) -> Vec<String> {
    let mut conn = db.connect().await;
    diesel::sql_query(CATALOGUE)
        .load::<Line>(&mut conn)
        .await
        .expect("catalogue query")
        .into_iter()
        .map(|l| l.line)
        .collect()
}

#[tokio::test]
async fn every_down_migration_reverses_its_up_migration() {
    use adapters_postgres::migrations::{embedded_names, revert_last, run_next};
    let db = TestDatabase::create_empty().await;
    let empty = catalogue(&db).await;
    assert!(
        empty.is_empty(),
        "a new database has nothing of ours: {empty:?}"
    );

    let names = embedded_names();
    assert!(names.len() >= 4, "{names:?}");
    for name in &names {
        let before = catalogue(&db).await;
        let applied = run_next(&db.url)
            .await
            .expect("up")
            .expect("a pending migration");
        let after = catalogue(&db).await;
        assert_ne!(before, after, "{name} changes the schema");

        revert_last(&db.url).await.expect("down");
        assert_eq!(
            catalogue(&db).await,
            before,
            "down.sql of {name} ({applied}) reverses its up.sql"
        );
        run_next(&db.url).await.expect("up again");
        assert_eq!(
            catalogue(&db).await,
            after,
            "{name} applies again after a revert"
        );
    }
    assert_eq!(run_next(&db.url).await.expect("nothing pending"), None);

    adapters_postgres::migrations::revert_all(&db.url)
        .await
        .expect("revert all");
    assert_eq!(catalogue(&db).await, empty);
    db.drop_now().await;
}

#[tokio::test]
async fn running_migrations_twice_applies_nothing_new() {
    let db = TestDatabase::create_empty().await;
    let first = adapters_postgres::migrations::run_pending(&db.url)
        .await
        .unwrap();
    assert_eq!(
        first.len(),
        adapters_postgres::migrations::embedded_names().len()
    );
    let second = adapters_postgres::migrations::run_pending(&db.url)
        .await
        .unwrap();
    assert!(second.is_empty());
    db.drop_now().await;
}
