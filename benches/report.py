"""Turns the raw samples of the benchmark hosts into the results: a table on
stdout, `results.json` and `results.csv`, and a comparison with the last
run's `results.json` (kept as `previous.json`).

    python benches/report.py --out DIR RAW.json... [--markdown] [--callgrind FILE]

Every statistic is computed here, for the Rust and the Python rows alike:

- time rows: median and spread (min–max) of the measured rounds;
- latency rows: p50, p99 and max of the samples;
- throughput: for a benchmark whose record gives `units` and `unit` (the
  work of one sample, e.g. 400 writes), units per second at the median;
- ratio: the median of the per-round ratios contender/reference (round i of
  one against round i of the other: they ran next to each other, so a slow
  minute of the machine cancels out), with their min–max; for latency rows,
  the ratio of the p50s;
- target: met, MISSED, pending (the contender waits for a function not in
  this build, and was skipped) or failed.

With `--callgrind` (the `results.json` of `benches/callgrind.py`), the
instruction counts per row of benchmarks 1, 6 and 8 and their ratios are
shown beside the times, in their own column of the Markdown table.
"""
import argparse
import csv
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics


def quantile(values, q):
    """Nearest-rank quantile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n*q), at least 1
    return ordered[int(rank) - 1]


def human(secs):
    if secs is None:
        return "-"
    if secs >= 1:
        return f"{secs:.3f}s"
    if secs >= 1e-3:
        return f"{secs * 1e3:.2f}ms"
    return f"{secs * 1e6:.1f}µs"


def paired_ratios(samples, reference):
    return [s / r for s, r in zip(samples, reference) if r > 0]


def target_text(target):
    if not target:
        return ""
    kind, value = target["kind"], target["value"]
    if kind == "ratio_at_most":
        return f"≤ {value:g}×"
    if kind == "speedup_at_least":
        return f"≥ {value:g}× faster"
    if kind == "p50_below_s":
        return f"p50 < {human(value)}"
    raise ValueError(f"unknown target kind {kind}")


def evaluate(target, stats):
    if not target:
        return None
    kind, value = target["kind"], target["value"]
    if kind == "p50_below_s":
        return stats["p50_s"] < value
    ratio = stats.get("ratio")
    if ratio is None:
        return None
    if kind == "ratio_at_most":
        return ratio <= value
    if kind == "speedup_at_least":
        return 1 / ratio >= value
    raise ValueError(f"unknown target kind {kind}")


def summarise(bench):
    """The statistics of every contender of one benchmark."""
    by_name = {c["name"]: c for c in bench["contenders"]}
    out = []
    for c in bench["contenders"]:
        row = {
            "id": bench["id"],
            "benchmark": bench["title"],
            "work": bench["work"],
            "kind": bench["kind"],
            "measure": bench["measure"],
            "contender": c["name"],
            "status": c["status"],
            "reason": c["reason"],
            "ratio_to": c["ratio_to"],
            "target": target_text(c["target"]),
            "n": len(c["samples"]),
        }
        samples, wall = c["samples"], c["wall_samples"]
        if c["status"] == "ran" and samples:
            row.update(
                median_s=statistics.median(samples),
                min_s=min(samples),
                max_s=max(samples),
                p50_s=quantile(samples, 0.5),
                p99_s=quantile(samples, 0.99),
                wall_median_s=statistics.median(wall),
            )
            # Every host gives the work's size as {"count", "unit"}; a
            # benchmark about throughput ("rate") shows it per second too.
            if bench.get("rate") and bench.get("units"):
                row["per_second"] = bench["units"]["count"] / row["median_s"]
                row["unit"] = bench["units"]["unit"]
            ref = by_name[c["ratio_to"]]
            if ref is not c and ref["status"] == "ran" and ref["samples"]:
                if bench["kind"] == "latency":
                    row["ratio"] = quantile(samples, 0.5) / quantile(ref["samples"], 0.5)
                else:
                    ratios = paired_ratios(samples, ref["samples"])
                    row.update(
                        ratio=statistics.median(ratios),
                        ratio_min=min(ratios),
                        ratio_max=max(ratios),
                        wall_ratio=statistics.median(paired_ratios(wall, ref["wall_samples"])),
                    )
            met = evaluate(c["target"], row)
            row["result"] = "" if met is None else ("met" if met else "MISSED")
        elif c["status"] == "skipped":
            row["result"] = "pending"
        else:
            row["result"] = "failed"
        out.append(row)
    return out


def timing_text(row):
    if row["status"] != "ran":
        return f"{row['status']}: {row['reason']}"
    if row["kind"] == "latency":
        return f"p50 {human(row['p50_s'])}, p99 {human(row['p99_s'])} (max {human(row['max_s'])})"
    text = f"{human(row['median_s'])} ({human(row['min_s'])}–{human(row['max_s'])})"
    if "per_second" in row:
        text += f" = {row['per_second']:,.0f} {row['unit']}s/s"
    return text


def ratio_text(row):
    if "ratio" not in row:
        return ""
    text = f"{row['ratio']:.3f}×"
    if "ratio_min" in row:
        text += f" ({row['ratio_min']:.2f}–{row['ratio_max']:.2f})"
    if row["ratio"] < 1 and row["kind"] == "time":
        text += f" = {1 / row['ratio']:.1f}× faster"
    return text


def against_last(row, previous):
    old = previous.get((row["id"], row["contender"]))
    if not old or "median_s" not in row or "median_s" not in old:
        return ""
    change = row["median_s"] / old["median_s"] - 1
    text = f"{change:+.0%}"
    if "ratio" in row and "ratio" in old:
        text += f", ratio was {old['ratio']:.3f}"
    return text


def instructions_text(row):
    """The "instructions/unit (ratio)" cell of a row measured by callgrind."""
    cg = row.get("callgrind")
    if not cg or cg.get("status") != "ran":
        return ""
    text = f"{round(cg['per_unit']):,}/{cg['unit']}"
    if "ratio" in cg:
        text += f" ({cg['ratio']:.3f}×)"
    return text


def print_table(rows, previous):
    current = None
    for row in rows:
        if row["id"] != current:
            current = row["id"]
            print(f"\n{row['id']}. {row['benchmark']} — {row['work']} [{row['measure']}]")
        target = f"  target {row['target']}: {row['result']}" if row["target"] else ""
        ratio = ratio_text(row)
        ratio = f"  ratio {ratio} vs {row['ratio_to']}" if ratio else ""
        last = against_last(row, previous)
        last = f"  [last run: {last}]" if last else ""
        print(f"   {row['contender']}: {timing_text(row)}{ratio}{target}{last}")
        if instructions_text(row):
            print(f"      callgrind: {instructions_text(row)} instructions")


def print_markdown(rows, machine, callgrind=None):
    print(
        f"Full run of {machine['date'][:10]}: {machine['cores']} cores ({machine['cpu']}), "
        f"SQLite {machine['sqlite']}, Python {machine['python']} with SQLAlchemy "
        f"{machine.get('sqlalchemy', '-')}, sqlite-triggers {machine['extension']}."
    )
    if callgrind:
        sizes = sorted({(r["id"], r["units"], r["unit"]) for r in callgrind["rows"]})
        print(
            f"Instructions: callgrind run of {callgrind['date'][:10]} ({callgrind['valgrind']}), "
            "one run per contender, only the timed work, at "
            + ", ".join(f"{units:,} {unit}s ({id_})" for id_, units, unit in sizes)
            + "."
        )
    print()
    print("| # | work | contender | median (min–max) | ratio | instructions/row (ratio) | target | result |")
    print("|---|---|---|---|---|---|---|---|")
    shown = None
    for row in rows:
        timing = timing_text(row) if row["status"] == "ran" else row["status"]
        first = row["id"] != shown
        shown = row["id"]
        print(
            f"| {row['id'] if first else ''} | {row['work'] if first else ''} | {row['contender']} | "
            f"{timing} | {ratio_text(row)} | {instructions_text(row)} | {row['target']} | {row['result']} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="+", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--callgrind", type=pathlib.Path, help="instruction counts of benches/callgrind.py")
    args = parser.parse_args()

    hosts = [json.loads(p.read_text()) for p in args.raw]
    rust = next((h for h in hosts if h["host"] == "rust"), {})
    python = next((h for h in hosts if h["host"] == "python"), {})
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    machine = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": hosts[0]["mode"],
        "cores": os.cpu_count(),
        "cpu": cpu,
        "load_average": os.getloadavg(),
        "sqlite": rust.get("sqlite", python.get("sqlite", next((h.get("sqlite") for h in hosts if h.get("sqlite")), None))),
        "python": platform.python_version(),
        "python_sqlite": python.get("sqlite"),
        "sqlalchemy": python.get("sqlalchemy"),
        "extension": rust.get("extension"),
        "extension_functions": rust.get("extension_functions"),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
    }
    benchmarks = sorted(
        (b for h in hosts for b in h["benchmarks"]), key=lambda b: (int(b["id"]), b["id"])
    )
    rows = [row for bench in benchmarks for row in summarise(bench)]
    callgrind = None
    if args.callgrind:
        callgrind = json.loads(args.callgrind.read_text())
        counted = {(r["id"], r["contender"]): r for r in callgrind["rows"]}
        for row in rows:
            if (row["id"], row["contender"]) in counted:
                row["callgrind"] = counted[(row["id"], row["contender"])]

    args.out.mkdir(parents=True, exist_ok=True)
    results, previous_file = args.out / "results.json", args.out / "previous.json"
    previous = {}
    if results.exists():
        shutil.copyfile(results, previous_file)
        old = json.loads(previous_file.read_text())
        previous = {(r["id"], r["contender"]): r for r in old.get("rows", [])}
        print(f"\nComparing with the last run of {old['machine']['date']} ({previous_file})")

    print(
        f"\nsqlite-triggers {machine['extension']}, SQLite {machine['sqlite']}, "
        f"{machine['cores']} cores, load average {' '.join(f'{x:.1f}' for x in machine['load_average'])}"
    )
    print_table(rows, previous)
    results.write_text(json.dumps({"machine": machine, "rows": rows, "raw": hosts}, indent=2))
    fields = [
        "id", "contender", "status", "n", "median_s", "min_s", "max_s", "p50_s", "p99_s",
        "wall_median_s", "per_second", "ratio", "ratio_min", "ratio_max", "wall_ratio", "ratio_to",
        "target", "result", "work", "measure", "reason",
    ]
    with open(args.out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nresults: {results}, {args.out / 'results.csv'}")
    missed = [f"{r['id']} {r['contender']}" for r in rows if r.get("result") == "MISSED"]
    if missed:
        print("targets missed: " + "; ".join(missed))
    if args.markdown:
        print()
        print_markdown(rows, machine, callgrind)


if __name__ == "__main__":
    main()
