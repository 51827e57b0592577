"""Instruction counts of benchmarks 1, 6 and 8 under callgrind: the exact,
repeatable companion of their CPU times.

    python benches/callgrind.py --host PATH --extension PATH --out DIR [--rows 1,6,8] [--markdown]

Runs every contender of each benchmark once, each in its own process of the
benchmark host, at the host's `--callgrind` sizes (20,000 rows; 5,000 rows
inserted, updated and deleted in benchmark 6), under `valgrind
--tool=callgrind --collect-atstart=no
--toggle-collect=sqlite_triggers_bench_timed_work`: only the timed work is
counted (its transaction, statements and commit), not the set-up or the
checks. The host still checks the work, so a contender that records
nothing fails here as it does in the timed run. Reports instructions per
unit of work (row or change) and the ratio to the contender's reference,
the same one as in the timed table; for benchmark 6 also per insert, update
and delete (the inclusive counts of the host's three phase functions, each
doing a third of the changes). Instruction counts repeat exactly from run to
run; they do not weigh cache misses or memory stalls, which CPU times do.

Writes DIR/results.json (read by `benches/report.py --callgrind` to add the
"instructions/unit (ratio)" column to the results table) and keeps every
callgrind output file in DIR/out/ for callgrind_annotate.
"""
import argparse
import datetime
import json
import pathlib
import re
import subprocess
import sys

TIMED = "sqlite_triggers_bench_timed_work"
PHASES = ["inserts", "updates", "deletes"]


def valgrind_version():
    return subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()


def inclusive(out_file, names):
    """Inclusive instruction counts of the functions `names`."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out_file)],
        capture_output=True, text=True, check=True,
    ).stdout
    found = {}
    for line in text.splitlines():
        # "245,827,304 (36.12%)  benches/src/rows.rs:sqlite_triggers_bench_inserts [/path]"
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(?:\S*:)?(\w+) \[", line)
        if m and m.group(2) in names:
            value = int(m.group(1).replace(",", ""))
            found[m.group(2)] = max(found.get(m.group(2), 0), value)
    return found


def totals(out_file):
    for line in out_file.read_text().splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise ValueError(f"no totals in {out_file}")


def run_contender(args, bench, index, out_dir):
    out_file = out_dir / f"callgrind.{bench['id']}.{index}.out"
    command = [
        "valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={TIMED}",
        f"--callgrind-out-file={out_file}",
        str(args.host), "--extension", str(args.extension), "--callgrind",
        "--rows", bench["id"], "--contender", str(index),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise RuntimeError(f"benchmark {bench['id']} contender {index} failed under callgrind")
    record = {"instructions": totals(out_file), "out_file": str(out_file)}
    phases = inclusive(out_file, {f"sqlite_triggers_bench_{p}" for p in PHASES})
    if phases:
        ops = bench["units"]["count"] // len(PHASES)
        record["per_op"] = {
            p: phases[f"sqlite_triggers_bench_{p}"] / ops
            for p in PHASES if f"sqlite_triggers_bench_{p}" in phases
        }
    return record


def measure(args):
    listing = json.loads(subprocess.run(
        [str(args.host), "--extension", str(args.extension), "--callgrind", "--rows", args.rows, "--list"],
        capture_output=True, text=True, check=True,
    ).stdout)
    out_dir = args.out / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for bench in listing:
        units = bench["units"]
        measured = {}
        for index, c in enumerate(bench["contenders"]):
            row = {
                "id": bench["id"], "work": bench["work"], "contender": c["name"],
                "ratio_to": c["ratio_to"], "units": units["count"], "unit": units["unit"],
            }
            if c["skip"]:
                row.update(status="skipped", reason=c["skip"])
            else:
                print(f"callgrind: {bench['id']} {c['name']} ({bench['work']})", flush=True)
                row.update(status="ran", **run_contender(args, bench, index, out_dir))
                row["per_unit"] = row["instructions"] / units["count"]
                measured[c["name"]] = row
            rows.append(row)
        for row in rows:
            ref = measured.get(row["ratio_to"])
            if row["id"] == bench["id"] and row["status"] == "ran" and ref is not row and ref:
                row["ratio"] = row["per_unit"] / ref["per_unit"]
    return rows


def count(value):
    return f"{round(value):,}"


def cell(row):
    """The results table's "instructions/unit (ratio)" cell."""
    if row.get("status") != "ran":
        return ""
    text = f"{count(row['per_unit'])}/{row['unit']}"
    if "ratio" in row:
        text += f" ({row['ratio']:.3f}×)"
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", type=pathlib.Path, required=True)
    parser.add_argument("--extension", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--rows", default="1,6,8")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown table rows")
    args = parser.parse_args()
    wanted = [r for r in args.rows.split(",") if r in ("1", "6", "8")]
    if not wanted:
        parser.error("--rows must name benchmark 1, 6 or 8")
    args.rows = ",".join(wanted)

    rows = measure(args)
    sqlite = subprocess.run(
        ["sqlite3", ":memory:", "select sqlite_version()"], capture_output=True, text=True
    ).stdout.strip()
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "valgrind": valgrind_version(),
        "sqlite": sqlite,
        "rows": rows,
    }
    results = args.out / "results.json"
    results.write_text(json.dumps(record, indent=2))

    print(f"\nInstructions of the timed work under callgrind ({record['valgrind']}), one run each:")
    current = None
    for row in rows:
        if row["id"] != current:
            current = row["id"]
            print(f"\n{row['id']}. {row['work']}")
        if row["status"] != "ran":
            print(f"   {row['contender']}: {row['status']}: {row['reason']}")
            continue
        ratio = f"  ratio {row['ratio']:.3f}× vs {row['ratio_to']}" if "ratio" in row else ""
        print(f"   {row['contender']}: {count(row['instructions'])} instructions, "
              f"{count(row['per_unit'])}/{row['unit']}{ratio}")
        if "per_op" in row:
            print("      per " + ", per ".join(
                f"{p[:-1]} {count(v)}" for p, v in row["per_op"].items()))
    print(f"\nresults: {results}; callgrind files: {args.out / 'out'}")
    if args.markdown:
        print("\n| # | work | contender | instructions/unit (ratio) |")
        print("|---|---|---|---|")
        shown = None
        for row in rows:
            first = row["id"] != shown
            shown = row["id"]
            print(f"| {row['id'] if first else ''} | {row['work'] if first else ''} | "
                  f"{row['contender']} | {cell(row) or row['status']} |")


if __name__ == "__main__":
    main()
