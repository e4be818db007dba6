//! The event store on both backends: cqrs-es repository traits, optimistic concurrency, atomic
//! multi-aggregate appends, positions and metadata.

use commands::bus::Loaded;
use commands::{CommandBus, Store};
use cqrs_es::persist::{PersistedEventStore, PersistenceError, SerializedEvent};
use cqrs_es::{CqrsFramework, EventStore};
use domain::ids::ServiceId;
use domain::metadata::{EventMetadata, Source};
use domain::service::{Service, ServiceCommand, ServiceDetails};
use domain::values::{Cents, Currency};
use migrations::{Backend, LogSignal};
use serde_json::json;
use tests::{events_eventually, ScratchDb, BACKENDS};

async fn open(backend: Backend) -> (ScratchDb, Store) {
    let db = ScratchDb::new(backend).await;
    let store = salon::app::open_store(&db.url).await.expect("store");
    (db, store)
}

fn event(aggregate_type: &str, id: &str, sequence: usize) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: id.into(),
        sequence,
        aggregate_type: aggregate_type.into(),
        event_type: "Tested".into(),
        event_version: "1".into(),
        payload: json!({"Tested": {"n": sequence}}),
        metadata: json!({"actor": "system", "source": "job", "recorded_at": "2027-01-01T00:00:00Z"}),
    }
}

fn details(name: &str) -> ServiceDetails {
    ServiceDetails {
        name: name.into(),
        description: String::new(),
        duration_minutes: 60,
        buffer_before_minutes: 0,
        buffer_after_minutes: 10,
        price_cents: Cents::new(5000).expect("cents"),
        deposit_cents: Cents::new(1000).expect("cents"),
        currency: Currency::usd(),
    }
}

#[tokio::test]
async fn appends_and_loads_in_sequence_with_increasing_positions() {
    for backend in BACKENDS {
        let (db, store) = open(backend).await;
        let a = store
            .append(&[event("Thing", "a", 1), event("Thing", "a", 2)])
            .await
            .expect("append");
        let b = store
            .append(&[event("Thing", "a", 3)])
            .await
            .expect("append");
        assert!(b > a, "{backend:?}: {b:?} !> {a:?}");
        let loaded = store.load::<Service>("a").await.expect("load");
        assert!(loaded.is_empty(), "aggregate types are kept apart");
        store.close().await;
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_second_append_of_a_sequence_is_an_optimistic_lock_conflict() {
    for backend in BACKENDS {
        let (db, store) = open(backend).await;
        store
            .append(&[event("Thing", "x", 1)])
            .await
            .expect("first");
        let second = store.append(&[event("Thing", "x", 1)]).await;
        assert!(
            matches!(second, Err(PersistenceError::OptimisticLockError)),
            "{backend:?}: {second:?}"
        );
        store.close().await;
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_multi_aggregate_append_is_all_or_nothing() {
    for backend in BACKENDS {
        let (db, store) = open(backend).await;
        store.append(&[event("Day", "d", 1)]).await.expect("first");
        // The new aggregate's event must not land when the day's sequence is taken.
        let both = store
            .append(&[event("Booking", "b", 1), event("Day", "d", 1)])
            .await;
        assert!(
            matches!(both, Err(PersistenceError::OptimisticLockError)),
            "{backend:?}"
        );
        let read = projections::ReadDb::connect(&db.url).await.expect("read");
        // A later append proves the failed one left nothing behind once everything is readable.
        store.append(&[event("Day", "d", 2)]).await.expect("next");
        let events = events_eventually(&read, 2).await;
        assert_eq!(events.len(), 2, "{backend:?}: a partial append landed");
        read.close().await;
        store.close().await;
        db.drop_db().await;
    }
}

/// The stores implement cqrs-es's repository trait: its own framework runs on them, and what it
/// writes is in our log with a position.
#[tokio::test]
async fn cqrs_es_framework_runs_on_both_repositories() {
    for backend in BACKENDS {
        let (db, store) = open(backend).await;
        let id = ServiceId::new();
        let command = ServiceCommand::Create {
            id,
            details: details("Framework cut"),
        };
        match &store {
            Store::Sqlite(repo) => {
                let es = PersistedEventStore::<_, Service>::new_event_store(repo.clone());
                let cqrs = CqrsFramework::new(es, vec![], ());
                cqrs.execute(&id.to_string(), command)
                    .await
                    .expect("execute");
                let es = PersistedEventStore::<_, Service>::new_event_store(repo.clone());
                let ctx = es.load_aggregate(&id.to_string()).await.expect("load");
                assert_eq!(
                    ctx.aggregate.details.map(|d| d.name),
                    Some("Framework cut".into())
                );
            }
            Store::Postgres(pg) => {
                let repo = postgres_es::PostgresEventRepository::new(pg.pool().clone());
                let es = PersistedEventStore::<_, Service>::new_event_store(repo);
                let cqrs = CqrsFramework::new(es, vec![], ());
                cqrs.execute(&id.to_string(), command)
                    .await
                    .expect("execute");
            }
        }
        let read = projections::ReadDb::connect(&db.url).await.expect("read");
        let events = events_eventually(&read, 1).await;
        assert_eq!(events.len(), 1, "{backend:?}");
        assert_eq!(events[0].event_type, "ServiceCreated");
        assert!(events[0].at.position >= 1);
        read.close().await;
        store.close().await;
        db.drop_db().await;
    }
}

#[tokio::test]
async fn the_bus_records_audit_metadata_and_decides_again_after_a_conflict() {
    for backend in BACKENDS {
        let (db, store) = open(backend).await;
        let bus = CommandBus::new(store.clone(), LogSignal::default());
        let other = CommandBus::new(store.clone(), LogSignal::default());
        let id = ServiceId::new();
        let key = id.to_string();
        let meta = EventMetadata::new("token:ci", Source::Api)
            .with_request_id("r-1")
            .with_reason(Some("new menu".into()));
        bus.execute::<Service>(
            &key,
            ServiceCommand::Create {
                id,
                details: details("Cut"),
            },
            &meta,
        )
        .await
        .expect("create");
        // Another server changes the service; this bus's cached copy is now stale.
        other
            .execute::<Service>(
                &key,
                ServiceCommand::Update {
                    details: details("Cut and style"),
                },
                &meta,
            )
            .await
            .expect("update");
        let (_, state) = bus
            .execute::<Service>(&key, ServiceCommand::Archive, &meta)
            .await
            .expect("archive on fresh state");
        assert!(state.archived);
        let fresh: Loaded<Service> = bus.load_fresh(&key).await.expect("load");
        assert_eq!(fresh.version, 3);
        assert_eq!(
            fresh.state.details.map(|d| d.name),
            Some("Cut and style".into())
        );
        let read = projections::ReadDb::connect(&db.url).await.expect("read");
        let events = events_eventually(&read, 3).await;
        assert_eq!(events.len(), 3);
        for e in &events {
            assert_eq!(e.metadata["actor"], "token:ci");
            assert_eq!(e.metadata["source"], "api");
            assert_eq!(e.metadata["request_id"], "r-1");
            assert_eq!(e.metadata["reason"], "new menu");
        }
        read.close().await;
        store.close().await;
        db.drop_db().await;
    }
}
