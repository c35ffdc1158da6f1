"""The heads: the only parameters that learn, on top of the frozen backbone's layer.

- `LogisticHead`, for a binary task: `Dense(1, sigmoid)`. On the demo's 10 softmax outputs its
  10 weights are the classification-to-binary weights the app plots, one per digit.
- `SoftmaxHead`, for K classes: `Dense(K, softmax)`, a K x width weight matrix.

Both start at zero, so every answer starts equally likely, and learn their input width from
the data in `fit` (`n_features_in_`, as in scikit-learn). Both are small, so they are trained
here in NumPy/SciPy rather than through `model.fit`, which costs about 0.9 s a call on this
machine before doing any work; both export as real Keras `Dense` models (`to_keras`).

**The bias.** Where the inputs are a probability simplex (a softmax layer's outputs, which sum
to 1), a bias is the same as adding it to every weight and says nothing the weights cannot:
there it is held at 0 (`fit_intercept=False`). That also keeps a class nobody has labelled at
weight 0 and p = 0.5, "not known yet"; a fitted bias would hand such a digit the balance of the
labels so far, and uncertainty sampling would look past it. On any other layer (an embedding)
the head needs its intercept, and fits it.

Training modes of the logistic head, after each round, on all labels so far:

- `"converge"` (the default): fit to convergence by Newton's method, warm-started from the last
  weights, minimising mean binary cross-entropy plus a small L2 penalty. The penalty keeps the
  fit finite when the labels so far are separable or all of one class.
- `"demo"`: the odd-number demo's way, a fixed number of Adam steps at learning rate 0.1 (one
  step per round). Adam's moments carry over from round to round, as they did in the demo's
  compiled Keras model; the update is Keras' own Adam formula, and a marked test checks it
  against a real Keras `Dense(1, sigmoid)` step for step. It always trains its bias, as the
  demo did.

The softmax head always converges: L-BFGS, warm-started, on mean cross-entropy plus the same
L2 penalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tl_active.core.rows import row_max

HEAD_MODES = ("converge", "demo")
# The L2 penalty on the mean loss. On softmax outputs (10 bounded inputs) the demo's head keeps
# 1e-3. On a wide layer (128 tanh units) few labels call for more: on the 5-9 network's
# embedding for digits 0-4, 1e-2 gave the best area under the learning curve of 1e-3, 3e-3 and
# 1e-2 (5 seeds, batch 5, 40 rounds of the default strategy).
L2_SIMPLEX, L2_FEATURES = 1e-3, 1e-2


def on_simplex(x: np.ndarray) -> bool:
    """Whether every row is a probability distribution (a softmax layer's outputs): no value
    below 0 and each row summing to 1, to float32's rounding."""
    return bool((x >= -1e-6).all()) and bool(np.allclose(x.sum(axis=1), 1.0, atol=1e-3))


# Keras' Adam defaults, so that the demo mode reproduces a Keras head exactly.
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7


def sigmoid(z: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warnings for large |z|.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - row_max(z)[:, None]
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class HeadState:
    """Everything a head has learned: weights (outputs x width), biases, Adam's moments."""

    weights: np.ndarray | None = None  # None until the width is known
    bias: np.ndarray | None = None
    adam_m: np.ndarray | None = None
    adam_v: np.ndarray | None = None
    adam_t: int = 0

    def copy(self) -> HeadState:
        def c(a):
            return None if a is None else a.copy()

        return HeadState(c(self.weights), c(self.bias), c(self.adam_m), c(self.adam_v), self.adam_t)


@dataclass
class HeadStates:
    """Many heads' states stacked, one row per round: what checking rounds in blocks reads."""

    weights: np.ndarray  # (R, outputs, width)
    bias: np.ndarray  # (R, outputs)
    adam_m: np.ndarray  # (R, width + 1); zeros before the first step
    adam_v: np.ndarray
    adam_t: np.ndarray  # (R,)

    def copy(self) -> HeadStates:
        return HeadStates(*(np.array(a, copy=True) for a in self._arrays()))

    def take(self, rows) -> HeadStates:
        return HeadStates(*(a[rows] for a in self._arrays()))

    def put(self, rows, states: HeadStates) -> None:
        for mine, theirs in zip(self._arrays(), states._arrays()):
            mine[rows] = theirs

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (self.weights, self.bias, self.adam_m, self.adam_v, self.adam_t)


class _Head:
    """What both heads share: settings, state, width, export."""

    n_outputs: int = 1
    activation: str = "sigmoid"

    def __init__(self, l2: float = 1e-3, fit_intercept: bool = True):
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.state_ = HeadState()

    @property
    def n_features_in_(self) -> int | None:
        return None if self.state_.weights is None else self.state_.weights.shape[1]

    def _ensure_width(self, width: int) -> None:
        if self.state_.weights is None:
            self.state_.weights = np.zeros((self.n_outputs, width))
            self.state_.bias = np.zeros(self.n_outputs)
        elif self.state_.weights.shape[1] != width:
            raise ValueError(f"this head reads {self.state_.weights.shape[1]} inputs, not {width}")

    @property
    def bias_trained(self) -> bool:
        """Whether training moves the bias (else it is held at 0, see the module's note)."""
        return self.fit_intercept

    @property
    def coef_(self) -> np.ndarray:
        """The weights, one row per output (1 for a logistic head, K for softmax)."""
        return self.state_.weights if self.state_.weights is not None else np.zeros((0, 0))

    @property
    def intercept_(self) -> np.ndarray:
        return self.state_.bias if self.state_.bias is not None else np.zeros(self.n_outputs)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Logits, (n, outputs); all zero before the first fit."""
        if self.state_.weights is None:
            return np.zeros((len(x), self.n_outputs), x.dtype)
        # Scoring the pool in the features' own precision avoids a float64 copy of it.
        dtype = x.dtype if x.dtype == np.float32 else np.float64
        return x @ self.state_.weights.T.astype(dtype) + self.state_.bias.astype(dtype)

    def clone(self):
        """A fresh, untrained head with the same settings."""
        raise NotImplementedError

    def copy(self):
        """A head with the same settings and what this one has learned (a warm start)."""
        twin = self.clone()
        twin.state_ = self.state_.copy()
        return twin

    def to_keras(self):
        """The learned head as a real Keras `Dense` model on its input width."""
        return build_keras_head(self.coef_, self.intercept_, self.activation)


class LogisticHead(_Head):
    """Logistic regression for a binary task, in the scikit-learn style.

    `__init__` stores the settings; `fit` learns from all labels so far and returns `self`;
    `coef_` (1 x width) and `intercept_` are what it learned.
    """

    n_outputs = 1
    activation = "sigmoid"

    def __init__(
        self,
        mode: str = "converge",
        l2: float = 1e-3,
        fit_intercept: bool = False,
        adam_steps: int = 1,
        learning_rate: float = 0.1,
    ):
        if mode not in HEAD_MODES:
            raise ValueError(f"unknown head mode {mode!r}; choose one of {', '.join(HEAD_MODES)}")
        super().__init__(l2, fit_intercept)
        self.mode = mode
        self.adam_steps = adam_steps
        self.learning_rate = learning_rate

    @property
    def bias_trained(self) -> bool:
        # The demo's Adam steps always train the bias, as the demo's Keras head did.
        return self.fit_intercept or self.mode == "demo"

    def clone(self) -> LogisticHead:
        return LogisticHead(
            self.mode, self.l2, self.fit_intercept, self.adam_steps, self.learning_rate
        )

    def positive_proba(self, x: np.ndarray) -> np.ndarray:
        """p(positive) for each row."""
        return sigmoid(self.decision_function(x)[:, 0])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 2): p(negative), p(positive), as the answers' output indices 0 and 1."""
        p = self.positive_proba(x)
        # Filled in place: `column_stack` goes through a copy of each column first.
        proba = np.empty((len(p), 2), p.dtype)
        np.subtract(1.0, p, out=proba[:, 0])
        proba[:, 1] = p
        return proba

    def fit(
        self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> LogisticHead:
        """Retrain on all labels so far: `x` (n, width), `y` (n,) 0/1.

        `sample_weight` (n,), when given, weighs each row's loss (the pool-taught head's
        pseudo-labels weigh less than real answers); the loss is then the weighted mean.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self._ensure_width(x.shape[1])
        if len(y) == 0:
            return self
        if sample_weight is None:
            share = np.full(len(y), 1.0 / len(y))
        elif self.mode == "demo":
            raise ValueError("the demo's Adam steps take no sample weights")
        else:
            share = _normalised_weights(sample_weight, len(y))
        if self.mode == "demo":
            for _ in range(self.adam_steps):
                self._adam_step(x, y)
        elif self.fit_intercept:
            theta = self._newton(
                np.column_stack([x, np.ones(len(x))]),
                y,
                np.append(self.state_.weights[0], self.state_.bias[0]),
                share,
            )
            self.state_.weights, self.state_.bias = theta[None, :-1], theta[-1:]
        else:
            self.state_.weights = self._newton(x, y, self.state_.weights[0], share)[None, :]
            self.state_.bias = np.zeros(1)
        return self

    def _adam_step(self, x: np.ndarray, y: np.ndarray) -> None:
        s = self.state_
        width = x.shape[1]
        if s.adam_m is None:
            s.adam_m, s.adam_v = np.zeros(width + 1), np.zeros(width + 1)
        residual = sigmoid(x @ s.weights[0] + s.bias[0]) - y
        g = np.append(x.T @ residual, residual.sum()) / len(y)
        s.adam_t += 1
        alpha = self.learning_rate * np.sqrt(1 - _BETA_2**s.adam_t) / (1 - _BETA_1**s.adam_t)
        s.adam_m += (g - s.adam_m) * (1 - _BETA_1)
        s.adam_v += (g * g - s.adam_v) * (1 - _BETA_2)
        step = alpha * s.adam_m / (np.sqrt(s.adam_v) + _EPSILON)
        s.weights = s.weights - step[None, :-1]
        s.bias = s.bias - step[-1:]

    def _loss(self, theta: np.ndarray, x: np.ndarray, y: np.ndarray, share: np.ndarray) -> float:
        # `share`: each row's weight in the mean (1/n each, unless the fit was given weights).
        z = x @ theta
        return float(share @ (np.logaddexp(0.0, z) - y * z) + 0.5 * self.l2 * theta @ theta)

    def _newton(
        self,
        x: np.ndarray,
        y: np.ndarray,
        theta: np.ndarray,
        share: np.ndarray,
        tol: float = 1e-9,
        max_iter: int = 50,
    ) -> np.ndarray:
        theta = theta.copy()
        ridge = self.l2 * np.eye(x.shape[1])
        loss = self._loss(theta, x, y, share)
        for _ in range(max_iter):
            p = sigmoid(x @ theta)
            grad = x.T @ ((p - y) * share) + self.l2 * theta
            if np.max(np.abs(grad)) < tol:
                break
            hessian = (x * (p * (1 - p) * share)[:, None]).T @ x + ridge
            step = np.linalg.solve(hessian, grad)
            # Backtracking keeps Newton monotone when a warm start sits far from the optimum.
            t = 1.0
            while t > 1e-6:
                candidate = theta - t * step
                new_loss = self._loss(candidate, x, y, share)
                if new_loss <= loss:
                    break
                t *= 0.5
            theta, loss = candidate, new_loss
        return theta

    # The test Newton stops at: every component of the gradient under this.
    gradient_tol = 1e-9

    def max_gradient(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> float:
        """The largest |gradient| of the weighted fit's loss at the current head."""
        x = np.asarray(x, np.float64)
        share = _normalised_weights(sample_weight, len(y))
        theta = self.state_.weights[0]
        if self.fit_intercept:
            x = np.column_stack([x, np.ones(len(x))])
            theta = np.append(theta, self.state_.bias[0])
        residual = (sigmoid(x @ theta) - np.asarray(y, np.float64)) * share
        return float(np.abs(x.T @ residual + self.l2 * theta).max())

    def fit_gradients(
        self, x: np.ndarray, y: np.ndarray, ends: np.ndarray, weights: np.ndarray, bias: np.ndarray
    ) -> np.ndarray:
        """The largest |gradient| of the converged fit's loss at each of R recorded heads.

        Head r (`weights[r]`, (R, 1, width); `bias[r]`, (R, 1)) is scored on the first
        `ends[r]` rows of `x` and `y`. The loss is strictly convex (the L2 penalty), so a head
        whose gradient passes the test the fit stops at is the fit, whatever path led there.
        """
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        theta = np.asarray(weights, np.float64)[:, 0, :]
        if self.fit_intercept:
            x = np.column_stack([x, np.ones(len(x))])
            theta = np.column_stack([theta, np.asarray(bias, np.float64)[:, 0]])
        out = np.zeros(len(ends))
        for block in _round_blocks(ends, 1):
            end = ends[block]
            top = int(end.max())
            if top == 0:
                continue
            residual = _sigmoid_in_place(x[:top] @ theta[block].T)
            residual -= y[:top, None]
            _zero_beyond(residual, end)
            grad = (x[:top].T @ residual) / np.maximum(end, 1) + self.l2 * theta[block].T
            out[block] = np.abs(grad).max(axis=0)
        return out

    def adam_steps_from(
        self, x: np.ndarray, y: np.ndarray, ends: np.ndarray, before: HeadStates
    ) -> HeadStates:
        """The demo mode's fit of R rounds at once: each from its own state `before[r]`, on the
        first `ends[r]` rows (a round with no labels leaves its head as it was)."""
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        after = before.copy()
        for block in _round_blocks(ends, 1):
            end = ends[block]
            top = int(end.max())
            if top == 0:
                continue
            moves = end > 0
            s = after.take(block)
            for _ in range(self.adam_steps):
                # Keras' Adam, as `_adam_step`, one round per column.
                residual = sigmoid(x[:top] @ s.weights[:, 0, :].T + s.bias[:, 0]) - y[:top, None]
                _zero_beyond(residual, end)
                g = np.column_stack([(x[:top].T @ residual).T, residual.sum(axis=0)])
                g /= np.maximum(end, 1)[:, None]
                t = s.adam_t + moves
                alpha = (
                    self.learning_rate
                    * np.sqrt(1 - _BETA_2 ** np.maximum(t, 1))
                    / (1 - _BETA_1 ** np.maximum(t, 1))
                )
                m = s.adam_m + (g - s.adam_m) * (1 - _BETA_1)
                v = s.adam_v + (g * g - s.adam_v) * (1 - _BETA_2)
                step = alpha[:, None] * m / (np.sqrt(v) + _EPSILON)
                keep = ~moves[:, None]
                s = HeadStates(
                    np.where(keep[:, :, None], s.weights, s.weights - step[:, None, :-1]),
                    np.where(keep, s.bias, s.bias - step[:, -1:]),
                    np.where(keep, s.adam_m, m),
                    np.where(keep, s.adam_v, v),
                    t,
                )
            after.put(block, s)
        return after


# L-BFGS's correction pairs when nothing asks for more: scipy's own default (`maxcor`).
LBFGS_MEMORY = 10


class SoftmaxHead(_Head):
    """Multinomial logistic regression for K classes: `coef_` is K x width."""

    activation = "softmax"

    def __init__(
        self,
        n_classes: int,
        l2: float = 1e-3,
        fit_intercept: bool = True,
        tol: float = 1e-6,
        memory: int = LBFGS_MEMORY,
    ):
        if n_classes < 2:
            raise ValueError(f"a softmax head needs at least 2 classes, not {n_classes}")
        if not isinstance(memory, int) or isinstance(memory, bool) or not 1 <= memory <= 1_000:
            raise ValueError(f"L-BFGS keeps 1 to 1,000 correction pairs, not {memory!r}")
        super().__init__(l2, fit_intercept)
        self.n_classes = n_classes
        self.n_outputs = n_classes
        # On the gradient: 1e-6 leaves the weights within about 1e-3 of the optimum (the penalty
        # bounds the curvature from below), which moves no answer, at half the cost of 1e-9.
        self.tol = tol
        # L-BFGS's correction pairs (scipy's `maxcor`, 10 by default). More of them cost little
        # beside an evaluation of thousands of rows and save evaluations: the pool-taught fit
        # keeps 40 (`PoolTeacher.fit_memory`).
        self.memory = memory

    def clone(self) -> SoftmaxHead:
        return SoftmaxHead(self.n_classes, self.l2, self.fit_intercept, self.tol, self.memory)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, K) class probabilities."""
        return softmax(self.decision_function(x))

    def fit(
        self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> SoftmaxHead:
        """Retrain on all labels so far: `x` (n, width), `y` (n,) class indices 0..K-1;
        `sample_weight` as in `LogisticHead.fit`."""
        from scipy.optimize import minimize

        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.intp)
        self._ensure_width(x.shape[1])
        if len(y) == 0:
            return self
        n, width = x.shape
        share = (
            np.full(n, 1.0 / n) if sample_weight is None else _normalised_weights(sample_weight, n)
        )
        k = self.n_classes
        onehot = np.zeros((n, k))
        onehot[np.arange(n), y] = 1.0
        if self.fit_intercept:
            x = np.column_stack([x, np.ones(n)])
        cols = x.shape[1]

        def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
            theta = flat.reshape(k, cols)
            z = x @ theta.T
            z -= z.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(z).sum(axis=1))
            loss = share @ (log_norm - (z * onehot).sum(axis=1)) + 0.5 * self.l2 * flat @ flat
            p = np.exp(z - log_norm[:, None])
            grad = ((p - onehot) * share[:, None]).T @ x + self.l2 * theta
            return float(loss), grad.ravel()

        start = self.state_.weights
        if self.fit_intercept:
            start = np.column_stack([start, self.state_.bias])
        result = minimize(
            loss_and_grad,
            start.ravel(),
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": 1000,
                "gtol": self.tol,
                "ftol": self.tol * 1e-5,
                "maxcor": self.memory,
            },
        )
        theta = result.x.reshape(k, cols)
        if self.fit_intercept:
            self.state_.weights, self.state_.bias = theta[:, :-1].copy(), theta[:, -1].copy()
        else:
            self.state_.weights, self.state_.bias = theta, np.zeros(k)
        return self

    @property
    def gradient_tol(self) -> float:
        # L-BFGS-B stops when every component of its gradient is under `gtol`.
        return self.tol

    def max_gradient(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> float:
        """The largest |gradient| of the weighted fit's loss at the current head."""
        x = np.asarray(x, np.float64)
        share = _normalised_weights(sample_weight, len(y))
        theta = self.state_.weights
        if self.fit_intercept:
            x = np.column_stack([x, np.ones(len(x))])
            theta = np.column_stack([theta, self.state_.bias])
        p = softmax(x @ theta.T)
        p[np.arange(len(y)), np.asarray(y, np.intp)] -= 1.0
        return float(np.abs((p * share[:, None]).T @ x + self.l2 * theta).max())

    def fit_gradients(
        self, x: np.ndarray, y: np.ndarray, ends: np.ndarray, weights: np.ndarray, bias: np.ndarray
    ) -> np.ndarray:
        """As `LogisticHead.fit_gradients`, for K x width weights (`weights` is (R, K, width))."""
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.intp)
        theta = np.asarray(weights, np.float64)
        if self.fit_intercept:
            x = np.column_stack([x, np.ones(len(x))])
            theta = np.concatenate([theta, np.asarray(bias, np.float64)[:, :, None]], axis=2)
        k, cols = theta.shape[1:]
        out = np.zeros(len(ends))
        for block in _round_blocks(ends, k):
            end = ends[block]
            top, n_rounds = int(end.max()), len(end)
            if top == 0:
                continue
            z = (x[:top] @ theta[block].reshape(n_rounds * k, cols).T).reshape(top, n_rounds, k)
            residual = softmax(z.reshape(top * n_rounds, k)).reshape(top, n_rounds, k)
            residual[np.arange(top)[:, None], np.arange(n_rounds)[None, :], y[:top, None]] -= 1.0
            _zero_beyond(residual, end)
            grad = (x[:top].T @ residual.reshape(top, n_rounds * k)).reshape(cols, n_rounds, k)
            grad = grad.transpose(1, 2, 0) / np.maximum(end, 1)[:, None, None]
            grad += self.l2 * theta[block]
            out[block] = np.abs(grad).reshape(n_rounds, -1).max(axis=1)
        return out


def _normalised_weights(sample_weight: np.ndarray, n: int) -> np.ndarray:
    """Row weights as shares summing to 1, or a ValueError for the wrong length or sign."""
    weight = np.asarray(sample_weight, np.float64)
    if weight.shape != (n,) or not np.all(weight >= 0) or not weight.sum() > 0:
        raise ValueError(f"sample weights must be {n} numbers, 0 or more, not all 0")
    return weight / weight.sum()


def make_head(
    n_outputs: int,
    mode: str,
    fit_intercept: bool,
    l2: float | None = None,
    tol: float = 1e-6,
    memory: int = LBFGS_MEMORY,
) -> _Head:
    """The head for a task with `n_outputs` answers: logistic for 2, softmax for more.

    `fit_intercept` is False on a probability simplex (see above); the penalty defaults to
    `L2_SIMPLEX` there and `L2_FEATURES` elsewhere. `memory` is the softmax fit's L-BFGS
    correction pairs (the logistic head's Newton steps keep none).
    """
    if l2 is None:
        l2 = L2_FEATURES if fit_intercept else L2_SIMPLEX
    if n_outputs == 2:
        return LogisticHead(mode, l2=l2, fit_intercept=fit_intercept)
    if mode != "converge":
        raise ValueError(
            f"head mode {mode!r} is the binary demo's; a {n_outputs}-class head always converges"
        )
    return SoftmaxHead(n_outputs, l2=l2, fit_intercept=fit_intercept, tol=tol, memory=memory)


def build_keras_head(weights: np.ndarray, bias: np.ndarray, activation: str = "sigmoid"):
    """A Keras model `Input(width) -> Dense(outputs, activation)` holding these parameters."""
    # TensorFlow is loaded only when a Keras head is really asked for, and then without its
    # start-up lines that read as faults on a machine without a GPU.
    from tl_active import quiet_tensorflow  # noqa: F401

    # isort: split
    import keras

    weights = np.asarray(weights, np.float32)
    outputs, width = weights.shape
    inputs = keras.Input(shape=(width,), name="frozen_features")
    layer = keras.layers.Dense(outputs, activation=activation, name="head")
    model = keras.Model(inputs, layer(inputs), name=f"{activation}_head")
    layer.set_weights([weights.T, np.asarray(bias, np.float32).reshape(outputs)])
    return model


# Checking recorded fits: a session's rounds record the head after each fit, and reading them
# back each round is checked on its own (the labels so far and the round before it are all it
# depends on), many rounds at a time: one matrix product per block of rounds, not one fit each.
_BLOCK_NUMBERS = 4_000_000  # numbers in a block's labels x rounds x outputs array: 32 MB


def _round_blocks(ends: np.ndarray, per_round: int) -> list[slice]:
    """Consecutive rounds in blocks whose labels x rounds x `per_round` array stays small."""
    most = max(1, int(np.max(ends, initial=0)) * per_round)
    size = max(1, _BLOCK_NUMBERS // most)
    return [slice(start, start + size) for start in range(0, len(ends), size)]


def _sigmoid_in_place(z: np.ndarray) -> np.ndarray:
    # The checks' bulk: the logistic function of every label under every round of a block,
    # without the temporaries of `sigmoid` (exp overflows to inf, which gives exactly 0).
    np.negative(z, out=z)
    with np.errstate(over="ignore"):
        np.exp(z, out=z)
    z += 1.0
    return np.reciprocal(z, out=z)


def _zero_beyond(residual: np.ndarray, ends: np.ndarray) -> None:
    """Zero each round's column below its own labels (rows from `ends[r]` on)."""
    for r, end in enumerate(ends):
        residual[end:, r] = 0.0
