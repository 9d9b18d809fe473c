"""Language models in the loop: the `language_model` interface (OpenAI-compatible HTTP, local
`transformers`, scripted text), the `llm` agent that acts on a model's answers, and
`llm_advised`, which lets a model's advice guide an off-policy learner's exploration."""
