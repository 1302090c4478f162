"""The fit plan: one frozen object, its JSON form, resume matching, restart rule."""

import dataclasses
import json

import pytest

from skl_snapshot._plan import RESTART_DEFAULTS, FitPlan

from .conftest import fast_classifier


def _plan(**changes):
    values = {
        "epochs": 12,
        "n_cycles": 3,
        "cycle_epochs": [4, 4, 4],
        "batch_size": 16,
        "lr_max": 0.1,
        "lr_min": 0.0,
        "n_samples": 120,
        "seed": 7,
        "momentum": 0.9,
        "data_sha256": "ab" * 32,
        "restart_shrink": 0.5,
        "restart_noise": 0.01,
        "init_scales": [0.1, 0.0],
    }
    return FitPlan(**{**values, **changes})


def test_plan_is_frozen_and_its_json_round_trips():
    plan = _plan()
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.epochs = 3
    record = json.loads(json.dumps(plan.to_json()))
    assert FitPlan.from_json(record) == plan
    assert record["cycle_epochs"] == [4, 4, 4]
    assert plan.cycle_steps == [32, 32, 32]  # 8 batches of 16 in 120 rows


def test_fit_plan_is_what_the_estimator_and_its_directory_hold(blobs, tmp_path):
    X, y, _, _ = blobs
    estimator = fast_classifier(snapshot_dir=tmp_path / "run").fit(X, y)
    (plan,) = estimator._fits
    assert isinstance(plan, FitPlan)
    assert plan.n_samples == len(X) and plan.cycle_epochs == (4, 4, 4)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["fits"] == [plan.to_json()]


def test_plan_from_before_the_restart_fields_restarts_the_rate_only():
    record = _plan().to_json()
    for name in [*RESTART_DEFAULTS, "init_scales", "momentum", "data_sha256"]:
        del record[name]
    old = FitPlan.from_json(record)
    assert old.method == "snapshot" and old.init_scales is None
    assert not old.perturbs_at_restart(previous_loss=0.0)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epochs": 0}, r"\['epochs'\] is below 1 \(got 0\)"),
        ({"batch_size": True}, r"\['batch_size'\] is not an integer"),
        ({"lr_max": float("nan")}, r"\['lr_max'\] is not finite"),
        ({"lr_max": -1.0}, r"\['lr_max'\] is not positive"),
        ({"cycle_epochs": []}, r"\['cycle_epochs'\] is not a non-empty list"),
        ({"cycle_epochs": [4, "4", 4]}, r"\['cycle_epochs'\] holds an invalid"),
        ({"cycle_epochs": [4, 4, 40]}, "do not fit in 12 epochs and 3 cycles"),
        ({"cycle_epochs": [4, 4]}, "do not fit in 12 epochs and 3 cycles"),
        ({"method": "bagging"}, r"\['method'\] is not one of"),
        ({"data_sha256": 5}, r"\['data_sha256'\] is not a string"),
        ({"seed": -1}, r"\['seed'\] is below 0"),
        ({"init_scales": [0.1, None]}, r"\['init_scales'\] holds an invalid"),
    ],
)
def test_bad_plans_are_named_with_the_value(change, message):
    record = {**_plan().to_json(), **change}
    with pytest.raises(ValueError, match=r"fits\[2\]"):
        FitPlan.from_json(record, "fits[2]")
    with pytest.raises(ValueError, match=message):
        FitPlan.from_json(record, "fits[2]")


@pytest.mark.parametrize("missing", ["epochs", "seed", "cycle_epochs"])
def test_a_plan_without_a_required_field_is_refused(missing):
    record = _plan().to_json()
    del record[missing]
    with pytest.raises(ValueError, match=f"has no '{missing}'"):
        FitPlan.from_json(record)
    with pytest.raises(ValueError, match="is not an object"):
        FitPlan.from_json([record])


def test_mismatch_names_the_first_differing_field():
    plan = _plan()
    assert plan.mismatch(plan.replace(seed=8, first_snapshot=3)) is None
    assert plan.mismatch(plan.replace(lr_max=0.2)) == (
        "lr_max differs (0.1 there, 0.2 now)"
    )
    assert plan.mismatch(plan.replace(data_sha256="cd" * 32)) == (
        "the training data differs"
    )


@pytest.mark.parametrize(
    "changes, previous_loss, expected",
    [
        ({}, 1.0, True),
        ({"restart_shrink": 1.0, "restart_noise": 0.0}, 1.0, False),
        ({"method": "fge"}, 1.0, False),
        ({"restart_loss_threshold": 0.5}, 1.0, False),
        ({"restart_loss_threshold": 0.5}, 0.1, True),
        ({"restart_loss_threshold": 0.5}, None, False),
    ],
)
def test_restart_rule(changes, previous_loss, expected):
    assert _plan(**changes).perturbs_at_restart(previous_loss) is expected
