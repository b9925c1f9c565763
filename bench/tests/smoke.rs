//! The benchmark with a few of each, so it cannot rot. It needs the release site (`./dev test`
//! builds it first) and a server: the release one, or the one `PORTAL_SERVER_BIN` names.

#[tokio::test]
async fn the_benchmark_runs_end_to_end_with_tiny_counts() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let site = bench::Site::from_workspace(&root);
    let postgres = std::env::var("PORTAL_TEST_POSTGRES_SERVER")
        .expect("PORTAL_TEST_POSTGRES_SERVER names a PostgreSQL server; ./dev test starts one");
    let figures = bench::run(&site, &bench::Plan::quick(), Some(&postgres))
        .await
        .expect("the benchmark runs");
    let table = bench::table(&figures);
    println!("{table}");
    assert!(figures.argon2_per_second > 0.0);
    assert!(figures.sign_ins_per_second > 0.0);
    assert!(figures.codes_per_second > 0.0 && figures.code_p50_ms > 0.0);
    assert!(figures.static_per_second > 0.0);
    assert!(figures.token_codes_per_second > 0.0 && figures.token_code_p50_ms > 0.0);
    assert!(figures.refreshes_per_second > 0.0 && figures.refresh_p50_ms > 0.0);
    assert!(figures.userinfo_per_second > 0.0 && figures.userinfo_p50_ms > 0.0);
    assert!(figures.verify_per_second > 0.0 && figures.verify_p50_ms > 0.0);
    let on_postgres = figures.postgres.clone().expect("the PostgreSQL figures");
    assert!(on_postgres.one_sign_ins_per_second > 0.0 && on_postgres.two_sign_ins_per_second > 0.0);
    assert!(on_postgres.one_codes_per_second > 0.0 && on_postgres.two_codes_per_second > 0.0);
    assert_eq!(figures.flood_answered, figures.flood_requests);
    assert!(figures.flood_peak_rss_mib > 1.0);
    assert!(figures.wasm_br_bytes > 0 && figures.js_br_bytes > 0);
    // Sizes are the same on any machine, so they are checked here; timings stay in the benchmark.
    assert!(
        figures.uncompressed.is_empty(),
        "sent without compression: {:?}",
        figures.uncompressed
    );
    assert!(figures.first_script_bytes > 0);
    assert!(
        figures.first_script_bytes <= 150_000,
        "/login sends {} bytes of script over the wire (at most 150 KB)",
        figures.first_script_bytes
    );
    assert_eq!(
        figures.second_script_bytes, 0,
        "a second visit downloads no script"
    );
    assert!(figures.cold_start_ms > 0.0);
    assert!(figures.hydrated_ms > 0.0);
    assert_eq!(table.lines().count(), 24, "{table}");
}
