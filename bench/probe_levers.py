"""A quick probe of the levers against overtraining on real tables (issue 14).

Test log-loss of ``Pipeline(_datasets.preprocessor, SnapshotEnsembleClassifier)``
on six tables of ``bench/_datasets.py`` (``pip install ".[bench]"``), two seeds,
stratified half splits, for the defaults and a few alternatives: a shorter
budget, four networks side by side on that budget, weight decay, a lower rate.
A probe to choose what the full benchmark (``bench_quality.py``, 20 seeds, all
baselines) should compare, not evidence for a default by itself.

    python bench/probe_levers.py
"""

import json
import os
import sys
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, "bench")
import _datasets
import numpy as np
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skl_snapshot import SnapshotEnsembleClassifier as C

configs = {
    "default": {},
    "epochs40": {"epochs": 40, "n_cycles": 4},
    "K4_epochs40": {"epochs": 40, "n_cycles": 4, "n_networks": 4},
    "wd1e-2": {"optimizer__weight_decay": 1e-2},
    "lr0.01": {"lr_max": 0.01},
}
out = {}
for name in ["credit_data", "resume", "affairs", "tv16", "loanapp", "titanic"]:
    X, y, _ = _datasets.load(name)
    for seed in [0, 1]:
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=seed
        )
        for cfg, params in configs.items():
            t = time.perf_counter()
            p = make_pipeline(
                _datasets.preprocessor(Xtr), C(random_state=seed, **params)
            ).fit(Xtr, ytr)
            ll = log_loss(yte, p.predict_proba(Xte), labels=p.classes_)
            out.setdefault(name, {}).setdefault(cfg, []).append(ll)
            print(
                name,
                seed,
                cfg,
                round(ll, 4),
                f"{time.perf_counter() - t:.1f}s",
                flush=True,
            )
print(
    json.dumps(
        {
            n: {c: round(float(np.mean(v)), 4) for c, v in d.items()}
            for n, d in out.items()
        }
    )
)
