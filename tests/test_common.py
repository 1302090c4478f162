"""scikit-learn's own estimator checks on small, fast instances."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from .conftest import fast_classifier, fast_regressor

# Each expected failure, once per estimator class, with the reason it cannot pass.
EXPECTED_FAILED_CHECKS = {
    "SnapshotEnsembleClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "Mini-batch SGD: repeating a row adds mini-batches to every epoch and"
            " changes which rows share a batch, so weighting a row is not the same"
            " training run as repeating it (scikit-learn marks SGDClassifier"
            " likewise, and checks MLPClassifier only with its full-batch lbfgs"
            " solver)."
        ),
    },
    "SnapshotEnsembleRegressor": {
        "check_sample_weight_equivalence_on_dense_data": (
            "Mini-batch SGD: repeating a row adds mini-batches to every epoch and"
            " changes which rows share a batch, so weighting a row is not the same"
            " training run as repeating it (scikit-learn marks SGDRegressor"
            " likewise)."
        ),
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks(
    [
        fast_classifier(epochs=30, n_cycles=2),
        fast_regressor(epochs=30, n_cycles=2, lr_max=0.01),
        # the defaults' shape: cross-fitted networks, growing cycles, voting
        # weights fitted out of fold
        fast_classifier(epochs=30, n_cycles=3, n_networks=3, t_mult=2.0),
        fast_regressor(epochs=30, n_cycles=3, n_networks=3, t_mult=2.0, lr_max=0.01),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
