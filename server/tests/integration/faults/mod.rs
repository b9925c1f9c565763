//! Faults an operator meets when Portal runs for years: stops, crashes, a database that goes away,
//! slow and odd clients, backups. Each runs the real server binary in a child process
//! (`common::ServerProcess`).

mod outages;
mod stops;
