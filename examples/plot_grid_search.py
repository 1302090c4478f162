"""
Tuning the number of cycles and of voting snapshots with GridSearchCV
=====================================================================

A snapshot ensemble has two knobs of its own: ``n_cycles``, how many snapshots one
training run produces, and ``n_members``, how many of them vote. Both are ordinary
scikit-learn parameters, so a ``Pipeline`` with a ``StandardScaler`` in front and a
``GridSearchCV`` over them is all it takes. ``n_members`` acts at prediction time:
after the search, the final model can be asked to vote with fewer snapshots without
refitting.
"""

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skl_snapshot import SnapshotEnsembleClassifier  # noqa: E402

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, stratify=y, test_size=0.5, random_state=0
)

# %%
# Search over the number of cycles and of voting snapshots.
pipeline = make_pipeline(
    StandardScaler(),
    SnapshotEnsembleClassifier(hidden_layer_sizes=(100,), epochs=40, random_state=0),
)
search = GridSearchCV(
    pipeline,
    param_grid={
        "snapshotensembleclassifier__n_cycles": [2, 4],
        "snapshotensembleclassifier__n_members": [1, 2],
    },
    cv=3,
)
search.fit(X_train, y_train)

print("cycles  members  mean CV accuracy")
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(
        f"{params['snapshotensembleclassifier__n_cycles']:>6}"
        f"  {params['snapshotensembleclassifier__n_members']:>7}  {score:.4f}"
    )
print("best:", search.best_params_, f"test accuracy {search.score(X_test, y_test):.4f}")

# %%
# The number of voting snapshots is a prediction-time choice: compare the final
# network alone with the ensemble of all snapshots, without refitting.
model = search.best_estimator_
ensemble = model[-1]
for n_members in range(1, ensemble.n_snapshots_ + 1):
    ensemble.set_params(n_members=n_members)
    print(f"newest {n_members} snapshot(s) voting: {model.score(X_test, y_test):.4f}")
