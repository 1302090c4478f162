"""SnapshotEnsembleRegressor: M regressors, and their spread, for the cost of one.

The task-neutral fit, voting and persistence are in :mod:`._base`; this module
holds the regressor's hooks (numeric targets, standardised inside ``fit``, a
linear output trained on the squared error, R² and MSE) and its prediction
methods.
"""

import warnings

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.utils.validation import check_is_fitted

from ._base import BaseSnapshotEnsemble, extended_signature, linear_output
from ._members import RegressionMemberEvaluation
from ._persistence import SnapshotDirectoryError

__all__ = ["SnapshotEnsembleRegressor"]


class SnapshotEnsembleRegressor(RegressorMixin, BaseSnapshotEnsemble):
    """Snapshot ensemble of a Keras network: M regressors for one training run.

    One network is trained with stochastic gradient descent whose learning rate
    follows ``n_cycles`` cycles of cosine annealing with warm restarts, updated at
    every mini-batch. At the end of each cycle the network sits in a minimum and its
    weights are kept as a snapshot; the restart to ``lr_max`` pushes it towards
    another one, and, once the network fits its training rows so closely that
    the rate alone would not move it, also shrinks and perturbs its weights
    (``restart_loss_threshold``). Predictions average the outputs of the chosen
    snapshots, and their spread across the snapshots is the ensemble's
    uncertainty (``predict(X, return_std=True)``).

    Parameters
    ----------
    model : None, callable or keras.Model, default=None
        The network. None builds a multi-layer perceptron from
        ``hidden_layer_sizes`` and ``activation`` with a linear output, one unit
        per target column, trained on the squared error. A callable
        is a scikeras-style builder: it is called with its ``model__*``
        parameters, the extra keyword arguments given to this estimator, and, if
        its signature asks for them, ``meta`` (fitted metadata such as
        ``n_features_in_`` and ``n_outputs_``, the number of target columns) and
        ``compile_kwargs``. A ``keras.Model`` is cloned, with fresh weights, at
        every ``fit``. The network must output one unit per target column (of
        the standardised target, see ``normalize_y``). Whatever optimizer it
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
        minimum. The classifier's default; with standardised inputs and
        ``normalize_y=True`` it trains regression targets of any scale (see
        ``bench/bench_regression.py``). Lower it for unscaled inputs or if
        ``fit`` reports divergence.
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
        ``"oldest"`` the first ones; ``"best"`` those with the lowest mean
        squared error on the held-out rows (out of fold when cross-fitting; needs
        held-out rows: ``validation_fraction`` or cross-fitting). Acts at
        prediction time.
    member_weights : {"auto", "uniform", "fitted"}, default="auto"
        How the voting snapshots' predictions are combined. ``"uniform"``
        averages them. ``"fitted"`` takes the weighted mean with the
        non-negative weights, summing to one, that minimise the squared error on
        held-out rows (``voting_weights_``): the ``validation_fraction`` rows,
        or when cross-fitting every training row out of fold, with one weight
        per cycle shared by its networks, so that cycles that overtrain get no
        vote. When fewer than all snapshots vote, their weights are rescaled to
        sum to one. ``"auto"``: ``"fitted"`` when the fit had held-out rows,
        else ``"uniform"``. Acts at prediction time.
    linear_member : bool, default=True
        Fit a linear model, ``Ridge()`` on the standardised targets, beside the
        networks, and let it vote with the weight the held-out rows give it: its
        out-of-fold predictions (a model per fold, fitted without the fold) join the
        snapshots' when the voting weights are fitted, so it votes where it lowers the
        held-out squared error and gets no weight elsewhere. It then predicts from a
        model fitted on every training row. It needs held-out rows (cross-fitting or
        ``validation_fraction``) and fitted voting weights (``member_weights`` "auto" or
        "fitted"); ``method="swa"`` has none. The networks train as without it.
    validation_fraction : float or None, default=None
        Share of the training rows held out at random, as in ``MLPRegressor``.
        The network never trains on them; they rank the snapshots
        (``member_order="best"``), fit the voting weights
        (``member_weights="fitted"``) and measure the snapshots' diversity.
        None trains on all rows (cross-fitted when ``n_networks >= 2``), and the
        diversity is measured on them. Setting it turns cross-fitting off.
    normalize_y : bool, default=True
        Standardise the target on the training rows (subtract its mean, divide
        by its standard deviation, per column) before training, and map the
        predictions back. Prices, counts or any target far from unit scale then
        train at the default ``lr_max``, as standardised features do; without
        it, a target in the thousands makes the squared error's gradients a
        million times larger and training diverges. ``y_mean_`` and ``y_scale_``
        hold the transformation. False trains on y as given.
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
    n_outputs_ : int
        Number of target columns.
    y_mean_ : ndarray of shape (n_outputs,)
        Mean of each target column on the training rows (0 with
        ``normalize_y=False``).
    y_scale_ : ndarray of shape (n_outputs,)
        Standard deviation of each target column on the training rows, 1 for a
        constant column (all ones with ``normalize_y=False``).
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
        Mean squared error of each snapshot alone on the rows its network
        trained on, in units of y squared.
    snapshot_validation_loss_ : ndarray of shape (n_snapshots,) or None
        Mean squared error of each snapshot alone on held-out rows: the
        ``validation_fraction`` rows, or when cross-fitting its network's fold;
        None without held-out rows.
    snapshot_disagreement_ : ndarray of shape (n_snapshots, n_snapshots)
        Root-mean-square difference between two snapshots' predictions, in units
        of the standard deviation of the target: on the ``validation_fraction``
        rows if any, else on the training rows. Members that always
        agree cannot correct each other.
    averaged_weights_ : list of ndarray, list of list of ndarray, or None
        With ``method="swa"``, the weights of the averaged network that
        predicts; with ``n_networks > 1``, one such list per network, whose
        averaged networks vote. None otherwise.
    voting_weights_ : ndarray of shape (n_snapshots,) or None
        Non-negative weights summing to one that minimise the held-out squared
        error of the weighted mean of all snapshots (out of fold when
        cross-fitting: one weight per cycle, shared equally by its networks),
        used by ``member_weights="fitted"`` and ``"auto"``; None without
        held-out rows.
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
    SnapshotEnsembleRegressor.from_snapshot_dir : Load a fitted estimator from a
        snapshot directory.
    SnapshotEnsembleClassifier : The same ensemble for classification.
    sklearn.neural_network.MLPRegressor : A single network, trained by scikit-learn.
    sklearn.gaussian_process.GaussianProcessRegressor : ``predict`` with
        ``return_std``, from a posterior rather than an ensemble.

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
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skl_snapshot import SnapshotEnsembleRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = make_pipeline(
    ...     StandardScaler(),
    ...     SnapshotEnsembleRegressor(epochs=40, n_cycles=4, random_state=0),
    ... ).fit(X, y)
    >>> reg[-1].n_snapshots_  # 4 cycles of 4 networks
    16
    >>> mean, std = reg[-1].predict(StandardScaler().fit(X).transform(X[:2]),
    ...                             return_std=True)
    >>> mean.shape, std.shape
    ((2,), (2,))
    """

    _task = "regression"
    _default_loss = "mean_squared_error"
    _softmax_output = False
    _stratified_validation = False
    _validate_y_options = {"y_numeric": True, "multi_output": True}

    _parameter_constraints = {
        **BaseSnapshotEnsemble._parameter_constraints,
        "normalize_y": ["boolean"],
    }

    def __init__(self, model=None, *, normalize_y=True, **kwargs):
        self.normalize_y = normalize_y
        super().__init__(model, **kwargs)

    # The base's parameters by name, then normalize_y: what get_params, clone,
    # the repr and the API reference see.
    __init__.__signature__ = extended_signature(
        BaseSnapshotEnsemble.__init__, normalize_y=True
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # -- task hooks -------------------------------------------------------------

    def _check_target_input(self, y):
        if y is None:
            return  # scikit-learn's validation names the missing y
        array = np.asarray(y) if not hasattr(y, "dtype") else y
        if np.ndim(array) > 2:
            raise ValueError(
                "y must be 1-D (one target) or 2-D (one column per target), as in"
                f" MLPRegressor. Got y with {np.ndim(array)} dimensions, shape"
                f" {np.shape(array)}."
            )
        kind = getattr(getattr(array, "dtype", None), "kind", None)
        if kind in ("U", "S"):
            raise ValueError(
                "y must be numeric for a regressor. Got y of strings (dtype"
                f" {array.dtype}); for class labels use SnapshotEnsembleClassifier."
            )

    def _fit_target(self, y, loss, y_format):
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected."
                " Please change the shape of y to (n_samples,), for example"
                " using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
        return _RegressionTarget.fit(y, normalize=self.normalize_y)

    def _check_warm_target(self, y):
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if n_outputs != self.n_outputs_:
            raise ValueError(
                "warm_start=True continues training on the targets of the first"
                f" fit, {self.n_outputs_} column(s). Got y with {n_outputs}"
                " column(s)."
            )

    def _adapt_to_network(self, network, n_outputs, loss, target, y):
        if n_outputs != target.n_outputs:
            raise ValueError(
                "The network must output one unit per column of y"
                f" ({target.n_outputs} here). Got a network with {n_outputs}"
                " output units."
            )
        return loss or self._default_loss, target

    def _fit_linear(self, X, y, sample_weight, start=None):
        # in the network's units: the standardised targets; Ridge is solved
        # directly, so there is nothing to start from
        targets = self._target_encoder.transform(y)
        model = Ridge().fit(X, targets, sample_weight=sample_weight)
        kernel = np.atleast_2d(model.coef_).T
        bias = np.atleast_1d(model.intercept_)
        return [kernel.astype(np.float32), bias.astype(np.float32)], model

    def _keras_wrapper_target(self, target, y):
        # keras.wrappers' regressor hands y over as it is
        if y is None:
            return np.zeros(
                (1,) if target.y_ndim == 1 else (1, target.n_outputs), np.float32
            )
        return np.asarray(y, dtype=np.float32)

    def _vote(self, output):
        return output

    def _new_evaluation(self, y, sample_weight):
        target = self._target_encoder
        return RegressionMemberEvaluation(
            target.transform(y), sample_weight, scale=target.scale_
        )

    def _set_target_state(self, target):
        self.n_outputs_ = target.n_outputs
        self.y_mean_ = target.mean_
        self.y_scale_ = target.scale_

    def _target_record(self, target):
        return {"classes": None, "target": target.to_json()}

    @classmethod
    def _target_from_manifest(cls, manifest, where):
        return _RegressionTarget.from_json(manifest.get("target"), where)

    def _vote_scores(self, y, vote, sample_weight):
        predicted = self._target_encoder.inverse_transform(vote)
        return {
            "r2": r2_score(y, predicted, sample_weight=sample_weight),
            "mse": mean_squared_error(y, predicted, sample_weight=sample_weight),
        }

    # -- prediction -------------------------------------------------------------

    def predict(self, X, return_std=False):
        """The mean prediction of the voting snapshots, and their spread.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        return_std : bool, default=False
            Also return the standard deviation of the voting snapshots'
            predictions (weighted by ``member_weights``), as
            ``GaussianProcessRegressor`` and ``BayesianRidge`` do. It measures
            how much the snapshots disagree, not a calibrated posterior: the
            regression benchmark reports how often the truth falls inside mean
            ± 2 std. It needs at least two voting networks. A voting linear
            member (``linear_member``) counts as one of them, with its weight.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The ensemble's prediction: 1-D if y at fit was 1-D or a single
            column (as ``MLPRegressor``), else one column per target.
        y_std : ndarray of the same shape
            Standard deviation across the voting snapshots; only with
            ``return_std=True``.
        """
        check_is_fitted(self)
        target = self._target_encoder
        if not return_std:
            return target.inverse_transform(self._mean_vote(X))
        members = self._members_for_spread()
        weights = self._vote_weights(members)
        X = self._validate_features(X)
        # one pass over the members: their running mean is, exactly, the mean
        # predict computes (see _running_means)
        votes = list(self._snapshot_votes(X, members))
        *_, mean = self._running_means(votes, weights)
        weights = np.ones(len(members)) if weights is None else weights
        mixed = self._mixed_vote_weights(members)
        if mixed is not None:
            # the linear member votes as in predict, and is one of the members
            # whose spread is measured, with the weights the mix gives them
            linear = linear_output(self.linear_member_, X, self._task)
            mean = self._with_linear_member(mean, X, members, linear)
            votes.append(linear)
            weights = mixed
        squares = sum(
            weight * (vote - mean) ** 2
            for weight, vote in zip(weights, votes, strict=True)
        )
        std = np.sqrt(squares / np.sum(weights)) * target.scale_
        return target.inverse_transform(mean), target.shaped(std)

    def _members_for_spread(self):
        """The voting snapshots, refusing an ensemble of one network."""
        if getattr(self, "averaged_weights_", None) is not None:
            raise ValueError(
                "return_std=True measures the spread of the voting networks, but"
                " this estimator was fitted with method='swa' and predicts with one"
                " network, the average of its snapshots. Use method='snapshot' or"
                " method='fge' for a spread."
            )
        members = self._member_indices()
        if len(members) < 2:
            raise ValueError(
                "return_std=True measures the spread of the voting networks, which"
                " needs at least two of them. Got n_members="
                f"{self.n_members!r} with {self.n_snapshots_} snapshot(s)."
            )
        return members

    def staged_predict(self, X):
        """Ensemble predictions as snapshots join, one at a time.

        The k-th result is the mean of the first k snapshots in
        ``member_order``: what ``predict`` returns with ``n_members=k``. Every
        snapshot runs once, so all ensemble sizes cost what the largest one does.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Yields
        ------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions of the ensemble of the first k snapshots, for
            k = 1, ..., ``n_snapshots_``.
        """
        check_is_fitted(self)
        for mean in self._staged_votes(X):
            yield self._target_encoder.inverse_transform(mean)

    def snapshot_scores(self, X, y, sample_weight=None):
        """Score each snapshot alone and each ensemble size, in one pass.

        For k = 1, ..., ``n_snapshots_`` it scores the k-th snapshot in
        ``member_order`` alone and the ensemble of the first k, without
        refitting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        scores : sklearn.utils.Bunch
            ``n_members`` (k), ``snapshot`` (index of the k-th snapshot, 0 being
            the oldest) and ``epoch`` (when it was taken), then ``single_r2`` and
            ``single_mse`` of that snapshot alone and ``ensemble_r2`` and
            ``ensemble_mse`` of the first k, each an array of length
            ``n_snapshots_``.

        Examples
        --------
        >>> from sklearn.datasets import make_regression
        >>> from skl_snapshot import SnapshotEnsembleRegressor
        >>> X, y = make_regression(n_samples=100, n_features=4, random_state=0)
        >>> reg = SnapshotEnsembleRegressor(epochs=30, n_cycles=3, random_state=0)
        >>> scores = reg.fit(X, y).snapshot_scores(X, y)
        >>> scores.snapshot.tolist()  # newest cycle first, then by network
        [8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3]
        """
        return super().snapshot_scores(X, y, sample_weight=sample_weight)

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R² of the ensemble's predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R² of ``self.predict(X)`` with respect to ``y``, averaged uniformly
            over the outputs.
        """
        return super().score(X, y, sample_weight=sample_weight)


class _RegressionTarget:
    """The regressor's target encoder: per-column standardisation, and the
    shape y had at fit.

    ``transform`` gives the float32 (n_samples, n_outputs) targets the network
    trains on; ``inverse_transform`` maps the network's outputs back, in the
    shape of y.
    """

    def __init__(self, mean, scale, y_ndim):
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.scale_ = np.asarray(scale, dtype=np.float64)
        self.n_outputs = len(self.mean_)
        self.y_ndim = int(y_ndim)

    @classmethod
    def fit(cls, y, normalize=True):
        columns = y.reshape(len(y), -1).astype(np.float64)
        # a column vector predicts 1-D, as MLPRegressor does
        y_ndim = 1 if columns.shape[1] == 1 else 2
        if not normalize:
            n_outputs = columns.shape[1]
            return cls(np.zeros(n_outputs), np.ones(n_outputs), y_ndim)
        scale = columns.std(axis=0)
        scale[~(scale > np.finfo(np.float64).eps * np.abs(columns).max(axis=0))] = 1.0
        return cls(columns.mean(axis=0), scale, y_ndim)

    def transform(self, y):
        columns = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return ((columns - self.mean_) / self.scale_).astype(np.float32)

    def inverse_transform(self, output):
        return self.shaped(output * self.scale_ + self.mean_)

    def shaped(self, columns):
        return columns.reshape(-1) if self.y_ndim == 1 else columns

    def get_metadata(self):
        # scikeras' regressor meta: y's columns, and one Keras output
        return {"n_outputs_": self.n_outputs, "n_outputs_expected_": 1}

    def output_units(self):
        return (self.n_outputs,)

    def description(self):
        return f"{self.n_outputs} target column(s)"

    def to_json(self):
        return {
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "y_ndim": self.y_ndim,
        }

    @classmethod
    def from_json(cls, record, where):
        """The encoder a manifest records; refuses anything but finite numbers
        of matching lengths and positive scales."""
        try:
            mean = np.asarray(record["mean"], dtype=np.float64)
            scale = np.asarray(record["scale"], dtype=np.float64)
            y_ndim = record["y_ndim"]
            valid = (
                mean.ndim == scale.ndim == 1
                and 1 <= len(mean) == len(scale)
                and np.isfinite(mean).all()
                and np.isfinite(scale).all()
                and (scale > 0).all()
                and y_ndim in (1, 2)
                and not isinstance(y_ndim, bool)
                and (y_ndim == 2 or len(mean) == 1)
            )
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise SnapshotDirectoryError(
                f"{where} records no valid regression target: it needs 'mean' and"
                " 'scale' lists of finite numbers of one length (scales > 0) and"
                " 'y_ndim' 1 or 2."
            )
        return cls(mean, scale, y_ndim)
