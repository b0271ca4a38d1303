"""worker/kv_cache.py: rows joining, leaving and columns dropped give exactly the cache a plain
concatenation would (right-aligned, zero-padded), in place wherever the buffers hold the rows."""

import pytest
import torch

from worker.engine_config import DEFAULT_CONFIG
from worker.kv_cache import GrowableLayer

HEADS, DIM = 2, 3


def layer_with(rows: int, length: int, seed: int) -> tuple[GrowableLayer, torch.Tensor]:
    """A layer holding random keys [rows, HEADS, length, DIM] (values: the keys + 1000), and the keys."""
    keys = torch.randn(rows, HEADS, length, DIM, generator=torch.Generator().manual_seed(seed))
    layer = GrowableLayer(DEFAULT_CONFIG)
    layer.update(keys, keys + 1000)
    return layer, keys


def right_aligned(parts: list[torch.Tensor], width: int) -> torch.Tensor:
    """The reference: each part zero-padded on the left to `width` columns, stacked by rows."""
    return torch.cat([torch.nn.functional.pad(p, (0, 0, width - p.shape[2], 0)) for p in parts])


def assert_holds(layer: GrowableLayer, keys: torch.Tensor):
    """The layer holds `keys`, and the matching values (keys + 1000; padding stays 0 in both)."""
    assert torch.equal(layer.keys, keys)
    assert torch.equal(layer.values, torch.where(keys == 0, 0.0, keys + 1000))


@pytest.mark.parametrize("their_length", [3, 7, 12])  # shorter, equal, longer than the running rows
def test_rows_join_in_place_while_the_buffers_hold_them(their_length):
    running, mine = layer_with(4, 7, 0)
    running.adopt(row_capacity=10, columns=40)
    storage = running.keys.data_ptr()
    joining, theirs = layer_with(3, their_length, 1)
    assert running.append_rows(joining, row_capacity=10, columns=max(7, their_length) + 5)
    assert running.keys.data_ptr() == storage  # the same buffer: the running rows were not copied away
    assert_holds(running, right_aligned([mine, theirs], max(7, their_length)))


def test_rows_that_do_not_fit_move_once_into_bigger_buffers():
    running, mine = layer_with(4, 7, 0)
    running.adopt(row_capacity=5, columns=20)
    joining, theirs = layer_with(3, 9, 1)
    assert not running.append_rows(joining, row_capacity=16, columns=30, reserve=64)
    assert running.capacity == (16, 64)
    assert_holds(running, right_aligned([mine, theirs], 9))
    running.update(torch.ones(7, HEADS, 1, DIM), torch.ones(7, HEADS, 1, DIM))  # a step after it
    assert running.keys.shape == (7, HEADS, 10, DIM) and running.capacity == (16, 64)


def test_rows_leaving_are_replaced_by_rows_from_the_end():
    running, keys = layer_with(6, 5, 2)
    running.adopt(row_capacity=8, columns=20)
    storage = running.keys.data_ptr()
    running.move_rows([1, 2], [5, 4], rows=4)  # rows 1 and 2 leave (and 3 stays): 5 and 4 move in
    assert running.keys.data_ptr() == storage
    assert_holds(running, keys[[0, 5, 4, 3]])


def test_these_cases_take_both_shift_paths():
    assert 4 <= DEFAULT_CONFIG.max_shift_chunks < 15  # drops of 1 and 4 columns below, 1- and 8-column right shifts


# 15 one-column chunks (more than max_shift_chunks: through a copy), 3 chunks, 1 chunk, 1 chunk
@pytest.mark.parametrize("first", [1, 4, 9, 15])
def test_leading_columns_are_dropped_in_place(first):
    running, keys = layer_with(3, 16, 3)
    running.adopt(row_capacity=4, columns=30)
    storage = running.keys.data_ptr()
    running.drop_columns(first)
    assert running.keys.data_ptr() == storage
    assert_holds(running, keys[:, :, first:])


def test_a_longer_newcomer_shifts_the_running_rows_right():
    running, mine = layer_with(2, 30, 4)
    running.adopt(row_capacity=6, columns=60)
    joining, theirs = layer_with(2, 31, 5)  # one column longer: 30 one-column chunks, so through a copy
    assert running.append_rows(joining, row_capacity=6, columns=40)
    assert_holds(running, right_aligned([mine, theirs], 31))
    joining, theirs2 = layer_with(1, 39, 6)  # eight columns longer than 31: 4 chunks, moved in place
    assert running.append_rows(joining, row_capacity=6, columns=45)
    assert_holds(running, right_aligned([right_aligned([mine, theirs], 31), theirs2], 39))
