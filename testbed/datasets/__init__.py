"""Datasets: `kind: collect` writes Minari datasets (store.py: layout, reading with checks);
`testbed datasets` lists them; train stages with `dataset:` read them."""
