use crate::Figures;

/// Each row: what, the figure, the target, whether it is met.
fn rows(f: &Figures) -> Vec<(String, String, String, &'static str)> {
    let verdict = |met: bool| if met { "met" } else { "missed" };
    let sign_in_ratio = f.sign_ins_per_second / f.argon2_per_second;
    let code_ratio = f.codes_per_second / f.static_per_second;
    let bundle_kib = (f.wasm_gzip_bytes + f.js_gzip_bytes) as f64 / 1024.0;
    let spread = [f.sign_in_unknown_ms, f.sign_in_wrong_ms, f.sign_in_right_ms];
    let slowest = spread.iter().copied().fold(f64::MIN, f64::max);
    let fastest = spread.iter().copied().fold(f64::MAX, f64::min);
    vec![
        (
            "Argon2id verifications/s, all cores (floor)".into(),
            format!("{:.1}", f.argon2_per_second),
            "".into(),
            "",
        ),
        (
            "password sign-ins/s over HTTP, concurrency 2×cores".into(),
            format!("{:.1}", f.sign_ins_per_second),
            "".into(),
            "",
        ),
        (
            "sign-ins ÷ Argon2 floor".into(),
            format!("{sign_in_ratio:.2}"),
            "≥ 0.90".into(),
            verdict(sign_in_ratio >= 0.9),
        ),
        (
            "code checks/s (p50 / p99 ms)".into(),
            format!(
                "{:.0} ({:.1} / {:.1})",
                f.codes_per_second, f.code_p50_ms, f.code_p99_ms
            ),
            "".into(),
            "",
        ),
        (
            "static file/s (p50 / p99 ms)".into(),
            format!(
                "{:.0} ({:.1} / {:.1})",
                f.static_per_second, f.static_p50_ms, f.static_p99_ms
            ),
            "".into(),
            "",
        ),
        (
            "code checks ÷ static".into(),
            format!("{code_ratio:.2}"),
            "≥ 0.50".into(),
            verdict(code_ratio >= 0.5),
        ),
        (
            "sign-in p50 ms: unknown user / wrong / right password".into(),
            format!(
                "{:.1} / {:.1} / {:.1}",
                f.sign_in_unknown_ms, f.sign_in_wrong_ms, f.sign_in_right_ms
            ),
            "within 10%".into(),
            verdict(slowest <= fastest * 1.1),
        ),
        (
            format!(
                "peak RSS, {} sign-ins at once ({} answered)",
                f.flood_requests, f.flood_answered
            ),
            format!("{:.0} MiB", f.flood_peak_rss_mib),
            "≤ 100 MB".into(),
            verdict(
                f.flood_peak_rss_mib * 1.048_576 <= 100.0 && f.flood_answered == f.flood_requests,
            ),
        ),
        (
            "release wasm + JS, raw (gzipped)".into(),
            format!(
                "{:.0} KiB + {:.0} KiB ({:.0} + {:.0} KiB)",
                f.wasm_bytes as f64 / 1024.0,
                f.js_bytes as f64 / 1024.0,
                f.wasm_gzip_bytes as f64 / 1024.0,
                f.js_gzip_bytes as f64 / 1024.0
            ),
            "≤ 250 KB gzipped".into(),
            verdict(bundle_kib * 1.024 <= 250.0),
        ),
        (
            "cold start to first page, empty data folder".into(),
            format!("{:.0} ms", f.cold_start_ms),
            "≤ 300 ms".into(),
            verdict(f.cold_start_ms <= 300.0),
        ),
        (
            "/login first paint / hydrated (median)".into(),
            format!("{:.0} / {:.0} ms", f.first_paint_ms, f.hydrated_ms),
            "".into(),
            "",
        ),
    ]
}

pub fn table(figures: &Figures) -> String {
    let mut out = format!("Portal benchmark on {} cores\n", figures.cores);
    for (what, figure, target, verdict) in rows(figures) {
        out.push_str(&format!(
            "{what:<58} {figure:>32}  {target:<16} {verdict}\n"
        ));
    }
    out
}

pub fn markdown(figures: &Figures, command: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|line| {
                line.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown processor".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .next()
                .map(|line| line.trim_start_matches("MemTotal:").trim().to_owned())
        })
        .unwrap_or_default();
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut out = format!(
        "# Benchmarks\n\nMeasured by `{command}` (after `cargo leptos build --release`) on {date}.\n\n\
         Machine: {cpu}, {} cores, {memory} of memory. Ratios are measured in one run, side by side.\n\n\
         | measure | figure | target | |\n|---|---|---|---|\n",
        figures.cores
    );
    for (what, figure, target, verdict) in rows(figures) {
        out.push_str(&format!("| {what} | {figure} | {target} | {verdict} |\n"));
    }
    out
}
