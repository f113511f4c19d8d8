"""Whether a comparison of the stack with a rival compares receptive-field designs, or partly padded kernels.

Each pool halves the map, so at a small input VGG's late blocks convolve tiny maps: at 32 px, blocks 4 and 5
see 4x4 and 2x2. A 5x5 kernel there reaches past the map and multiplies zero padding (on the 2x2 map 21 of
its 25 taps), so what the stack is compared with in those blocks is a padded kernel, not the large field the
claim is about. Every claim row that compares the stack with a rival says in `validity` (beside the other
flags of vggbench.verdicts.flags) which blocks the rival's kernel overhangs. Only blocks where the rival's
kernel is wider than the stack's there count: a 3x3 on a 2 px map overhangs in both arms and tells them apart
in nothing. The `single-fits` variant keeps the large kernel out of the blocks it would overhang. A row is judged
at its models' own resolution, the one they were built and trained at, effective-field rows too, though their
field is probed at a larger side.
"""

from __future__ import annotations

import dataclasses

from vggbench.models.arch import VARIANTS, Conv, ModelSpec
from vggbench.models.schema import spec_from_identity
from vggbench.verdicts.vocabulary import STACK


def overhangs(rival: ModelSpec) -> list[tuple[int, Conv, int]]:
    """(block, 1-based; the rival's widest conv there; the block's map side) for each block where that conv's
    window is wider than the map and than the stack's widest window in the same block."""
    stack = dataclasses.replace(rival, variant=STACK)
    found = []
    for block in range(rival.arch.num_blocks):
        widest = max(rival.block_plan(block), key=lambda conv: conv.window_px)
        map_px, stack_px = rival.block_px(block), max(conv.window_px for conv in stack.block_plan(block))
        if widest.window_px > max(map_px, stack_px):
            found.append((block + 1, widest, map_px))
    return found


def kernel_words(conv: Conv) -> str:
    """'5x5 kernel', '5x5 depthwise kernel' or '3x3 kernel at dilation 2'."""
    depthwise = " depthwise" if conv.depthwise else ""
    dilated = f" at dilation {conv.dilation}" if conv.dilation > 1 else ""
    return f"{conv.kernel}x{conv.kernel}{depthwise} kernel{dilated}"


def listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def in_blocks(places: list[tuple[int, int]]) -> str:
    """'blocks 4, 5 (4 and 2 px)' from (block, map side) pairs."""
    blocks = ", ".join(str(block) for block, _ in places)
    return f"block{'s' if len(places) > 1 else ''} {blocks} ({listed([str(side) for _, side in places])} px)"


def flag(rival: ModelSpec) -> str:
    """The rival's flag, as "single's 5x5 kernel is wider than the map in blocks 4, 5 (4 and 2 px)" (each kernel
    size a clause of its own), or '' where its kernels fit their maps or are no wider than the stack's."""
    by_kernel: dict[str, list[tuple[int, int]]] = {}
    for block, conv, side in overhangs(rival):
        by_kernel.setdefault(kernel_words(conv), []).append((block, side))
    clauses = [(words, in_blocks(places)) for words, places in by_kernel.items()]
    if not clauses:
        return ""
    (words, where), *others = clauses
    return f"{rival.variant}'s {words} is wider than the map in {where}" + "".join(
        f", its {words} in {where}" for words, where in others
    )


def of_row(row: dict) -> str:
    """A claim row's `validity`: the rival's flag where the row compares the stack (`variant`) with a rival
    (`baseline`) in a group of models its identity columns name; '' elsewhere (density rows, rows of no model)."""
    rival = row.get("baseline")
    if row.get("variant") != STACK or rival == STACK or rival not in VARIANTS:
        return ""
    spec = spec_from_identity({**row, "variant": rival})
    return flag(spec) if spec else ""
