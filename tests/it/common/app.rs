//! The scorer in process: the app `woolguard serve` runs (`serve::create_app`: routes, body
//! limit, error mapping and middleware), its tenants loaded from a config file, called without a
//! socket. Tests that need a process (kill -9, SIGTERM, a raw request line, a process-wide
//! setting) start the real binary instead.

use std::path::Path;

use actix_web::http::Method;
use actix_web::test::{init_service, read_body, try_call_service, TestRequest};
use woolguard::serve::{create_app, prepare, AppState, ServeConfig};

/// What a test calls: the real binary over loopback or the app in process.
pub trait Api {
    /// One request with these headers and body: (status, body).
    fn call_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String);

    /// [`Api::call_raw`] with a JSON body.
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.call_raw(method, path, &all, body.as_bytes())
    }
}

pub struct InProcess {
    state: actix_web::web::Data<AppState>,
    config: ServeConfig,
}

impl InProcess {
    /// The tenants of a serve config file, loaded as `woolguard serve --config` loads them.
    pub fn start(config: &Path) -> InProcess {
        let text = std::fs::read_to_string(config).unwrap_or_else(|e| panic!("{e}"));
        let config: ServeConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let state = prepare(&config).unwrap_or_else(|e| panic!("{e}"));
        InProcess { state, config }
    }
}

impl Api for InProcess {
    fn call_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let app = create_app(self.state.clone(), &self.config);
        let method = Method::from_bytes(method.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut req = TestRequest::default().method(method).uri(path);
        for &(k, v) in headers {
            req = req.insert_header((k, v));
        }
        let req = req.set_payload(body.to_vec()).to_request();
        actix_web::rt::System::new().block_on(async move {
            let svc = init_service(app).await;
            match try_call_service(&svc, req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let bytes = read_body(resp).await;
                    (status, String::from_utf8_lossy(&bytes).into_owned())
                }
                Err(e) => {
                    let resp = e.as_response_error().error_response();
                    let status = resp.status().as_u16();
                    let bytes = actix_web::body::to_bytes(resp.into_body())
                        .await
                        .unwrap_or_default();
                    (status, String::from_utf8_lossy(&bytes).into_owned())
                }
            }
        })
    }
}
