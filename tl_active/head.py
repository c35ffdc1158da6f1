"""The sigmoid head: `Dense(1, sigmoid)` on the frozen CNN's 10 softmax outputs.

Its 10 weights are the classification-to-binary weights the app plots (one per digit); with
the bias they are the only parameters that learn. They start at zero, so every p starts at 0.5.

The head is 11 numbers, so it is trained here in NumPy rather than through `model.fit`, which
costs about 0.9 s a call on this machine before doing any work. Two ways to train it after a
round, both on all labels so far:

- `"converge"` (the default): fit to convergence, by Newton's method warm-started from the last
  weights, minimising mean binary cross-entropy plus a small L2 penalty on the weights. The
  penalty keeps the fit finite when the labels so far are separable or all of one class. The
  bias stays at 0: the softmax outputs sum to 1, so a bias is the same as adding it to all ten
  weights, and it adds nothing the weights cannot say. Held at 0, it lets a digit nobody has
  labelled keep weight 0 and p = 0.5, "not known yet"; a fitted bias would hand such a digit the
  balance of the labels so far, and uncertainty sampling would look past it.
- `"demo"`: the odd-number demo's way, a fixed number of Adam steps at learning rate 0.1 (one
  step per round, as one epoch of at most 128 labels is one step). Adam's moments carry over from
  round to round, as they did in the demo's compiled Keras model. The update is Keras' own Adam
  formula; a marked test checks it against a real Keras `Dense(1, sigmoid)` step for step.

`to_keras` turns the learned head into a real Keras model, for export.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HEAD_MODES = ("converge", "demo")
N_INPUTS = 10

# Keras' Adam defaults, so that the demo mode reproduces a Keras head exactly.
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7


def sigmoid(z: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warnings for large |z|.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass
class HeadState:
    """Everything the head has learned, including Adam's moments for the demo mode."""

    weights: np.ndarray = field(default_factory=lambda: np.zeros(N_INPUTS))
    bias: float = 0.0
    adam_m: np.ndarray = field(default_factory=lambda: np.zeros(N_INPUTS + 1))
    adam_v: np.ndarray = field(default_factory=lambda: np.zeros(N_INPUTS + 1))
    adam_t: int = 0

    def copy(self) -> HeadState:
        return HeadState(
            self.weights.copy(),
            float(self.bias),
            self.adam_m.copy(),
            self.adam_v.copy(),
            self.adam_t,
        )


class SigmoidHead:
    """Logistic regression on the 10 softmax outputs, in the scikit-learn style.

    `__init__` stores the settings; `fit` learns from all labels so far and returns `self`;
    `weights_` and `bias_` are what it learned.
    """

    def __init__(
        self,
        mode: str = "converge",
        l2: float = 1e-3,
        adam_steps: int = 1,
        learning_rate: float = 0.1,
    ):
        if mode not in HEAD_MODES:
            raise ValueError(f"unknown head mode {mode!r}; choose one of {', '.join(HEAD_MODES)}")
        self.mode = mode
        self.l2 = l2
        self.adam_steps = adam_steps
        self.learning_rate = learning_rate
        self.state_ = HeadState()

    @property
    def weights_(self) -> np.ndarray:
        return self.state_.weights

    @property
    def bias_(self) -> float:
        return self.state_.bias

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        # Scoring the pool in the features' own precision avoids a 60,000-row float64 copy.
        weights = (
            self.state_.weights.astype(x.dtype) if x.dtype == np.float32 else self.state_.weights
        )
        return x @ weights + self.state_.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """p(positive) for each row of softmax outputs."""
        return sigmoid(self.decision_function(x))

    def fit(self, x: np.ndarray, y: np.ndarray) -> SigmoidHead:
        """Retrain on all labels so far: `x` (n, 10) softmax outputs, `y` (n,) 0/1."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if len(y) == 0:
            return self
        if self.mode == "demo":
            for _ in range(self.adam_steps):
                self._adam_step(x, y)
        else:
            self._newton(x, y)
        return self

    def _gradient(self, x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
        residual = self.predict_proba(x) - y
        theta = np.append(self.state_.weights, self.state_.bias)
        return np.append(x.T @ residual, residual.sum()) / len(y) + l2 * theta

    def _adam_step(self, x: np.ndarray, y: np.ndarray) -> None:
        s = self.state_
        g = self._gradient(x, y, l2=0.0)
        s.adam_t += 1
        alpha = self.learning_rate * np.sqrt(1 - _BETA_2**s.adam_t) / (1 - _BETA_1**s.adam_t)
        s.adam_m += (g - s.adam_m) * (1 - _BETA_1)
        s.adam_v += (g * g - s.adam_v) * (1 - _BETA_2)
        step = alpha * s.adam_m / (np.sqrt(s.adam_v) + _EPSILON)
        s.weights = s.weights - step[:-1]
        s.bias = float(s.bias - step[-1])

    def _loss(self, weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
        z = x @ weights
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * self.l2 * weights @ weights)

    def _newton(self, x: np.ndarray, y: np.ndarray, tol: float = 1e-9, max_iter: int = 50) -> None:
        weights = self.state_.weights.copy()
        ridge = self.l2 * np.eye(N_INPUTS)
        loss = self._loss(weights, x, y)
        for _ in range(max_iter):
            p = sigmoid(x @ weights)
            grad = x.T @ (p - y) / len(y) + self.l2 * weights
            if np.max(np.abs(grad)) < tol:
                break
            hessian = (x * (p * (1 - p))[:, None]).T @ x / len(y) + ridge
            step = np.linalg.solve(hessian, grad)
            # Backtracking keeps Newton monotone when a warm start sits far from the optimum.
            t = 1.0
            while t > 1e-6:
                candidate = weights - t * step
                new_loss = self._loss(candidate, x, y)
                if new_loss <= loss:
                    break
                t *= 0.5
            weights, loss = candidate, new_loss
        self.state_.weights = weights
        self.state_.bias = 0.0

    def to_keras(self):
        """The learned head as a real Keras `Dense(1, sigmoid)` model on 10 inputs."""
        return build_keras_head(self.state_.weights, self.state_.bias)


def build_keras_head(weights: np.ndarray, bias: float):
    """A Keras model `Input(10) -> Dense(1, sigmoid)` holding the given weights and bias."""
    import keras  # TensorFlow is loaded only when a Keras head is really asked for.

    inputs = keras.Input(shape=(N_INPUTS,), name="digit_probabilities")
    outputs = keras.layers.Dense(1, activation="sigmoid", name="classification_to_binary")(inputs)
    model = keras.Model(inputs, outputs, name="sigmoid_head")
    model.get_layer("classification_to_binary").set_weights(
        [np.asarray(weights, np.float32).reshape(N_INPUTS, 1), np.array([bias], np.float32)]
    )
    return model
