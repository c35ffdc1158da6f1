"""Session data as the first format (version 1) wrote it, for the tests that it still opens."""

from __future__ import annotations


def as_version_1(data: dict, seed: int) -> dict:
    """`data` (a session's `to_dict()`, odd or even) rewritten in place as version 1 wrote it.

    The first format had a flat binary head, a target instead of a task, and the mean p per digit.
    """
    data["version"] = 1
    data["settings"] = {
        "target": [1, 3, 5, 7, 9],
        "strategy": "diversity",
        "batch_size": 4,
        "head_mode": "converge",
        "seed": seed,
    }
    for r in data["rounds"]:
        r["weights"], r["bias"] = r["weights"][0], r["bias"][0]
        r["mean_p_by_digit"] = r.pop("mean_p_by_class")
    return data
