"""One rank of a 2-process (gloo) θ-IS warmup: ``python theta_is_rank_worker.py RANK WORLD
INIT_FILE CACHE_DIR OUT``. Rank 1's synth adds one unit in the last place to its audio, as
another device or thread count may; both ranks must still end with one folder and one π."""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from test_theta_is import TinyDataset, TinyEncoder, TinySynth, make_loss, tiny_order

from experiments.theta_is import prepare_warmup
from experiments.theta_is_ranks import Ranks, warmup_on_ranks


def main(rank: int, world: int, init_file: str, cache_dir: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)

    def broadcast(obj: object) -> object:
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_true(flag: bool) -> bool:
        value = torch.tensor(int(bool(flag)))
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return bool(value)

    synth = TinySynth()
    if rank == 1:
        render = synth.forward  # same class and repr: only the audio's last bit differs
        synth.forward = lambda theta, seed: torch.nextafter(
            render(theta, seed), torch.tensor(float("inf"))
        )
    loss, encoder, dataset = make_loss(), TinyEncoder(), TinyDataset(8)
    warm = prepare_warmup(
        loss, encoder, synth, dataset, tiny_order(8), run_seed=0, n_examples=4,
        batch_size=2, cache_dir=cache_dir, label="tiny", n_iter=1,
    )  # fmt: skip
    ranks = Ranks(rank, world, broadcast, all_true)
    probs, folder = warmup_on_ranks(loss, encoder, synth, warm, 1, ranks, wait_timeout_s=300)
    result = {"probs": probs, "folder": str(folder), "own_audio": warm.theta_kwargs[0]["x"]}
    torch.save(result, out)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:6])
