//! A short-lived cache of encoded answers to read-only queries whose result depends only on
//! read models and the clock (availability). The key holds the checkpoints of the projections
//! the answer reads, taken *before* the query runs, so any write those projections apply makes
//! a new key: an answer is never served after the data it came from changed in this process.
//! The clock part of the key (the minute) and a TTL of a few seconds bound how long a slot can
//! be offered after it crossed the lead time; the booking path checks again in any case.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One cached answer: the JSON, and its gzip encoding for clients that accept it (made once,
/// when the answer is stored, so repeated requests cost no compression).
#[derive(Clone)]
pub struct Answer {
    pub json: Bytes,
    pub gzip: Bytes,
}

impl Answer {
    pub fn new(json: Bytes) -> Self {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(json.len() / 8),
            flate2::Compression::fast(),
        );
        let gzip = match encoder.write_all(&json).and_then(|_| encoder.finish()) {
            Ok(bytes) => Bytes::from(bytes),
            Err(_) => Bytes::new(),
        };
        Self { json, gzip }
    }
}

pub struct AnswerCache {
    entries: Mutex<HashMap<String, (Instant, Answer)>>,
    capacity: usize,
    ttl: Duration,
    enabled: AtomicBool,
}

impl AnswerCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            ttl,
            enabled: AtomicBool::new(true),
        }
    }

    /// Turns the cache off (every query computed) or on; benchmarks measure both.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    pub fn get(&self, key: &str) -> Option<Answer> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, answer)| answer.clone())
    }

    /// Stores `json` (and its gzip encoding) and returns them; when the cache is off, only the
    /// JSON is returned, nothing is encoded.
    pub fn put(&self, key: String, json: Bytes) -> Option<Answer> {
        if self.capacity == 0 || !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let answer = Answer::new(json);
        let Ok(mut entries) = self.entries.lock() else {
            return Some(answer);
        };
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), answer.clone()));
        Some(answer)
    }
}

impl Default for AnswerCache {
    fn default() -> Self {
        Self::new(512, Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_stays_bounded() {
        let cache = AnswerCache::new(2, Duration::from_millis(50));
        cache.put("a".into(), Bytes::from_static(b"1"));
        let answer = cache.get("a").expect("cached");
        assert_eq!(&answer.json[..], b"1");
        let mut plain = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&answer.gzip[..]),
            &mut plain,
        )
        .expect("gzip");
        assert_eq!(plain, "1");
        cache.put("b".into(), Bytes::from_static(b"2"));
        cache.put("c".into(), Bytes::from_static(b"3"));
        assert!(cache.entries.lock().unwrap().len() <= 2);
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("c").is_none());
        AnswerCache::new(0, Duration::from_secs(1)).put("x".into(), Bytes::new());
    }
}
