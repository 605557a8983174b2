//! A state store that remembers what it read for a short time: a burst of runners booting
//! costs the redirect one read of the channel's state, not one per runner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use policy::ConfigDocument;

use super::{StateStore, StoreError};
use crate::github::ReleaseCache;
use crate::names::ChannelName;
use crate::state::{ChannelState, LogEntry};

/// How many channels' states are kept at most. Channel names come from requests, and a public
/// URL may be asked for any number of made-up ones: memory stays bounded, and past this many
/// live entries a state is read but not kept.
const MAX_CACHED_STATES: usize = 256;

/// Caches `state` and `channels` for `ttl`; everything else goes straight to the inner store.
/// A commit through this store forgets the channel's cached state.
pub struct CachedState {
    inner: Arc<dyn StateStore>,
    ttl: Duration,
    states: Mutex<HashMap<ChannelName, (Instant, ChannelState)>>,
    channels: Mutex<Option<(Instant, Vec<ChannelName>)>>,
}

impl CachedState {
    pub fn new(inner: Arc<dyn StateStore>, ttl: Duration) -> Self {
        CachedState {
            inner,
            ttl,
            states: Mutex::new(HashMap::new()),
            channels: Mutex::new(None),
        }
    }

    fn fresh(&self, read_at: Instant) -> bool {
        read_at.elapsed() < self.ttl
    }
}

#[async_trait]
impl StateStore for CachedState {
    async fn channels(&self) -> Result<Vec<ChannelName>, StoreError> {
        if let Some((at, channels)) = &*self.channels.lock().expect("cache lock") {
            if self.fresh(*at) {
                return Ok(channels.clone());
            }
        }
        let channels = self.inner.channels().await?;
        *self.channels.lock().expect("cache lock") = Some((Instant::now(), channels.clone()));
        Ok(channels)
    }

    async fn state(&self, channel: &ChannelName) -> Result<ChannelState, StoreError> {
        if let Some((at, state)) = self.states.lock().expect("cache lock").get(channel) {
            if self.fresh(*at) {
                return Ok(state.clone());
            }
        }
        let state = self.inner.state(channel).await?;
        let mut states = self.states.lock().expect("cache lock");
        if states.len() >= MAX_CACHED_STATES {
            states.retain(|_, (at, _)| self.fresh(*at));
        }
        if states.len() < MAX_CACHED_STATES || states.contains_key(channel) {
            states.insert(channel.clone(), (Instant::now(), state.clone()));
        }
        Ok(state)
    }

    async fn commit(&self, channel: &ChannelName, state: &ChannelState) -> Result<(), StoreError> {
        self.states.lock().expect("cache lock").remove(channel);
        self.inner.commit(channel, state).await
    }

    async fn config_document(&self, channel: &ChannelName) -> Result<ConfigDocument, StoreError> {
        self.inner.config_document(channel).await
    }

    async fn save_config(
        &self,
        channel: &ChannelName,
        document: &ConfigDocument,
    ) -> Result<(), StoreError> {
        self.inner.save_config(channel, document).await
    }

    fn config_location(&self, channel: &ChannelName) -> String {
        self.inner.config_location(channel)
    }

    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError> {
        self.inner.append_log(entry).await
    }

    async fn log(&self, channel: &ChannelName, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        self.inner.log(channel, limit).await
    }

    async fn release_cache(&self) -> Result<Option<ReleaseCache>, StoreError> {
        self.inner.release_cache().await
    }

    async fn save_release_cache(&self, cache: &ReleaseCache) -> Result<(), StoreError> {
        self.inner.save_release_cache(cache).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[tokio::test]
    async fn reads_are_cached_for_the_ttl_and_commits_forget() {
        let dir = tempfile::tempdir().unwrap();
        let local = Arc::new(LocalStore::new(dir.path()));
        let cached = CachedState::new(local.clone(), Duration::from_secs(3600));
        let stable: ChannelName = "stable".parse().unwrap();
        assert_eq!(cached.state(&stable).await.unwrap().revision, 0);
        assert!(cached.channels().await.unwrap().is_empty());

        // Another writer: the cache does not see it within the TTL.
        let one = ChannelState {
            revision: 1,
            ..Default::default()
        };
        local.commit(&stable, &one).await.unwrap();
        assert_eq!(cached.state(&stable).await.unwrap().revision, 0);
        assert!(cached.channels().await.unwrap().is_empty());

        // A commit through the cache forgets the channel.
        let two = ChannelState {
            revision: 2,
            ..Default::default()
        };
        cached.commit(&stable, &two).await.unwrap();
        assert_eq!(cached.state(&stable).await.unwrap().revision, 2);

        let uncached = CachedState::new(local, Duration::ZERO);
        assert_eq!(uncached.channels().await.unwrap(), [stable]);
    }

    #[tokio::test]
    async fn made_up_channels_do_not_grow_the_cache_past_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cached = CachedState::new(
            Arc::new(LocalStore::new(dir.path())),
            Duration::from_secs(3600),
        );
        for n in 0..MAX_CACHED_STATES + 10 {
            let name: ChannelName = format!("made-up-{n}").parse().unwrap();
            cached.state(&name).await.unwrap();
        }
        assert_eq!(cached.states.lock().unwrap().len(), MAX_CACHED_STATES);

        // Once entries expire, new channels take their places.
        let expiring = CachedState {
            ttl: Duration::ZERO,
            ..cached
        };
        let stable: ChannelName = "stable".parse().unwrap();
        expiring.state(&stable).await.unwrap();
        let states = expiring.states.lock().unwrap();
        assert_eq!(states.len(), 1);
        assert!(states.contains_key(&stable));
    }
}
