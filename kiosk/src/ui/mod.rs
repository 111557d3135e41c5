//! The web UIs the agent serves on loopback: the citizen's kiosk page, the staff's counter page
//! and the technicians' status page.
//!
//! The pages are plain HTML, CSS and JavaScript modules under `kiosk/assets/`, with no build step
//! and nothing fetched from outside: a kiosk keeps working when the town hall's internet does
//! not, and there is no third-party code in front of citizens paying money. `src/ui/build.rs`
//! embeds every file of that directory in the binary (see there for why), so a new language is
//! one new `assets/i18n/<code>.json`, picked up at the next build.
//!
//! The pages talk to the agent only through the local API described in `kiosk/UI_API.md`; this
//! module serves files and knows nothing of the flow.
//!
//! Caching: every response is `Cache-Control: no-cache` with a strong `ETag` (a hash of the
//! content), so a browser revalidates and gets `304 Not Modified` for unchanged files, and after
//! an agent upgrade it can never run new HTML against old JavaScript. On loopback the round trip
//! costs nothing.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::Mode;

/// One file embedded from `kiosk/assets/`.
#[derive(Debug)]
pub struct Asset {
    /// Path under `assets/`, with `/`: `js/kiosk.js`, `i18n/it.json`.
    pub path: &'static str,
    /// Strong entity tag, quotes included: `"0123456789abcdef"`.
    pub etag: &'static str,
    /// The content, as it was in the source tree at build time.
    pub bytes: &'static [u8],
}

mod generated {
    use super::Asset;
    include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));
}

/// Where assets are served: `/assets/<path>`.
pub const ASSETS_PREFIX: &str = "/assets/";

/// The policy for every page: only this agent's own files and API, no inline script or style,
/// images also as `data:` (the receipt preview PNG), no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Every embedded file, sorted by path.
pub fn assets() -> &'static [Asset] {
    generated::ASSETS
}

/// The embedded file at `path` (relative to `assets/`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    let all = assets();
    all.binary_search_by(|a| a.path.cmp(path))
        .ok()
        .and_then(|i| all.get(i))
}

/// The languages the UI has a file for (`it`, `en`, `de`, …), in path order. The configuration
/// may offer only these: a language named in the config without its file would show keys.
pub fn languages() -> impl Iterator<Item = &'static str> {
    assets().iter().filter_map(|a| {
        a.path
            .strip_prefix("i18n/")
            .and_then(|name| name.strip_suffix(".json"))
            .filter(|code| !code.contains('/'))
    })
}

/// Whether the UI has a language file for `code`.
pub fn has_language(code: &str) -> bool {
    languages().any(|l| l == code)
}

/// The `Content-Type` of an asset, from its extension; `None` for a kind this module does not
/// serve (a test checks that every embedded file has one).
pub fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// The routes of the UIs: `/` (the kiosk page for a kiosk, the counter page for a counter),
/// `/status` (the technicians' page) and `/assets/*`. Merge into the agent's API router.
pub fn routes<S>(mode: Mode) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let home = home(mode);
    Router::new()
        .route("/", get(move |headers: HeaderMap| async move { serve(home, &headers) }))
        .route("/status", get(|headers: HeaderMap| async move { serve("status.html", &headers) }))
        .route(
            "/assets/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
}

/// The page at `/` for `mode`.
fn home(mode: Mode) -> &'static str {
    match mode {
        Mode::Kiosk => "kiosk.html",
        Mode::Counter => "counter.html",
    }
}

/// The response for the asset at `path`: 200 with the content, 304 if the client's copy is
/// current, 404 if there is no such file.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some((asset, kind)) = asset(path).and_then(|a| Some((a, content_type(a.path)?))) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == asset.etag
        });
    let common = [
        (header::ETAG, HeaderValue::from_static(asset.etag)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        StatusCode::OK,
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;

    use http_body_util::BodyExt;

    fn keys(path: &str) -> BTreeSet<String> {
        let asset = asset(path).unwrap_or_else(|| panic!("{path} is embedded"));
        let json: serde_json::Value =
            serde_json::from_slice(asset.bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        json.as_object()
            .unwrap_or_else(|| panic!("{path} is a JSON object"))
            .iter()
            .map(|(k, v)| {
                assert!(v.is_string(), "{path}: {k} must be a string");
                k.clone()
            })
            .collect()
    }

    #[test]
    fn every_language_file_has_exactly_the_italian_keys() {
        let reference = keys("i18n/it.json");
        assert!(reference.contains("lang.name"));
        let langs: Vec<_> = languages().collect();
        for code in ["it", "en", "de"] {
            assert!(langs.contains(&code), "{code} missing from {langs:?}");
        }
        for code in langs {
            let other = keys(&format!("i18n/{code}.json"));
            let missing: Vec<_> = reference.difference(&other).collect();
            let extra: Vec<_> = other.difference(&reference).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{code}: missing {missing:?}, extra {extra:?}"
            );
        }
    }

    /// Every `data-i18n*="key"` in the pages and every `t("key")` in the scripts has a text.
    #[test]
    fn every_key_used_by_the_pages_is_translated() {
        let reference = keys("i18n/it.json");
        let mut used = BTreeSet::new();
        for a in assets() {
            let Ok(text) = std::str::from_utf8(a.bytes) else {
                continue;
            };
            if a.path.ends_with(".html") {
                for part in text.split("data-i18n").skip(1) {
                    if let Some(key) = part
                        .split_once("=\"")
                        .and_then(|(_, rest)| rest.split_once('"'))
                    {
                        used.insert(key.0.to_owned());
                    }
                }
            } else if a.path.ends_with(".js") {
                // `t("key"` as a call of `t` itself, not the end of `get("` or `post("`.
                for (at, _) in text.match_indices("t(\"") {
                    let word = text[..at]
                        .bytes()
                        .next_back()
                        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
                    if let Some((key, _)) = text[at + 3..].split_once('"').filter(|_| !word) {
                        used.insert(key.to_owned());
                    }
                }
            }
        }
        assert!(used.len() > 20, "found only {used:?}");
        let missing: Vec<_> = used.difference(&reference).collect();
        assert!(missing.is_empty(), "keys without Italian text: {missing:?}");
    }

    #[test]
    fn every_asset_has_a_content_type_and_the_table_is_sorted() {
        let all = assets();
        assert!(all.windows(2).all(|w| w[0].path < w[1].path));
        for a in all {
            assert!(
                content_type(a.path).is_some(),
                "no content type for {}",
                a.path
            );
            assert_eq!(a.etag.len(), 18, "{}", a.path);
        }
        for page in ["kiosk.html", "counter.html", "status.html"] {
            assert!(asset(page).is_some(), "{page}");
        }
        assert!(has_language("de"));
        assert!(!has_language("xx"));
        assert!(asset("../Cargo.toml").is_none());
    }

    async fn body_text(res: Response) -> String {
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    fn if_none_match(tag: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(tag).expect("ascii"),
        );
        headers
    }

    #[tokio::test]
    async fn serves_pages_and_assets_with_types_caching_and_304() {
        assert_eq!(home(Mode::Kiosk), "kiosk.html");
        assert_eq!(home(Mode::Counter), "counter.html");

        let res = serve(home(Mode::Counter), &HeaderMap::new());
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(
            res.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("ascii")
                .contains("default-src 'self'")
        );
        let etag = res.headers()[header::ETAG]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(body_text(res).await.contains("counter.js"));

        let res = serve("counter.html", &if_none_match(&etag));
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()[header::ETAG], etag.as_str());
        assert!(body_text(res).await.is_empty());
        let res = serve("counter.html", &if_none_match(&format!("\"x\", W/{etag}")));
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        let res = serve("counter.html", &if_none_match("\"0000000000000000\""));
        assert_eq!(res.status(), StatusCode::OK);

        let res = serve("js/money.js", &HeaderMap::new());
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(body_text(res).await.contains("export function formatCents"));
        let res = serve("i18n/de.json", &HeaderMap::new());
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let res = serve("css/kiosk.css", &HeaderMap::new());
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );

        for missing in ["nope.js", "../Cargo.toml", "", "js"] {
            assert_eq!(
                serve(missing, &HeaderMap::new()).status(),
                StatusCode::NOT_FOUND,
                "{missing}"
            );
        }
    }
}
