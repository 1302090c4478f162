"""Behaviour both estimators share, tested once over each of them.

Every test takes the ``task`` fixture (conftest.py) and runs for the classifier on
``blobs`` and for the regressor on ``linear``; predictions are compared through
``predict_proba`` for the classifier and ``predict`` for the regressor. What only
one task does is in test_classifier.py and test_regressor.py.
"""

import keras
import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError

from ._builders import output_layer, small_network
from .conftest import output


def test_estimator_type_under_current_tags(task):
    estimator = task.Estimator()
    assert is_classifier(estimator) == (task.name == "classifier")
    assert is_regressor(estimator) == (task.name == "regressor")
    assert get_tags(estimator).estimator_type == task.name


def test_fit_takes_one_snapshot_per_cycle(task, task_fitted):
    fitted = task_fitted
    assert fitted.n_snapshots_ == 3
    assert len(fitted.snapshot_weights_) == 3
    np.testing.assert_array_equal(fitted.snapshot_epochs_, [4, 8, 12])
    assert fitted.loss_history_.shape == (3,)
    assert fitted.n_iter_ == 12
    # distinct snapshots: training moved the weights between cycles
    first, last = fitted.snapshot_weights_[0], fitted.snapshot_weights_[-1]
    assert not all(np.array_equal(a, b) for a, b in zip(first, last, strict=True))
    assert fitted.score(task.X_test, task.y_test) > 0.9


def test_snapshots_are_copies_not_views(task, task_fitted):
    before = [w.copy() for w in task_fitted.snapshot_weights_[0]]
    output(task_fitted, task.X_test)  # loads other members into the live network
    for kept, original in zip(task_fitted.snapshot_weights_[0], before, strict=True):
        np.testing.assert_array_equal(kept, original)


def test_set_params_changes_predictions_without_refitting(task, task_fitted):
    fitted = task_fitted
    weights_before = fitted.snapshot_weights_
    all_members = output(fitted, task.X_test)
    oldest = output(fitted.set_params(n_members=1, member_order="oldest"), task.X_test)
    assert fitted.snapshot_weights_ is weights_before
    assert not np.allclose(all_members, oldest)


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"n_cycles": 0}, InvalidParameterError, "n_cycles.*Got 0"),
        ({"epochs": 0}, InvalidParameterError, "epochs.*Got 0"),
        ({"lr_max": 0.0}, InvalidParameterError, "lr_max.*Got 0.0"),
        ({"lr_max": -1.0}, InvalidParameterError, "lr_max.*Got -1.0"),
        ({"lr_max": float("inf")}, InvalidParameterError, "lr_max.*Got inf"),
        ({"lr_min": 0.5, "lr_max": 0.1}, ValueError, "lr_min=0.5 with lr_max=0.1"),
        ({"momentum": 1.0}, InvalidParameterError, "momentum.*Got 1.0"),
        ({"batch_size": 0}, InvalidParameterError, "batch_size.*Got 0"),
        ({"member_order": "random"}, InvalidParameterError, "member_order.*random"),
        ({"n_members": 0}, InvalidParameterError, "n_members.*Got 0"),
        (
            {"n_members": 12, "n_cycles": 10, "epochs": 20},
            ValueError,
            r"n_members must be <= n_cycles \* n_networks, the number of"
            r" snapshots\. Got n_members=12 with n_cycles=10 and n_networks=1",
        ),
        (
            {"epochs": 4, "n_cycles": 5},
            ValueError,
            r"epochs must be >= n_cycles.*epochs=4 with n_cycles=5",
        ),
        ({"hidden_layer_sizes": (8, 0)}, ValueError, r"hidden_layer_sizes.*\(8, 0\)"),
        ({"model": "mlp"}, InvalidParameterError, "model.*mlp"),
        (
            {"optimizer__learning_rate": 0.1},
            ValueError,
            "optimizer__learning_rate.*lr_max",
        ),
        ({"optimizer__momentum": 0.5}, ValueError, "optimizer__momentum.*momentum"),
        ({"fit__epochs": 3}, TypeError, "fit__epochs is not supported"),
        (
            {"fit__class_weight": {0: 2.0}},
            TypeError,
            "fit__class_weight is not supported.*Supported: fit__callbacks",
        ),
        (
            {"optimizer__nestrov": True},
            TypeError,
            "optimizer__nestrov is not an argument of keras.optimizers.SGD.*nesterov",
        ),
        ({"compile__foo": 3}, ValueError, "routing prefix 'compile'"),
        ({"units": 3}, TypeError, "does not accept the parameter units=3"),
    ],
)
def test_bad_parameters_are_named_in_the_error(task, params, error, match):
    with pytest.raises(error, match=match):
        task.make(**params).fit(task.X, task.y)


@pytest.mark.parametrize(
    "X_change, match",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X), "inf"),
        (lambda X: X[:0], "0 sample"),
        (lambda X: X[:, :, None], "dim 3"),
    ],
    ids=["nan", "inf", "empty", "3d"],
)
def test_bad_training_data_is_rejected(task, X_change, match):
    with pytest.raises(ValueError, match=match):
        task.make().fit(X_change(task.X), task.y[: len(X_change(task.X))])


def test_predict_before_fit_raises_not_fitted(task):
    for method in sorted({"predict", task.output_method}):
        with pytest.raises(NotFittedError):
            getattr(task.Estimator(), method)(task.X)


def test_prediction_input_is_validated(task, task_fitted):
    X_test = task.X_test
    with pytest.raises(ValueError, match="X has 3 features.*expecting 4"):
        task_fitted.predict(X_test[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        task_fitted.predict(np.full_like(X_test, np.nan))
    with pytest.raises(ValueError, match="0 sample"):
        task_fitted.predict(X_test[:0])


def test_prediction_parameters_are_validated_at_prediction(task, task_fitted):
    task_fitted.set_params(n_members=4)
    with pytest.raises(ValueError, match="n_members=4 with n_snapshots_=3"):
        task_fitted.predict(task.X_test)
    task_fitted.set_params(n_members=None, member_order="middle")
    with pytest.raises(InvalidParameterError, match="member_order.*middle"):
        output(task_fitted, task.X_test)


def test_divergence_is_reported_with_the_rate(task, rng):
    X = rng.normal(scale=1e4, size=(60, 3))
    y = np.arange(60) % 2
    # unclipped: the default clipnorm keeps such steps finite
    estimator = task.make(lr_max=1e6, clipnorm=None)
    with pytest.raises(ValueError, match=r"diverged.*lr_max=1000000\.0"):
        estimator.fit(X, y)


# -- sample weights -----------------------------------------------------------------


def test_zero_weight_rows_are_dropped(task):
    X, y = task.X, task.y
    noise = np.random.default_rng(1).normal(size=(40, X.shape[1]))
    X_noisy = np.vstack([X, noise])
    y_noisy = np.concatenate([y, np.zeros(40, dtype=y.dtype)])
    weight = np.r_[np.ones(len(X)), np.zeros(40)]
    weighted = task.make().fit(X_noisy, y_noisy, sample_weight=weight)
    plain = task.make().fit(X, y)
    np.testing.assert_allclose(
        output(weighted, task.X_test), output(plain, task.X_test), rtol=1e-5
    )


def test_bad_sample_weights_are_rejected(task):
    X, y = task.X, task.y
    with pytest.raises(ValueError, match="at least one non-zero"):
        task.make().fit(X, y, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="[Nn]egative"):
        task.make().fit(X, y, sample_weight=-np.ones(len(X)))


def test_sample_weights_change_the_fit(task):
    X, y = task.X, task.y
    # mean one: the weights reshape the loss without scaling the step size
    weight = np.where(np.arange(len(y)) % 4 == 0, 2.5, 0.5)
    weighted = task.make().fit(X, y, sample_weight=weight)
    plain = task.make().fit(X, y)
    assert not np.allclose(output(weighted, task.X_test), output(plain, task.X_test))


# -- custom networks and routing ------------------------------------------------------


def test_builder_receives_meta_and_routed_parameters(task):
    estimator = task.make(model=small_network, model__units=5).fit(task.X, task.y)
    kernel = estimator.snapshot_weights_[0][0]
    assert kernel.shape == (task.X.shape[1], 5)
    assert estimator.score(task.X_test, task.y_test) > 0.8
    assert estimator.get_params()["model__units"] == 5


def test_unprefixed_extra_arguments_go_to_the_builder(task):
    estimator = task.make(model=small_network, units=6).fit(task.X, task.y)
    assert estimator.snapshot_weights_[0][0].shape == (task.X.shape[1], 6)


def test_routed_parameters_can_be_set_later_and_cloned(task):
    estimator = task.make(model=small_network).set_params(model__units=3)
    cloned = clone(estimator)
    assert cloned.get_params()["model__units"] == 3
    assert "model__units=3" in repr(cloned)
    cloned.fit(task.X, task.y)
    assert cloned.snapshot_weights_[0][0].shape == (task.X.shape[1], 3)


def test_optimizer_parameters_reach_sgd(task):
    plain = task.make().fit(task.X, task.y)
    nesterov = task.make(optimizer__nesterov=True).fit(task.X, task.y)
    assert nesterov._predictor.network.optimizer.nesterov
    assert not np.allclose(output(plain, task.X_test), output(nesterov, task.X_test))


def test_fit_callbacks_see_one_epoch_per_cycle(task):
    seen = []
    callback = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(epoch)
    )
    task.make(fit__callbacks=[callback]).fit(task.X, task.y)
    assert seen == [0, 1, 2]


def test_prebuilt_model_is_cloned_not_trained_in_place(task):
    template = small_network(task.meta)
    before = [w.copy() for w in template.get_weights()]
    estimator = task.make(model=template).fit(task.X, task.y)
    for weight, original in zip(template.get_weights(), before, strict=True):
        np.testing.assert_array_equal(weight, original)
    assert estimator.score(task.X_test, task.y_test) > 0.8


class TwoLayerNetwork(keras.Model):
    """A subclassed network: no symbolic inputs or outputs until it is called."""

    def __init__(self, meta):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = output_layer(meta)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_subclassed_network(task):
    estimator = task.make(model=lambda meta: TwoLayerNetwork(meta))
    estimator.fit(task.X, task.y)
    assert estimator.score(task.X_test, task.y_test) > 0.8
    expected_shape = (5, 3) if task.name == "classifier" else (5,)
    assert output(estimator, task.X_test[:5]).shape == expected_shape


def test_repeated_fits_do_not_warn_about_retracing(task, caplog):
    for seed in range(7):
        output(task.make(random_state=seed).fit(task.X, task.y), task.X_test)
    assert "retracing" not in caplog.text


def test_builder_must_return_a_keras_model(task):
    with pytest.raises(TypeError, match="must return a keras.Model. Got str"):
        task.make(model=lambda meta: "network").fit(task.X, task.y)


# -- scikit-learn integration ---------------------------------------------------------


def test_clone_is_unfitted_and_equal(task_fitted):
    cloned = clone(task_fitted)
    assert cloned.get_params() == task_fitted.get_params()
    assert not hasattr(cloned, "snapshot_weights_")


def test_dataframe_feature_names(task):
    pd = pytest.importorskip("pandas")
    columns = [f"feature {i}" for i in range(task.X.shape[1])]
    estimator = task.make().fit(pd.DataFrame(task.X, columns=columns), task.y)
    np.testing.assert_array_equal(estimator.feature_names_in_, columns)
    estimator.predict(pd.DataFrame(task.X_test, columns=columns))
    with pytest.warns(UserWarning, match="feature names"):
        estimator.predict(task.X_test)


# Which snapshots of fast_classifier and fast_regressor on their data follow a
# restart that shrank and perturbed the weights: the classifier fits its blobs
# below restart_loss_threshold after two cycles, the regressor never does.
PERTURBED = {"classifier": [False, False, True], "regressor": [False, False, False]}


def test_verbose_prints_one_line_per_cycle_then_the_snapshots(task, capsys):
    estimator = task.make(verbose=1).fit(task.X, task.y)
    lines = capsys.readouterr().out.strip().splitlines()
    # three cycles, a heading, three snapshots and the mean disagreement
    assert len(lines) == 8
    assert [line.split(":")[0] for line in lines[:3]] == [
        "cycle 1/3",
        "cycle 2/3",
        "cycle 3/3",
    ]
    assert lines[0].startswith("cycle 1/3: epoch 4/12, loss ")
    assert lines[4].startswith("  snapshot 1: train loss ")
    assert lines[-1].startswith("  mean pairwise disagreement ")
    # the snapshots whose restart shrank and perturbed the weights say so
    marked = [
        line.endswith(", after a shrink-and-perturb restart") for line in lines[4:7]
    ]
    assert marked == PERTURBED[task.name]
    assert marked == estimator.snapshot_perturbed_.tolist()
    task.make(verbose=0).fit(task.X, task.y)
    assert capsys.readouterr().out == ""


def test_html_repr_links_to_the_api_reference(task):
    from skl_snapshot._base import DOCS_URL

    estimator = task.make()
    name = type(estimator).__name__
    link = f"{DOCS_URL}generated/skl_snapshot.{name}.html"
    assert estimator._get_doc_link() == link
    assert link in estimator._repr_html_()
    # inside a Pipeline too
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert link in make_pipeline(StandardScaler(), estimator)._repr_html_()
