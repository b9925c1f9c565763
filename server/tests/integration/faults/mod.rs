//! Faults an operator meets when Portal runs for years: stops, crashes, a database that goes away,
//! slow and odd clients, a mail server that hangs, backups. Most run the real server binary in a
//! child process
//! (`common::ServerProcess`).

mod backups;
mod crashes;
mod logs;
mod mail;
mod outages;
mod slow_clients;
mod stops;
