//! Portal as an OpenID Connect provider, with the `openidconnect` crate as the app (discovery,
//! PKCE, the ID token checked against the published keys, UserInfo) and the test's browser as
//! the person: it follows Portal's redirects itself and stops where the browser would go back
//! to the app, or where the person has to do something (sign in, allow).

mod codes;
mod consent;
mod flow;
mod keys;
mod logout;
mod sign_in;
mod tokens;

use leptos::server_fn::serde::{Deserialize, Serialize};
use openidconnect::{
    AccessToken, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenResponse,
    core::{
        CoreClient, CoreGenderClaim, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
        CoreProviderMetadata, CoreResponseType, CoreTokenResponse,
    },
};
use reqwest::{Client, StatusCode};
use url::Url;

use crate::common::{Authenticator, PASSWORD, TestPortal, code_form, location};
use app::account::login::Login;
use app::oidc::consent::DecideConsent;

/// Where every test app receives its codes. Nothing listens there: the browser stops before it.
pub const REDIRECT: &str = "http://127.0.0.1:4999/cb";

/// The app's client, as discovery makes it.
pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The `groups` claim, beside the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "leptos::server_fn::serde")]
pub struct Groups {
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}
impl openidconnect::AdditionalClaims for Groups {}

pub type UserInfo = openidconnect::UserInfoClaims<Groups, CoreGenderClaim>;

/// A registered app and its relying-party client.
pub struct App {
    pub id: String,
    pub secret: Option<String>,
    pub rp: Rp,
    pub http: Client,
}

/// A request the app started: its URL and what the app keeps to check the answer.
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: Nonce,
    pub verifier: String,
}

/// Where the browser ended.
#[derive(Debug)]
pub enum Step {
    /// Back at the app's redirect URI, with these parameters.
    App(Url),
    /// On the sign-in page, which goes on to `next` (`/oauth2/continue?request=…`).
    SignIn { next: String },
    /// On the consent page for this request.
    Consent { request: String },
    /// Some other page of Portal's.
    Page {
        status: StatusCode,
        url: String,
        body: String,
    },
}

impl Step {
    /// The app's redirect URL, or a panic naming where the browser is instead.
    pub fn app(self) -> Url {
        match self {
            Step::App(url) => url,
            other => panic!("expected a return to the app, the browser is at {other:?}"),
        }
    }

    pub fn next(self) -> String {
        match self {
            Step::SignIn { next } => next,
            other => panic!("expected the sign-in page, the browser is at {other:?}"),
        }
    }

    pub fn request(self) -> String {
        match self {
            Step::Consent { request } => request,
            other => panic!("expected the consent page, the browser is at {other:?}"),
        }
    }
}

/// A query parameter of a URL.
pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The part (0 header, 1 claims) of a JWT, as JSON: for what the app's library does not show.
pub fn jwt_part(token: &str, part: usize) -> serde_json::Value {
    use base64::Engine;
    let encoded = token.split('.').nth(part).expect("a JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// An HTTP client as an app's server has: no cookies, no redirects followed.
pub fn app_http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Registers an app with `server admin client add` and these extra flags: its id and secret.
pub fn register(portal: &TestPortal, extra: &[&str]) -> (String, Option<String>) {
    let mut args = vec![
        "client",
        "add",
        "--name",
        "Notes",
        "--redirect-uri",
        REDIRECT,
    ];
    args.extend_from_slice(extra);
    let output = portal.admin(&args);
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{output:?}");
    let field = |name: &str| {
        out.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
    };
    (
        field("client_id:").expect("a client_id"),
        field("client_secret:"),
    )
}

impl App {
    /// Registers an app (with `extra` flags) and discovers the portal as the app's library does.
    pub async fn new(portal: &TestPortal, extra: &[&str]) -> Self {
        let (id, secret) = register(portal, extra);
        let http = app_http();
        let rp = Self::discover(portal, &http, &id, secret.as_deref()).await;
        Self {
            id,
            secret,
            rp,
            http,
        }
    }

    async fn discover(portal: &TestPortal, http: &Client, id: &str, secret: Option<&str>) -> Rp {
        let metadata = CoreProviderMetadata::discover_async(
            IssuerUrl::new(portal.base.clone()).unwrap(),
            http,
        )
        .await
        .expect("discovery and the key set");
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(id.to_owned()),
            secret.map(|secret| ClientSecret::new(secret.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
    }

    /// Discovery again: the key set as it is now.
    pub async fn rediscover(&mut self, portal: &TestPortal) {
        self.rp = Self::discover(portal, &self.http, &self.id, self.secret.as_deref()).await;
    }

    /// An authorization request for `openid` and `scopes`, with PKCE S256, a nonce and a state,
    /// and any extra parameters (`prompt`, `max_age`).
    pub fn start(&self, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .rp
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                // What an app puts in its state may hold anything a URL must escape.
                || CsrfToken::new(format!("s t&a=te/{}", CsrfToken::new_random().secret())),
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state, nonce) = request.url();
        Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce,
            verifier: verifier.secret().clone(),
        }
    }

    /// The code exchanged, by the app's library.
    pub async fn exchange(&self, code: &str, verifier: &str) -> Result<CoreTokenResponse, String> {
        self.rp
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|error| format!("{error:?}"))
    }

    /// The ID token checked as the app's library checks it: the signature against the key set,
    /// `iss`, `aud`, expiry and the nonce; RS256 or ES256 allowed.
    pub fn verify(&self, tokens: &CoreTokenResponse, nonce: &Nonce) -> CoreIdTokenClaims {
        let verifier = self.rp.id_token_verifier().set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ]);
        tokens
            .id_token()
            .expect("an ID token")
            .claims(&verifier, nonce)
            .expect("the ID token verifies")
            .clone()
    }

    pub async fn userinfo(&self, access: &str) -> Result<UserInfo, String> {
        self.rp
            .user_info(AccessToken::new(access.to_owned()), None)
            .unwrap()
            .request_async(&self.http)
            .await
            .map_err(|error| format!("{error:?}"))
    }

    pub async fn refresh(&self, refresh: &str) -> Result<CoreTokenResponse, String> {
        self.rp
            .exchange_refresh_token(&RefreshToken::new(refresh.to_owned()))
            .unwrap()
            .request_async(&self.http)
            .await
            .map_err(|error| format!("{error:?}"))
    }

    /// A form posted to one of Portal's endpoints, with the app's secret in HTTP Basic (or its
    /// id in the form, if public).
    pub async fn post(
        &self,
        portal: &TestPortal,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let request = self.http.post(portal.url(path));
        let request = match &self.secret {
            Some(secret) => request.basic_auth(&self.id, Some(secret)),
            None => {
                fields.push(("client_id", &self.id));
                request
            }
        };
        request.form(&fields).send().await.unwrap()
    }

    /// The raw token endpoint, for a code.
    pub async fn post_code(
        &self,
        portal: &TestPortal,
        code: &str,
        verifier: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.post(portal, "/oauth2/token", &form).await
    }
}

/// The access token and, if any, the refresh token of a token response.
pub fn tokens_of(response: &CoreTokenResponse) -> (String, Option<String>) {
    (
        response.access_token().secret().clone(),
        response.refresh_token().map(|token| token.secret().clone()),
    )
}

/// Opens `url` in `browser` and follows Portal's redirects until the browser would leave for the
/// app or the person has to act.
pub async fn follow(portal: &TestPortal, browser: &Client, url: &str) -> Step {
    let mut url = url.to_owned();
    for _ in 0..10 {
        let response = browser.get(&url).send().await.unwrap();
        let status = response.status();
        if let Some(target) = location(&response) {
            assert!(status.is_redirection(), "{status} with a Location");
            let target = Url::parse(&url).unwrap().join(target).unwrap();
            if target.as_str().starts_with(REDIRECT) {
                return Step::App(target);
            }
            assert_eq!(
                target.origin(),
                Url::parse(&portal.base).unwrap().origin(),
                "a redirect off the site that is no registered redirect URI: {target}"
            );
            match target.path() {
                "/login" => {
                    return Step::SignIn {
                        next: param(&target, "next").unwrap_or_default(),
                    };
                }
                "/oauth2/consent" => {
                    return Step::Consent {
                        request: param(&target, "request").expect("the request's id"),
                    };
                }
                _ => {
                    url = target.into();
                    continue;
                }
            }
        }
        let body = response.text().await.unwrap();
        if let Some(at) = body.find("content=\"0;url=") {
            let rest = &body[at + "content=\"0;url=".len()..];
            let target = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
            assert!(target.starts_with(REDIRECT), "{target}");
            return Step::App(Url::parse(&target).unwrap());
        }
        return Step::Page { status, url, body };
    }
    panic!("more than 10 redirects from {url}");
}

/// The sign-in page's form, posted with its `next`; then `next`, followed.
pub async fn sign_in_then(
    portal: &TestPortal,
    browser: &Client,
    username: &str,
    next: &str,
) -> Step {
    let answer = portal
        .post_fn(
            browser,
            Login {
                username: username.to_owned(),
                password: PASSWORD.to_owned(),
                next: next.to_owned(),
            },
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK, "the password is right");
    follow(portal, browser, &portal.url(next)).await
}

/// The second step's code, then `next`, followed.
pub async fn code_then(
    portal: &TestPortal,
    browser: &Client,
    authenticator: &Authenticator,
    next: &str,
) -> Step {
    portal.clock.advance(30);
    let mut form = code_form(&authenticator.code(portal, 0));
    form.next = next.to_owned();
    let answer = portal.post_fn(browser, form).await;
    assert_eq!(answer.status(), StatusCode::OK, "the code is right");
    follow(portal, browser, &portal.url(next)).await
}

/// Allow or Deny on the consent page, then on.
pub async fn decide(portal: &TestPortal, browser: &Client, request: &str, allow: bool) -> Step {
    let answer = portal
        .post_fn(
            browser,
            DecideConsent {
                request: request.to_owned(),
                decision: if allow { "allow" } else { "deny" }.to_owned(),
            },
        )
        .await;
    assert!(answer.status().is_success(), "{}", answer.status());
    follow(
        portal,
        browser,
        &portal.url(&format!("/oauth2/continue?request={request}")),
    )
    .await
}

/// The browser's way through the request, as a person without a second factor: the password
/// if asked, Allow if asked. The app's redirect URL.
pub async fn through(portal: &TestPortal, browser: &Client, username: &str, url: &str) -> Url {
    let mut step = follow(portal, browser, url).await;
    if let Step::SignIn { next } = step {
        step = sign_in_then(portal, browser, username, &next).await;
    }
    if let Step::Consent { request } = step {
        step = decide(portal, browser, &request, true).await;
    }
    step.app()
}

/// A code for `username` (signed in with the password in `browser` if need be), checked to
/// come with the request's state and Portal as `iss`.
pub async fn code_for(
    portal: &TestPortal,
    browser: &Client,
    username: &str,
    started: &Started,
) -> String {
    let back = through(portal, browser, username, &started.url).await;
    assert_eq!(param(&back, "error"), None, "{back}");
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(started.state.as_str())
    );
    assert_eq!(param(&back, "iss").as_deref(), Some(portal.base.as_str()));
    param(&back, "code").expect("a code")
}

/// Signed-in tokens for `username` from `app`: the token response and the nonce it was for.
pub async fn sign_in_to(
    portal: &TestPortal,
    app: &App,
    browser: &Client,
    username: &str,
    scopes: &[&str],
    extra: &[(&str, &str)],
) -> (CoreTokenResponse, Nonce) {
    let started = app.start(scopes, extra);
    let code = code_for(portal, browser, username, &started).await;
    let tokens = app
        .exchange(&code, &started.verifier)
        .await
        .expect("the code gives tokens");
    (tokens, started.nonce)
}

/// A signed-up account, signed in in the browser returned.
pub async fn person(portal: &TestPortal, username: &str) -> Client {
    let browser = portal.browser();
    let signed_up = portal.sign_up(&browser, username, PASSWORD).await;
    assert!(signed_up.status().is_success(), "{}", signed_up.status());
    browser
}

/// Whether UserInfo takes the access token.
pub async fn alive(app: &App, access: &str) -> bool {
    app.userinfo(access).await.is_ok()
}
