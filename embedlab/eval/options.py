"""The evaluation options `embedlab test` and `embedlab evaluate` share, and the adapter they configure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EvaluationOptions:
    """How `embedlab test` evaluates (the `evaluation:` block of a config, or `--evaluation.*` flags).

    Args:
        suite: a suite (`offline-v1`, `paper`, `mteb-eng`), an mteb benchmark name, or comma-separated task
            names and task files (`path/task.yaml`).
        run_dir: the run directory to write (run.json, results/, predictions/, cost.json, DONE); default
            `<trainer.default_root_dir>/eval/<suite>`.
        batch_size: texts per forward pass.
        instructions: `default` (the paper's table and offline-v1's), `none`, or a YAML file of the same schema.
        instruction_template: wraps each instruction: `e5` (`Instruct: {instruction}\\nQuery: `, the training
            mix's default), `paper` (the paper's no-separator concatenation) or a string holding `{instruction}`;
            default: the template the checkpoint's training mix used, else the instructions file's, else `e5`.
        precision: auto (bf16 autocast where the device has it), bf16, fp16 or fp32; default: the trainer's
            precision when it is bf16 or 16 mixed, else auto.
        max_length: token limit per text at evaluation (the paper evaluates at 512); None: the backbone's.
        variant: the variant name written to run.json (default: an existing run.json's, else
            `<pooling>+<attention>`).
        train_mix: the training mix written to run.json (default: the data config's class, or `none`
            without a checkpoint).
        classifier: what classification tasks fit on the embeddings: `logistic` (mteb's logistic regression)
            or `standardised-logistic` (the same after standardising each dimension on the training split).
        show_progress: progress bars while encoding.
        overwrite: replace the results of an earlier evaluation in `run_dir` (task results in results/, or
            DONE); without it such a directory is refused. What `embedlab fit` wrote there is not results.
    """

    suite: str = "offline-v1"
    run_dir: str | None = None
    batch_size: int = 32
    instructions: str = "default"
    instruction_template: str | None = None
    precision: str | None = None
    max_length: int | None = 512
    variant: str | None = None
    train_mix: str | None = None
    classifier: str = "logistic"
    show_progress: bool = True
    overwrite: bool = False

    def adapter(self, encoder, precision: str = "auto", trained_template: str | None = None):
        """The `MTEBAdapter` these options describe, around an EmbeddingModule or a TextEncoder.

        Args:
            encoder: an EmbeddingModule or a TextEncoder.
            precision: used when the options set none.
            trained_template: the template the model's training mix used (`instruction_template.trained_template`),
                used when the options set none, so a model is evaluated with its instructions written as in training.
        """
        from embedlab.eval.adapter import MTEBAdapter  # mteb is slow to import: only when evaluating

        return MTEBAdapter(
            encoder,
            instructions=self.instructions,
            instruction_template=self.instruction_template or trained_template,
            batch_size=self.batch_size,
            precision=self.precision or precision,
            max_length=self.max_length,
            show_progress=self.show_progress,
        )
