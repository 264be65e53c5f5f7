"""Rendering untrusted Markdown: the worst cases of Python-Markdown and the bound portal/rendering.py puts on them.

    .venv/bin/python scripts/bench/render.py
    .venv/bin/python scripts/bench/render.py --sizes 256 512 1024 2048

1. Python-Markdown alone (the site's extensions) on repeated pathological patterns at each size: the
   worst case at ``INLINE_LIMIT`` characters is what a render in the calling thread may cost.
2. ``render_markdown`` end to end on bodies up to the request limit: every answer (rendered, or the
   escaped fallback after the worker's deadline) must come within 2 s; then the cached answer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

PATTERNS = ["[", "[[", "![", "[](", "[a](", "<a ", "> - ", ">", "  - ", "`a", "**a", "!!! note\n    "]


def _markdown_alone(sizes: list[int]) -> None:
    import markdown

    from portal import rendering

    profile = rendering.SITE_DEFAULT
    markdown.Markdown(extensions=list(profile.extensions)).convert("warm up")
    print("Python-Markdown alone, ms (— : skipped after 3 s, REC: recursion limit)")
    print("pattern".ljust(16) + "".join(f"{n:>10}" for n in sizes))
    worst = dict.fromkeys(sizes, 0.0)
    for pattern in PATTERNS:
        row, slow = [], False
        for n in sizes:
            if slow:
                row.append("—")
                continue
            text = (pattern * (n // len(pattern) + 1))[:n]
            started = time.perf_counter()
            try:
                rendering._convert(text, profile.extensions, profile.configs, profile.raw_html)
            except RecursionError:
                row.append("REC")
                continue
            elapsed = time.perf_counter() - started
            worst[n] = max(worst[n], elapsed)
            row.append(f"{elapsed * 1000:.1f}")
            slow = elapsed > 3
        print(repr(pattern)[:15].ljust(16) + "".join(f"{v:>10}" for v in row))
    print("worst".ljust(16) + "".join(f"{worst[n] * 1000:>10.1f}" for n in sizes))
    print(f"INLINE_LIMIT = {rendering.INLINE_LIMIT} characters: worst case "
          f"{worst.get(rendering.INLINE_LIMIT, float('nan')) * 1000:.1f} ms")


def _bounded() -> None:
    from portal import rendering

    print("\nrender_markdown end to end (worker pool, deadline "
          f"{rendering.RENDER_TIMEOUT} s), seconds: first answer / cached answer")
    bodies = {"16 KB of [": "[" * 16_000, "100 KB of [[": "[[" * 50_000, "500 KB of ![": "![" * 250_000,
              "16 KB nested lists": "  - " * 4_000, "50 KB of prose": "Агент RUM не отправляет данные. " * 1_600}
    worst = 0.0
    for name, body in bodies.items():
        started = time.perf_counter()
        out = rendering.render_markdown(body)
        first = time.perf_counter() - started
        started = time.perf_counter()
        rendering.render_markdown(body)
        cached = time.perf_counter() - started
        worst = max(worst, first)
        kind = "fallback" if str(out).startswith('<pre class="render-fallback">') else "rendered"
        print(f"  {name:<22} {first:6.3f} / {cached:.6f}  {kind}")
    print(f"worst answer {worst:.3f} s (target ≤ 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096])
    args = parser.parse_args()
    _markdown_alone(args.sizes)
    _bounded()


if __name__ == "__main__":
    main()
