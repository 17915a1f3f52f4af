"""Export a trained EmbeddingModule checkpoint as a self-contained, safetensors-only model folder.

`embedlab export CKPT OUT` (see `command.py`) writes one folder that three loaders read:

- `embedlab.Embedder.from_pretrained(OUT)`: embedlab's own inference class;
- `sentence_transformers.SentenceTransformer(OUT, trust_remote_code=True)`, or without the flag
  `embedlab.export.load_sentence_transformer(OUT)` (see `st_modules.py` for why ST 6 asks for it);
- `transformers.AutoModel.from_pretrained(OUT)`: the bare backbone, LoRA merged, `is_causal` kept.

Nothing in the folder is pickled and nothing in it is code: the pooling head is rebuilt from a
class path and init arguments in JSON (`head.py`) and filled from safetensors.
Written for transformers 5.2+ and sentence-transformers 6.x.
"""
