"""The label-bias stage of ``make bench``: how often the check from recorded data alone sees a
police recording bias, over 10 partnerships (seeds) at the full size.

London mix (Black children about 17%): with ``police_recording_bias`` 1.5, 1.0 and equal
under-recording (``police_recording_rate`` 0.8 in every group), the share of seeds in which
``lantern label-bias`` flags Black children (target >= 9/10 with the bias, <= 1/10 without).
England mix (about 6%): the smallest bias of a ladder flagged in >= 9 of 10 seeds, what a
board of a partnership that size could and could not see.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

SEEDS = tuple(range(1, 11))
LONDON = {
    "bias 1.5": {"police_recording_bias": 1.5},
    "no bias (1.0)": {},
    "equal under-recording (0.8)": {"police_recording_rate": 0.8},
}
ENGLAND_LADDER = (1.25, 1.5, 1.75, 2.0, 2.5, 3.0)


def one(children: int, seed: int, preset: str, knobs: dict) -> dict:
    """One partnership's check: was Black flagged, was any group, and Black's disparity."""
    from features.synth import SynthConfig, generate
    from training.label_bias import check_label_bias

    made = generate(SynthConfig(children=children, seed=seed, ethnicity_preset=preset, **knobs))
    [result] = check_label_bias(made.tables, "serious_violence", n_boot=500, seed=seed)
    black = result.row("ethnicity", "Black")
    return {
        "black": bool(black["flag"]),
        "any": not result.flagged().empty,
        "disparity": float(black["disparity"]),
        "low": float(black["low"]),
    }


def _runs(pool, children: int, preset: str, knobs: dict) -> list[dict]:
    return list(pool.map(one, *zip(*[(children, s, preset, knobs) for s in SEEDS], strict=True)))


def bench_label_bias(children: int) -> tuple[str, list[dict], list[str]]:
    """Run every setting; return a note, the target checks and the report's section."""
    from benchmarks.quality import check

    n = len(SEEDS)
    lines = [
        "## Label bias seen from recorded data alone",
        "",
        f"`lantern label-bias` (police victim records against ED assault attendances, by "
        f"group, over the last 3 years, as `lantern train` and `lantern label-bias` compare) "
        f"on {n} partnerships of "
        f"{children:,} children each (seeds "
        f"{SEEDS[0]}-{SEEDS[-1]}). A seed counts as flagged when the Black/White disparity's "
        'interval lies wholly outside 0.8-1.25; "any group" counts a flag for any ethnic '
        "group, sex or ethnicity × sex.",
        "",
        "| profile | police recording | Black children flagged | any group flagged | "
        "Black/White disparity, median (range) |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    checks, notes = [], []
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        for name, knobs in LONDON.items():
            runs = _runs(pool, children, "london", knobs)
            black, anyone = sum(r["black"] for r in runs), sum(r["any"] for r in runs)
            lines.append(_line("london", name, runs))
            notes.append(f"london {name}: {black}/{n}")
            biased = "police_recording_bias" in knobs
            checks.append(
                check(
                    f"london, {name}: seeds with Black children flagged",
                    black,
                    f">= 9 of {n}" if biased else f"<= 1 of {n}",
                    ">=" if biased else "<=",
                    9 if biased else 1,
                    unit=f"of {n}",
                )
            )
            if not biased:
                checks.append(
                    check(
                        f"london, {name}: seeds with any group flagged",
                        anyone,
                        f"<= 1 of {n}",
                        "<=",
                        1,
                        unit=f"of {n}",
                    )
                )
        smallest = None
        for bias in ENGLAND_LADDER:
            runs = _runs(pool, children, "england", {"police_recording_bias": bias})
            lines.append(_line("england", f"bias {bias:g}", runs))
            if sum(r["black"] for r in runs) >= 9:
                smallest = bias
                break
    seen = (
        f"the smallest bias of {', '.join(f'{b:g}' for b in ENGLAND_LADDER)} flagged in >= 9 "
        f"of {n} seeds is {smallest:g}"
        if smallest
        else f"no bias up to {ENGLAND_LADDER[-1]:g} was flagged in 9 of {n} seeds"
    )
    lines += [
        "",
        f"England mix (Black children about 6%): {seen}. A smaller police recording bias "
        "against Black children can be present in a partnership of this size and not be "
        'seen by this check; the report\'s "smallest disparity it could show" column says '
        "the same for each group of the partnership it is run on.",
    ]
    notes.append(f"england: {seen}")
    return "; ".join(notes), checks, lines


def _line(profile: str, name: str, runs: list[dict]) -> str:
    n = len(runs)
    d = sorted(r["disparity"] for r in runs)
    median = (d[(n - 1) // 2] + d[n // 2]) / 2
    return (
        f"| {profile} | {name} | {sum(r['black'] for r in runs)}/{n} | "
        f"{sum(r['any'] for r in runs)}/{n} | {median:.2f} ({d[0]:.2f}-{d[-1]:.2f}) |"
    )
