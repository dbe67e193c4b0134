//! The case file's document store, the same cases on both backends: a directory
//! (`local`) and S3 (s3s-fs on loopback).

use std::{
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use sportello::fascicolo::{Format, Store, StoreError, UploadError, UploadPolicy};
use uuid::Uuid;

use crate::helpers::{italian, local_storage_settings, s3_settings, S3Server};

const MIB: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Local,
    S3,
}

async fn store(kind: Kind) -> Store {
    let settings = match kind {
        Kind::Local => local_storage_settings(),
        Kind::S3 => s3_settings().await,
    };
    Store::from_settings(&settings).await.expect("opening the store")
}

fn pdf_policy(max_bytes: u64) -> UploadPolicy {
    UploadPolicy::from_extensions(["pdf", "p7m"], max_bytes)
}

/// `total` bytes of a "PDF": the header, then pseudo-random bytes from `seed`, in
/// chunks of `chunk` bytes, made on the fly so that no test holds a large file.
fn pdf_chunks(total: usize, chunk: usize, seed: u64) -> impl Iterator<Item = Bytes> + Send {
    // splitmix64 of the word index: the bytes depend on their position only, not on
    // how the file is cut into chunks.
    let word = move |index: u64| {
        let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(index.wrapping_mul(0xBF58_476D_1CE4_E5B9));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    };
    let mut sent = 0;
    std::iter::from_fn(move || {
        if sent >= total {
            return None;
        }
        let end = sent + chunk.min(total - sent);
        let mut buf = Vec::with_capacity(end - sent);
        let mut pos = sent;
        while pos < end {
            let (index, offset) = (pos / 8, pos % 8);
            let n = (8 - offset).min(end - pos);
            buf.extend_from_slice(&word(index as u64)[offset..offset + n]);
            pos += n;
        }
        for (i, b) in b"%PDF-1.7\n".iter().enumerate() {
            if (sent..end).contains(&i) {
                buf[i - sent] = *b;
            }
        }
        sent = end;
        Some(Bytes::from(buf))
    })
}

fn stream_of(
    chunks: impl Iterator<Item = Bytes> + Send,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + Unpin {
    futures::stream::iter(chunks.map(Ok))
}

fn sha_of(chunks: impl Iterator<Item = Bytes>) -> String {
    let mut hasher = Sha256::new();
    for chunk in chunks {
        hasher.update(&chunk);
    }
    hex::encode(hasher.finalize())
}

async fn read_back(store: &Store, tenant: Uuid, sha256: &str) -> (u64, String, u64) {
    let reader = store.get(tenant, sha256).await.expect("reading the document back");
    let declared = reader.size;
    let mut stream = reader.into_stream();
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (declared, hex::encode(hasher.finalize()), size)
}

async fn assert_nothing_left(store: &Store, tenant: Uuid) {
    assert_eq!(store.list(tenant).await.unwrap(), [], "no document may be left");
    assert_eq!(store.staging_count().await.unwrap(), 0, "no staging leftovers");
}

async fn round_trip(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    let (size, seed) = (200 * 1024 + 7, 1);
    let stored = store.put_stream(tenant, stream_of(pdf_chunks(size, 16 * 1024, seed)), &pdf_policy(MIB as u64)).await;
    let stored = stored.unwrap();
    assert_eq!(stored.sha256, sha_of(pdf_chunks(size, 16 * 1024, seed)));
    assert_eq!(stored.size, size as u64);
    assert_eq!(stored.format, Format::Pdf);
    assert_eq!(read_back(&store, tenant, &stored.sha256).await, (size as u64, stored.sha256.clone(), size as u64));
    assert!(store.exists(tenant, &stored.sha256).await.unwrap());
    let listed = store.list(tenant).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].sha256.as_str(), listed[0].size), (stored.sha256.as_str(), size as u64));
    assert_eq!(store.staging_count().await.unwrap(), 0);
    store.check().await.unwrap();

    // The orphan sweep's delete, idempotent.
    store.delete(tenant, &stored.sha256).await.unwrap();
    store.delete(tenant, &stored.sha256).await.unwrap();
    assert!(!store.exists(tenant, &stored.sha256).await.unwrap());
    assert!(matches!(store.get(tenant, &stored.sha256).await, Err(StoreError::NotFound)));
    assert!(matches!(store.get(tenant, "../../etc/passwd").await, Err(StoreError::InvalidHash(_))));
}

async fn generated_bytes_and_exactly_one_part(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    // put_bytes, and a document of exactly one S3 part (8 MiB) in one chunk.
    let bytes: Vec<u8> = pdf_chunks(8 * MIB, 8 * MIB, 9).flat_map(|b| b.to_vec()).collect();
    let stored = store.put_bytes(tenant, Bytes::from(bytes.clone()), &pdf_policy(100 * MIB as u64)).await.unwrap();
    assert_eq!(stored.size, 8 * MIB as u64);
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(&bytes)));
    let back = store.get(tenant, &stored.sha256).await.unwrap().read_all().await.unwrap();
    assert!(back == bytes);
    assert_eq!(store.stats().multipart_uploads, 0, "one part needs no multipart upload");
}

async fn same_content_is_stored_once(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    let policy = pdf_policy(MIB as u64);
    let first = store.put_stream(tenant, stream_of(pdf_chunks(50_000, 4096, 2)), &policy).await.unwrap();
    let before = store.list(tenant).await.unwrap();
    // Same bytes, cut differently.
    let second = store.put_stream(tenant, stream_of(pdf_chunks(50_000, 999, 2)), &policy).await.unwrap();
    assert_eq!(first, second);
    let after = store.list(tenant).await.unwrap();
    assert_eq!(after.len(), 1);
    // The object keeps its content; a re-use refreshes its modification time, so
    // that the orphan sweep sees it young (hardening::uploads).
    assert_eq!((&before[0].sha256, before[0].size), (&after[0].sha256, after[0].size));
    assert!(after[0].last_modified >= before[0].last_modified, "refreshed, never older");
    assert_eq!(store.stats().deduplicated, 1);
    // A large one too, through the S3 multipart path.
    let large = pdf_policy(20 * MIB as u64);
    let a = store.put_stream(tenant, stream_of(pdf_chunks(9 * MIB, 64 * 1024, 3)), &large).await.unwrap();
    let b = store.put_stream(tenant, stream_of(pdf_chunks(9 * MIB, 64 * 1024, 3)), &large).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(store.list(tenant).await.unwrap().len(), 2);
    assert_eq!(store.stats().deduplicated, 2);
    assert_eq!(store.staging_count().await.unwrap(), 0);
}

async fn large_file_streams_in_parts(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    let size = 40 * MIB + 123;
    let policy = pdf_policy(100 * MIB as u64);
    let stored = store.put_stream(tenant, stream_of(pdf_chunks(size, 64 * 1024, 4)), &policy).await.unwrap();
    assert_eq!(stored.sha256, sha_of(pdf_chunks(size, 64 * 1024, 4)));
    assert_eq!(read_back(&store, tenant, &stored.sha256).await, (size as u64, stored.sha256.clone(), size as u64));
    if let Kind::S3 = kind {
        assert_eq!(store.stats().multipart_uploads, 1);
    }
    assert_eq!(store.staging_count().await.unwrap(), 0);
}

/// Counts the bytes the store pulled from the body.
fn counted(
    chunks: impl Iterator<Item = Bytes> + Send,
    pulled: Arc<AtomicU64>,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + Unpin {
    stream_of(chunks.inspect(move |c| {
        pulled.fetch_add(c.len() as u64, Ordering::Relaxed);
    }))
}

async fn oversize_is_refused_early(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    let pulled = Arc::new(AtomicU64::new(0));
    let body = counted(pdf_chunks(5 * MIB, 64 * 1024, 5), pulled.clone());
    let err = store.put_stream(tenant, body, &pdf_policy(MIB as u64)).await.unwrap_err();
    assert!(matches!(err, UploadError::TooLarge { limit } if limit == MIB as u64), "{err:?}");
    assert_eq!(err.code(), "file_too_large");
    assert_eq!(italian(&err.message()), "Il file supera la dimensione massima di 1 MB.");
    assert!(pulled.load(Ordering::Relaxed) <= MIB as u64 + 64 * 1024, "reading stops at the limit");
    assert_nothing_left(&store, tenant).await;

    // Past the limit after some parts were sent: the multipart upload is aborted.
    let policy = pdf_policy(20 * MIB as u64);
    let result = store.put_stream(tenant, stream_of(pdf_chunks(30 * MIB, 64 * 1024, 6)), &policy).await;
    assert!(matches!(result, Err(UploadError::TooLarge { .. })));
    assert_nothing_left(&store, tenant).await;
}

async fn content_decides_the_format(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    let policy = pdf_policy(MIB as u64);
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec();
    elf.resize(20_000, 0x90);
    let err = store.put_bytes(tenant, Bytes::from(elf), &policy).await.unwrap_err();
    assert!(
        matches!(&err, UploadError::FormatNotAccepted { detected: None, accepted } if accepted == &[Format::Pdf, Format::P7m])
    );
    assert_eq!(err.code(), "format_not_accepted");
    // Random bytes "declared as a PDF" (the name is not even given to the store).
    let noise: Vec<u8> = pdf_chunks(100_000, 100_000, 7).flat_map(|b| b[9..].to_vec()).collect();
    let err = store.put_bytes(tenant, Bytes::from(noise), &policy).await.unwrap_err();
    assert!(matches!(err, UploadError::FormatNotAccepted { detected: None, .. }), "{err:?}");
    // A real PNG where only PDFs are accepted: named in the message.
    let png = Bytes::from_static(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0");
    let err = store.put_bytes(tenant, png.clone(), &policy).await.unwrap_err();
    assert!(matches!(err, UploadError::FormatNotAccepted { detected: Some(Format::Png), .. }), "{err:?}");
    assert!(italian(&err.message()).contains("PNG"), "{}", italian(&err.message()));
    assert_nothing_left(&store, tenant).await;
    let stored = store.put_bytes(tenant, png, &UploadPolicy::from_extensions(["png"], 1024)).await.unwrap();
    assert_eq!(stored.format, Format::Png);
}

async fn text_is_accepted_where_text_is(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    let text = Bytes::from("Comune di Valmora\nRichiesta di accesso agli atti — è urgente.\n");
    let stored = store.put_bytes(tenant, text.clone(), &UploadPolicy::from_extensions(["txt"], 1024)).await.unwrap();
    assert_eq!((stored.format, stored.size), (Format::Txt, text.len() as u64));
    let csv = Bytes::from("codice;importo\nA1;12,50\n");
    let stored = store.put_bytes(tenant, csv, &UploadPolicy::from_extensions(["csv"], 1024)).await.unwrap();
    assert_eq!(stored.format, Format::Csv);
    let err = store.put_bytes(tenant, text, &pdf_policy(1024)).await.unwrap_err();
    assert!(matches!(err, UploadError::FormatNotAccepted { detected: Some(Format::Txt), .. }));
    let err = store.put_bytes(tenant, Bytes::new(), &UploadPolicy::from_extensions(["txt"], 1024)).await.unwrap_err();
    assert!(matches!(err, UploadError::Empty));
    assert_eq!(store.list(tenant).await.unwrap().len(), 2);
}

async fn tenants_are_kept_apart(kind: Kind) {
    let store = store(kind).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let stored = store.put_stream(a, stream_of(pdf_chunks(10_000, 1000, 8)), &pdf_policy(MIB as u64)).await.unwrap();
    assert!(matches!(store.get(b, &stored.sha256).await, Err(StoreError::NotFound)));
    assert!(!store.exists(b, &stored.sha256).await.unwrap());
    assert_eq!(store.list(b).await.unwrap(), []);
    // The same document uploaded by the other tenant is its own copy.
    store.put_stream(b, stream_of(pdf_chunks(10_000, 1000, 8)), &pdf_policy(MIB as u64)).await.unwrap();
    store.delete(b, &stored.sha256).await.unwrap();
    assert!(store.exists(a, &stored.sha256).await.unwrap());
}

async fn a_broken_body_leaves_nothing(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    // The client goes away after 10 MiB (past the first S3 part).
    let body = stream_of(pdf_chunks(10 * MIB, 64 * 1024, 10))
        .chain(futures::stream::iter([Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))]));
    let err = store.put_stream(tenant, body, &pdf_policy(100 * MIB as u64)).await.unwrap_err();
    assert!(matches!(err, UploadError::Client(_)), "{err:?}");
    assert_eq!(err.code(), "upload_interrupted");
    assert_nothing_left(&store, tenant).await;
}

async fn a_cancelled_upload_leaves_nothing(kind: Kind) {
    let store = store(kind).await;
    let tenant = Uuid::new_v4();
    // The handler's future is dropped mid-body (axum does so when the client disconnects).
    let body = stream_of(pdf_chunks(12 * MIB, 64 * 1024, 11)).chain(futures::stream::pending());
    let policy = pdf_policy(100 * MIB as u64);
    let upload = store.put_stream(tenant, body, &policy);
    assert!(tokio::time::timeout(Duration::from_secs(3), upload).await.is_err());
    // S3 aborts from a task of its own: wait for it, within bounds.
    for _ in 0..100 {
        if store.staging_count().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_nothing_left(&store, tenant).await;
}

async fn staging_sweep_on_a_clean_store(kind: Kind) {
    let store = store(kind).await;
    assert_eq!(store.sweep_staging(Duration::ZERO).await.unwrap(), 0);
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(super::Kind::Local).await
            })*
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case(super::Kind::S3).await
            })*
        }
    };
}

on_both_backends!(
    round_trip,
    generated_bytes_and_exactly_one_part,
    same_content_is_stored_once,
    large_file_streams_in_parts,
    oversize_is_refused_early,
    content_decides_the_format,
    text_is_accepted_where_text_is,
    tenants_are_kept_apart,
    a_broken_body_leaves_nothing,
    a_cancelled_upload_leaves_nothing,
    staging_sweep_on_a_clean_store,
);

/// The S3 server dies while a 40 MiB upload is half sent: the upload fails as a storage
/// error, no document appears, and once the server is back the sweep removes the
/// unfinished multipart upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_mid_upload() {
    let private = S3Server::start_private().await;
    let settings = private.bucket_settings().await;
    let server = Arc::new(Mutex::new(private));
    let store = Store::from_settings(&settings).await.unwrap();
    let tenant = Uuid::new_v4();
    let size = 40 * MIB;
    let sha = sha_of(pdf_chunks(size, 64 * 1024, 12));
    let pulled = Arc::new(AtomicU64::new(0));
    let killer = server.clone();
    let body = counted(pdf_chunks(size, 64 * 1024, 12), pulled.clone()).inspect(move |_| {
        if pulled.load(Ordering::Relaxed) >= (size / 2) as u64 {
            killer.lock().unwrap().kill();
        }
    });
    let err = store.put_stream(tenant, body, &pdf_policy(100 * MIB as u64)).await.unwrap_err();
    assert!(matches!(err, UploadError::Storage(_)), "{err:?}");
    assert_eq!(err.code(), "storage_unavailable");
    assert!(italian(&err.message()).contains("Riprova"), "{}", italian(&err.message()));
    assert!(store.check().await.is_err(), "not ready while the server is down");

    // The body (and the killer's handle with it) is gone: the server is ours again.
    let mut server = Arc::try_unwrap(server).ok().expect("no other handle").into_inner().unwrap();
    server.restart().await;
    store.check().await.unwrap();
    assert!(!store.exists(tenant, &sha).await.unwrap());
    assert_eq!(store.list(tenant).await.unwrap(), []);
    assert!(store.staging_count().await.unwrap() > 0, "the unfinished upload is still known");
    assert!(store.sweep_staging(Duration::ZERO).await.unwrap() > 0);
    assert_eq!(store.staging_count().await.unwrap(), 0);
    // Behind the API: s3s-fs keeps unfinished parts as `.upload*` files in its root.
    let leftovers: Vec<_> = std::fs::read_dir(&server.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".upload"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "the aborted upload's parts are gone");
}

/// Local backend: an aborted upload leaves no temporary file in the staging folder.
#[tokio::test]
async fn local_aborted_upload_leaves_no_temp_file() {
    let settings = local_storage_settings();
    let store = Store::from_settings(&settings).await.unwrap();
    let tenant = Uuid::new_v4();
    let body = stream_of(pdf_chunks(3 * MIB, 64 * 1024, 13))
        .chain(futures::stream::iter([Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"))]));
    assert!(store.put_stream(tenant, body, &pdf_policy(100 * MIB as u64)).await.is_err());
    let dir = settings.storage_dir();
    let staging: Vec<_> = std::fs::read_dir(dir.join("staging")).unwrap().flatten().collect();
    assert!(staging.is_empty(), "{staging:?}");
    // Nothing under any tenant either: only the staging folder exists.
    let top: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(top, ["staging"]);
    // A crashed process's leftover is swept.
    std::fs::write(dir.join("staging").join(Uuid::new_v4().to_string()), b"half").unwrap();
    assert_eq!(store.staging_count().await.unwrap(), 1);
    assert_eq!(store.sweep_staging(Duration::from_secs(3600)).await.unwrap(), 0, "young leftovers are kept");
    assert_eq!(store.sweep_staging(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(store.staging_count().await.unwrap(), 0);
}
