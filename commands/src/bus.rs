//! The command executor: load an aggregate, let it decide, append its events with audit
//! metadata, and announce the new log position.
//!
//! Decisions can be combined: [`CommandBus::commit`] appends the events of several aggregates in
//! one transaction (a booking reserves the stylist's day and creates the booking together).
//!
//! A small in-process cache of aggregates saves the load query on the hot path. It is safe
//! because it is only ever a starting point: every append names the next sequence number of
//! each aggregate it writes, so an append decided on a stale copy (another server wrote in the
//! meantime) fails with a conflict, the stale copies are dropped, and the command is decided
//! again on fresh state. Aggregates read only to validate (the salon's settings, a service) are
//! never appended to by that command; those reads use [`CommandBus::load_recent`] with a short
//! age limit instead.

use crate::store::Store;
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent};
use domain::metadata::EventMetadata;
use migrations::{LogPosition, LogSignal};
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a command is decided again after losing a race on its aggregate.
const MAX_ATTEMPTS: usize = 8;
/// Past this many cached aggregates the cache starts over (old days are never read again).
const CACHE_CAP: usize = 20_000;

/// An aggregate as loaded: its state and the sequence number of its last event (0 = new).
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub state: A,
    pub version: usize,
}

/// What a command decided, not yet written.
pub struct Decision<A: Aggregate> {
    id: String,
    base_version: usize,
    state: A,
    events: Vec<A::Event>,
}

impl<A: Aggregate> Decision<A> {
    pub fn events(&self) -> &[A::Event] {
        &self.events
    }
    pub fn state(&self) -> &A {
        &self.state
    }
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Where a commit landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Position of the last event written (unchanged log position when nothing was written).
    pub position: LogPosition,
    pub events: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    #[error(transparent)]
    Rejected(E),
    #[error("too many concurrent changes to the same record; try again")]
    Contended,
    /// The caller decided on a version of the record that is no longer the newest (an
    /// `If-Match` that no longer matches): nothing was written.
    #[error("the record has changed since version {expected}; it is at version {current}")]
    Stale { expected: usize, current: usize },
    #[error("event store: {0}")]
    Store(#[from] PersistenceError),
}

/// Type-erased view of a decision, so decisions on different aggregates commit together.
pub trait Pending: Send + Sync {
    fn serialize(
        &self,
        metadata: &serde_json::Value,
    ) -> Result<Vec<SerializedEvent>, PersistenceError>;
    fn key(&self) -> (&'static str, String);
    /// Whether this decision writes nothing.
    fn is_unchanged(&self) -> bool;
    fn cache_entry(&self) -> Option<(Box<dyn Any + Send + Sync>, usize)>;
}

impl<A> Pending for Decision<A>
where
    A: Aggregate + Clone + 'static,
{
    fn serialize(
        &self,
        metadata: &serde_json::Value,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Ok(SerializedEvent {
                    aggregate_id: self.id.clone(),
                    sequence: self.base_version + i + 1,
                    aggregate_type: A::TYPE.to_string(),
                    event_type: e.event_type(),
                    event_version: e.event_version(),
                    payload: serde_json::to_value(e)?,
                    metadata: metadata.clone(),
                })
            })
            .collect()
    }
    fn key(&self) -> (&'static str, String) {
        (A::TYPE, self.id.clone())
    }
    fn is_unchanged(&self) -> bool {
        self.events.is_empty()
    }
    fn cache_entry(&self) -> Option<(Box<dyn Any + Send + Sync>, usize)> {
        Some((
            Box::new(self.state.clone()),
            self.base_version + self.events.len(),
        ))
    }
}

struct CacheEntry {
    state: Box<dyn Any + Send + Sync>,
    version: usize,
    loaded_at: Instant,
}

#[derive(Default)]
struct Cache {
    // A std mutex: every critical section is a map lookup or insert, never held across .await.
    entries: Mutex<HashMap<(&'static str, String), CacheEntry>>,
}

impl Cache {
    fn get<A: Aggregate + Clone + 'static>(
        &self,
        id: &str,
        max_age: Option<Duration>,
    ) -> Option<Loaded<A>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&(A::TYPE, id.to_string()))?;
        if max_age.is_some_and(|age| entry.loaded_at.elapsed() > age) {
            return None;
        }
        let state = entry.state.downcast_ref::<A>()?.clone();
        Some(Loaded {
            state,
            version: entry.version,
        })
    }
    fn put(&self, key: (&'static str, String), state: Box<dyn Any + Send + Sync>, version: usize) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_CAP {
            entries.clear();
        }
        entries.insert(
            key,
            CacheEntry {
                state,
                version,
                loaded_at: Instant::now(),
            },
        );
    }
    fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
    fn evict(&self, key: &(&'static str, String)) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Striped async locks by aggregate id. Holding one only avoids wasted work inside this process
/// (deciding on state another task is about to change); correctness never depends on it, the
/// append's sequence check decides.
struct Stripes {
    locks: Vec<tokio::sync::Mutex<()>>,
}

impl Stripes {
    const COUNT: usize = 1024;

    fn new() -> Self {
        Self {
            locks: (0..Self::COUNT)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    async fn lock(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        self.locks[(h.finish() as usize) % Self::COUNT].lock().await
    }
}

/// How one decision on one aggregate ended, as a [`CommandObserver`] hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Its events were appended.
    Committed,
    /// The aggregate decided that nothing changes (no events).
    Unchanged,
    /// The aggregate refused the command (an invariant, a missing record).
    Rejected,
    /// Optimistic concurrency: another writer appended to the aggregate first; nothing was
    /// written (the bus usually decides again on fresh state).
    Conflict,
    /// The store failed.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Committed => "committed",
            Self::Unchanged => "unchanged",
            Self::Rejected => "rejected",
            Self::Conflict => "conflict",
            Self::Failed => "failed",
        }
    }
}

/// Hears every decision the bus makes and every append it tries, per aggregate type (metrics).
/// Called on the command's task: keep it quick and never block.
pub trait CommandObserver: Send + Sync {
    fn observe(&self, aggregate: &'static str, outcome: Outcome);
}

/// Executes commands against the event store. Cheap to clone.
#[derive(Clone)]
pub struct CommandBus {
    store: Store,
    signal: LogSignal,
    cache: Arc<Cache>,
    stripes: Arc<Stripes>,
    collect_deposits: bool,
    observer: Option<Arc<dyn CommandObserver>>,
}

impl CommandBus {
    pub fn new(store: Store, signal: LogSignal) -> Self {
        Self {
            store,
            signal,
            cache: Arc::default(),
            stripes: Arc::new(Stripes::new()),
            collect_deposits: false,
            observer: None,
        }
    }

    /// Reports every decision and append to `observer` (see [`CommandObserver`]).
    pub fn with_observer(mut self, observer: Arc<dyn CommandObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    fn observe(&self, aggregate: &'static str, outcome: Outcome) {
        if let Some(o) = &self.observer {
            o.observe(aggregate, outcome);
        }
    }

    /// Whether bookings with a deposit are held until it is paid. Off when payments are not
    /// configured: the deposit step is skipped and such bookings are confirmed at once.
    pub fn with_deposits(mut self, collect: bool) -> Self {
        self.collect_deposits = collect;
        self
    }

    pub fn collects_deposits(&self) -> bool {
        self.collect_deposits
    }

    /// Waits for this process's turn on `key` (see [`Stripes`]).
    pub async fn day_lock(&self, key: &str) -> tokio::sync::MutexGuard<'_, ()> {
        self.stripes.lock(key).await
    }

    /// Drops every cached aggregate (after a client's key was deleted: cached states hold
    /// what was opened with it).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn signal(&self) -> &LogSignal {
        &self.signal
    }

    /// Loads an aggregate, from the cache when present (see the module comment for why that is
    /// safe for aggregates the command then writes).
    pub async fn load<A: Aggregate + Clone + 'static>(
        &self,
        id: &str,
    ) -> Result<Loaded<A>, PersistenceError> {
        if let Some(hit) = self.cache.get::<A>(id, None) {
            return Ok(hit);
        }
        self.load_fresh(id).await
    }

    /// Loads an aggregate that is only read, accepting a cached copy at most `max_age` old.
    pub async fn load_recent<A: Aggregate + Clone + 'static>(
        &self,
        id: &str,
        max_age: Duration,
    ) -> Result<Loaded<A>, PersistenceError> {
        if let Some(hit) = self.cache.get::<A>(id, Some(max_age)) {
            return Ok(hit);
        }
        self.load_fresh(id).await
    }

    /// Loads an aggregate from the store and refreshes the cache.
    pub async fn load_fresh<A: Aggregate + Clone + 'static>(
        &self,
        id: &str,
    ) -> Result<Loaded<A>, PersistenceError> {
        let events = self.store.load::<A>(id).await?;
        let mut state = A::default();
        let mut version = 0;
        for e in events {
            version = e.sequence;
            let event: A::Event = serde_json::from_value(e.payload)?;
            state.apply(event);
        }
        self.cache
            .put((A::TYPE, id.to_string()), Box::new(state.clone()), version);
        Ok(Loaded { state, version })
    }

    /// Lets the aggregate decide on `command`; nothing is written.
    pub async fn decide<A: Aggregate + Clone + 'static>(
        &self,
        loaded: &Loaded<A>,
        id: &str,
        command: A::Command,
        services: &A::Services,
    ) -> Result<Decision<A>, A::Error> {
        let mut state = loaded.state.clone();
        let sink = EventSink::default();
        if let Err(e) = state.handle(command, services, &sink).await {
            self.observe(A::TYPE, Outcome::Rejected);
            return Err(e);
        }
        Ok(Decision {
            id: id.to_string(),
            base_version: loaded.version,
            state,
            events: sink.collect().await,
        })
    }

    /// Appends the decisions' events in one transaction, each carrying `metadata`. On a
    /// conflict every aggregate involved is dropped from the cache and nothing is written.
    pub async fn commit(
        &self,
        decisions: &[&dyn Pending],
        metadata: &EventMetadata,
    ) -> Result<Committed, PersistenceError> {
        let meta = serde_json::to_value(metadata)?;
        let mut events = Vec::new();
        for d in decisions {
            events.extend(d.serialize(&meta)?);
        }
        if events.is_empty() {
            for d in decisions {
                self.observe(d.key().0, Outcome::Unchanged);
            }
            return Ok(Committed {
                position: self.signal.last(),
                events: 0,
            });
        }
        // Clients' personal data is sealed with their keys before it reaches the log.
        let result = match self.store.seal(&mut events).await {
            Ok(()) => self.store.append(&events).await,
            Err(crate::store::SealFailed::Sql(e)) => Err(crate::store::map_sqlx(e)),
            Err(e) => Err(PersistenceError::UnknownError(Box::new(e))),
        };
        if self.observer.is_some() {
            for d in decisions {
                let outcome = match &result {
                    Ok(_) if d.is_unchanged() => Outcome::Unchanged,
                    Ok(_) => Outcome::Committed,
                    Err(PersistenceError::OptimisticLockError) => Outcome::Conflict,
                    Err(_) => Outcome::Failed,
                };
                self.observe(d.key().0, outcome);
            }
        }
        match result {
            Ok(position) => {
                for d in decisions {
                    if let Some((state, version)) = d.cache_entry() {
                        self.cache.put(d.key(), state, version);
                    }
                }
                self.signal.appended(position);
                Ok(Committed {
                    position,
                    events: events.len(),
                })
            }
            Err(e) => {
                for d in decisions {
                    self.cache.evict(&d.key());
                }
                Err(e)
            }
        }
    }

    /// As [`CommandBus::execute`], but only on the aggregate at version `expected` (optimistic
    /// concurrency for a caller that read the record first, as HTTP `If-Match` does). The
    /// aggregate is read fresh from the store, and a lost race is not decided again: the record
    /// then changed after the caller read it, which is exactly what the caller asked to refuse.
    /// `None` behaves as `execute`.
    pub async fn execute_at<A>(
        &self,
        id: &str,
        command: A::Command,
        metadata: &EventMetadata,
        expected: Option<usize>,
    ) -> Result<(Committed, Loaded<A>), CommandError<A::Error>>
    where
        A: Aggregate<Services = ()> + Clone + 'static,
        A::Command: Clone,
    {
        let Some(expected) = expected else {
            return self.execute_versioned(id, command, metadata).await;
        };
        let loaded = self.load_fresh::<A>(id).await?;
        // A record that does not exist is the aggregate's to refuse (not found), not stale.
        if loaded.version != expected && loaded.version != 0 {
            return Err(CommandError::Stale {
                expected,
                current: loaded.version,
            });
        }
        let decision = self
            .decide(&loaded, id, command, &())
            .await
            .map_err(CommandError::Rejected)?;
        let version = loaded.version + decision.events.len();
        match self.commit(&[&decision], metadata).await {
            Ok(committed) => Ok((
                committed,
                Loaded {
                    state: decision.state,
                    version,
                },
            )),
            Err(PersistenceError::OptimisticLockError) => {
                let current = self
                    .load_fresh::<A>(id)
                    .await
                    .map(|l| l.version)
                    .unwrap_or(expected + 1);
                Err(CommandError::Stale { expected, current })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// As [`CommandBus::execute`], answering the aggregate's new version too.
    pub async fn execute_versioned<A>(
        &self,
        id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(Committed, Loaded<A>), CommandError<A::Error>>
    where
        A: Aggregate<Services = ()> + Clone + 'static,
        A::Command: Clone,
    {
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.load::<A>(id).await?;
            let decision = self
                .decide(&loaded, id, command.clone(), &())
                .await
                .map_err(CommandError::Rejected)?;
            let version = loaded.version + decision.events.len();
            match self.commit(&[&decision], metadata).await {
                Ok(committed) => {
                    return Ok((
                        committed,
                        Loaded {
                            state: decision.state,
                            version,
                        },
                    ))
                }
                Err(PersistenceError::OptimisticLockError) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CommandError::Contended)
    }

    /// Load, decide, append one aggregate; decided again on fresh state after a lost race.
    pub async fn execute<A>(
        &self,
        id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(Committed, A), CommandError<A::Error>>
    where
        A: Aggregate<Services = ()> + Clone + 'static,
        A::Command: Clone,
    {
        let (committed, loaded) = self.execute_versioned(id, command, metadata).await?;
        Ok((committed, loaded.state))
    }
}
