//! The blob layer: file contents (chat images and files now, the drive
//! later) kept under `<data dir>/blobs/`, addressed by a key the owner
//! chooses (an attachment id). An upload is first written to
//! `blobs/tmp/` while it is checked (size limit, hash); only a complete,
//! accepted upload is moved into place, so a failed or cut-off upload leaves
//! nothing behind.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("larger than {max} bytes")]
    TooLarge { max: u64 },
    #[error("empty")]
    Empty,
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    #[error("blob storage: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Blobs {
    root: PathBuf,
}

/// An upload written to a temporary file and not yet kept; dropping it
/// removes the file.
pub struct StagedBlob {
    path: Option<PathBuf>,
    pub size: u64,
    pub sha256: String,
    /// The first bytes, for recognising the file type.
    pub head: Vec<u8>,
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

const HEAD_BYTES: usize = 64;

impl Blobs {
    pub fn new(root: PathBuf) -> Blobs {
        Blobs { root }
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn path_of(&self, key: &str) -> PathBuf {
        let safe: String = key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let shard = safe.get(..2).unwrap_or("__");
        self.root.join(shard).join(safe)
    }

    /// Writes `body` to a temporary file, refusing it (and removing what was
    /// written) as soon as it passes `max` bytes or the stream fails.
    pub async fn stage<S, E>(&self, mut body: S, max: u64) -> Result<StagedBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        tokio::fs::create_dir_all(self.tmp_dir()).await?;
        let path = self.tmp_dir().join(crate::db::new_id());
        let mut staged = StagedBlob {
            path: Some(path.clone()),
            size: 0,
            sha256: String::new(),
            head: Vec::new(),
        };
        let mut file = tokio::fs::File::create(&path).await?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BlobError::Interrupted(e.to_string()))?;
            staged.size += chunk.len() as u64;
            if staged.size > max {
                return Err(BlobError::TooLarge { max });
            }
            if staged.head.len() < HEAD_BYTES {
                let take = (HEAD_BYTES - staged.head.len()).min(chunk.len());
                staged.head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        if staged.size == 0 {
            return Err(BlobError::Empty);
        }
        file.sync_all().await?;
        staged.sha256 = hex::encode(hasher.finalize());
        Ok(staged)
    }

    /// Moves a staged upload into place under `key`.
    pub async fn keep(&self, mut staged: StagedBlob, key: &str) -> Result<(), BlobError> {
        let target = self.path_of(key);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let from = staged.path.take().expect("a staged blob has a file");
        if let Err(err) = tokio::fs::rename(&from, &target).await {
            let _ = tokio::fs::remove_file(&from).await;
            return Err(err.into());
        }
        Ok(())
    }

    pub async fn open(&self, key: &str) -> Result<tokio::fs::File, BlobError> {
        Ok(tokio::fs::File::open(self.path_of(key)).await?)
    }

    pub fn exists(&self, key: &str) -> bool {
        self.path_of(key).exists()
    }

    /// Removes a blob; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }

    /// Every kept key (for sweeping blobs nothing refers to).
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let Ok(shards) = std::fs::read_dir(&self.root) else {
            return keys;
        };
        for shard in shards.flatten() {
            if shard.file_name() == "tmp" || !shard.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(shard.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Some(name) = file.file_name().to_str() {
                    keys.push(name.to_string());
                }
            }
        }
        keys
    }

    /// Removes uploads a crash left half-written.
    pub fn clear_staging(&self) {
        let _ = std::fs::remove_dir_all(self.tmp_dir());
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    fn files_in(dir: &Path) -> usize {
        walk(dir)
    }

    fn walk(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn kept_blobs_read_back_and_refused_uploads_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().join("blobs"));
        let staged = blobs
            .stage(chunks(&[b"hello ", b"world"]), 100)
            .await
            .unwrap();
        assert_eq!(staged.size, 11);
        assert_eq!(staged.sha256, hex::encode(Sha256::digest(b"hello world")));
        blobs.keep(staged, "abc123").await.unwrap();
        let mut content = String::new();
        use tokio::io::AsyncReadExt;
        blobs
            .open("abc123")
            .await
            .unwrap()
            .read_to_string(&mut content)
            .await
            .unwrap();
        assert_eq!(content, "hello world");
        assert_eq!(blobs.keys(), vec!["abc123".to_string()]);

        let err = blobs
            .stage(chunks(&[b"12345", b"67890", b"x"]), 10)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, BlobError::TooLarge { max: 10 }));
        assert!(matches!(
            blobs.stage(chunks(&[]), 10).await.err().unwrap(),
            BlobError::Empty
        ));
        // A staged upload that is dropped (the request failed) is removed.
        drop(blobs.stage(chunks(&[b"abc"]), 10).await.unwrap());
        assert_eq!(files_in(&dir.path().join("blobs")), 1);

        blobs.delete("abc123").await.unwrap();
        blobs.delete("abc123").await.unwrap();
        assert!(!blobs.exists("abc123"));
        assert_eq!(files_in(&dir.path().join("blobs")), 0);
    }
}
