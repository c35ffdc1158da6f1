"""Our strategies beside a peer library's, every selection judged by the same head.

The peer is scikit-activeml 1.0.1 (a bench extra, `requirements-bench.txt`, never a run-time
dependency): its TypiClust, MaxHerding, CoreSet, ProbCover (its radius chosen from the data:
the candidate radii are quantiles of the pool's pairwise distances, not its 0.2 to 2.0
default, which collapsed to one class) and margin sampling (with its own logistic regression
on standardised features, as a user of the library would run it). Ours run through
`compare.run_comparison`, the labelling session itself.

Every selection is judged by the same head: after each round, the picks so far are labelled
with the ground truth and OUR head (`make_head`, as the session makes and refits it, warm-started
round after round) is fitted on them; the figure is its test accuracy. So the head is not what
differs: the table compares selections. The three tasks: odd/even on the shipped CNN's 10
softmax outputs, digits 0-4 on the 128-wide embedding of the network trained on 5-9 only, and
an image folder of three classes (MNIST's test digits 0, 1 and 2 written as PNG files, read
through the same 5-9 network: the path a person's own images take). MaxHerding and ProbCover build an n x n matrix
(60,000^2 floats are 29 GB), so they run on a seeded 8,000-image slice of the pool (another
slice per seed); the others see the whole pool.

With `--head pool` every selection, ours and the peers', is judged by the pool-taught head
instead (`core/pool_teacher.py`: the same linear head, fitted on the labels plus the
pseudo-labels they spread to over the pool's neighbour graph), so the comparison is still of
selections.

    python bench/bench_peers.py [--seeds 3] [--budgets 10,20,50] [--head plain|pool]
    make bench-peers
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tl_active.core.head import make_head  # noqa: E402
from tl_active.core.metrics import task_metrics  # noqa: E402
from tl_active.core.task import MULTICLASS, Task  # noqa: E402
from tl_active.data.features import FeatureSet, TaskData, load_features  # noqa: E402
from tl_active.experiments.compare import run_comparison  # noqa: E402
from tl_active.sessions.records import HEADS, PLAIN_HEAD  # noqa: E402
from tl_active.sessions.session import oracle_session  # noqa: E402

OURS = [
    "diversity",
    "phased",
    "maxherding",
    "margin",
    "typiclust",
    "probcover",
    "kcenter",
    "badge",
    "random",
]
PEERS = ["TypiClust", "MaxHerding", "margin", "CoreSet", "ProbCover"]
ON_A_SLICE = {"MaxHerding", "ProbCover"}  # their n x n matrices do not fit the whole pool
SLICE = 8_000
BATCH = 5
TASKS = {
    "odd/even, mnist-cnn / digits": ("mnist-cnn", "digits", lambda: Task.binary("odd")),
    "0-4, mnist-cnn-5to9 / embedding": (
        "mnist-cnn-5to9",
        "embedding",
        lambda: Task.multiclass("0-4"),
    ),
}


FOLDER = "three classes, a folder of MNIST test digits 0-2 / mnist-cnn-5to9 / embedding"
FOLDER_DIGITS = (0, 1, 2)


def digit_folder(root: Path) -> Path:
    """A folder of class folders 0, 1 and 2 holding MNIST's test digits as PNG files."""
    from PIL import Image

    from tl_active.data.mnist import load_raw

    arrays = load_raw(ROOT / "data" / "mnist.npz")
    for digit in FOLDER_DIGITS:
        folder = root / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(arrays["y_test"] == digit):
            path = folder / f"{i:05d}.png"
            if not path.exists():
                Image.fromarray(arrays["x_test"][i]).save(path)
    return root


def task_features(title: str, folder_root: Path) -> tuple[FeatureSet, Task]:
    """The cached features and the question of one of the bench's tasks."""
    if title == FOLDER:
        from tl_active.data.folder_features import load_folder_features

        features = load_folder_features(digit_folder(folder_root), "mnist-cnn-5to9", "embedding")
        return features, Task(MULTICLASS, tuple(range(len(features.class_names))))
    backbone, layer, make_task = TASKS[title]
    return load_features(backbone, layer), make_task()


def peer_strategy(name: str, seed: int, n_classes: int, pool: np.ndarray):
    """The peer's query strategy `name`, seeded, and the keyword arguments its query needs."""
    from skactiveml import pool as peer

    if name == "TypiClust":
        return peer.TypiClust(random_state=seed), {}
    if name == "MaxHerding":
        return peer.MaxHerding(random_state=seed), {}
    if name == "CoreSet":
        return peer.CoreSet(random_state=seed), {}
    if name == "ProbCover":
        return peer.ProbCover(
            n_classes=n_classes, deltas=radii_from_the_data(pool, seed), random_state=seed
        ), {}
    if name == "margin":
        from skactiveml.classifier import SklearnClassifier
        from sklearn.linear_model import LogisticRegression

        clf = SklearnClassifier(
            LogisticRegression(max_iter=1_000), classes=np.arange(n_classes), random_state=seed
        )
        return peer.UncertaintySampling(method="margin_sampling", random_state=seed), {"clf": clf}
    raise ValueError(f"no peer strategy {name!r}")


def radii_from_the_data(pool: np.ndarray, seed: int) -> np.ndarray:
    """Candidate ProbCover radii: 30 quantiles (0.5 % to 30 %) of 1,000 images' distances."""
    from scipy.spatial.distance import pdist

    sample = pool[np.random.default_rng(seed).choice(len(pool), min(1_000, len(pool)), False)]
    return np.quantile(pdist(sample), np.linspace(0.005, 0.3, 30))


def peer_run(
    features: FeatureSet,
    data: TaskData,
    name: str,
    seed: int,
    budgets: list[int],
    head_kind: str = PLAIN_HEAD,
) -> list[dict]:
    """One peer strategy, one seed: our head's test accuracy at each budget (the plain head,
    or the pool-taught one fitted as a session of that head fits it)."""
    rng = np.random.default_rng(seed)
    n_outputs = data.task.n_outputs
    positions = np.arange(data.size)
    if name in ON_A_SLICE and data.size > SLICE:
        positions = np.sort(rng.choice(data.size, SLICE, replace=False))
    x = data.pool[positions]
    if name == "margin":  # the peer's own classifier reads standardised features
        x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    truth = data.truth_pool[positions]
    y = np.full(len(positions), np.nan)
    head = make_head(n_outputs, "converge", fit_intercept=not features.simplex)
    head.fit(data.pool[:0], np.zeros(0, np.intp))
    judge = oracle_session(features, "random", seed, BATCH, data.task, head=head_kind)
    strategy, extra = peer_strategy(name, seed, len(np.unique(data.y_pool)), x)
    if name == "margin":
        extra["clf"].classes = np.arange(n_outputs)
    rows, labelled = [], []
    for _ in range(max(budgets) // BATCH):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            picked = strategy.query(x, y, batch_size=BATCH, **extra)
        y[picked] = truth[picked]
        labelled += [int(positions[i]) for i in picked]
        rows_x, rows_y, weights, _ = judge.training_set(
            np.array(labelled, np.intp), data.truth_pool[labelled]
        )
        if weights is None:
            head.fit(rows_x, rows_y)
        else:
            head.fit(rows_x, rows_y, weights)
        if len(labelled) in budgets:
            accuracy = task_metrics(data.truth_test, head.predict_proba(data.test)).accuracy
            rows.append(
                {
                    "strategy": f"peer {name}",
                    "seed": seed,
                    "n_labels": len(labelled),
                    "accuracy": accuracy,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budgets", default="10,20,50")
    parser.add_argument(
        "--tasks",
        default="odd,0-4,folder",
        help="which tasks: any of odd, 0-4, folder (comma-separated)",
    )
    parser.add_argument(
        "--folder",
        type=Path,
        default=Path("results/mnist-test-0-2"),
        help="where the three-class folder of MNIST test digits is written (once)",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--head", choices=HEADS, default=PLAIN_HEAD, help="the head every selection is judged by"
    )
    parser.add_argument("--out", type=Path, default=Path("results/bench-peers"))
    args = parser.parse_args()
    budgets = sorted({int(b) for b in args.budgets.split(",")})
    args.out.mkdir(parents=True, exist_ok=True)
    tables = []
    wanted = {word.strip() for word in args.tasks.split(",")}
    chosen = [t for t, word in zip([*TASKS, FOLDER], ["odd", "0-4", "folder"]) if word in wanted]
    for title in chosen:
        features, task = task_features(title, args.folder)
        data = features.task_data(task)
        start = time.perf_counter()
        curves = run_comparison(
            features,
            OURS,
            args.seeds,
            max(budgets) // BATCH,
            BATCH,
            task,
            jobs=args.jobs,
            head=args.head,
        )
        ours = curves[curves["n_labels"].isin(budgets)][
            ["strategy", "seed", "n_labels", "accuracy"]
        ]
        print(f"{title}: ours in {time.perf_counter() - start:.0f} s", flush=True)
        start = time.perf_counter()
        runs = [(name, seed) for name in PEERS for seed in range(args.seeds)]
        parallel = Parallel(n_jobs=args.jobs, inner_max_num_threads=1)
        done = parallel(
            delayed(peer_run)(features, data, n, s, budgets, args.head) for n, s in runs
        )
        rows = [row for run_rows in done for row in run_rows]
        print(f"{title}: the peers in {time.perf_counter() - start:.0f} s", flush=True)
        both = pd.concat([ours, pd.DataFrame(rows)], ignore_index=True).assign(task=title)
        tables.append(both)
        pd.concat(tables).to_csv(args.out / "runs.csv", index=False, float_format="%.6f")
    runs = pd.concat(tables)
    mean = runs.groupby(["task", "strategy", "n_labels"], sort=False)["accuracy"].mean()
    table = (100 * mean).unstack(["task", "n_labels"])
    order = OURS + [f"peer {p}" for p in PEERS]
    table = table.reindex([s for s in order if s in table.index])
    table.to_csv(args.out / "summary.csv", float_format="%.2f")
    print(
        f"\ntest accuracy (%), mean of {args.seeds} seeds, batch {BATCH}, our {args.head} head "
        "for all\n"
    )
    short = dict(zip([*TASKS, FOLDER], ["odd/even", "0-4", "folder 0-2"]))
    header = [f"{short[task]} @ {n}" for task, n in table.columns]
    print("| strategy | " + " | ".join(header) + " |")
    print("|---|" + "---:|" * len(header))
    for name, values in table.iterrows():
        best = table.max(axis=0)
        cells = [f"**{v:.1f}**" if v >= b - 1e-9 else f"{v:.1f}" for v, b in zip(values, best)]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
