"""The rounds of a Python benchmark: one warm-up round thrown away, then
measured rounds, the contenders alternating within each (A B C A B C ...),
as the Rust host's `Bench::run` does."""


def interleaved(contenders, run, warmup, rounds):
    """Runs `run(contender)` -> (cpu_s, wall_s) for each contender, round by
    round, and returns their records in the shape `benches/report.py` reads.
    A contender that raises is reported as failed and not run again. Each
    contender is a dict with `name`, `target` and, optionally, `ratio_to`
    (the name of its reference; the first contender's by default)."""
    samples = [[] for _ in contenders]
    failed = [None for _ in contenders]
    for rnd in range(warmup + rounds):
        label = f"warm-up {rnd + 1}" if rnd < warmup else f"round {rnd + 1 - warmup}/{rounds}"
        line = f"   {label}:"
        for i, c in enumerate(contenders):
            if failed[i]:
                continue
            try:
                cpu, wall = run(c)
            except Exception as e:  # reported as a failed contender
                failed[i] = f"{type(e).__name__}: {e}"
                print(f"   {c['name']}: FAILED: {failed[i]}")
                continue
            if rnd >= warmup:
                samples[i].append((cpu, wall))
            line += f"  [{i + 1}] {cpu * 1e3:.2f}ms"
        print(line, flush=True)
    return [
        contender_record(c["name"], [cpu for cpu, _ in samples[i]], [wall for _, wall in samples[i]],
                         ratio_to=c.get("ratio_to", contenders[0]["name"]), target=c["target"],
                         failed=failed[i])
        for i, c in enumerate(contenders)
    ]


def contender_record(name, samples, wall_samples, ratio_to=None, target=None, failed=None):
    """One contender's results as `benches/report.py` reads them; a
    contender is its own reference unless `ratio_to` names another."""
    return {
        "name": name,
        "status": "failed" if failed else "ran",
        "reason": failed,
        "ratio_to": ratio_to or name,
        "target": target,
        "samples": samples,
        "wall_samples": wall_samples,
    }
