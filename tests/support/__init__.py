"""Test tooling shared by ``tests/`` and ``benchmarks/`` (not part of the installed packages).

- :mod:`.tiny_model`: a tiny, real model folder;
- :mod:`.fuzz_bitstream`: the structure-aware fuzzer of the ``.gnvc`` reader;
- :mod:`.fuzz_codec`: the whole-decoder fuzzer (mutated real files decoded in a worker process).

``tests`` is importable from the checkout's root: pytest puts it on ``sys.path`` (``pythonpath`` in
``pyproject.toml``), the benchmarks do it themselves.
"""
