//! Every query Portal makes, named for what it does; each state change in one statement or one
//! transaction. SQL stays portable (no SQLite-only syntax where a standard form exists).

mod accounts;
mod audit;
mod orgs;
mod sign_ins;
mod throttle;
mod tokens;
mod two_factor;

pub use accounts::*;
pub use audit::*;
pub use orgs::*;
pub use sign_ins::*;
pub use throttle::*;
pub use tokens::*;
pub use two_factor::*;

pub type UserId = i64;
