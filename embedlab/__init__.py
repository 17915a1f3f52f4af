"""embedlab: controlled, significance-tested studies of LLM-based text embedders."""

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy, so `import embedlab` stays light
    if name == "Embedder":
        from embedlab.embedder import Embedder

        return Embedder
    raise AttributeError(f"module 'embedlab' has no attribute {name!r}")
