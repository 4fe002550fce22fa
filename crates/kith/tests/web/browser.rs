//! A minimal browser for tests: a cookie jar (it keeps what `Set-Cookie` says, drops cookies set to expire),
//! same-origin form posts, and no automatic redirects.

#![allow(clippy::unwrap_used, dead_code)]

use crate::helpers::TestApp;
use crate::html::csrf_for;
use std::collections::BTreeMap;

/// A page answer: status, `Location`, the raw `Set-Cookie` lines and the body.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

/// One browser profile.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub jar: BTreeMap<String, String>,
    /// `Sec-Fetch-Site` sent with posts (`None`: not sent).
    pub fetch_site: Option<&'static str>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            jar: BTreeMap::new(),
            fetch_site: Some("same-origin"),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for line in &set_cookies {
            let (pair, attrs) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || value.is_empty() {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.text().await.unwrap();
        Answer {
            status,
            location,
            set_cookies,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.app.address)
        };
        let response = self
            .app
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    /// Posts `fields` (urlencoded) to `path` as a same-origin form.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .app
            .http
            .post(format!("{}{path}", self.app.address))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(site) = self.fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        let response = request.send().await.unwrap();
        self.keep(response).await
    }

    /// Loads `page`, then submits its form to `action` with its CSRF token and `fields`.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
        let form = self.get(page).await;
        assert_eq!(form.status, 200, "{page}: {}", form.body);
        let csrf = csrf_for(&form.body, action).unwrap_or_else(|| panic!("no form for {action} on {page}"));
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    pub async fn sign_up(&mut self, email: &str, password: &str) -> Answer {
        self.submit("/signup", "/signup", &[("email", email), ("password", password)])
            .await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        self.submit("/login", "/login", &[("email", email), ("password", password)])
            .await
    }

    pub async fn sign_out(&mut self) -> Answer {
        self.submit("/dashboard/overview", "/logout", &[]).await
    }

    pub fn session(&self) -> Option<String> {
        self.jar.get("kith_session").cloned()
    }
}
