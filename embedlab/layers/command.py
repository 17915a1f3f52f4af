"""`embedlab layers`: how alike each layer's embeddings are, and how well each layer scores, on a base model.

    embedlab layers --backbone smollm2-135m --out report/layers
    embedlab layers --backbone configs/backbones/smollm2-135m.yaml --tasks WordSim353STS,BBCTopicClassification \\
        --layers every:3 --max-length 64 --out report/layers
    embedlab layers --backbone smollm2-135m --attention Bidirectional --pooling last_token --similarity both

Every text is encoded once with all hidden states; each layer is then scored from the cache. Writes
layer_similarity.png, layer_scores.png, layers.json, layer_scores.csv, layer_similarity.csv, layers.md.
"""

from __future__ import annotations

import argparse
import sys

from embedlab.errors import EmbedlabError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embedlab layers",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backbone", required=True, help="offline alias, folder, hub id, or backbone YAML config")
    parser.add_argument("--attention", default="Causal", help="Causal or Bidirectional")
    parser.add_argument("--pooling", default="mean", help="per-layer pooling: mean (over the tokens) or last_token")
    parser.add_argument("--suite", default="offline-v1", help="suite, benchmark, task names or task files")
    parser.add_argument("--tasks", help="comma-separated subset of the suite's task names (default: all)")
    parser.add_argument(
        "--layers", default="all", help="all, every:K (keeps the last layer), or indices and ranges like 0,10-12,-1"
    )
    parser.add_argument("--similarity", default="cka", choices=["cka", "cosine", "both"], help="heatmap measure")
    parser.add_argument("--similarity-texts", type=int, default=1000, help="texts sampled for the similarity")
    parser.add_argument("--max-length", type=int, default=None, help="token limit per text (default: the backbone's)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass")
    parser.add_argument("--precision", default="auto", help="auto, bf16, fp16 or fp32")
    parser.add_argument("--instructions", default="default", help="default, none or an instructions YAML")
    parser.add_argument("--instruction-template", help="e5 (default), paper, or a string with {instruction}")
    parser.add_argument("--dtype", default=None, help="weight dtype: float32, bfloat16 or float16")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the similarity sample and of a random-init model")
    parser.add_argument("--out", default="report/layers", help="output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def run(args: argparse.Namespace) -> int:
    from embedlab.layers.run import run_layer_analysis

    report = run_layer_analysis(
        args.backbone,
        args.suite,
        args.out,
        task_names=args.tasks,
        attention=args.attention,
        pooling=args.pooling,
        layers=args.layers,
        similarity=args.similarity,
        similarity_texts=args.similarity_texts,
        max_length=args.max_length,
        batch_size=args.batch_size,
        precision=args.precision,
        instructions=args.instructions,
        instruction_template=args.instruction_template,
        dtype=args.dtype,
        device=args.device,
        seed=args.seed,
        show_progress=not args.quiet,
    )
    print(report.category_table().to_string(float_format=lambda v: f"{v:.4f}"))
    t = report.timings
    print(
        f"{t['texts_encoded']} texts in {t['forward_passes']} forward passes ({t['encode_seconds']:.1f}s), "
        f"scoring {t['scoring_seconds']:.1f}s, similarity {t['similarity_seconds']:.1f}s, "
        f"total {t['total_seconds']:.1f}s"
    )
    print(f"wrote {args.out}/layers.json, layers.md, layer_scores.png, layer_similarity.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `embedlab layers`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except EmbedlabError as error:
        print(f"embedlab layers: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
