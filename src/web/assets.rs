//! Static files — the design system and each theme's `static/` — under one
//! content-hashed root: `/static/<build>/vendor/bootstrap-italia/…` and
//! `/static/<build>/themes/<theme>/…`, where `<build>` is a digest of every
//! file's path and bytes, computed at start. Templates ask the renderer's
//! `asset(path=…)` for these URLs, so a changed file changes every URL and
//! browsers may keep them forever (`immutable`). One root for all keeps
//! relative references between files (a stylesheet's fonts) inside the build.
//!
//! The unhashed paths (`/static/vendor/…`, `/static/themes/…`) still answer,
//! cached for an hour, and so does an earlier build's root, briefly (a page a
//! browser kept from before a deploy). Text files go compressed as the visitor
//! asks: the design-system build's `.br`/`.gz` siblings when present, else
//! compressed once in memory.

use std::{
    path::{Component, Path, PathBuf},
    sync::{Arc, OnceLock},
};

use axum::{
    body::{Body, Bytes},
    extract::{Path as UrlPath, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use moka::sync::Cache;

use super::compression::{self, Effort, Encoding};

/// Cache lifetimes: the current build's URLs never change content; the others may.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const UNHASHED: &str = "public, max-age=3600";
const EARLIER_BUILD: &str = "public, max-age=300";

/// Where each URL prefix's files live.
pub struct Assets {
    roots: Vec<(String, PathBuf)>,
    build: String,
    files: Cache<String, Arc<Asset>>,
}

struct Asset {
    body: Bytes,
    content_type: HeaderValue,
    etag: HeaderValue,
    compressible: bool,
    /// gzip and brotli, read from the build's siblings or made on first need.
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Assets {
    /// Scans the design system and the themes' static folders and computes the build digest.
    pub fn scan(design_system_dir: &Path, themes_dir: &Path) -> anyhow::Result<Self> {
        let mut roots = vec![("vendor/bootstrap-italia".to_string(), design_system_dir.to_path_buf())];
        if let Ok(entries) = std::fs::read_dir(themes_dir) {
            let mut themes: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            themes.sort();
            for theme in themes {
                let (Some(name), static_dir) = (theme.file_name().and_then(|n| n.to_str()), theme.join("static"))
                else {
                    continue;
                };
                if static_dir.is_dir() {
                    roots.push((format!("themes/{name}"), static_dir));
                }
            }
        }
        let mut digest = openssl::sha::Sha256::new();
        for (prefix, dir) in &roots {
            let mut files = Vec::new();
            walk(dir, &mut files);
            files.sort();
            for file in files {
                let Ok(bytes) = std::fs::read(&file) else { continue };
                let rel = file.strip_prefix(dir).unwrap_or(&file).to_string_lossy().replace('\\', "/");
                digest.update(format!("{prefix}/{rel}\0{}\0", bytes.len()).as_bytes());
                digest.update(&bytes);
            }
        }
        let build = hex::encode(&digest.finish()[..6]);
        let files = Cache::builder()
            .max_capacity(96 * 1024 * 1024)
            .weigher(|key: &String, a: &Arc<Asset>| {
                let extra = a.gzip.get().map_or(0, Bytes::len) + a.brotli.get().map_or(0, Bytes::len);
                (key.len() + a.body.len() + extra).try_into().unwrap_or(u32::MAX)
            })
            .build();
        Ok(Self { roots, build, files })
    }

    /// The digest naming this build's URLs.
    pub fn build(&self) -> &str {
        &self.build
    }

    /// The URL of `path` (relative to `/static/`, e.g. `themes/base/sportello.css`).
    pub fn url(&self, path: &str) -> String {
        format!("/static/{}/{}", self.build, path.trim_start_matches('/'))
    }

    /// The file at `path` (relative to `/static/`), loaded once.
    fn get(&self, path: &str) -> Option<Arc<Asset>> {
        if let Some(asset) = self.files.get(path) {
            return Some(asset);
        }
        let file = self.resolve(path)?;
        let body: Bytes = std::fs::read(&file).ok()?.into();
        let content_type = mime_guess::from_path(&file).first_or_octet_stream();
        let compressible = compression::is_compressible(content_type.essence_str());
        let content_type =
            if content_type.type_() == mime_guess::mime::TEXT || content_type.essence_str() == "image/svg+xml" {
                format!("{}; charset=utf-8", content_type.essence_str())
            } else {
                content_type.essence_str().to_string()
            };
        let sibling = |ext: &str| -> OnceLock<Bytes> {
            let lock = OnceLock::new();
            let mut name = file.clone().into_os_string();
            name.push(ext);
            if let Ok(bytes) = std::fs::read(PathBuf::from(name)) {
                let _ = lock.set(Bytes::from(bytes));
            }
            lock
        };
        let etag = format!("\"{}\"", hex::encode(&openssl::sha::sha256(&body)[..8]));
        let asset = Arc::new(Asset {
            content_type: HeaderValue::from_str(&content_type).ok()?,
            etag: HeaderValue::from_str(&etag).ok()?,
            compressible,
            gzip: if compressible { sibling(".gz") } else { OnceLock::new() },
            brotli: if compressible { sibling(".br") } else { OnceLock::new() },
            body,
        });
        self.files.insert(path.to_string(), asset.clone());
        Some(asset)
    }

    /// The file a clean relative path names inside one of the roots.
    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let (dir, rest) = self.roots.iter().find_map(|(prefix, dir)| {
            path.strip_prefix(prefix.as_str()).and_then(|r| r.strip_prefix('/')).map(|r| (dir, r))
        })?;
        let rest = Path::new(rest);
        // Only plain names: no `..`, no root, no hidden files (nor the `.br` siblings' dot-files).
        let clean =
            rest.components().all(|c| matches!(c, Component::Normal(n) if !n.to_string_lossy().starts_with('.')));
        if !clean || rest.as_os_str().is_empty() {
            return None;
        }
        let file = dir.join(rest);
        // Symbolic links may lead out of the root (node_modules often is one): the
        // file must still be under the root once both are resolved.
        let (real_dir, real_file) = (dir.canonicalize().ok()?, file.canonicalize().ok()?);
        (real_file.starts_with(&real_dir) && real_file.is_file()).then_some(real_file)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `GET /static/{*path}`: the current build's, an earlier build's or an unhashed path.
pub async fn serve(State(assets): State<Arc<Assets>>, UrlPath(path): UrlPath<String>, headers: HeaderMap) -> Response {
    let (relative, cache_control) = match path.split_once('/') {
        Some((first, rest)) if first == assets.build => (rest, IMMUTABLE),
        Some((first, rest)) if first.len() == assets.build.len() && first.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (rest, EARLIER_BUILD)
        }
        _ => (path.as_str(), UNHASHED),
    };
    let lookup = {
        let assets = assets.clone();
        let relative = relative.to_string();
        tokio::task::spawn_blocking(move || assets.get(&relative)).await.ok().flatten()
    };
    let Some(asset) = lookup else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let encoding = if asset.compressible && asset.body.len() >= 1024 {
        compression::negotiate(&headers)
    } else {
        Encoding::Identity
    };
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, asset.content_type.clone());
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    response_headers.insert(header::ETAG, asset.etag.clone());
    if asset.compressible {
        compression::vary_on_encoding(&mut response_headers);
    }
    let body = match encoding {
        Encoding::Identity => asset.body.clone(),
        Encoding::Gzip | Encoding::Brotli => {
            let asset = asset.clone();
            let compressed = tokio::task::spawn_blocking(move || {
                let lock = if encoding == Encoding::Gzip { &asset.gzip } else { &asset.brotli };
                lock.get_or_init(|| compression::compress(encoding, &asset.body, Effort::Stored)).clone()
            })
            .await
            .unwrap_or_default();
            compression::set_encoded(&mut response_headers, encoding.token().unwrap_or("identity"), compressed.len());
            compressed
        }
    };
    let etag = response_headers.get(header::ETAG).cloned();
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .zip(etag.as_ref().and_then(|e| e.to_str().ok()))
        .is_some_and(|(asked, ours)| asked.split(',').any(|t| t.trim().trim_start_matches("W/") == ours));
    if unchanged {
        response_headers.remove(header::CONTENT_LENGTH);
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    (response_headers, Body::from(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (tempfile_dir::Dir, Assets) {
        let root = tempfile_dir::Dir::new();
        let ds = root.path().join("ds");
        std::fs::create_dir_all(ds.join("css")).unwrap();
        std::fs::write(ds.join("css/site.css"), "body { color: #17324d; }\n".repeat(100)).unwrap();
        std::fs::write(ds.join("css/site.css.br"), b"precompressed").unwrap();
        std::fs::write(ds.join(".hidden"), b"no").unwrap();
        let themes = root.path().join("themes");
        std::fs::create_dir_all(themes.join("base/static")).unwrap();
        std::fs::write(themes.join("base/static/app.js"), b"console.log(1)").unwrap();
        let assets = Assets::scan(&ds, &themes).unwrap();
        (root, assets)
    }

    /// A throwaway folder (no extra dev-dependency for one test).
    mod tempfile_dir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let p = std::env::temp_dir().join(format!("sportello-assets-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn urls_name_the_build_and_paths_stay_inside_their_roots() {
        let (_root, assets) = fixture();
        assert_eq!(assets.build().len(), 12);
        assert_eq!(assets.url("themes/base/app.js"), format!("/static/{}/themes/base/app.js", assets.build()));
        assert!(assets.get("vendor/bootstrap-italia/css/site.css").is_some());
        assert!(assets.get("themes/base/app.js").is_some());
        for bad in [
            "vendor/bootstrap-italia/../ds/css/site.css",
            "vendor/bootstrap-italia/.hidden",
            "vendor/bootstrap-italia/css/site.css.br/..",
            "vendor/bootstrap-italia",
            "themes/base/../../ds/css/site.css",
            "themes/other/app.js",
            "/etc/passwd",
        ] {
            assert!(assets.get(bad).is_none(), "{bad}");
        }
        // The build's precompressed sibling is what brotli visitors get.
        let css = assets.get("vendor/bootstrap-italia/css/site.css").unwrap();
        assert_eq!(css.brotli.get().map(|b| &b[..]), Some(&b"precompressed"[..]));
        assert!(css.gzip.get().is_none() && css.compressible);
    }

    #[test]
    fn a_changed_file_changes_the_build() {
        let (root, assets) = fixture();
        std::fs::write(root.path().join("themes/base/static/app.js"), b"console.log(2)").unwrap();
        let again = Assets::scan(&root.path().join("ds"), &root.path().join("themes")).unwrap();
        assert_ne!(assets.build(), again.build());
    }
}
