"""Fit the "not in the documents" model (src/ftzqa/abstain.py) on SQuAD *dev* articles.

    python bench/calibrate.py [--questions 60] [--false-abstain 0.03]

Positives: an article's questions asked of its own index (and of the pooled dev index).
Negatives: its questions asked of another article's index: the next article in the list
(a random topic) and the article whose centroid is nearest (a related topic, harder).
For each question the signals of the top passages are gathered exactly as
``Retriever._decide`` does; the model is p = sigmoid(bias + w . x) of the best of those
passages, fitted by maximum likelihood (scipy), and the threshold is the highest one that
keeps false abstention on the per-article positives within ``--false-abstain``.
Prints the line to paste into abstain.DEFAULT_MODEL; writes bench/results/calibrate.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SQUAD, Article, CachedEmbedder, dev_articles, load_squad, quiet, write_corpus, write_results  # noqa: E402

from ftzqa.abstain import DEFAULT_MODEL  # noqa: E402
from ftzqa.index import build  # noqa: E402
from ftzqa.retrieve import ABSTAIN_DEPTH, Retriever  # noqa: E402
from ftzqa.settings import Settings  # noqa: E402


def gather(retriever: Retriever, questions: list[str], mode: str = "hybrid") -> np.ndarray:
    """questions x ABSTAIN_DEPTH x n_signals, exactly as ``Retriever.search`` decides (NaN-padded)."""
    out = np.full((len(questions), ABSTAIN_DEPTH, len(SIGNALS)), np.nan)
    for i, question in enumerate(questions):
        for j, sig in enumerate(retriever.signals(question, mode)):
            out[i, j] = sig.as_list()
    return out


def best_logit(x: np.ndarray, bias: float, w: np.ndarray) -> np.ndarray:
    z = bias + np.nansum(x * w, axis=2)
    z[np.isnan(x[:, :, 0])] = -np.inf
    return z.max(axis=1)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> tuple[float, np.ndarray]:
    """Maximum likelihood of y ~ sigmoid(max_j bias + w . x_j), weighted to balance classes."""
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        bias, w = theta[0], theta[1:]
        z = bias + np.nansum(x * w, axis=2)
        z[np.isnan(x[:, :, 0])] = -np.inf
        j = z.argmax(axis=1)
        zb = z[np.arange(len(z)), j]
        xb = np.nan_to_num(x[np.arange(len(z)), j])
        p = 1 / (1 + np.exp(-zb))
        eps = 1e-12
        nll = -(weight * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))).mean()
        g = weight * (p - y) / len(y)
        grad = np.concatenate([[g.sum()], xb.T @ g]) + 2 * l2 * np.concatenate([[0.0], w])
        return float(nll + l2 * (w @ w)), grad

    theta0 = np.zeros(x.shape[2] + 1)
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    return float(res.x[0]), res.x[1:]


SIGNALS = ("cosine", "coverage", "unknown", "unknown_names")  # the order of abstain.Signals.as_list()
# signal subsets compared; the others get weight 0. `unknown` is left out of the chosen model:
# with it, the fit trades the tail of the positives (real questions often use words that a
# single article lacks) for confident negatives, and abstains less at the same false-abstain rate.
CANDIDATES = {
    "cosine+coverage+unknown": (0, 1, 2),
    "cosine+coverage": (0, 1),
    "cosine+coverage+unknown_names": (0, 1, 3),
}
CHOSEN = "cosine+coverage+unknown_names"


def calibrate(
    parts: dict[str, np.ndarray], cols: tuple[int, ...], false_abstain: float
) -> tuple[float, np.ndarray, float]:
    """Fit on all parts with the signals ``cols``; threshold from the per-article positives."""
    pos = np.concatenate([parts["article+"], parts["pooled+"]])[:, :, cols]
    neg = np.concatenate([parts["random-"], parts["near-"]])[:, :, cols]
    bias, w = fit(np.concatenate([pos, neg]), np.concatenate([np.ones(len(pos)), np.zeros(len(neg))]))
    weights = np.zeros(len(SIGNALS))
    weights[list(cols)] = w
    cut = float(np.quantile(best_logit(parts["article+"], bias, weights), false_abstain))
    return bias, weights, float(1 / (1 + np.exp(-cut)))


def abstention(x: np.ndarray, bias: float, w: np.ndarray, threshold: float) -> float:
    """Share of questions whose best passage has p(answered) below the threshold."""
    return float((1 / (1 + np.exp(-best_logit(x, bias, w))) < threshold).mean())


def centroid_neighbours(retrievers: list[Retriever]) -> list[int]:
    """For each article, the other article whose mean passage vector is most similar."""
    cents = np.stack([r.index.dense.vectors().mean(axis=0) for r in retrievers])
    cents /= np.linalg.norm(cents, axis=1, keepdims=True)
    sim = cents @ cents.T
    np.fill_diagonal(sim, -np.inf)
    return [int(i) for i in sim.argmax(axis=1)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=SQUAD)
    p.add_argument("--questions", type=int, default=60, help="questions per article (default: %(default)s)")
    p.add_argument("--articles", type=int, default=None, help="use only the first N dev articles")
    p.add_argument("--false-abstain", type=float, default=0.03, help="allowed on positives (default: %(default)s)")
    args = p.parse_args(argv)
    quiet()
    started = time.perf_counter()
    articles: list[Article] = dev_articles(load_squad(args.data))[: args.articles]
    embedder = CachedEmbedder()
    settings = Settings()
    gold = [[x.question for x in a.gold(args.questions, seed=1)] for a in articles]
    embedder.encode([q for qs in gold for q in qs])
    parts: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="ftzqa-calibrate-") as tmp:
        work = Path(tmp)
        corpus = write_corpus(articles, work / "pooled" / "corpus")
        build(corpus, work / "pooled" / "index", settings, embedder=embedder)
        pooled = Retriever.load(work / "pooled" / "index", embedder=embedder, settings=settings)
        parts["pooled+"] = gather(pooled, [q for qs in gold for q in qs])
        retrievers = []
        for i, art in enumerate(articles):
            folder = work / f"article-{i:03d}"
            build(write_corpus([art], folder / "corpus"), folder / "index", settings, embedder=embedder)
            retrievers.append(Retriever.load(folder / "index", embedder=embedder, settings=settings))
        near = centroid_neighbours(retrievers)
        own, rand, close = [], [], []
        for i, r in enumerate(retrievers):
            own.append(gather(r, gold[i]))
            rand.append(gather(r, gold[(i + 1) % len(articles)]))
            close.append(gather(r, gold[near[i]]))
        parts["article+"], parts["random-"], parts["near-"] = (np.concatenate(v) for v in (own, rand, close))
    embedder.save()
    current = (DEFAULT_MODEL.bias, np.array(DEFAULT_MODEL.weights), DEFAULT_MODEL.threshold)
    models = {"current": current}
    for name, cols in CANDIDATES.items():
        models[name] = calibrate(parts, cols, args.false_abstain)
    print(f"{len(articles)} dev articles, {args.questions} questions each; counts "
          + ", ".join(f"{k} {len(v)}" for k, v in parts.items()))
    print("abstention rate at the threshold (positives: wrongly abstained; negatives: rightly)")
    print(f"{'model':28s}" + "".join(f"{k:>10s}" for k in parts))
    table = {}
    for name, (b, w, t) in models.items():
        table[name] = {k: abstention(v, b, w, t) for k, v in parts.items()}
        print(f"{name:28s}" + "".join(f"{v:10.3f}" for v in table[name].values()))
    bias, w, threshold = models[CHOSEN]
    weights = ", ".join(f"{v:.3f}" for v in w)
    line = f"DEFAULT_MODEL = AbstainModel(bias={bias:.3f}, weights=({weights}), threshold={threshold:.3f})"
    print(f"\nchosen: {CHOSEN}; paste into src/ftzqa/abstain.py:\n{line}")
    seconds = round(time.perf_counter() - started, 1)
    print(f"({seconds} s)")
    write_results(
        "calibrate",
        {
            "articles": [a.title for a in articles],
            "questions_per_article": args.questions,
            "false_abstain_target": args.false_abstain,
            "models": {k: {"bias": b, "weights": list(w), "threshold": t} for k, (b, w, t) in models.items()},
            "chosen": CHOSEN,
            "abstention": table,
            "seconds": seconds,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
