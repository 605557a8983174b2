//! The one place an artifact's bytes are checked: a stream adapter that counts and hashes what
//! passes through and fails the stream, before its end, unless size and SHA-256 match. A store
//! makes an artifact visible only when the stream it was given ended cleanly, so nothing
//! unverified ever becomes visible, whatever the backend.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use policy::Sha256;
use sha2::Digest;

/// A stream of artifact bytes, as stores consume them.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Why a download is not the artifact the release promised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("SHA-256 mismatch: the release says {expected}, the download hashes to {actual}")]
    Mismatch { expected: Sha256, actual: Sha256 },
    #[error("truncated: got {received} of {expected} bytes")]
    Truncated { received: u64, expected: u64 },
    #[error("too long: more than the {expected} bytes the release lists")]
    TooLong { expected: u64 },
}

pub struct Verified {
    inner: ByteStream,
    hasher: sha2::Sha256,
    received: u64,
    size: u64,
    sha256: Sha256,
    finished: bool,
}

/// Wraps `inner` so that it yields its bytes unchanged and then, instead of ending, fails
/// with a [`VerifyError`] (as an `io::Error`) if the bytes are not `size` long or do not hash
/// to `sha256`.
pub fn verified(inner: ByteStream, size: u64, sha256: Sha256) -> ByteStream {
    Box::pin(Verified {
        inner,
        hasher: sha2::Sha256::new(),
        received: 0,
        size,
        sha256,
        finished: false,
    })
}

impl Stream for Verified {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let item = ready!(self.inner.as_mut().poll_next(cx));
        let this = &mut *self;
        let failure = match item {
            Some(Ok(chunk)) => {
                this.received += chunk.len() as u64;
                if this.received > this.size {
                    VerifyError::TooLong {
                        expected: this.size,
                    }
                } else {
                    this.hasher.update(&chunk);
                    return Poll::Ready(Some(Ok(chunk)));
                }
            }
            Some(Err(e)) => {
                this.finished = true;
                return Poll::Ready(Some(Err(e)));
            }
            None if this.received < this.size => VerifyError::Truncated {
                received: this.received,
                expected: this.size,
            },
            None => {
                let digest: [u8; 32] = std::mem::take(&mut this.hasher).finalize().into();
                let actual = Sha256::from_bytes(digest);
                if actual == this.sha256 {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                VerifyError::Mismatch {
                    expected: this.sha256,
                    actual,
                }
            }
        };
        this.finished = true;
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            failure,
        ))))
    }
}

/// The SHA-256 of a whole stream, for checking what a store already holds.
pub async fn sha256_of(mut stream: ByteStream) -> io::Result<(Sha256, u64)> {
    use futures_util::StreamExt;
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let digest: [u8; 32] = hasher.finalize().into();
    Ok((Sha256::from_bytes(digest), size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{stream, StreamExt};

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let items: Vec<io::Result<Bytes>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(stream::iter(items))
    }

    fn sha(data: &[u8]) -> Sha256 {
        Sha256::from_bytes(sha2::Sha256::digest(data).into())
    }

    async fn drain(stream: ByteStream) -> (Vec<u8>, Option<VerifyError>) {
        let mut out = Vec::new();
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(e) => {
                    let inner = e.into_inner().unwrap().downcast::<VerifyError>().unwrap();
                    return (out, Some(*inner));
                }
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn passes_matching_bytes_through() {
        let (out, err) = drain(verified(
            chunks(&[b"hello ", b"world"]),
            11,
            sha(b"hello world"),
        ))
        .await;
        assert_eq!(out, b"hello world");
        assert_eq!(err, None);
    }

    #[tokio::test]
    async fn fails_on_mismatch_truncation_and_excess() {
        let (_, err) = drain(verified(chunks(&[b"hello world"]), 11, sha(b"hello WORLD"))).await;
        assert!(matches!(err, Some(VerifyError::Mismatch { .. })));
        let (_, err) = drain(verified(chunks(&[b"hello"]), 11, sha(b"hello world"))).await;
        assert_eq!(
            err,
            Some(VerifyError::Truncated {
                received: 5,
                expected: 11
            })
        );
        let (out, err) = drain(verified(
            chunks(&[b"hello", b" world!"]),
            11,
            sha(b"hello world"),
        ))
        .await;
        assert_eq!(err, Some(VerifyError::TooLong { expected: 11 }));
        assert_eq!(out, b"hello", "the excess chunk is not passed on");
    }

    #[tokio::test]
    async fn hashes_a_stream() {
        let (digest, size) = sha256_of(chunks(&[b"ab", b"c"])).await.unwrap();
        assert_eq!(digest, sha(b"abc"));
        assert_eq!(size, 3);
    }
}
