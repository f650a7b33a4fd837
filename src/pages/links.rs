//! The links a customer opens: `{public_url}/v2/gopay/redirect/{prefix}{id}/{action}`, one prefix
//! for the web flow and one for the app flow. Activation (`gpar_`/`gpad_` … `/link`) and payment
//! verification (`gppr_`/`gppd_` … `/charge`) are two kinds of the same shape.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use uuid::Uuid;

use super::{Look, PageError};

/// Which link of a pair a path segment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The web link (`gpar_`, `gppr_`): works once.
    Web,
    /// The app link (`gpad_`, `gppd_`), with a PIN.
    App,
}

/// One kind of link.
pub struct LinkKind {
    pub web_prefix: &'static str,
    pub app_prefix: &'static str,
    /// The last path segment, e.g. `link`.
    pub action: &'static str,
    /// What the not-found page calls it, e.g. "activation".
    pub noun: &'static str,
}

impl LinkKind {
    pub fn prefix(&self, flow: Flow) -> &'static str {
        match flow {
            Flow::Web => self.web_prefix,
            Flow::App => self.app_prefix,
        }
    }

    /// The route of both flows' pages (the prefix picks the flow).
    pub fn route(&self) -> String {
        format!("/v2/gopay/redirect/{{link}}/{}", self.action)
    }

    /// Appends the link; `id` is the hyphenated lowercase UUID.
    pub fn push(&self, out: &mut String, public_url: &str, flow: Flow, id: &str) {
        out.push_str(public_url);
        out.push_str("/v2/gopay/redirect/");
        out.push_str(self.prefix(flow));
        out.push_str(id);
        out.push('/');
        out.push_str(self.action);
    }

    pub fn url(&self, public_url: &str, flow: Flow, id: &Uuid) -> String {
        let mut out = String::with_capacity(public_url.len() + 64);
        let mut buf = Uuid::encode_buffer();
        self.push(
            &mut out,
            public_url,
            flow,
            id.hyphenated().encode_lower(&mut buf),
        );
        out
    }

    /// The flow and id a path segment names, if it is one of this kind's.
    pub fn parse(&self, segment: &str) -> Option<(Flow, Uuid)> {
        let (flow, id) = if let Some(id) = segment.strip_prefix(self.web_prefix) {
            (Flow::Web, id)
        } else if let Some(id) = segment.strip_prefix(self.app_prefix) {
            (Flow::App, id)
        } else {
            return None;
        };
        Uuid::parse_str(id).ok().map(|id| (flow, id))
    }

    pub fn not_found(&self) -> PageError {
        PageError::new(
            Look::Card,
            StatusCode::NOT_FOUND,
            "Link not found",
            format!(
                "This {} link does not exist. Check that you opened the whole link the merchant gave you.",
                self.noun
            ),
        )
    }
}

/// Any other method on a link's route.
pub async fn method_not_allowed() -> Result<HttpResponse, PageError> {
    Err(PageError::method_not_allowed(Look::Card))
}
