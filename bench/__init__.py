"""Benchmarks of Ficha, each beside its raw-SQL floor: `python -m bench` (or `make bench`).

Each benchmark is a module with a `run(options, console)` function, registered by name in
`bench/__main__.py`. Data is generated, loaded once and cached under `bench/.data/`
(and, for PostgreSQL, in a database of its own, `ficha_bench`); `--rebuild` starts over.
"""
