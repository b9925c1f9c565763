//! `cargo run -p bench --release -- all [--quick]`: measures the release build (build it first
//! with `cargo leptos build --release --precompress`), prints a table and writes BENCHMARKS.md.

use std::path::PathBuf;

use bench::{Plan, Site};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("all") {
        eprintln!("usage: bench all [--quick]");
        std::process::exit(2);
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let site = Site::from_workspace(&root);
    let plan = if quick { Plan::quick() } else { Plan::full() };
    // ./dev bench starts a throwaway PostgreSQL and names it here.
    let postgres = std::env::var("PORTAL_BENCH_POSTGRES").ok();
    let figures = bench::run(&site, &plan, postgres.as_deref()).await?;
    println!("{}", bench::table(&figures));
    if !quick {
        let command = "cargo run -p bench --release -- all";
        std::fs::write(
            root.join("BENCHMARKS.md"),
            bench::markdown(&figures, command),
        )?;
        println!("written to BENCHMARKS.md");
    }
    Ok(())
}
