//! Benchmark host for sqlite-triggers: loads the built extension into the
//! system SQLite and runs benchmarks 1–4, 6 and 7 of docs/benchmarks.md's table,
//! each with its contenders interleaved. Benchmark 5 (SQLAlchemy) is
//! `benches/python/sqlalchemy_row.py`; `scripts/bench` runs both and
//! `benches/report.py` turns the raw samples into the results table.
//!
//! ```text
//! sqlite-triggers-bench --extension PATH [--quick] [--rows 1,2,...] [--out FILE] [--tmp DIR]
//! sqlite-triggers-bench --extension PATH --callgrind --rows 1 --list
//! sqlite-triggers-bench --extension PATH --callgrind --rows 1 --contender 0 [--out FILE]
//! sqlite-triggers-bench wait-child EXTENSION DB     (benchmark 7's other process)
//! ```
//!
//! `--callgrind` runs the sizes of the callgrind mode, once and without a
//! warm-up; `--list` prints the chosen benchmarks' contenders as JSON
//! without running them, and `--contender` runs only one of them.
//! `benches/callgrind.py` starts one such process per contender under
//! valgrind.
mod handler;
mod harness;
mod latency;
mod rows;
mod session;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

use harness::{Extension, R};
use rows::Sizes;

/// How much to run.
pub struct Plan {
    pub warmup: usize,
    pub rounds: usize,
    pub latency_samples: usize,
    /// Where the benchmark databases are created.
    pub tmp: PathBuf,
}

const FULL: Sizes = Sizes {
    insert_rows: 1_000_000,
    users: 10_000,
    users_scaling: 100_000,
    users_unindexed_scaling: 5_000,
    obs: 2_000,
    tasks_per_obs: 10,
    capture_rows: 50_000,
};

const QUICK: Sizes = Sizes {
    insert_rows: 50_000,
    users: 1_000,
    users_scaling: 5_000,
    users_unindexed_scaling: 1_000,
    obs: 300,
    tasks_per_obs: 10,
    capture_rows: 2_000,
};

/// The callgrind mode (`benches/callgrind.py`): every run executes about 50
/// times slower under valgrind, and instruction counts need one run only.
const CALLGRIND: Sizes = Sizes {
    insert_rows: 20_000,
    users: 1_000,
    users_scaling: 5_000,
    users_unindexed_scaling: 1_000,
    obs: 300,
    tasks_per_obs: 10,
    capture_rows: 5_000,
};

struct Args {
    extension: PathBuf,
    quick: bool,
    callgrind: bool,
    list: bool,
    contender: Option<usize>,
    rows: Option<Vec<String>>,
    out: Option<PathBuf>,
    tmp: PathBuf,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> R<Args> {
    let mut parsed = Args {
        extension: PathBuf::new(),
        quick: false,
        callgrind: false,
        list: false,
        contender: None,
        rows: None,
        out: None,
        tmp: std::env::temp_dir(),
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--extension" => parsed.extension = value("--extension")?.into(),
            "--quick" => parsed.quick = true,
            "--callgrind" => parsed.callgrind = true,
            "--list" => parsed.list = true,
            "--contender" => {
                let v = value("--contender")?;
                parsed.contender = Some(v.parse().map_err(|_| format!("--contender {v:?}"))?)
            }
            "--rows" => {
                parsed.rows = Some(value("--rows")?.split(',').map(str::to_string).collect())
            }
            "--out" => parsed.out = Some(value("--out")?.into()),
            "--tmp" => parsed.tmp = value("--tmp")?.into(),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsed.extension.as_os_str().is_empty() {
        return Err("usage: sqlite-triggers-bench --extension PATH [--quick] [--rows 1,2,...] [--out FILE] [--tmp DIR]".into());
    }
    Ok(parsed)
}

fn run(args: Args) -> R<bool> {
    let ext = Extension::probe(&args.extension)?;
    let (sizes, plan) = if args.callgrind {
        (
            CALLGRIND,
            Plan {
                warmup: 0,
                rounds: 1,
                latency_samples: 20,
                tmp: args.tmp,
            },
        )
    } else if args.quick {
        (
            QUICK,
            Plan {
                warmup: 1,
                rounds: 3,
                latency_samples: 20,
                tmp: args.tmp,
            },
        )
    } else {
        (
            FULL,
            Plan {
                warmup: 1,
                rounds: 7,
                latency_samples: 200,
                tmp: args.tmp,
            },
        )
    };
    let sqlite = rusqlite::version().to_string();
    let mode = if args.callgrind {
        "callgrind"
    } else if args.quick {
        "quick"
    } else {
        "full"
    };
    let wanted = |id: &str| {
        args.rows
            .as_ref()
            .is_none_or(|rows| rows.iter().any(|r| r == id))
    };
    type Make<'a> = Box<dyn Fn() -> harness::Bench<'a> + 'a>;
    let all: Vec<(&str, Make)> = vec![
        ("1", Box::new(|| rows::row1(&plan, &ext, &sizes))),
        ("2", Box::new(|| rows::row2(&plan, &ext, &sizes))),
        ("3", Box::new(|| rows::row3(&plan, &ext, &sizes))),
        ("4", Box::new(|| rows::row4(&plan, &ext, &sizes))),
        ("6", Box::new(|| rows::row6(&plan, &ext, &sizes))),
        ("7", Box::new(|| latency::row7(&plan, &ext))),
        ("8", Box::new(|| handler::row8(&plan, &sizes))),
    ];
    if args.list {
        let list: Vec<Value> = all
            .iter()
            .filter(|(id, _)| wanted(id))
            .map(|(_, make)| make().describe())
            .collect();
        println!("{}", serde_json::to_string_pretty(&list).expect("JSON"));
        return Ok(true);
    }
    println!(
        "sqlite-triggers {} on SQLite {sqlite}; {} mode; functions: {}",
        ext.version,
        mode,
        ext.functions.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    let mut benchmarks: Vec<Value> = Vec::new();
    for (id, make) in &all {
        if wanted(id) {
            let bench = match args.contender {
                Some(index) => make().only(index)?,
                None => make(),
            };
            benchmarks.push(bench.run());
        }
    }
    let failed = benchmarks
        .iter()
        .flat_map(|b| b["contenders"].as_array().into_iter().flatten())
        .any(|c| c["status"] == "failed");
    let record = json!({
        "host": "rust",
        "mode": mode,
        "sqlite": sqlite,
        "extension": ext.version,
        "extension_functions": ext.functions,
        "benchmarks": benchmarks,
    });
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(&record).expect("JSON");
        std::fs::write(out, text).map_err(|e| format!("writing {}: {e}", out.display()))?;
    }
    Ok(!failed)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let result = if args.peek().map(String::as_str) == Some("wait-child") {
        latency::wait_child(&args.skip(1).collect::<Vec<_>>()).map(|()| true)
    } else {
        parse_args(args).and_then(run)
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("sqlite-triggers-bench: a contender failed (see FAILED above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("sqlite-triggers-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
