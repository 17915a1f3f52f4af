"""`embedlab evaluate`: evaluate a checkpoint, an untrained backbone or a reference encoder, without a config.

    embedlab evaluate --checkpoint runs/m5/last.ckpt --run-dir runs/m5/eval
    embedlab evaluate --backbone smollm2-135m --attention Bidirectional --pooling Mean --run-dir runs/floor
    embedlab evaluate --reference all-minilm-l6-v2 --run-dir runs/minilm

Same evaluation, run directory and options as `embedlab test` (which takes LightningCLI configs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from embedlab.errors import EmbedlabError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embedlab evaluate", description=__doc__.split("\n\n")[0])
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a Lightning checkpoint of an EmbeddingModule")
    model.add_argument("--backbone", help="an untrained backbone: offline alias, local folder or hub id")
    model.add_argument("--reference", help="a reference encoder: all-minilm-l6-v2 or a sentence-transformers folder")
    parser.add_argument("--attention", default="Causal", help="with --backbone: Causal or Bidirectional")
    parser.add_argument("--pooling", default="LastToken", help="with --backbone: a pooling head name")
    parser.add_argument("--dtype", default="float32", help="with --backbone: float32, bfloat16 or float16")
    parser.add_argument("--suite", default="offline-v1", help="suite, benchmark, task names or task files")
    parser.add_argument("--run-dir", help="run directory (default runs/eval/<variant>)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--instructions", help="default, none or a YAML file (default: none for a reference)")
    parser.add_argument("--instruction-template", help="e5 (default), paper, or a string with {instruction}")
    parser.add_argument("--precision", default=None, help="auto, bf16, fp16 or fp32 (default: auto; fp32 reference)")
    parser.add_argument("--max-length", type=int, default=512, help="token limit per text")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument("--variant", help="variant name for run.json")
    parser.add_argument("--seed", type=int, default=0, help="seed for run.json (and a random-init backbone)")
    parser.add_argument(
        "--classifier", default="logistic", help="classification tasks: logistic (mteb's) or standardised-logistic"
    )
    parser.add_argument(
        "--merge-lora",
        choices=("auto", "always", "never"),
        help="with --checkpoint: fold LoRA adapters into the weights for encoding (default: the checkpoint's, auto)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the results already in the run directory (else refused)"
    )
    return parser


def _module(args):

    from embedlab.models import Backbone
    from embedlab.models.attention import AttentionPolicy
    from embedlab.models.pooling import PoolingHead
    from embedlab.module import EmbeddingModule
    from embedlab.registry import resolve

    if args.checkpoint:
        from embedlab.checkpoint_file import read_checkpoint

        checkpoint = read_checkpoint(args.checkpoint)  # missing, truncated, unsafe, not Lightning: a clear error
        try:
            module = EmbeddingModule.load_from_checkpoint(args.checkpoint, map_location="cpu", weights_only=True)
        except EmbedlabError:
            raise
        except Exception as error:  # noqa: BLE001 - a readable file that is not an EmbeddingModule checkpoint
            raise EmbedlabError(
                f"could not load checkpoint {args.checkpoint} as an EmbeddingModule: {type(error).__name__}: {error}"
            ) from error
        return module, int(checkpoint.get("global_step", 0)), checkpoint.get("datamodule_hyper_parameters")
    attention = resolve(AttentionPolicy, args.attention, "attention policy")()
    pooling = resolve(PoolingHead, args.pooling, "pooling head")
    backbone = Backbone(args.backbone, dtype=args.dtype, max_length=args.max_length, seed=args.seed)
    return EmbeddingModule(backbone, attention=attention, pooling=pooling), 0, None


def run(args) -> int:
    import torch

    from embedlab.eval.classifiers import check_classifier
    from embedlab.eval.encoders import load_reference
    from embedlab.eval.options import EvaluationOptions
    from embedlab.eval.run import check_overwrite, evaluate_run, module_info, reference_info
    from embedlab.instruction_template import trained_template

    check_classifier(args.classifier)  # before loading the model
    if args.run_dir:
        check_overwrite(args.run_dir, args.overwrite, "--overwrite")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    options = EvaluationOptions(
        suite=args.suite,
        batch_size=args.batch_size,
        instructions=args.instructions or ("none" if args.reference else "default"),
        instruction_template=args.instruction_template,
        precision=args.precision or ("fp32" if args.reference else "auto"),
        max_length=args.max_length,
        classifier=args.classifier,
        show_progress=not args.quiet,
    )
    trained = None  # the checkpoint's training template: its instructions are written the same way here
    if args.reference:
        encoder, info = load_reference(args.reference, device=device), reference_info(args.reference)
        config = {"reference": args.reference}
    else:
        module, steps, data_config = _module(args)
        if args.merge_lora:
            module.backbone.set_merge_lora(args.merge_lora)
        trained = trained_template(data_config)
        encoder = module.to(device)
        module.verify_attention_policy()  # on the weights as loaded, on their device (raises AttentionPolicyError)
        info = module_info(
            module,
            seed=args.seed,
            max_steps=steps,
            train_mix_config=data_config,
            variant=args.variant,
            checkpoint=args.checkpoint,
        )
        config = {"model": dict(module.hparams), "checkpoint": args.checkpoint}
    if args.variant:
        info["variant"] = args.variant
    run_dir = Path(args.run_dir or Path("runs") / "eval" / info["variant"])
    report = evaluate_run(
        options.adapter(encoder, trained_template=trained), options.suite, run_dir, info, config, options.batch_size,
        overwrite=args.overwrite, overwrite_flag="--overwrite", classifier=options.classifier,
    )  # fmt: skip
    print(report.table())
    print(f"run directory: {run_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `embedlab evaluate`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except EmbedlabError as error:
        print(f"embedlab evaluate: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
