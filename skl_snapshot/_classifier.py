"""SnapshotEnsembleClassifier: M networks for the training cost of one.

The task-neutral fit, voting and persistence are in :mod:`._base`; this module
holds the classifier's hooks (label encoding, softmax votes, log-loss and
accuracy) and its prediction methods.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from ._base import BaseSnapshotEnsemble, extended_signature
from ._members import MemberEvaluation
from ._persistence import SnapshotDirectoryError, labels_from_json, labels_to_json
from ._scikeras import ClassifierLabelEncoder, is_one_hot_loss

__all__ = ["SnapshotEnsembleClassifier"]


class SnapshotEnsembleClassifier(ClassifierMixin, BaseSnapshotEnsemble):
    """Snapshot ensemble of a Keras network: M classifiers for one training run.

    One network is trained with stochastic gradient descent whose learning rate
    follows ``n_cycles`` cycles of cosine annealing with warm restarts, updated at
    every mini-batch. At the end of each cycle the network sits in a minimum and its
    weights are kept as a snapshot; the restart to ``lr_max`` pushes it towards
    another one, and, once the network fits its training rows so closely that
    the rate alone would not move it, also shrinks and perturbs its weights
    (``restart_loss_threshold``). Predictions average the class probabilities of
    the chosen snapshots (soft voting).

    Parameters
    ----------
    model : None, callable or keras.Model, default=None
        The network. None builds a multi-layer perceptron from
        ``hidden_layer_sizes`` and ``activation`` with a softmax output. A callable
        is a scikeras-style builder: it is called with its ``model__*``
        parameters, the extra keyword arguments given to this estimator, and, if
        its signature asks for them, ``meta`` (fitted metadata such as
        ``n_features_in_``, ``n_classes_`` and ``classes_``) and
        ``compile_kwargs``. A ``keras.Model`` is cloned, with fresh weights, at
        every ``fit``. The network must output class probabilities: one softmax
        unit per class, or one sigmoid unit for two classes. Whatever optimizer it
        was compiled with is replaced by SGD with the snapshot schedule; its loss
        is kept.
    loss : str, callable, keras.losses.Loss or None, default=None
        The loss, as scikeras takes it (``loss__*`` configures a loss class).
        None: sparse categorical cross-entropy for a softmax output (one binary
        cross-entropy unit for a single sigmoid output) in the classifier, mean
        squared error in the regressor. Builders receive it as
        ``compile_kwargs["loss"]``, None when none is given.
    hidden_layer_sizes : tuple of int, default=(50,)
        Units of the hidden layers of the built-in network (``model=None``).
    activation : str, default="relu"
        Activation of the hidden layers of the built-in network.
    epochs : int, default=128
        Total training budget of each network, in passes over the training data,
        split into ``n_cycles`` cycles (see ``t_mult``).
    n_cycles : int, default=7
        Number of learning-rate cycles, and so of snapshots per network.
    t_mult : float >= 1, default=2.0
        How much longer each cycle is than the one before (SGDR's ``T_mult``,
        Loshchilov & Hutter 2017): every cycle gets one epoch and the rest of
        the budget is shared in proportion to ``t_mult ** c``, so the defaults
        give cycles of 1, 2, 4, 8, 16, 32 and 65 epochs. The snapshots then sit
        at training lengths from 1 to 128 epochs, and the voting weights fitted
        out of fold (``member_weights="auto"``) choose how much training the
        data want: on small noisy tables the short cycles, on digits the long
        ones (user guide, "Why these defaults"). ``t_mult=1`` splits the budget
        evenly, as Huang et al. (2017) do. ``"fge"`` and ``"swa"`` have cycles of
        their own and ignore it, as ``MLPClassifier`` ignores ``momentum`` for
        solvers without one.
    schedule : {"cosine", "triangular"}, default="cosine"
        The shape of each cycle. ``"cosine"``: the rate falls from ``lr_max``
        to ``lr_min`` along half a cosine, then restarts (SGDR, the paper's).
        ``"triangular"``: it rises linearly from ``lr_min`` to ``lr_max`` over
        the first half of the cycle and falls back over the second (Smith
        2017); the snapshot is still taken at the cycle's low point. Only for
        ``method="snapshot"``.
    n_networks : int, default=4
        Networks trained side by side in the same run, each with its own
        initialisation and data order, each giving a snapshot per cycle: the
        ensemble has ``n_cycles * n_networks`` snapshots. The built-in network
        trains them in the same batched operations (four cost about 1.4 times
        the wall time of one on digits); a custom network trains K copies in
        one step. Snapshots are ordered by cycle, then by network:
        ``member_order="newest"`` starts with the last cycle's networks, and
        ``n_members=1`` is the first network's final snapshot. With
        ``method="swa"`` each network's snapshots are averaged into one network,
        and the K averaged networks vote.
    cross_fit : bool or "auto", default="auto"
        Whether network k never trains on fold k of ``n_networks`` folds of the
        training rows (dealt at random from ``random_state``, stratified by
        class for the classifier), so that every training row has the
        predictions of a network that never saw it: the snapshots are ranked
        and weighted on these out-of-fold predictions (``member_order="best"``,
        ``member_weights``) without holding rows out of training, as
        AutoGluon's bagging and RealMLP's ``n_cv`` do. Each network trains on
        ``1 - 1 / n_networks`` of the rows. ``"auto"``: cross-fit when
        ``n_networks >= 2``, ``validation_fraction`` is None and there are at
        least ``2 * n_networks`` rows. True needs ``n_networks >= 2`` and no
        ``validation_fraction``.
    method : {"snapshot", "fge", "swa"}, default="snapshot"
        How the members are collected. ``"snapshot"``: ``n_cycles`` equal cycles
        of cosine annealing from ``lr_max`` (Huang et al. 2017). ``"fge"``: fast
        geometric ensembling (Garipov et al. 2018): half the epochs in one cosine
        cycle, then ``n_cycles - 1`` short cycles that rise linearly from
        ``lr_min`` to ``lr_max / 2`` and fall back, with a member at the low
        point of each, so that members stay close to one another but differ.
        ``"swa"``: the same schedule, but the members' weights are averaged
        into one network (stochastic weight averaging, Izmailov et al. 2018),
        whose BatchNormalization statistics, if it has any, are recomputed on
        the training rows; it predicts at the cost of one network, and
        ``n_members`` and ``member_weights`` must stay at their defaults.
    restart_shrink : float in (0, 1], default=0.5
        Factor the weights are multiplied by at a warm restart of
        ``method="snapshot"`` that perturbs (see ``restart_loss_threshold``),
        before ``restart_noise`` is added.
    restart_noise : float >= 0, default=1.0
        Standard deviation of the Gaussian noise added to the weights at a warm
        restart that perturbs, in units of each weight variable's standard
        deviation at initialisation: ``w <- restart_shrink * w + restart_noise *
        scale * z`` ("shrink and perturb", Ash & Adams 2020). A network that
        fits its training rows has near-zero gradients, so raising the learning
        rate alone leaves it where it is and the snapshots stay alike; shrinking
        and perturbing sends it towards another solution while keeping half of
        what it learned. ``restart_shrink=1`` with ``restart_noise=0`` restarts
        the learning rate only, as Huang et al. (2017) do. The defaults were
        chosen on six data sets and 40 seeds (``bench/bench_quality.py``; the
        user guide shows the evidence). ``"fge"`` and ``"swa"`` ignore both,
        since their members must stay close.
    restart_loss_threshold : float > 0 or None, default=0.02
        A warm restart shrinks and perturbs the weights only when the mean
        training loss of the cycle before (its entry in ``loss_history_``, in
        the units of the loss) fell below this value: when the network had
        fitted its training rows, and a learning-rate restart would not move it.
        A network still learning is moved by the rate and is left as it is, so
        data it cannot fit are trained as in the paper.
        None: shrink and perturb at every restart. ``snapshot_perturbed_`` says
        which restarts did.
    lr_max : float, default=0.05
        Learning rate at the start of every cycle. Snapshots differ only if the
        restart is strong enough to move the network away from the previous
        minimum. With momentum 0.9 and standardised inputs, 0.05 trained stably on
        iris, wine, breast cancer and digits, where the ensemble of all snapshots
        matched the final network's accuracy and improved its log-loss on most of
        them; 0.01 left the early snapshots weak. Lower it for unscaled inputs or
        if ``fit`` reports divergence; on data the network fits perfectly early,
        restarts move it little and snapshots stay alike.
    lr_min : float, default=0.0
        Rate the cosine falls towards at the end of every cycle.
    momentum : float, default=0.9
        Momentum of SGD, as in Huang et al. (2017).
    clipnorm : float or None, default=20.0
        Each weight tensor's gradient is scaled down to this norm when it is
        larger (Keras' ``clipnorm``; of each network on its own). Healthy fits
        stay far below it and train as unclipped; it stops the runaway steps
        that made the unclipped defaults diverge on wide one-hot encoded tables
        (user guide, "Why these defaults"). None: no clipping; then
        ``optimizer__clipvalue`` or ``optimizer__global_clipnorm`` may clip
        instead.
    batch_size : int, default=32
        Mini-batch size; clipped to the number of training samples.
    n_members : int or None, default=None
        How many snapshots vote; None uses all of them. Acts at prediction time:
        ``set_params(n_members=3)`` on a fitted estimator changes its predictions
        without refitting.
    member_order : {"newest", "oldest", "best"}, default="newest"
        Which snapshots come first. ``"newest"`` takes the last ``n_members``
        cycles (the paper's choice: later snapshots are usually better);
        ``"oldest"`` the first ones; ``"best"`` those with the lowest log-loss on
        the held-out rows (out of fold when cross-fitting; needs
        held-out rows: ``validation_fraction`` or cross-fitting). Acts at
        prediction time.
    member_weights : {"auto", "uniform", "fitted"}, default="auto"
        How the voting snapshots' probabilities are combined. ``"uniform"``
        averages them. ``"fitted"`` takes the weighted mean with the
        non-negative weights, summing to one, that minimise the log-loss on
        held-out rows (``voting_weights_``): the ``validation_fraction`` rows,
        or when cross-fitting every training row out of fold, with one weight
        per cycle shared by its networks, so that cycles that overtrain get no
        vote. When fewer than all snapshots vote, their weights are rescaled to
        sum to one. ``"auto"``: ``"fitted"`` when the fit had held-out rows,
        else ``"uniform"``. Acts at prediction time.
    linear_member : bool, default=True
        Fit a linear model, ``LogisticRegression(max_iter=200)``, beside the networks,
        and let it vote with the weight the held-out rows give it: its out-of-fold
        predictions (a model per fold, fitted without the fold) join the snapshots' when
        the voting weights are fitted, so it votes where it lowers the held-out log-loss
        and gets no weight elsewhere. It then predicts from a model fitted on every
        training row. It needs held-out rows (cross-fitting or ``validation_fraction``)
        and fitted voting weights (``member_weights`` "auto" or "fitted");
        ``method="swa"`` has none. The networks train as without it.
    validation_fraction : float or None, default=None
        Share of the training rows held out, stratified by class, as in
        ``MLPClassifier``. The network never trains on them; they rank the
        snapshots (``member_order="best"``), fit the voting weights
        (``member_weights="fitted"``) and measure the snapshots' diversity.
        None trains on all rows (cross-fitted when ``n_networks >= 2``), and the
        diversity is measured on them. Setting it turns cross-fitting off.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, ``{label: weight}``, multiplied into
        ``sample_weight`` as scikit-learn's classifiers do. ``"balanced"``
        weights each class by ``n_samples / (n_classes * np.bincount(y))``.
        None: every class weighs one.
    snapshot_dir : str, path-like or None, default=None
        If set, each snapshot is written to this directory the moment its cycle
        ends, atomically, in Keras' weights format, with a JSON manifest (see
        :meth:`from_snapshot_dir`). A crash leaves only complete snapshots.
    in_memory : bool, default=True
        Keep the snapshots' weights in memory. False (which needs
        ``snapshot_dir``) keeps them on disk only: prediction then loads one member
        at a time, so its memory is about that of one network, not of M.
    resume : bool, default=False
        If ``snapshot_dir`` holds an unfinished run of this same fit (same data,
        parameters and network), continue it from its newest complete snapshot,
        with the optimizer state saved there, instead of refusing to overwrite it.
        An empty or missing directory starts a new run.
    overwrite : bool, default=False
        Allow ``fit`` to replace the snapshots of another run found in
        ``snapshot_dir``. Nothing is overwritten otherwise.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues the same network for
        ``n_cycles`` more cycles of ``epochs`` epochs in all (the schedule restarts
        at ``lr_max``) and appends the new snapshots to the existing ones.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and shuffling. An int gives the same
        predictions at every fit on CPU.
    verbose : int, default=0
        0 prints nothing; 1 prints one line per finished cycle.
    **kwargs
        Routed parameters as in scikeras: ``model__<name>`` goes to the builder,
        ``optimizer__<name>`` to ``keras.optimizers.SGD`` (``nesterov``,
        ``weight_decay``, ``clipnorm``...), ``loss`` and ``loss__<name>`` choose
        the loss of an uncompiled custom network, and ``fit__callbacks`` takes Keras
        callbacks, which see one epoch per cycle. Un-prefixed extra arguments go
        to the builder.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``, when ``X`` has string column names.
    n_snapshots_ : int
        Number of snapshots taken, equal to ``n_cycles``.
    snapshot_weights_ : list of list of ndarray
        The weights of each snapshot, oldest first, as ``keras.Model.get_weights``
        lists them.
    snapshot_epochs_ : ndarray of shape (n_snapshots,)
        The number of epochs completed when each snapshot was taken.
    snapshot_iterations_ : ndarray of shape (n_snapshots,)
        The number of optimizer iterations completed when each snapshot was
        taken: its position in ``learning_rate_history_``.
    snapshot_learning_rates_ : ndarray of shape (n_snapshots,)
        The learning rate of the last iteration before each snapshot.
    learning_rate_history_ : ndarray of shape (n_iterations,)
        The learning rate of every training iteration.
    loss_history_ : ndarray of shape (n_snapshots,)
        Mean training loss over the mini-batches of each cycle.
    snapshot_perturbed_ : ndarray of shape (n_snapshots,), dtype=bool
        Whether the warm restart before each snapshot's cycle shrank and
        perturbed the weights (see ``restart_loss_threshold``); False for the
        first snapshot, which no restart precedes.
    snapshot_train_loss_ : ndarray of shape (n_snapshots,)
        Log-loss of each snapshot alone on the rows its network trained on.
    snapshot_validation_loss_ : ndarray of shape (n_snapshots,) or None
        Log-loss of each snapshot alone on held-out rows: the
        ``validation_fraction`` rows, or when cross-fitting its network's fold;
        None without held-out rows.
    snapshot_disagreement_ : ndarray of shape (n_snapshots, n_snapshots)
        Share of rows on which two snapshots predict different classes: on the
        ``validation_fraction`` rows if any, else on the training rows.
        Members that never disagree cannot correct each other.
    averaged_weights_ : list of ndarray, list of list of ndarray, or None
        With ``method="swa"``, the weights of the averaged network that
        predicts; with ``n_networks > 1``, one such list per network, whose
        averaged networks vote. None otherwise.
    voting_weights_ : ndarray of shape (n_snapshots,) or None
        Non-negative weights summing to one that minimise the held-out log-loss
        of the weighted mean of all snapshots (out of fold when cross-fitting:
        one weight per cycle, shared equally by its networks), used by
        ``member_weights="fitted"`` and ``"auto"``; None without held-out rows.
    model_ : keras.Model
        The Keras network holding the newest snapshot's weights (scikeras'
        ``model_``), to inspect or save; predictions use every member.
    target_encoder_ : object
        The fitted target encoder (scikeras' ``target_encoder_``).
    linear_member_ : list of ndarray or None
        The linear member as a one-layer network: ``[kernel, bias]`` of shapes
        (n_features, n_units) and (n_units,) (a classifier's softmax logits,
        two columns for two classes; a regressor's standardised outputs), or
        None (see ``linear_member``).
    linear_weight_ : float or None
        Its share of the voting weights, which with ``voting_weights_`` sum to
        one; None without a linear member.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of optimizer iterations (mini-batches) run.

    See Also
    --------
    SnapshotEnsembleClassifier.from_snapshot_dir : Load a fitted estimator from a
        snapshot directory.
    CyclicCosineAnnealing : The learning-rate schedule, as a Keras schedule.
    sklearn.neural_network.MLPClassifier : A single network, trained by scikit-learn.
    sklearn.ensemble.VotingClassifier : Soft voting over independently fitted models.

    References
    ----------
    .. [1] Huang, G., Li, Y., Pleiss, G., Liu, Z., Hopcroft, J. E. and Weinberger,
       K. Q. (2017). Snapshot Ensembles: Train 1, get M for free. ICLR.
       arXiv:1704.00109.
    .. [2] Loshchilov, I. and Hutter, F. (2017). SGDR: Stochastic Gradient Descent
       with Warm Restarts. ICLR. arXiv:1608.03983.
    .. [3] Garipov, T., Izmailov, P., Podoprikhin, D., Vetrov, D. and Wilson, A.
       G. (2018). Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs.
       NeurIPS. arXiv:1802.10026.
    .. [4] Izmailov, P., Podoprikhin, D., Garipov, T., Vetrov, D. and Wilson, A.
       G. (2018). Averaging Weights Leads to Wider Optima and Better
       Generalization. UAI. arXiv:1803.05407.
    .. [5] Ash, J. T. and Adams, R. P. (2020). On Warm-Starting Neural Network
       Training. NeurIPS. arXiv:1910.08475.
    .. [6] Smith, L. N. (2017). Cyclical Learning Rates for Training Neural
       Networks. WACV. arXiv:1506.01186.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skl_snapshot import SnapshotEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(
    ...     StandardScaler(),
    ...     SnapshotEnsembleClassifier(epochs=40, n_cycles=4, random_state=0),
    ... ).fit(X, y)
    >>> clf[-1].n_snapshots_  # 4 cycles of 4 networks
    16
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    _task = "classification"
    _default_loss = "sparse_categorical_crossentropy"
    _softmax_output = True
    _stratified_validation = True

    _parameter_constraints = {
        **BaseSnapshotEnsemble._parameter_constraints,
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }

    def __init__(self, model=None, *, class_weight=None, **kwargs):
        self.class_weight = class_weight
        super().__init__(model, **kwargs)

    # The base's parameters by name, then class_weight: what get_params, clone,
    # the repr and the API reference see.
    __init__.__signature__ = extended_signature(
        BaseSnapshotEnsemble.__init__, class_weight=None
    )

    def _task_sample_weight(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        # scikit-learn's rule: class weights multiply the sample weights, and
        # "balanced" counts the rows of each class in y, unweighted
        weights = compute_sample_weight(self.class_weight, y).astype(np.float32)
        return weights if sample_weight is None else weights * sample_weight

    # -- task hooks -------------------------------------------------------------

    def _target_rows(self, y):
        # scikeras' and Keras' convention: one-hot rows are classes 0..k-1
        # (one per column), and predictions are one-hot rows again
        if (
            sp.issparse(y)
            or not hasattr(y, "__array__")
            and not isinstance(y, list | tuple)
        ):
            return y, None
        try:
            rows = np.asarray(y)
        except (TypeError, ValueError):
            return y, None
        if rows.ndim != 2 or rows.shape[1] < 2:
            return y, None
        if type_of_target(rows, input_name="y") != "multilabel-indicator":
            return y, None
        labels = rows.sum(axis=1)
        if not (labels == 1).all():
            bad = int(np.flatnonzero(labels != 1)[0])
            raise ValueError(
                "A 2-D y of 0s and 1s is read as one-hot classes (one column per"
                f" class, one 1 per row); {type(self).__name__} does not do"
                " multilabel classification. Got a row with"
                f" {int(labels[bad])} ones (row {bad})."
            )
        return rows.argmax(axis=1), {
            "n_classes": rows.shape[1],
            "dtype": rows.dtype.str,
        }

    def _fit_target(self, y, loss, y_format):
        check_classification_targets(y)
        categories = "auto" if y_format is None else [np.arange(y_format["n_classes"])]
        encoder = _ClassTarget(
            ClassifierLabelEncoder(loss=loss, categories=categories).fit(y),
            one_hot_y=y_format,
        )
        if len(encoder.classes_) < 2:
            raise ValueError(
                "SnapshotEnsembleClassifier needs samples of at least 2 classes"
                " in y, but y contains only one class:"
                f" {encoder.classes_[0].item()!r}."
            )
        return encoder

    def _check_warm_target(self, y):
        check_classification_targets(y)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                "warm_start=True continues training on the classes of the first"
                f" fit, {self.classes_.tolist()}. Got new classes in y:"
                f" {unknown.tolist()}."
            )

    def _adapt_to_network(self, network, n_outputs, loss, target, y):
        n_classes = len(target.classes_)
        if n_outputs not in (n_classes, 1) or (n_outputs == 1 and n_classes != 2):
            raise ValueError(
                "The network must output one unit per class"
                f" ({n_classes} here), or one sigmoid unit for two"
                f" classes. Got a network with {n_outputs} output units."
            )
        if loss is None:
            loss = self._default_loss if n_outputs > 1 else "binary_crossentropy"
        if is_one_hot_loss(loss):
            if not is_one_hot_loss(target.encoder.loss):
                target = _ClassTarget(
                    ClassifierLabelEncoder(loss=loss).fit(target.classes_),
                    one_hot_y=target.one_hot_y,
                )
            if n_classes == 2 and n_outputs == 2:
                target = _ClassTarget(
                    target.encoder, one_hot_binary=True, one_hot_y=target.one_hot_y
                )
        return loss, target

    def _vote(self, output):
        if output.shape[1] == 1:
            # a single sigmoid unit gives P(second class)
            positive = output.reshape(-1)
            output = np.column_stack([1.0 - positive, positive])
        # float32 softmax rows sum to one only within ~1e-7; renormalise in float64
        # so that the averaged probabilities are proper distributions.
        return output / output.sum(axis=1, keepdims=True)

    def _new_evaluation(self, y, sample_weight):
        return MemberEvaluation(np.searchsorted(self.classes_, y), sample_weight)

    def _set_target_state(self, target):
        self.classes_ = target.classes_

    def _target_record(self, target):
        record = {"classes": labels_to_json(target.classes_)}
        if target.one_hot_y is not None:
            record["one_hot_y"] = dict(target.one_hot_y)
        return record

    @classmethod
    def _target_from_manifest(cls, manifest, where):
        try:
            classes = labels_from_json(manifest["classes"])
            if (
                classes.ndim != 1
                or len(classes) < 2
                or len(np.unique(classes)) != len(classes)
            ):
                raise ValueError("not a list of at least two distinct labels")
            encoder = ClassifierLabelEncoder(loss=manifest["loss"]).fit(classes)
            one_hot_y = _one_hot_from_manifest(manifest.get("one_hot_y"), classes)
        except (TypeError, ValueError) as error:
            raise SnapshotDirectoryError(
                f"{where} records classes that cannot be read: {error}."
            ) from None
        return _ClassTarget(encoder, one_hot_y=one_hot_y)

    def _fit_linear(self, X, y, sample_weight, start=None):
        # LogisticRegression's columns follow its sorted classes, as ours do
        if len(np.unique(y)) != len(self.classes_):
            return None, None
        model = LogisticRegression(max_iter=200, warm_start=start is not None)
        if start is not None:
            model.coef_, model.intercept_ = start.coef_.copy(), start.intercept_.copy()
        with warnings.catch_warnings():
            # a poorly converged linear member gets the weight it earns
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y, sample_weight=sample_weight)
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:
            # two classes: P(second) = sigmoid(z), the softmax of (0, z)
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.array([0.0, intercept[0]])
        return [coef.T.astype(np.float32), intercept.astype(np.float32)], model

    def _keras_wrapper_target(self, target, y):
        # keras.wrappers' classifier one-hot encodes the classes
        n_classes = len(target.classes_)
        if y is None:
            return np.zeros((1, n_classes), np.float32)
        return np.eye(n_classes, dtype=np.float32)[np.searchsorted(target.classes_, y)]

    def _labels(self, proba):
        """The predicted targets of probabilities: labels, or one-hot rows if
        y was given so."""
        best = np.argmax(proba, axis=1)
        one_hot = self._target_encoder.one_hot_y
        if one_hot is not None:
            return np.eye(len(self.classes_), dtype=np.dtype(one_hot["dtype"]))[best]
        return self.classes_[best]

    def _scored_labels(self, y):
        """True targets given to a score: one-hot rows as their classes."""
        if self._target_encoder.one_hot_y is not None:
            rows, y_format = self._target_rows(y)
            if y_format is not None:
                return rows
        return y

    def _vote_scores(self, y, vote, sample_weight):
        y = self._scored_labels(y)
        labels = self.classes_
        return {
            "accuracy": accuracy_score(
                y, labels[vote.argmax(axis=1)], sample_weight=sample_weight
            ),
            "log_loss": log_loss(y, vote, labels=labels, sample_weight=sample_weight),
        }

    # -- prediction -------------------------------------------------------------

    def predict_proba(self, X):
        """Average class probabilities of the voting snapshots (soft voting).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Mean of the members' probabilities; columns follow ``classes_``.
        """
        return self._mean_vote(X)

    def predict(self, X):
        """Class labels by soft voting of the chosen snapshots.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The class with the highest mean probability, as given in ``y`` at fit.
        """
        return self._labels(self.predict_proba(X))

    def staged_predict_proba(self, X):
        """Ensemble probabilities as snapshots join, one at a time.

        The k-th result is the mean of the first k snapshots in ``member_order``:
        what ``predict_proba`` returns with ``n_members=k``. Every snapshot runs
        once, so all ensemble sizes cost what the largest one does. With
        ``method="swa"`` these are the members' votes, for comparison: the
        estimator itself predicts with their averaged weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Yields
        ------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the ensemble of the first k snapshots, for
            k = 1, ..., ``n_snapshots_``.
        """
        yield from self._staged_votes(X)

    def staged_predict(self, X):
        """Ensemble predictions as snapshots join, one at a time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Yields
        ------
        y : ndarray of shape (n_samples,)
            Predictions of the ensemble of the first k snapshots in
            ``member_order``, for k = 1, ..., ``n_snapshots_``.
        """
        for proba in self.staged_predict_proba(X):
            yield self._labels(proba)

    def snapshot_scores(self, X, y, sample_weight=None):
        """Score each snapshot alone and each ensemble size, in one pass.

        Answers "how many snapshots should vote, and does the ensemble beat one
        network?" without refitting: for k = 1, ..., ``n_snapshots_`` it scores
        the k-th snapshot in ``member_order`` alone and the ensemble of the first
        k.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        scores : sklearn.utils.Bunch
            ``n_members`` (k), ``snapshot`` (index of the k-th snapshot, 0 being
            the oldest) and ``epoch`` (when it was taken), then
            ``single_accuracy`` and ``single_log_loss`` of that snapshot alone and
            ``ensemble_accuracy`` and ``ensemble_log_loss`` of the first k, each
            an array of length ``n_snapshots_``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skl_snapshot import SnapshotEnsembleClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SnapshotEnsembleClassifier(epochs=30, n_cycles=3, random_state=0)
        >>> scores = clf.fit(X, y).snapshot_scores(X, y)
        >>> scores.snapshot.tolist()  # newest cycle first, then by network
        [8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3]
        """
        return super().snapshot_scores(X, y, sample_weight=sample_weight)

    def score(self, X, y, sample_weight=None):
        """Accuracy of the ensemble's predictions on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy of ``self.predict(X)`` with respect to ``y``.
        """
        return super().score(X, y, sample_weight=sample_weight)


def _one_hot_from_manifest(record, classes):
    """A manifest's ``one_hot_y`` entry, checked: absent, or the classes 0..k-1
    and a plain numeric NumPy type."""
    if record is None:
        return None
    if not isinstance(record, dict) or set(record) != {"n_classes", "dtype"}:
        raise ValueError("one_hot_y is not {'n_classes': ..., 'dtype': ...}")
    n_classes, dtype = record["n_classes"], record["dtype"]
    if (
        not isinstance(n_classes, int)
        or isinstance(n_classes, bool)
        or not np.array_equal(classes, np.arange(n_classes))
    ):
        raise ValueError("one_hot_y's n_classes does not match the classes 0..k-1")
    if not isinstance(dtype, str) or np.dtype(dtype).kind not in "biuf":
        raise ValueError(f"one_hot_y's dtype {dtype!r} is not a numeric type")
    return {"n_classes": n_classes, "dtype": np.dtype(dtype).str}


class _ClassTarget:
    """The classifier's target encoder: scikeras' label encoder, with the
    output widths a network of these classes may have.

    ``one_hot_binary``: two classes for a one-hot loss on two output units,
    which scikeras' encoder leaves as one ordinal column.
    """

    def __init__(self, encoder, one_hot_binary=False, one_hot_y=None):
        self.encoder = encoder
        self.classes_ = encoder.classes_
        self.one_hot_binary = one_hot_binary
        # y given as one-hot rows: {"n_classes", "dtype" (its NumPy name)}
        self.one_hot_y = one_hot_y

    # The pickled (and skops) state is the classes and whether the loss wants
    # one-hot targets, all the encoder depends on: no scikeras object in it, so
    # skops.io.load needs to trust only our types.
    def __getstate__(self):
        loss = self.encoder.loss
        if loss is not None and not isinstance(loss, str):
            loss = "categorical_crossentropy" if is_one_hot_loss(loss) else None
        return {
            "classes_": self.classes_,
            "loss": loss,
            "one_hot_binary": self.one_hot_binary,
            "one_hot_y": self.one_hot_y,
        }

    def __setstate__(self, state):
        encoder = ClassifierLabelEncoder(loss=state["loss"]).fit(state["classes_"])
        self.__init__(
            encoder, state.get("one_hot_binary", False), state.get("one_hot_y")
        )

    def transform(self, y):
        encoded = self.encoder.transform(y)
        if self.one_hot_binary and encoded.shape[1] == 1:
            codes = encoded[:, 0].astype(np.int64)
            return np.eye(2, dtype=encoded.dtype)[codes]
        return encoded

    def get_metadata(self):
        return self.encoder.get_metadata()

    def output_units(self):
        n_classes = len(self.classes_)
        return (n_classes, 1) if n_classes == 2 else (n_classes,)

    def description(self):
        return f"{len(self.classes_)} classes"
