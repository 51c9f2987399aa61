"""Second-order training: Hessian-free optimisation (Martens, ICML 2010) and, for small
networks, the book's literal Hessian technique, w <- w - H^-1 grad C.

Each step takes one mini-batch and minimises the quadratic model of the cost there,

    C(w + d) ~ C(w) + grad C . d + 1/2 d^T B d,

B the Gauss-Newton matrix G (Hessian-free) or the Hessian H ("newton"), by solving
(B + lambda I) d = -grad C: by truncated conjugate gradient on exact G-products over
a curvature sub-batch, never forming G, warm-started from the previous step's
direction; or, for "newton", by a Cholesky factorisation of the explicit H + lambda I,
lambda raised until it is positive definite so that d is a descent direction. The
damping lambda follows Levenberg-Marquardt: the ratio rho of the cost's actual to the
model's predicted reduction shrinks lambda when the model was trusted (rho > 3/4) and
grows it when not (rho < 1/4). A backtracking line search then takes the longest step
alpha d, alpha in 1, 0.8, 0.64, ..., that reduces the cost by a fraction of what the
slope promises (Armijo), or none.

The cost is total_cost's over the whole training set, whose L2 term is
(lmbda / 2n) sum w^2 with n its size; on a mini-batch of m samples it is the batch's
mean cost plus that same term.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence, Union, cast

import numpy as np

from nnfast import _progress, curvature
from nnfast.checks import Samples, check_int, check_real
from nnfast.maths import one_hot
from nnfast.training import History, Monitor, check_threads

METHODS = ("hessian-free", "newton")
# Martens (2010): the warm start's decay, CG's relative-progress test, and the
# Levenberg-Marquardt factors.
WARM_START = 0.95
CG_PROGRESS = 5e-4
DAMPING_DOWN, DAMPING_UP = 2 / 3, 3 / 2
# The line search: Armijo's fraction of the promised decrease, the step's shrink, and
# the shortest step tried before giving up on the direction.
ARMIJO = 1e-2
BACKTRACK = 0.8
MIN_STEP = 0.8 ** 20


class HessianFreeConfig:
    """The hyper-parameters of a run, validated when made: epochs, mini_batch_size,
    lmbda (L2), damping (lambda's start, > 0), cg_iterations (the most per step),
    curvature_batch_size (the samples of each mini-batch that the curvature products
    average over; None: a quarter of it), method and n_threads."""

    def __init__(self, epochs: int, mini_batch_size: int, lmbda: float = 0.0,
                 damping: float = 0.1, cg_iterations: int = 50,
                 curvature_batch_size: Optional[int] = None, method: str = "hessian-free",
                 n_threads: Optional[int] = None) -> None:
        self.epochs = check_int(epochs, "epochs", minimum=1)
        self.mini_batch_size = check_int(mini_batch_size, "mini_batch_size", minimum=1)
        self.lmbda = check_real(lmbda, "lmbda", minimum=0.0)
        self.damping = check_real(damping, "damping", minimum=0.0, strict=True)
        self.cg_iterations = check_int(cg_iterations, "cg_iterations", minimum=1)
        self.curvature_batch_size = (
            max(1, self.mini_batch_size // 4) if curvature_batch_size is None
            else check_int(curvature_batch_size, "curvature_batch_size", minimum=1))
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.n_threads = check_threads(n_threads)


class HessianFree:
    """One run of second-order training on a network (held by the caller)."""

    def __init__(self, network: Any, training: Samples, config: HessianFreeConfig):
        curvature.check_supported(network)  # before the run draws from its generator
        self.net, self.training, self.config = network, training, config
        self.n = len(training.X)
        self.P = curvature.parameter_count(network)
        if config.method == "newton" and self.P > curvature.MAX_HESSIAN_PARAMETERS:
            raise ValueError(f"method='newton' forms the Hessian, {self.P:,} x {self.P:,} "
                             f"values here ({self.P**2 * 8 / 2**30:,.1f} GiB); it is for "
                             f"networks of at most {curvature.MAX_HESSIAN_PARAMETERS:,} "
                             "parameters: use method='hessian-free'")
        self.damping = config.damping
        self.direction = np.zeros(self.P)

    def run(self, monitors: Sequence[Monitor], progress: Optional[Callable[[int, int, int], Any]]
            ) -> History:
        history = History()
        m = min(self.config.mini_batch_size, self.n)
        for epoch in range(self.config.epochs):
            order = self.net._rng.permutation(self.n)
            for start in range(0, self.n, m):
                self.step(order[start:start + m], epoch)
                if progress is not None:
                    progress(epoch, min(start + m, self.n), self.n)
            stop = False
            for monitor in monitors:
                stop = monitor.after_epoch(epoch, self.net, self.training, history) or stop
            if stop:
                break
        return history

    # ---- one step ----

    def step(self, rows: np.ndarray, epoch: int) -> None:
        """A damped second-order step on the mini-batch `rows`."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        start = self.theta()
        try:
            self.try_step(rows, start, epoch)
        except BaseException:  # Ctrl-C or divergence: the network as the step found it
            self.put_theta(start)
            raise

    def try_step(self, rows: np.ndarray, start: np.ndarray, epoch: int) -> None:
        cfg = self.config
        curvature_rows = rows[:cfg.curvature_batch_size]
        cost = self.cost(rows)
        grad = self.curvature_call(rows, None, gradient=True)
        if cfg.method == "newton":
            d, model = self.newton_direction(rows, grad)
        else:
            d, model = self.cg_direction(curvature_rows, grad)
            if grad @ d >= 0 and self.direction.any():
                # CG stopped before leaving a warm start that points uphill; from zero its
                # every iterate has grad.d < 0.
                self.direction = np.zeros(self.P)
                d, model = self.cg_direction(curvature_rows, grad)
            self.direction = d
        slope = float(grad @ d)
        alpha, new_cost = 1.0, math.inf
        while alpha >= MIN_STEP:
            self.set_theta(start + alpha * d, epoch)
            new_cost = self.cost(rows)
            if new_cost <= cost + ARMIJO * alpha * slope:
                break
            alpha *= BACKTRACK
        else:
            self.put_theta(start)  # no step: the direction was not trusted
            alpha = 0.0
        # Levenberg-Marquardt on the full step's ratio: the model predicted
        # model = grad.d + 1/2 d.Bd, the cost changed by (new - old).
        rho = (new_cost - cost) / model if alpha == 1.0 and model < 0 else 0.0
        if rho > 3 / 4:
            self.damping *= DAMPING_DOWN
        elif rho < 1 / 4:
            self.damping *= DAMPING_UP

    def set_theta(self, value: np.ndarray, epoch: int) -> None:
        if not np.isfinite(value).all():
            raise FloatingPointError(
                f"Hessian-free training diverged in epoch {epoch}: a step left the weights "
                "non-finite; they are back to those before it (try a larger damping)")
        self.put_theta(value)

    def theta(self) -> np.ndarray:
        """The weights and biases in parameter order, in float64."""
        return self.net._packed_parameters(velocities=False).astype(np.float64)

    def put_theta(self, value: np.ndarray) -> None:
        """The network's weights and biases from a vector in parameter order."""
        self.net._unpack_parameters(value, velocities=False)

    def lmbda_for(self, rows: np.ndarray) -> float:
        """The engine's lmbda for a batch of these rows: it divides by the batch's size,
        the training set's L2 term divides by n."""
        return self.config.lmbda * len(rows) / self.n

    def curvature_call(self, rows: np.ndarray, v: Optional[np.ndarray], gradient: bool = False,
                       matrix: str = "gauss-newton") -> np.ndarray:
        g, product = curvature.run(self.net, self.training, rows, matrix,
                                   None if v is None else v.astype(self.net.dtype),
                                   self.lmbda_for(rows), gradient, self.config.n_threads)
        return cast(np.ndarray, g if gradient else product).astype(np.float64)

    def cost(self, rows: np.ndarray) -> float:
        """The training objective on the mini-batch: its mean cost plus the whole
        set's L2 term."""
        X, labels = self.training
        a = self.net._forward(X[rows], self.config.n_threads).astype(np.float64)
        y = one_hot(labels[rows], a.shape[1])
        weights = sum(float(np.square(w, dtype=np.float64).sum()) for w in self.net._w)
        penalty = 0.5 * self.config.lmbda / self.n * weights
        return float(self.net.cost.fn(a, y)) / len(rows) + penalty

    # ---- directions ----

    def cg_direction(self, rows: np.ndarray, grad: np.ndarray):
        """Truncated CG on (G + lambda I) d = -grad from the decayed previous direction,
        stopped after cg_iterations or when the quadratic's value phi(d) = 1/2 d.Ad + grad.d
        improved by less than CG_PROGRESS of itself per iteration over the last k = max(10,
        i/10) (Martens' test). Returns d and the undamped model's change grad.d + 1/2 d.Gd."""
        lam = self.damping

        def A(p):
            return self.curvature_call(rows, p) + lam * p

        d = WARM_START * self.direction
        Ad = A(d) if d.any() else np.zeros_like(d)
        r = -grad - Ad
        p = r.copy()
        rr = float(r @ r)
        phis = [0.5 * float(d @ Ad) + float(grad @ d)]
        for i in range(1, self.config.cg_iterations + 1):
            if rr == 0:
                break
            Ap = A(p)
            curv = float(p @ Ap)
            if curv <= 0:  # G + lambda I is positive definite; only rounding gets here
                break
            step = rr / curv
            d += step * p
            Ad += step * Ap
            r -= step * Ap
            rr_new = float(r @ r)
            p = r + (rr_new / rr) * p
            rr = rr_new
            phis.append(0.5 * float(d @ Ad) + float(grad @ d))
            k = max(10, i // 10)
            if i > k and phis[-1] < 0 and (phis[-1] - phis[-1 - k]) / phis[-1] < k * CG_PROGRESS:
                break
        undamped = float(d @ Ad) - lam * float(d @ d)
        return d, float(grad @ d) + 0.5 * undamped

    def newton_direction(self, rows: np.ndarray, grad: np.ndarray):
        """d = -(H + lambda I)^-1 grad with the explicit Hessian of the mini-batch,
        lambda doubled until H + lambda I is positive definite (so that grad.d < 0)."""
        H = curvature.hessian_of(self.net, self.training, rows, self.lmbda_for(rows),
                                 self.config.n_threads).astype(np.float64)
        H = 0.5 * (H + H.T)
        eye = np.eye(self.P)
        while True:
            try:
                factor = np.linalg.cholesky(H + self.damping * eye)
                break
            except np.linalg.LinAlgError:
                self.damping *= 2
        d = -np.linalg.solve(factor.T, np.linalg.solve(factor, grad))
        return d, float(grad @ d) + 0.5 * float(d @ H @ d)


def train(network: Any, training: Samples, config: HessianFreeConfig,
          monitors: Sequence[Monitor] = (),
          progress: Union[None, bool, Callable[[int, int, int], Any]] = None) -> History:
    """Run `config` on the network, held for the whole run; a progress bar per epoch as
    SGD draws it. Ctrl-C stops the run between the engine's calls and leaves the
    network as the interrupted step found it."""
    with _progress.reporting(progress, config.epochs) as report, \
            network.exclusive("hessian_free"):
        return HessianFree(network, training, config).run(monitors, report)
