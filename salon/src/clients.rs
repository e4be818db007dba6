//! `salon clients forget ID|EMAIL`: erase a client's personal data (issue 8). Deletes the
//! client's key, records `ClientForgotten`, and brings the read models that showed the client
//! up to date, so they are scrubbed when the command returns.

use crate::app;
use anyhow::{anyhow, bail};
use domain::ids::ClientId;
use domain::metadata::{EventMetadata, Source};
use domain::values::Email;
use projections::Projection;

/// The client `who` names: their id, or their email address.
pub fn client_id(who: &str) -> anyhow::Result<ClientId> {
    if let Ok(id) = ClientId::parse(who.trim()) {
        return Ok(id);
    }
    let email = Email::parse(who).map_err(|_| anyhow!("{who:?} is neither a client id nor an email address"))?;
    Ok(ClientId::for_email(&email))
}

/// Forgets the client `who` names; answers their id. A client the read models have never seen
/// is refused (nothing is written), as is one already forgotten.
pub async fn forget(url: &str, who: &str, reason: Option<String>) -> anyhow::Result<ClientId> {
    let id = client_id(who)?;
    let store = app::open_store(url).await?;
    let read = projections::ReadDb::connect(url).await?;
    let result = async {
        projections::runner::catch_up(&read, Projection::Clients).await?;
        if projections::clients::client(&read, &id.to_string())
            .await?
            .is_none()
        {
            bail!("no such client: {id}");
        }
        let bus = commands::CommandBus::new(store.clone(), migrations::LogSignal::default());
        let meta = EventMetadata::new("owner", Source::Cli).with_reason(reason);
        commands::clients::forget(&bus, id, &meta)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        for p in [Projection::Clients, Projection::Bookings, Projection::Audit] {
            projections::runner::catch_up(&read, p).await?;
        }
        Ok(id)
    }
    .await;
    read.close().await;
    store.close().await;
    result
}
