"""Simulations of any size in bounded memory: independent blocks of customers, written one after the other.

Up to :data:`CHUNK_ROWS` tickets, :func:`write_simulation` writes exactly what :func:`study.data.simulate.simulate`
draws. Above, the tickets are split into blocks of at most that many (as equal as can be). Each block is a full
draw of the same process (:func:`study.data.simulate.draw`) with a seed of its own derived from the simulation's
seed and the block's number, and customers and tickets numbered after the blocks before it, so a customer's
tickets are all in one block. The blocks share one population of agents, drawn from the seed
(:func:`study.data.simulate.draw_agents`), so the number of agents does not grow with the number of tickets.
Every block spreads its tickets over the same survey period: the file is in order of time within each block,
not across blocks.

The truth of the whole file is the truth of the union of the blocks: the process's parameters are the same in
every block; the sample's effects are means and means among respondents, whose sums add up over blocks
(:func:`study.data.simulated_truth.effect_sums`); the comment shares are counts; the AUC ceilings are computed over
all tickets at once (:func:`auc`), from their outcome and two scores kept while the blocks are written (17 bytes
a ticket, the one part of the memory that grows with the size, with the ids of the tickets of each theme).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from study.data import comments, simulate, simulated_truth
from study.data.io import fingerprint
from study.data.scenarios import Scenario
from study.data.simulated_files import _refuse_to_overwrite

CHUNK_ROWS = 1_000_000  # tickets a block holds at most: about 1.2 GB while it is drawn
_BLOCK_STREAM = 4  # the seed's stream from which each block's seed is derived (1-3 are taken by the process)


def block_sizes(rows: int, chunk_rows: int = CHUNK_ROWS) -> list[int]:
    """The number of tickets of each block: as few blocks as ``chunk_rows`` allows, as equal as can be."""
    blocks = -(-rows // chunk_rows)
    return [rows // blocks + (b < rows % blocks) for b in range(blocks)]


def block_seed(seed: int, block: int) -> int:
    """The seed of block ``block``: derived from the simulation's seed, a different stream for every block."""
    return int(np.random.SeedSequence([seed, _BLOCK_STREAM, block]).generate_state(1, np.uint64)[0])


def blocks(rows: int, seed: int, n_agents: int = 60, scenario: Scenario | str | None = None,
           chunk_rows: int = CHUNK_ROWS):
    """The blocks of a large simulation, drawn one at a time.

    Yields
    ------
    study.data.simulate.Block
    """
    agents = simulate.draw_agents(seed, n_agents)
    first_ticket = first_customer = 1
    for number, size in enumerate(block_sizes(rows, chunk_rows)):
        yield simulate.draw(size, block_seed(seed, number), n_agents, scenario, agents, first_ticket, first_customer)
        first_ticket += size
        first_customer += simulate.customers_for(size)


def write_simulation(out: str | Path, rows: int = 40_000, seed: int = 2026, n_agents: int = 60,
                     scenario: Scenario | str | None = None, chunk_rows: int = CHUNK_ROWS) -> tuple[Path, Path]:
    """Simulate ``rows`` tickets and write them with their ``truth.json``, in bounded memory at any size.

    Parameters
    ----------
    out : str or Path
        Data file to write: ``.parquet`` or ``.csv`` (optionally ``.csv.gz``).
    rows, seed, n_agents, scenario
        As in :func:`study.data.simulate.simulate`.
    chunk_rows : int
        Up to this many tickets, the file is :func:`study.data.simulate.simulate`'s; above, it is written in
        blocks of at most this many (see the module's description).

    Returns
    -------
    tuple of Path
        The data file and the truth file.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if rows <= chunk_rows:
        return simulate.write(simulate.simulate(rows, seed, n_agents, scenario), out)
    out = Path(out)
    if out.suffix != ".parquet" and ".csv" not in out.suffixes:
        raise ValueError(f"cannot write '{out.name}': use a .parquet or .csv file name")
    if out.suffix == ".zip":  # appended block by block, a zip file would hold one member a block: unreadable
        raise ValueError(f"cannot write '{out.name}' in blocks ({rows:,} tickets, above {chunk_rows:,}): "
                         "use .parquet, .csv or .csv.gz")
    _refuse_to_overwrite(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(".partial-" + out.name)  # renamed when complete: a broken run leaves no data file
    if partial.exists():
        raise ValueError(f"{partial}: exists; remove it (a simulation that was killed?) or write to another folder")
    try:
        drawn = blocks(rows, seed, n_agents, scenario, chunk_rows)
        truth = _write_blocks(partial, drawn, rows, out.suffix == ".parquet")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    truth = {**simulated_truth.effects_from_sums(seed, rows, scenario, truth.pop("sums")), **truth,
             "blocks": len(block_sizes(rows, chunk_rows)), "block_rows": chunk_rows}
    truth_path = out.parent / "truth.json"
    with open(truth_path, "w", encoding="utf-8") as handle:  # streamed: the lists of tickets by theme are long
        json.dump({**truth, "data_file": out.name, "data_fingerprint": fingerprint(out)}, handle, indent=2)
        handle.write("\n")
    return out, truth_path


def auc(outcome: np.ndarray, score: np.ndarray) -> float:
    """:func:`study.data.ceilings.auc` (Mann-Whitney, ties counted half) by counting rather than ranking.

    For each positive, the negatives below its score and those tied with it are found in the sorted negatives:
    exact integer counts, in about a third of the memory ranking every ticket takes.
    """
    outcome = np.asarray(outcome, dtype=bool)
    positives = int(outcome.sum())
    negatives = outcome.size - positives
    if positives == 0 or negatives == 0:
        return 0.5
    below = np.sort(score[~outcome])
    higher = np.sort(score[outcome])  # sorted too: the searches then walk the negatives in order
    under = np.searchsorted(below, higher, side="left")
    tied = np.searchsorted(below, higher, side="right") - under
    return float((int(under.sum()) + int(tied.sum()) / 2) / (positives * negatives))


def _write_blocks(path: Path, drawn, rows: int, parquet: bool) -> dict:
    """Write the blocks to ``path`` one after the other; the truth of their union (its sample sums under ``sums``)."""
    sums, writers, themed = {}, 0, {t: 0 for t in comments.THEMES}
    by_ticket = {t: [] for t in comments.THEMES}
    # Each ticket's outcome and true probabilities, filled block by block, for the AUC ceilings over all tickets.
    repeat, oracle, at_contact = np.empty(rows, dtype=bool), np.empty(rows), np.empty(rows)
    start = 0
    writer = None
    try:
        for block in drawn:
            if parquet:
                table = pa.Table.from_pandas(block.tickets, preserve_index=False)
                writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
                del table
            else:
                block.tickets.to_csv(path, index=False, mode="a", header=not path.exists())
            for key, value in simulated_truth.effect_sums(**block.truth_inputs).items():
                sums[key] = sums.get(key, 0) + value
            wrote = block.tickets["comment"].notna().to_numpy()
            writers += int(wrote.sum())
            ids = comments.tickets_by_theme(block.per_ticket, block.tickets["ticket_id"])
            for theme in comments.THEMES:
                themed[theme] += int(block.per_ticket[f"theme_{theme}"].to_numpy()[wrote].sum())
                by_ticket[theme] += ids[theme]
            end = start + len(block.tickets)
            repeat[start:end] = block.tickets["repeat_purchase"].to_numpy()
            oracle[start:end] = block.per_ticket["repeat_probability"].to_numpy()
            at_contact[start:end] = block.per_ticket["repeat_probability_at_contact"].to_numpy()
            start = end
            del block  # before the next block is drawn: one block in memory at a time
    finally:
        if writer is not None:
            writer.close()
    ceiling = auc(repeat, oracle)
    del oracle
    return {
        "sums": sums,
        "repeat_auc_ceiling": ceiling,
        "repeat_auc_ceiling_at_contact": auc(repeat, at_contact),
        "comment_share": writers / rows,
        "comment_theme_share": {t: themed[t] / writers if writers else 0.0 for t in comments.THEMES},
        "comment_themes_by_ticket": by_ticket,
    }
