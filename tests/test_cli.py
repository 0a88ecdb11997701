"""The `lantern` command end to end: synth -> validate -> features, on a small partnership."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from features.contract import TABLES

LANTERN = str(Path(sys.executable).with_name("lantern"))
VERBS = ["synth", "validate", "features", "registry", "contract", "label-bias"]


def run(*args, check=True):
    done = subprocess.run([LANTERN, *map(str, args)], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"lantern {args} failed:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def partnership(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "partnership"
    run("synth", "--children", 1500, "--seed", 3, "--out", out)
    return out


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb):
    done = run(verb, "--help")
    assert "Usage" in done.stdout and len(done.stdout.splitlines()) > 5


def test_synth_writes_extracts_and_keeps_ground_truth_outside_them(partnership):
    extracts = sorted(p.stem for p in (partnership / "extracts").iterdir())
    assert extracts == sorted(TABLES)
    truth = pd.read_parquet(partnership / "ground_truth" / "outcome_probabilities.parquet")
    assert {"p_true_serious_violence", "p_recorded_exclusion_neet"} <= set(truth.columns)
    assert not any("probabilit" in p.name for p in (partnership / "extracts").iterdir())


def test_validate_accepts_the_synthetic_partnership(partnership):
    done = run("validate", partnership)
    assert done.stdout.startswith("valid")


def test_features_builds_one_row_per_child_per_snapshot(partnership, tmp_path):
    out = tmp_path / "features.parquet"
    run("features", partnership, "--out", out)
    table = pd.read_parquet(out)
    assert not table.duplicated(["child_id", "snapshot_date"]).any()
    assert table["snapshot_date"].nunique() == 13  # quarterly, a year after the records start
    assert {"label_serious_violence", "label_exclusion_neet"} <= set(table.columns)
    assert not {"sex", "ethnicity"} & {c for c in table.columns if c.startswith("label_")}


def test_features_refuses_invalid_extracts(partnership, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in (partnership / "extracts").iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "police.parquet").write_bytes(b"not a parquet file")
    done = run("features", broken, "--out", tmp_path / "f.parquet", check=False)
    assert done.returncode != 0
    assert not (tmp_path / "f.parquet").exists()


def _missed(stdout: str) -> set[str]:
    if "outside tolerance:" not in stdout:
        return set()
    tail = " ".join(stdout.split("outside tolerance:")[-1].split())
    return {name.strip() for name in tail.split(",")}


def test_report_exits_1_and_names_the_figure_outside_its_tolerance(tmp_path):
    """persistently_absent is only measured (the generator does not read it), so an
    impossible band for it must be reported, by name, with exit status 1."""
    targets = yaml.safe_load(
        (Path(__file__).parents[1] / "features/synth/targets.yaml").read_text()
    )
    targets["population"]["persistently_absent"].update(target=0.995, low=0.99, high=1.0)
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(targets))
    done = run(
        "synth",
        "--children",
        1500,
        "--seed",
        3,
        "--out",
        tmp_path / "p",
        "--targets",
        path,
        "--report",
        check=False,
    )
    assert done.returncode == 1
    assert "persistently_absent" in _missed(done.stdout)
    default = run(
        "synth", "--children", 1500, "--seed", 3, "--out", tmp_path / "q", "--report", check=False
    )
    assert "persistently_absent" not in _missed(default.stdout)


def test_label_bias_writes_the_check_and_names_what_it_compared(partnership, tmp_path):
    done = run("label-bias", partnership, "--out", tmp_path / "lb", "--n-boot", 200)
    assert "police_against_health" in done.stdout and "wrote" in done.stdout
    doc = json.loads((tmp_path / "lb" / "label_bias.json").read_text())
    assert doc["schema"] == "lantern.label_bias/1" and doc["outcome"] == "serious_violence"
    [check] = doc["checks"]
    assert check["pair"]["numerator"] == "police-recorded victims of serious violence"
    white = next(r for r in check["rows"] if r["group"] == "White")
    assert white["note"] == "reference group" and white["numerator"] > 0
    page = (tmp_path / "lb" / "label_bias.html").read_text()
    assert "What this assumes" in page and "<script" not in page


@pytest.mark.parametrize(
    "args, message",
    [
        (["--outcome", "truancy"], "no outcome 'truancy'"),
        (["--tolerance", "1.2"], "is not LOW,HIGH"),
        (["--years", "0"], "years must be at least 1"),
    ],
)
def test_label_bias_refuses_bad_options_with_a_reason(partnership, tmp_path, args, message):
    done = run("label-bias", partnership, "--out", tmp_path / "lb", *args, check=False)
    assert done.returncode == 1, done.stdout
    assert message in " ".join(done.stdout.split()), done.stdout
    assert not (tmp_path / "lb").exists()


def test_label_bias_on_a_folder_without_extracts_says_so(tmp_path):
    done = run("label-bias", tmp_path, "--out", tmp_path / "lb", check=False)
    assert done.returncode == 1
    assert "does not keep the data contract" in done.stdout and "lantern validate" in done.stdout
