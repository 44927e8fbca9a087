//! Talking to the `strata serve` that served the page (its `/api/`): what
//! it offers to build, and builds. In a docs page with no server the first
//! request fails and the page shows no build action at all.

use wasm_bindgen::JsCast as _;
use wasm_bindgen_futures::JsFuture;

/// An HTTP answer: the status and the body's text.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub text: String,
}

/// `GET`s or `POST`s (with a JSON body) `path` on the page's own server.
pub async fn request(method: &str, path: &str, body: Option<&str>) -> Result<Answer, String> {
    let body = body.map(wasm_bindgen::JsValue::from_str);
    request_body(method, path, body.as_ref()).await
}

/// [`request`] with any body `fetch` takes (a `Blob` is not copied).
pub async fn request_body(
    method: &str,
    path: &str,
    body: Option<&wasm_bindgen::JsValue>,
) -> Result<Answer, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(body);
        let headers = web_sys::Headers::new().map_err(|_| "no headers")?;
        let _ = headers.set("Content-Type", "application/json");
        init.set_headers(&headers);
    }
    let request = web_sys::Request::new_with_str_and_init(path, &init)
        .map_err(|_| format!("{method} {path}: not a request"))?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| format!("{method} {path}: no answer"))?
        .dyn_into()
        .map_err(|_| "not a response")?;
    let text = JsFuture::from(response.text().map_err(|_| "no body")?)
        .await
        .map_err(|_| "the body could not be read")?
        .as_string()
        .unwrap_or_default();
    Ok(Answer {
        status: response.status(),
        text,
    })
}

/// `GET`s `url`: the status and the body, left JavaScript bytes (an
/// `ArrayBuffer`: a closure goes on to the worker as the server sent it,
/// never decoded into a string here nor copied into wasm). The answer to
/// the fetch `index.html` started while the app loaded is taken when it
/// is for `url`.
pub async fn fetch_bytes(url: &str) -> Result<(u16, wasm_bindgen::JsValue), String> {
    if let Some(answer) = early_answer(url).await {
        return Ok(answer);
    }
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|_| format!("GET {url}: no answer"))?
        .dyn_into()
        .map_err(|_| "not a response")?;
    let body = JsFuture::from(response.array_buffer().map_err(|_| "no body")?)
        .await
        .map_err(|_| "the body could not be read")?;
    Ok((response.status(), body))
}

/// Bytes a fetch or a file read gave (an `ArrayBuffer` or a
/// `Uint8Array`, copied into wasm in one piece) as text, decoded as a
/// browser decodes a file's text: U+FFFD where they are not UTF-8, a
/// leading BOM dropped.
pub fn bytes_text(bytes: &wasm_bindgen::JsValue) -> String {
    let text = match String::from_utf8(js_sys::Uint8Array::new(bytes).to_vec()) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// The answer of `index.html`'s early fetch (`window.strataEarly`:
/// `{url, answer}`, `answer` a promise of `[status, body]` or `null` when
/// the fetch failed), taken once, if it was for `url`.
async fn early_answer(url: &str) -> Option<(u16, wasm_bindgen::JsValue)> {
    let window: wasm_bindgen::JsValue = web_sys::window()?.into();
    let key = wasm_bindgen::JsValue::from_str("strataEarly");
    let early = js_sys::Reflect::get(&window, &key).ok()?;
    let early_url = js_sys::Reflect::get(&early, &"url".into()).ok()?;
    if early_url.as_string()? != url {
        return None;
    }
    let _ = js_sys::Reflect::delete_property(window.unchecked_ref::<js_sys::Object>(), &key);
    let answer = js_sys::Reflect::get(&early, &"answer".into()).ok()?;
    let answer: js_sys::Array = JsFuture::from(js_sys::Promise::resolve(&answer))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let status = answer.get(0).as_f64()? as u16;
    Some((status, answer.get(1)))
}

/// The API's error message in an answer, or the whole text.
pub fn error_message(answer: &Answer) -> String {
    serde_json::from_str::<serde_json::Value>(&answer.text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("HTTP {}: {}", answer.status, answer.text))
}

/// The registry's address as clients name it: the page's `host:port`.
pub fn registry_host() -> String {
    web_sys::window()
        .and_then(|w| w.location().host().ok())
        .unwrap_or_default()
}
