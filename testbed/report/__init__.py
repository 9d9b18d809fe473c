"""How results are written: number formats, summary.md and JUnit documents, the run folder."""
