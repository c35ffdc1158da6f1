"""Our strategies beside a peer library's, every selection judged by the same heads.

The peer is scikit-activeml 1.0.1 (a bench extra, `requirements-bench.txt`, never a run-time
dependency): its TypiClust, MaxHerding, CoreSet, ProbCover (its radius chosen from the data:
the candidate radii are quantiles of the pool's pairwise distances, not its 0.2 to 2.0
default, which collapsed to one class) and margin sampling (with its own logistic regression
on standardised features, as a user of the library would run it). Ours run through
`compare.run_comparison`, the labelling session itself, once with each head.

Every selection is judged by the same heads: after each round, the peer's picks so far are
labelled with the ground truth and OUR heads are fitted on them as a session fits them (warm
started round after round): the plain head, and the pool-taught one (`core/pool_teacher.py`:
the same linear head fitted on the labels plus the pseudo-labels they spread to over the
pool's neighbour graph). The figure is each head's test accuracy. So the head is not what
differs between a peer's row and ours: the tables compare selections.

Three tasks: odd/even on the shipped CNN's 10 softmax outputs, digits 0-4 on the 128-wide
embedding of the network trained on 5-9 only, and an image folder of three classes (MNIST's
test digits 0, 1 and 2 written as PNG files into a temporary folder, read through the same 5-9
network by the folder sessions' own loader: the path a person's own images take; its features
are cached by the folder's content, so a rerun reads them back). MaxHerding and ProbCover build
an n x n matrix (60,000^2 floats are 29 GB), so they run on a seeded 8,000-image slice of the
pool (another slice per seed); the others see the whole pool.

The default (strategy and head) follows the layer each task reads (`records.layer_default`,
read when the bench runs, so a new default gives new rows on a rerun): `diversity` with the
plain head on odd/even's softmax outputs, `phased` pool-taught on the 5-9 network's embedding.
The last table says, at each task and budget, by how much the task's default leads the best
peer selection (judged by either head) or trails it.

With `--pick-share F` every run, ours and the peer's, picks from its seed's own share of the
pool (`compare.pick_pool`, the same share for every strategy at a seed): our strategies that
draw nothing at random then give a different run per seed, as the peers' seeded slices do,
and every row is a mean of different runs.

    python bench/bench_peers.py [--seeds 3] [--budgets 10,20,50] [--tasks odd,0-4,folder]
                                [--pick-share 0.9]
    python bench/bench_peers.py --tables results/bench-peers/runs.csv   # print them again
    make bench-peers
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tl_active.core.metrics import task_metrics  # noqa: E402
from tl_active.core.strategies import allowed_strategies  # noqa: E402
from tl_active.core.task import MULTICLASS, Task  # noqa: E402
from tl_active.data.backbones import resolve_backbone  # noqa: E402
from tl_active.data.features import FeatureSet, TaskData, load_features  # noqa: E402
from tl_active.experiments.compare import (  # noqa: E402
    is_pick_share,
    pick_pool,
    run_comparison,
)
from tl_active.paths import MNIST_PATH  # noqa: E402
from tl_active.sessions.records import HEADS, PLAIN_HEAD, POOL_HEAD, layer_default  # noqa: E402
from tl_active.sessions.session import oracle_session  # noqa: E402

# Ours, the defaults among them (`task_defaults`).
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
HEAD_WORDS = {PLAIN_HEAD: "plain", POOL_HEAD: "pool-taught"}
TASKS = {
    "odd/even, mnist-cnn / digits": ("mnist-cnn", "digits", lambda: Task.binary("odd")),
    "0-4, mnist-cnn-5to9 / embedding": (
        "mnist-cnn-5to9",
        "embedding",
        lambda: Task.multiclass("0-4"),
    ),
}
FOLDER = "three classes, a folder of MNIST test digits 0-2 / mnist-cnn-5to9 / embedding"
FOLDER_LAYER = ("mnist-cnn-5to9", "embedding")
FOLDER_DIGITS = (0, 1, 2)
TASK_WORDS = dict(zip([*TASKS, FOLDER], ["odd", "0-4", "folder"]))
SHORT = dict(zip([*TASKS, FOLDER], ["odd/even", "0-4", "folder 0-2"]))


def task_defaults() -> dict[str, tuple[str, str]]:
    """Each task's default strategy and head: the app's default for the layer it reads."""
    layers = {title: spec[:2] for title, spec in TASKS.items()} | {FOLDER: FOLDER_LAYER}
    return {
        title: layer_default(resolve_backbone(backbone).reads_probabilities(layer))
        for title, (backbone, layer) in layers.items()
    }


def our_strategies(task: Task) -> list[str]:
    """`OURS` that can ask `task`, the defaults among them."""
    allowed = set(allowed_strategies(task))
    return [name for name in OURS if name in allowed]


def digit_folder(root: Path, source: Path = MNIST_PATH) -> Path:
    """A folder of class folders 0, 1 and 2 holding MNIST's test digits as PNG files.

    The files are named by their index in the test set and written the same way every time,
    so the folder's content checksum, and with it the features' cache key, is the same on
    every run wherever the folder is made; a file already there is kept.
    """
    from PIL import Image

    from tl_active.data.mnist import load_raw

    arrays = load_raw(source)
    for digit in FOLDER_DIGITS:
        folder = root / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(arrays["y_test"] == digit):
            path = folder / f"{i:05d}.png"
            if not path.exists():
                Image.fromarray(arrays["x_test"][i]).save(path)
    return root


def task_features(title: str, folder_root: Path | None) -> tuple[FeatureSet, Task]:
    """The cached features and the question of one of the bench's tasks (the folder's in
    `folder_root`, or in a temporary folder made and removed here)."""
    if title == FOLDER:
        from tl_active.data.folder_features import load_folder_features

        with tempfile.TemporaryDirectory(prefix="mnist-test-0-2-") as scratch:
            root = digit_folder(folder_root or Path(scratch))
            # The features are memory-mapped from the cache, not the folder: they outlive it.
            features = load_folder_features(root, "mnist-cnn-5to9", "embedding")
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
    heads: tuple[str, ...] = HEADS,
    pick_share: float = 1.0,
) -> list[dict]:
    """One peer strategy, one seed: each of our heads' test accuracy at each budget, every head
    fitted on the peer's picks as a session with that head fits it. With `pick_share` under 1
    the peer sees only its seed's share of the pool, as our runs pick from it."""
    rng = np.random.default_rng(seed)
    n_outputs = data.task.n_outputs
    positions = np.arange(data.size)
    if pick_share < 1.0:
        positions = np.flatnonzero(pick_pool(data.size, pick_share, seed))
    if name in ON_A_SLICE and len(positions) > SLICE:
        positions = np.sort(rng.choice(positions, SLICE, replace=False))
    x = data.pool[positions]
    if name == "margin":  # the peer's own classifier reads standardised features
        x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    truth = data.truth_pool[positions]
    y = np.full(len(positions), np.nan)
    judges = [oracle_session(features, "random", seed, BATCH, data.task, head=h) for h in heads]
    judge_heads = [judge.fresh_head() for judge in judges]
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
        answered = np.array(labelled, np.intp)
        for head_kind, judge, head in zip(heads, judges, judge_heads):
            rows_x, rows_y, weights, _ = judge.training_set(answered, data.truth_pool[answered])
            if weights is None:
                head.fit(rows_x, rows_y)
            else:
                head.fit(rows_x, rows_y, weights)
            if len(labelled) in budgets:
                accuracy = task_metrics(data.truth_test, head.predict_proba(data.test)).accuracy
                rows.append(
                    {
                        "strategy": f"peer {name}",
                        "head": head_kind,
                        "seed": seed,
                        "n_labels": len(labelled),
                        "accuracy": accuracy,
                    }
                )
    return rows


def our_runs(
    features: FeatureSet,
    task: Task,
    seeds: int,
    budgets: list[int],
    jobs: int,
    pick_share: float = 1.0,
) -> pd.DataFrame:
    """Our strategies' sessions, once with each head, at the budgets."""
    runs = []
    for head_kind in HEADS:
        curves = run_comparison(
            features,
            our_strategies(task),
            seeds,
            max(budgets) // BATCH,
            BATCH,
            task,
            jobs=jobs,
            head=head_kind,
            pick_share=pick_share,
        )
        at_budgets = curves[curves["n_labels"].isin(budgets)]
        runs.append(at_budgets[["strategy", "seed", "n_labels", "accuracy"]].assign(head=head_kind))
    return pd.concat(runs, ignore_index=True)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy in % over the seeds: a row per (strategy, head), a column per (task,
    budget); ours first in the order they ran, then the peers, each with the plain head first."""
    mean = runs.groupby(["task", "strategy", "head", "n_labels"], sort=False)["accuracy"].mean()
    table = (100 * mean).unstack(["task", "n_labels"])
    strategies = list(dict.fromkeys(runs["strategy"]))
    ours = [s for s in strategies if not s.startswith("peer ")]
    peers = [s for s in strategies if s.startswith("peer ")]
    order = [(s, h) for s in ours + peers for h in HEADS if (s, h) in table.index]
    return table.reindex(order)


def leads(table: pd.DataFrame, defaults: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """At each task and budget: the task's default (its strategy with its head), the best peer
    selection judged by either head, the best of ours, and the default's lead over that peer
    in points (negative where the peer leads)."""
    for task in dict.fromkeys(task for task, _ in table.columns):
        default, default_head = defaults[task]
        if (default, default_head) not in table.index or table[task].loc[
            (default, default_head)
        ].isna().all():
            raise ValueError(
                f"these runs hold no rows of {SHORT.get(task, task)}'s default ({default}, "
                f"{HEAD_WORDS[default_head]} head): run the bench again"
            )
    peers = table[[s.startswith("peer ") for s, _ in table.index]]
    ours = table[[not s.startswith("peer ") for s, _ in table.index]]
    rows = []
    for column in table.columns:
        best_peer, best_ours = peers[column].idxmax(), ours[column].idxmax()
        default = defaults[column[0]]
        figure = table.loc[default, column]
        rows.append(
            {
                "task": column[0],
                "n_labels": column[1],
                "the_default": f"{default[0]}, {HEAD_WORDS[default[1]]}",
                "default": figure,
                "best_peer": f"{best_peer[0]}, {HEAD_WORDS[best_peer[1]]}",
                "peer": peers.loc[best_peer, column],
                "lead": figure - peers.loc[best_peer, column],
                "best_ours": f"{best_ours[0]}, {HEAD_WORDS[best_ours[1]]}",
                "ours": ours.loc[best_ours, column],
            }
        )
    return pd.DataFrame(rows)


def columns_held(table: pd.DataFrame) -> pd.Series:
    """For every selection (strategy, head): in how many columns it is at least as accurate as
    every peer selection but its own strategy's (under either head), most first.

    The issue asks this of the default in every column; the count says how far any selection,
    ours or the peer's, gets. Means over seeds are compared to a millionth of a point, so that
    two equal figures summed in another order tie.
    """
    figures = table.round(6)
    peers = [row for row in figures.index if row[0].startswith("peer ")]
    held = {}
    for row in figures.index:
        others = [peer for peer in peers if peer[0] != row[0]]
        best = figures.loc[others].max(axis=0)
        held[row] = int((figures.loc[row] >= best).sum())
    return pd.Series(held).sort_values(ascending=False, kind="stable")


def markdown(table: pd.DataFrame, defaults: dict[str, tuple[str, str]]) -> str:
    """The summary as a Markdown table: the best figure of each column in bold (to 0.1 point),
    and each task's default named on its row."""
    header = [
        f"{SHORT.get(task, task)} @ {n}" if i == 0 or task != table.columns[i - 1][0] else f"@ {n}"
        for i, (task, n) in enumerate(table.columns)
    ]
    lines = [
        "| strategy | head | " + " | ".join(header) + " |",
        "|---|---|" + "---:|" * len(header),
    ]
    best = table.max(axis=0).round(1)
    tasks = list(dict.fromkeys(task for task, _ in table.columns))
    for (name, head_kind), values in table.iterrows():
        shown = name if name.startswith("peer ") else f"`{name}`"
        if name.removeprefix("peer ") in ON_A_SLICE:
            shown += " (slice)"
        default_on = [SHORT.get(t, t) for t in tasks if defaults[t] == (name, head_kind)]
        word = HEAD_WORDS[head_kind] + (
            f" (default: {', '.join(default_on)})" if default_on else ""
        )
        cells = [f"**{v:.1f}**" if round(v, 1) >= b else f"{v:.1f}" for v, b in zip(values, best)]
        lines.append(f"| {shown} | {word} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_leads(lead_rows: pd.DataFrame) -> str:
    """The leads as a Markdown table: where the default leads the best peer, and by how much (to
    a hundredth of a point: near a ceiling the gaps are that small)."""
    lines = [
        "| task | labels | the default | its figure | best peer | its figure | default's lead "
        "| best of ours |",
        "|---|---:|---|---:|---|---:|---:|---|",
    ]
    for row in lead_rows.itertuples(index=False):
        lines.append(
            f"| {SHORT.get(row.task, row.task)} | {row.n_labels} | {row.the_default} | "
            f"{row.default:.2f} | "
            f"{row.best_peer} | {row.peer:.2f} | {row.lead:+.2f} | {row.best_ours} ({row.ours:.2f}) |"
        )
    return "\n".join(lines)


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
        default=None,
        help="keep the three-class folder of MNIST test digits here (default: a temporary one)",
    )
    parser.add_argument(
        "--pick-share",
        type=float,
        default=1.0,
        help="every run picks from its seed's own share of the pool, e.g. 0.9 (default 1)",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/bench-peers"))
    parser.add_argument(
        "--tables",
        type=Path,
        metavar="RUNS_CSV",
        help="print the tables of an earlier run's runs.csv instead of running",
    )
    args = parser.parse_args()
    defaults = task_defaults()
    if args.tables:
        if not args.tables.is_file():
            parser.error(f"--tables: no file {args.tables}")
        try:
            print_tables(pd.read_csv(args.tables), defaults)
        except ValueError as error:
            parser.error(f"--tables: {error}")
        return
    if not is_pick_share(args.pick_share):
        parser.error(f"--pick-share is above 0 and at most 1, not {args.pick_share}")
    budgets = sorted({int(b) for b in args.budgets.split(",")})
    if any(b % BATCH for b in budgets):
        parser.error(f"every budget must be a multiple of the batch ({BATCH})")
    wanted = {word.strip() for word in args.tasks.split(",")}
    unknown = wanted - set(TASK_WORDS.values())
    if unknown:
        parser.error(f"unknown task {sorted(unknown)[0]!r}: any of odd, 0-4, folder")
    args.out.mkdir(parents=True, exist_ok=True)
    for title, (default, default_head) in defaults.items():
        if TASK_WORDS[title] in wanted:
            print(f"{SHORT[title]}'s default: {default}, {HEAD_WORDS[default_head]} head")
    tables = []
    for title in [t for t, word in TASK_WORDS.items() if word in wanted]:
        features, task = task_features(title, args.folder)
        data = features.task_data(task)
        start = time.perf_counter()
        ours = our_runs(features, task, args.seeds, budgets, args.jobs, args.pick_share)
        print(f"{title}: ours in {time.perf_counter() - start:.0f} s", flush=True)
        start = time.perf_counter()
        runs = [(name, seed) for name in PEERS for seed in range(args.seeds)]
        parallel = Parallel(n_jobs=args.jobs, inner_max_num_threads=1)
        done = parallel(
            delayed(peer_run)(features, data, n, s, budgets, HEADS, args.pick_share)
            for n, s in runs
        )
        rows = [row for run_rows in done for row in run_rows]
        print(f"{title}: the peers in {time.perf_counter() - start:.0f} s", flush=True)
        tables.append(pd.concat([ours, pd.DataFrame(rows)], ignore_index=True).assign(task=title))
        pd.concat(tables).to_csv(args.out / "runs.csv", index=False, float_format="%.6f")
    table, lead_rows = print_tables(pd.concat(tables), defaults)
    table.to_csv(args.out / "summary.csv", float_format="%.2f")
    lead_rows.to_csv(args.out / "leads.csv", index=False, float_format="%.2f")


def print_tables(
    runs: pd.DataFrame, defaults: dict[str, tuple[str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Print the summary and the leads of these runs; return both."""
    table = summary(runs)
    lead_rows = leads(table, defaults)
    seeds = runs["seed"].nunique()
    print(
        f"\ntest accuracy (%), mean of {seeds} seeds, batch {BATCH}; every selection judged "
        "by our plain head and by our pool-taught head\n"
    )
    print(markdown(table, defaults))
    print("\neach task's default (it follows the layer) beside the best peer\n")
    print(markdown_leads(lead_rows))
    held = columns_held(table)
    print(
        f"\nthe default leads or ties the best peer in {int((lead_rows['lead'] >= 0).sum())} of "
        f"{len(lead_rows)} columns (summed lead {lead_rows['lead'].sum():+.2f} points); the "
        "selections that hold the most columns against every other peer:"
    )
    for (name, head_kind), count in held.head(5).items():
        print(f"  {name}, {HEAD_WORDS[head_kind]}: {count} of {len(table.columns)}")
    return table, lead_rows


if __name__ == "__main__":
    main()
