//! A browser's side of the server-rendered faces (`/dashboard`, `/admin`) for HTTP tests:
//! a client that follows no redirects, form bodies, cookies read from `Set-Cookie`, and the
//! CSRF token read from a page.

use std::time::Duration;

/// A client that follows no redirects and sends cookies by hand, to see every answer.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A form body (`application/x-www-form-urlencoded`), as a browser sends it.
pub trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        let url = reqwest::Url::parse_with_params("http://form/", pairs).expect("form");
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(url.query().unwrap_or("").to_string())
    }
}

/// The value of cookie `name` from the response's Set-Cookie headers, and the whole header.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .to_string();
            (value, v.to_string())
        })
}

/// The CSRF token of the first form on a page.
pub fn csrf_in(html: &str) -> String {
    let at = html
        .find(r#"name="csrf" value=""#)
        .expect("a csrf field in the form");
    html[at + 19..at + 19 + 64].to_string()
}
