//! Forward-auth: a reverse proxy (Caddy's `forward_auth`, nginx's `auth_request`, Traefik's
//! ForwardAuth) asks Portal, for every request to an app behind it, whether the browser's
//! Portal session may reach it. `rules` holds the access rules.

pub mod rules;
