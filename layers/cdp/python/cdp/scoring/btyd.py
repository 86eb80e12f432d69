"""Buy-till-you-die models of future purchases, and Gamma-Gamma for spend, fitted by maximum likelihood (SciPy).

Each customer is summarised as BTYD models expect (``Summary``): ``x`` repeat purchase days (days with a purchase
after the first), ``t_x`` the day of the last purchase and ``T`` the day of the cut-off, both counted from the first
purchase. While "alive", a customer buys at a rate λ ~ Gamma(r, α), so that purchase days are Poisson; customers
differ in both how often they buy and how long they stay.

- **BG/NBD** (Fader, Hardie and Lee, "Counting your customers the easy way", Marketing Science 24(2), 2005): after
  each purchase, a customer drops out with probability p ~ Beta(a, b).
- **MBG/NBD** (Batislam, Denizel and Filiztekin, IJRM 24(3), 2007): the same, but a customer may also drop out
  right after the first purchase, so that one-time buyers are not all assumed alive.
- **Pareto/NBD** (Schmittlein, Morrison and Colombo, Management Science 33(1), 1987): lifetimes are exponential,
  with a dropout rate μ ~ Gamma(s, β). Its likelihood follows Fader, Hardie and Lee's note "A note on deriving the
  Pareto/NBD model and related expressions" (2005), with the Gauss hypergeometric function.
- **Covariates** (Fader and Hardie, "Incorporating time-invariant covariates into the Pareto/NBD and BG/NBD
  models", 2007): the purchase rate's scale depends on a customer's standardised covariates z, α_i = α·exp(−γ·z),
  so that a customer with a larger γ·z buys more often.
- **Gamma-Gamma** (Fader, Hardie and Lee, "RFM and CLV: using iso-value curves for customer base analysis", JMR 42(4),
  2005): a customer's spend per purchase day is Gamma(p, ν) around their own mean, with ν ~ Gamma(q, v); the
  expected spend shrinks the customer's observed mean towards the population's, more so with fewer purchases.

Parameters are fitted on the log scale with L-BFGS-B; a and q are kept above 1, where the expectations are finite.
Every function takes and returns NumPy arrays, one value per customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1, logsumexp

MODELS = ("bg_nbd", "mbg_nbd", "pareto_nbd")
_PARAMETERS = {"bg_nbd": ("r", "alpha", "a", "b"), "mbg_nbd": ("r", "alpha", "a", "b"),
               "pareto_nbd": ("r", "alpha", "s", "beta")}
_ABOVE_ONE = {"a"}  # fitted as 1 + exp(θ)


@dataclass(frozen=True)
class Summary:
    x: np.ndarray  # repeat purchase days
    t_x: np.ndarray  # days from the first purchase to the last
    T: np.ndarray  # days from the first purchase to the cut-off
    z: np.ndarray  # standardised covariates, one row per customer (zero columns without covariates)

    def __len__(self) -> int:
        return len(self.x)


def _unpack(model: str, theta: np.ndarray) -> dict[str, float]:
    names = _PARAMETERS[model]
    values = np.exp(theta[: len(names)])
    return {name: float(1 + value if name in _ABOVE_ONE else value) for name, value in zip(names, values,
                                                                                            strict=True)}


def _alpha(params: dict[str, float], gamma: np.ndarray, z: np.ndarray) -> np.ndarray:
    return params["alpha"] * np.exp(-(z @ gamma)) if len(gamma) else np.full(len(z), params["alpha"])


def log_likelihood(model: str, params: dict[str, float], gamma: np.ndarray, data: Summary) -> np.ndarray:
    """Each customer's log-likelihood of their (x, t_x, T) under the model."""
    x, t_x, T = data.x, data.t_x, data.T
    r, alpha = params["r"], _alpha(params, gamma, data.z)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    if model == "bg_nbd":
        a, b = params["a"], params["b"]
        stay = betaln(a, b + x) - betaln(a, b) + common - (r + x) * np.log(alpha + T)
        repeat = np.maximum(x, 1)  # the second term exists only for customers who bought again
        leave = betaln(a + 1, b + repeat - 1) - betaln(a, b) + common - (r + x) * np.log(alpha + t_x)
        return np.logaddexp(stay, np.where(x > 0, leave, -np.inf))
    if model == "mbg_nbd":
        a, b = params["a"], params["b"]
        stay = betaln(a, b + x + 1) - betaln(a, b) + common - (r + x) * np.log(alpha + T)
        leave = betaln(a + 1, b + x) - betaln(a, b) + common - (r + x) * np.log(alpha + t_x)
        return np.logaddexp(stay, leave)
    s, beta = params["s"], params["beta"]
    head = common + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    return head + np.logaddexp(alive, np.log(s) + _pareto_log_a0(r, alpha, s, beta, x, t_x, T) - np.log(r + s + x))


def _pareto_log_a0(r: float, alpha: np.ndarray, s: float, beta: float, x: np.ndarray, t_x: np.ndarray,
                   T: np.ndarray) -> np.ndarray:
    """log A0 of the Pareto/NBD likelihood, by the branch that keeps the hypergeometric argument below 1."""
    alpha_smaller = alpha < beta
    low, high = np.minimum(alpha, beta), np.maximum(alpha, beta)
    second = np.where(alpha_smaller, r + x, s + 1)
    rsx = r + s + x
    p1 = hyp2f1(rsx, second, rsx + 1, (high - low) / (high + t_x))
    p2 = hyp2f1(rsx, second, rsx + 1, (high - low) / (high + T))
    q1, q2 = high + t_x, high + T
    terms = np.stack([np.log(p1) + rsx * np.log(q2), np.log(p2) + rsx * np.log(q1)])
    signs = np.stack([np.ones_like(x, dtype=float), -np.ones_like(x, dtype=float)])
    value = logsumexp(terms, axis=0, b=signs)
    return value - rsx * np.log(q1 * q2)


def fit(model: str, data: Summary, penalty: float = 1e-3) -> dict[str, Any]:
    """Maximum likelihood estimates of the model's parameters (and of γ when ``data.z`` has columns)."""
    names, covariates = _PARAMETERS[model], data.z.shape[1]
    start = np.zeros(len(names) + covariates)
    scale = float(max(np.mean(data.T), 1.0))
    for i, name in enumerate(names):
        if name in ("alpha", "beta"):
            start[i] = np.log(scale)

    def loss(theta: np.ndarray) -> float:
        params, gamma = _unpack(model, theta), theta[len(names):]
        value = -np.mean(log_likelihood(model, params, gamma, data))
        # A light ridge on the log parameters keeps flat directions (a customer base with few repeat buyers) finite.
        value += penalty * float(np.sum(theta[: len(names)] ** 2) / len(names) + np.sum(gamma ** 2))
        return value if np.isfinite(value) else 1e12

    result = minimize(loss, start, method="L-BFGS-B", bounds=[(-12, 12)] * len(start))
    params = _unpack(model, result.x)
    return {"model": model, "params": params, "gamma": [float(g) for g in result.x[len(names):]],
            "log_likelihood": float(-result.fun * len(data)), "converged": bool(result.success)}


def expected_purchases(fitted: dict[str, Any], data: Summary, horizon: float) -> np.ndarray:
    """Expected purchase days in the ``horizon`` days after the cut-off, given each customer's history."""
    model, params, gamma = fitted["model"], fitted["params"], np.asarray(fitted["gamma"])
    x, T = data.x, data.T
    r, alpha = params["r"], _alpha(params, gamma, data.z)
    if model in ("bg_nbd", "mbg_nbd"):
        a, b = params["a"], params["b"]
        shift = 0 if model == "mbg_nbd" else 1  # MBG/NBD's b + x against BG/NBD's b + x - 1
        share = (alpha + T) / (alpha + T + horizon)
        series = hyp2f1(r + x, b + x + 1 - shift, a + b + x - shift, horizon / (alpha + T + horizon))
        top = (a + b + x - shift) / (a - 1) * (1 - share ** (r + x) * series)
        return top * probability_alive(fitted, data)
    s, beta = params["s"], params["beta"]
    ll = log_likelihood(model, params, gamma, data)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) - (r + x) * np.log(alpha + T) \
        - s * np.log(beta + T)
    rate = np.log(r + x) + np.log(beta + T) - np.log(alpha + T)
    if abs(s - 1) < 1e-9:
        span = np.log(np.log((beta + T + horizon) / (beta + T)))
    else:
        span = np.log((1 - ((beta + T) / (beta + T + horizon)) ** (s - 1)) / (s - 1))
    return np.exp(head + rate + span - ll)


def probability_alive(fitted: dict[str, Any], data: Summary) -> np.ndarray:
    """The probability that each customer is still a customer at the cut-off."""
    model, params, gamma = fitted["model"], fitted["params"], np.asarray(fitted["gamma"])
    x, t_x, T = data.x, data.t_x, data.T
    r, alpha = params["r"], _alpha(params, gamma, data.z)
    if model == "bg_nbd":
        a, b = params["a"], params["b"]
        odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
        return 1 / (1 + odds)
    if model == "mbg_nbd":
        a, b = params["a"], params["b"]
        return 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    s, beta = params["s"], params["beta"]
    ll = log_likelihood(model, params, gamma, data)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) - (r + x) * np.log(alpha + T) \
        - s * np.log(beta + T)
    return np.clip(np.exp(head - ll), 0.0, 1.0)


def fit_gamma_gamma(x: np.ndarray, mean_spend: np.ndarray, penalty: float = 1e-3) -> dict[str, float]:
    """Gamma-Gamma's p, q, v from repeat buyers' purchase-day counts and mean spend (x > 0, spend > 0)."""
    keep = (x > 0) & (mean_spend > 0)
    x, m = x[keep].astype(float), mean_spend[keep].astype(float)
    if len(x) < 10:
        raise ValueError(f"Gamma-Gamma needs repeat buyers with a spend to fit on; found {len(x)}")

    def loss(theta: np.ndarray) -> float:
        p, q, v = np.exp(theta[0]), 1 + np.exp(theta[1]), np.exp(theta[2])
        px = p * x
        ll = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + (px - 1) * np.log(m) + px * np.log(x) \
            - (px + q) * np.log(x * m + v)
        value = -np.mean(ll) + penalty * float(np.sum(theta ** 2))
        return value if np.isfinite(value) else 1e12

    start = np.array([0.0, 0.0, np.log(float(np.mean(m)))])
    result = minimize(loss, start, method="L-BFGS-B", bounds=[(-12, 12)] * 3)
    return {"p": float(np.exp(result.x[0])), "q": float(1 + np.exp(result.x[1])), "v": float(np.exp(result.x[2]))}


def expected_spend(params: dict[str, float], x: np.ndarray, mean_spend: np.ndarray) -> np.ndarray:
    """Expected spend per purchase day: the customer's mean, shrunk towards the population's (all they have when
    they have not bought again)."""
    p, q, v = params["p"], params["q"], params["v"]
    observed = np.where((x > 0) & np.isfinite(mean_spend), mean_spend, 0.0)
    return p * (v + x * observed) / (p * x + q - 1)
