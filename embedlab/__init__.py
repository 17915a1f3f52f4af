"""embedlab: controlled, significance-tested studies of LLM-based text embedders."""

__version__ = "0.1.0"
