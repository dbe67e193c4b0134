//! One large upload to S3, two ways, for `infra/bench/upload_1gib.sh`:
//!   store FILE  streams FILE through `Store::put_stream` (sniff, SHA-256, multipart to
//!               staging, server-side copy to the content address);
//!   raw FILE    a plain aws-sdk-s3 multipart PUT of FILE (same part size and parts in
//!               flight), the floor the store is compared with.
//! Prints one line: mode, bytes, seconds, MiB/s and the growth of the peak resident set
//! (VmHWM) over the process's peak before the upload. Reads the bucket from
//! BENCH_S3_ENDPOINT, BENCH_S3_BUCKET, BENCH_S3_ACCESS_KEY, BENCH_S3_SECRET_KEY.

use std::time::Instant;

use aws_sdk_s3::{
    config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation},
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};
use sportello::{
    config::{Secret, Settings},
    fascicolo::{Store, UploadPolicy},
};
use tokio::io::AsyncReadExt;

const PART_SIZE: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 3;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let (mode, path) = match args.as_slice() {
        [mode, path] => (mode.clone(), path.clone()),
        _ => anyhow::bail!("usage: upload_1gib (store|raw) FILE"),
    };
    let bytes = std::fs::metadata(&path)?.len();
    let settings = Settings {
        storage_backend: "s3".into(),
        s3_endpoint: Some(env("BENCH_S3_ENDPOINT")),
        s3_bucket: Some(env("BENCH_S3_BUCKET")),
        s3_access_key: Some(env("BENCH_S3_ACCESS_KEY")),
        s3_secret_key: Some(Secret::new(env("BENCH_S3_SECRET_KEY"))),
        upload_max_bytes: 4 << 30,
        ..Settings::default()
    };
    let store = Store::from_settings(&settings).await?;
    store.check().await?;
    let raw = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(env("BENCH_S3_ENDPOINT"))
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .credentials_provider(Credentials::new(
                env("BENCH_S3_ACCESS_KEY"),
                env("BENCH_S3_SECRET_KEY"),
                None,
                None,
                "bench",
            ))
            .build(),
    );
    let before = vm_hwm_kib();
    let started = Instant::now();
    match mode.as_str() {
        "store" => {
            let file = tokio::fs::File::open(&path).await?;
            let body = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
            let stored = store.put_stream(uuid::Uuid::new_v4(), body, &UploadPolicy::agid(4 << 30)).await?;
            anyhow::ensure!(stored.size == bytes, "stored {} of {bytes} bytes", stored.size);
        }
        "raw" => {
            let bucket = env("BENCH_S3_BUCKET");
            let key = format!("raw/{}", uuid::Uuid::new_v4());
            let upload = raw.create_multipart_upload().bucket(&bucket).key(&key).send().await?;
            let upload_id = upload.upload_id().unwrap_or_default().to_string();
            let mut file = tokio::fs::File::open(&path).await?;
            let mut in_flight = tokio::task::JoinSet::new();
            let mut parts = Vec::new();
            for number in 1.. {
                let mut buf = vec![0u8; PART_SIZE];
                let mut filled = 0;
                while filled < PART_SIZE {
                    let n = file.read(&mut buf[filled..]).await?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    break;
                }
                buf.truncate(filled);
                let request = raw
                    .upload_part()
                    .bucket(&bucket)
                    .key(&key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(buf));
                in_flight.spawn(async move {
                    let answer = request.send().await?;
                    Ok::<_, anyhow::Error>(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(answer.e_tag().map(String::from))
                            .build(),
                    )
                });
                while in_flight.len() >= PARTS_IN_FLIGHT {
                    parts.push(in_flight.join_next().await.expect("a part in flight")??);
                }
            }
            while let Some(part) = in_flight.join_next().await {
                parts.push(part??);
            }
            parts.sort_by_key(|p| p.part_number());
            raw.complete_multipart_upload()
                .bucket(&bucket)
                .key(&key)
                .upload_id(&upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await?;
        }
        other => anyhow::bail!("unknown mode {other:?}"),
    }
    let secs = started.elapsed().as_secs_f64();
    let growth_mib = vm_hwm_kib().saturating_sub(before) as f64 / 1024.0;
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!("{mode:5} {bytes} bytes  {secs:.2} s  {:.0} MiB/s  peak RSS +{growth_mib:.1} MiB", mib / secs);
    Ok(())
}
