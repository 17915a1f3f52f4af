"""`embedlab export`: a trained checkpoint as a folder that sentence-transformers and embedlab load.

    embedlab export runs/m5/last.ckpt exports/m5
    embedlab export runs/m5/last.ckpt exports/m5 --overwrite

The folder holds safetensors and JSON only (LoRA merged into the base weights). Load it with
`embedlab.Embedder.from_pretrained(OUT)`, `SentenceTransformer(OUT, trust_remote_code=True)` or
`embedlab.export.st_modules.load_sentence_transformer(OUT)`; both need embedlab installed.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embedlab export", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", metavar="CKPT", help="a Lightning checkpoint of an EmbeddingModule")
    parser.add_argument("out", metavar="OUT", help="the folder to write (must not exist or be empty)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT when it is not empty")
    parser.add_argument(
        "--no-verify", dest="verify", action="store_false", help="skip reloading the export to check its embeddings"
    )
    return parser


def main(argv: list[str]) -> int:
    """Run `embedlab export`; EmbedlabErrors propagate to the CLI, which prints them without a traceback.

    Args:
        argv: the arguments after `export`.
    """
    from embedlab.export.writer import export_checkpoint

    args = build_parser().parse_args(argv)
    out = export_checkpoint(args.checkpoint, args.out, overwrite=args.overwrite, verify=args.verify)
    print(f"Exported {args.checkpoint} to {out}", file=sys.stderr)
    return 0
